import type { Client, Connection } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { HttpError, readBody, runChecks, sendJson, startHttpServer, type RunningServer, type Routes } from '../lib/http';
import { isUuid } from '../lib/ids';
import type { Logger } from '../lib/logger';
import { ConflictError, createStore, type Store } from '../lib/db/store';
import { ChangeInputError, parseChanges } from '../lib/branches/changes';
import { createChangeIntake, isBranchArchived, type ChangeIntake } from '../lib/branches/intake';
import type { DurasyncMetrics } from '../lib/metrics';
import { webhookRoutes, type WebhookIngressOptions } from '../lib/webhooks/routes';

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
  /** The change feed of branches (POST /branches/:branchId/changes); without it the route is absent. */
  branches?: BranchIngressOptions;
  /** POST /webhooks/github and /webhooks/:source (lib/webhooks/routes.ts); without it the routes are absent. */
  webhooks?: WebhookIngressOptions;
  /** Served at GET /metrics (e.g. the webhook stream bridge's gauges); without it the route is absent. */
  metrics?: Pick<DurasyncMetrics, 'registry'>;
}

export interface BranchIngressOptions {
  store: Pick<Store, 'getBranch'>;
  intake: Pick<ChangeIntake, 'accept'>;
  /** Largest request body (DURASYNC_BRANCH_MAX_BODY). Default: 25 MB. */
  maxBodyBytes?: number;
}

/**
 * The branch change feed as `durasync serve` and `npm run dev` run it: a store and a ChangeIntake
 * signalling over `client`, started (branches with unsignalled batches are signalled). Undefined
 * when no database is configured. close() flushes the intake, then closes the store.
 */
export async function openBranchIngress(options: { config: DurasyncConfig; client: Client; logger: Logger }): Promise<{ options: BranchIngressOptions; close(): Promise<void> } | undefined> {
  const { config, client, logger } = options;
  if (!config.database.url && !config.database.supabase) return undefined;
  const store = createStore({ databaseUrl: config.database.url, supabase: config.database.supabase, poolMax: config.database.poolMax, logger });
  const intake = createChangeIntake({ store, client, config, logger: logger.child({ component: 'change-intake' }) });
  try {
    const recovered = await intake.start();
    if (recovered) logger.info({ branches: recovered }, 'signalled branches with pending batches');
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message } }, 'could not signal branches with pending batches');
  }
  return {
    options: { store, intake, maxBodyBytes: config.branches.maxBodyBytes },
    async close() {
      await intake.close().catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'change intake flush failed'));
      await store.close();
    },
  };
}


/**
 * `POST /branches/:branchId/changes`: a JSON array of changes, or NDJSON (one change a line). The
 * whole body is validated before anything is taken: a malformed change answers 400 naming its
 * line. 404 for an unknown branch, 409 for an archived one, 413 past the body limit. Answers
 * `202 { branchId, batchId, accepted }` once the batch is durable in Postgres; the branch's
 * workflow hears of it through the intake's flusher.
 */
export function branchRoutes(options: BranchIngressOptions): Routes {
  const limit = options.maxBodyBytes ?? 25 * 1024 * 1024;
  return {
    '/branches/:branchId/changes': {
      POST: async (req, res, _url, params) => {
        const branchId = params.branchId ?? '';
        const branch = isUuid(branchId) ? await options.store.getBranch(branchId) : null;
        if (!branch) {
          req.resume();
          throw new HttpError(404, `no branch ${branchId}`);
        }
        if (isBranchArchived(branch)) {
          req.resume();
          throw new HttpError(409, `branch ${branchId} is archived: it takes no more changes`);
        }
        const body = await readBody(req, limit);
        const contentType = String(req.headers['content-type'] ?? 'application/x-ndjson');
        let changes;
        try {
          changes = parseChanges(body, contentType);
        } catch (err) {
          if (err instanceof ChangeInputError) {
            return sendJson(res, 400, { error: err.message, line: err.line });
          }
          throw err;
        }
        if (changes.length === 0) throw new HttpError(400, 'no changes in the body');
        try {
          sendJson(res, 202, await options.intake.accept(branchId, changes, { validated: true }));
        } catch (err: unknown) {
          // Archived between the check and the append.
          if (err instanceof ConflictError && err.details.reason === 'archived') throw new HttpError(409, `branch ${branchId} is archived: it takes no more changes`);
          throw err;
        }
      },
    },
  };
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
      ...(options.branches ? branchRoutes(options.branches) : {}),
      ...(options.webhooks ? webhookRoutes(options.webhooks) : {}),
      ...(options.metrics ? { '/metrics': { GET: metricsHandler(options.metrics) } } : {}),
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

function metricsHandler(metrics: Pick<DurasyncMetrics, 'registry'>): Routes[string]['GET'] {
  return async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
}
