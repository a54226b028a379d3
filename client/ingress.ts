import type { Connection } from '@temporalio/client';
import { runChecks, sendJson, startHttpServer, type RunningServer, type Routes } from '../lib/http';
import type { Logger } from '../lib/logger';

/**
 * The ingress HTTP server (`durasync serve`, DURASYNC_INGRESS_PORT, default 8088): where the
 * outside world hands work to durasync. It starts workflows and returns once the start is durable
 * in Temporal; it never does the work itself. Job families add their routes (webhooks, change
 * feeds) through `routes`.
 */
export interface IngressOptions {
  host: string;
  port: number;
  logger: Logger;
  /** The Temporal connection the routes start workflows on; checked by /health/ready. */
  connection: Connection;
  routes?: Routes;
}

export async function startIngressServer(options: IngressOptions): Promise<RunningServer> {
  const { connection } = options;
  return startHttpServer({
    name: 'ingress',
    host: options.host,
    port: options.port,
    logger: options.logger,
    routes: {
      ...options.routes,
      '/health/live': { GET: (_req, res) => sendJson(res, 200, { status: 'live' }) },
      '/health/ready': {
        GET: async (_req, res) => {
          const result = await runChecks({ temporal: () => connection.workflowService.getSystemInfo({}) }, 2000);
          sendJson(res, result.ok ? 200 : 503, {
            status: result.ok ? 'ready' : 'unavailable',
            ...(result.ok ? {} : { failing: result.failing }),
            checks: result.checks,
          });
        },
      },
    },
  });
}
