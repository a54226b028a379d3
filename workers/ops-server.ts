import { runChecks, sendJson, sendText, startHttpServer, type RunningServer, type Routes } from '../lib/http';
import type { Logger } from '../lib/logger';

/**
 * The ops HTTP server (DURASYNC_OPS_PORT, default 8080), of a worker process and of the manager:
 * - `GET /health/live`: 200 while the process runs (a liveness probe restarts it otherwise);
 * - `GET /health/ready`: 200 when every check passes (Temporal, database, Redis, workers);
 *   otherwise 503 with `failing` naming each failing check;
 * - `GET /health`: the same checks as a summary, always 200 (for humans and dashboards);
 * - `GET /metrics`: Prometheus text;
 * - `GET /api/v1/workers/stats`, `GET /api/v1/workers/queue`: job counts per worker, and backlog,
 *   pollers and workflow counts per queue.
 */
export interface OpsServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Readiness checks by name; each throws when its dependency is unusable. */
  checks: Record<string, () => Promise<unknown>>;
  /** Facts shown by /health (queues, mode, versions). */
  describe?: () => Record<string, unknown>;
  /** The Prometheus exposition served on /metrics. */
  metrics: () => Promise<string>;
  /** /api/v1/workers/stats. */
  stats?: () => Promise<unknown>;
  /** /api/v1/workers/queue. */
  queue?: () => Promise<unknown>;
  /** More routes (the manager's scaling API). */
  routes?: Routes;
  /** Time a single check may take. Default: 1500 ms (under the usual 2 s probe timeout). */
  checkTimeoutMs?: number;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export async function startOpsServer(options: OpsServerOptions): Promise<RunningServer> {
  const started = Date.now();
  const timeout = options.checkTimeoutMs ?? 1500;
  const routes: Routes = {
    ...options.routes,
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
    '/metrics': { GET: async (_req, res) => sendText(res, 200, await options.metrics(), PROMETHEUS_CONTENT_TYPE) },
  };
  const { stats, queue } = options;
  if (stats) routes['/api/v1/workers/stats'] = { GET: async (_req, res) => sendJson(res, 200, await stats()) };
  if (queue) routes['/api/v1/workers/queue'] = { GET: async (_req, res) => sendJson(res, 200, await queue()) };
  return startHttpServer({ name: 'ops server', host: options.host, port: options.port, logger: options.logger, routes });
}

/** Fetches the SDK's Prometheus exporter; '' (and a warning) when it does not answer. */
export async function fetchSdkMetrics(url: string, logger: Logger): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.ok ? await response.text() : '';
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message } }, 'SDK metrics exporter did not answer');
    return '';
  }
}
