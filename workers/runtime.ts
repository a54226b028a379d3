import { DefaultLogger, Runtime, makeTelemetryFilterString, type LogLevel as SdkLogLevel } from '@temporalio/worker';
import type { Logger } from '../lib/logger';

const SDK_LEVEL: Record<string, SdkLogLevel> = {
  trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR',
};
const PINO_METHOD = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export interface RuntimeOptions {
  logger: Logger;
  /** host:port for the SDK's Prometheus exporter (served again, merged, on the ops port). */
  sdkMetricsAddress: string;
}

/**
 * Installs the Temporal Runtime once per process: the SDK's and the Rust core's logs go through
 * our pino logger (one JSON line each, with the SDK's scope fields such as workflowId, activityId,
 * taskQueue), and its metrics to a Prometheus exporter. The Runtime's default shutdown signals
 * (SIGINT, SIGTERM, SIGQUIT, SIGUSR2) stop every worker of the process: each drains, letting
 * in-flight activities finish within the shutdown grace time, and its run() promise resolves.
 */
export function installRuntime(options: RuntimeOptions): Runtime {
  const level = SDK_LEVEL[options.logger.level] ?? 'INFO';
  const sdkLogger = options.logger.child({ component: 'temporal-sdk' });
  return Runtime.install({
    logger: new DefaultLogger(level, ({ level: entryLevel, message, meta }) => {
      sdkLogger[PINO_METHOD[entryLevel]]({ ...meta }, message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level === 'TRACE' ? 'DEBUG' : 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: options.sdkMetricsAddress } },
    },
  });
}
