import pino from 'pino';

/**
 * Structured logging: one JSON line per event on stdout, with scope fields (queue, workflowId,
 * activity, attempt...) added by child loggers. Workers route the Temporal SDK's own logs here
 * (see workers/runtime.ts), so everything a process prints has one shape.
 */
export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/**
 * Field paths that may carry secrets. Values under them are replaced before a line is written,
 * whatever the call site passes: a guard, not a licence to log secrets.
 */
export const REDACTED_PATHS = [
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.apiKey',
  '*.password',
  '*.secret',
  '*.serviceKey',
  '*.authorization',
  '*.headers.authorization',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'password',
  'secret',
  'serviceKey',
];

export interface LoggerOptions {
  /** Minimum level written. Default: `info`. */
  level?: LogLevel;
  /** Fields on every line (e.g. `{ service: 'worker' }`). */
  base?: Record<string, unknown>;
  /** Where lines go. Default: stdout. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ sync: true }),
  );
}
