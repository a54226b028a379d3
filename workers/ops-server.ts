import type { Registry } from 'prom-client';
import { runChecks, sendJson, sendText, startHttpServer, type RunningServer } from '../lib/http';
import type { Logger } from '../lib/logger';

/**
 * The ops HTTP server of a worker process (DURASYNC_OPS_PORT, default 8080):
 * - `GET /health/live`: 200 while the process runs (a liveness probe restarts it otherwise);
 * - `GET /health/ready`: 200 when every dependency answers (Temporal, database, Redis) and the
 *   workers run; otherwise 503 with `failing` naming each failing check;
 * - `GET /health`: the same checks as a summary, always 200 (for humans and dashboards);
 * - `GET /metrics`: the Temporal SDK's Prometheus metrics and durasync's own.
 */
export interface OpsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** durasync's own metrics. */
  registry: Registry;
  /** The SDK's Prometheus exporter, e.g. http://127.0.0.1:9464/metrics, merged into /metrics. */
  sdkMetricsUrl?: string;
  /** Readiness checks by name; each throws when its dependency is unusable. */
  checks: Record<string, () => Promise<unknown>>;
  /** Static facts shown by /health (queues, mode, versions). */
  describe?: () => Record<string, unknown>;
  /** Time a single check may take. Default: 2000 ms. */
  checkTimeoutMs?: number;
}

export async function startOpsServer(options: OpsServerOptions): Promise<RunningServer> {
  const started = Date.now();
  const timeout = options.checkTimeoutMs ?? 2000;
  return startHttpServer({
    name: 'ops server',
    host: options.host,
    port: options.port,
    logger: options.logger,
    routes: {
      '/health/live': { GET: (_req, res) => sendJson(res, 200, { status: 'live', uptimeSeconds: Math.round((Date.now() - started) / 1000) }) },
      '/health/ready': {
        GET: async (_req, res) => {
          const result = await runChecks(options.checks, timeout);
          sendJson(res, result.ok ? 200 : 503, {
            status: result.ok ? 'ready' : 'unavailable',
            ...(result.ok ? {} : { failing: result.failing }),
            checks: result.checks,
          });
        },
      },
      '/health': {
        GET: async (_req, res) => {
          const result = await runChecks(options.checks, timeout);
          sendJson(res, 200, {
            status: result.ok ? 'ok' : 'degraded',
            pid: process.pid,
            uptimeSeconds: Math.round((Date.now() - started) / 1000),
            ...options.describe?.(),
            checks: result.checks,
          });
        },
      },
      '/metrics': {
        GET: async (_req, res) => {
          const [own, sdk] = await Promise.all([options.registry.metrics(), fetchSdkMetrics(options.sdkMetricsUrl, options.logger)]);
          sendText(res, 200, `${sdk}${sdk && !sdk.endsWith('\n') ? '\n' : ''}${own}`, options.registry.contentType);
        },
      },
    },
  });
}

async function fetchSdkMetrics(url: string | undefined, logger: Logger): Promise<string> {
  if (!url) return '';
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok ? await response.text() : '';
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message } }, 'SDK metrics exporter did not answer');
    return '';
  }
}
