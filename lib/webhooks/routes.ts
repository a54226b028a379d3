import type http from 'node:http';
import type { Client } from '@temporalio/client';
import type { DurasyncConfig, WebhookSourceConfig } from '../config';
import { createStore, type Store } from '../db/store';
import { HttpError, readRawBody, sendJson, type Routes } from '../http';
import type { Logger } from '../logger';
import { createObjectStore, type ObjectStore } from '../objects';
import { taskQueueName } from '../queues';
import { Settings, type SettingsReader } from '../settings';
import { verifySignature } from './signature';
import { DELIVERY_ID, PayloadTooLargeError, startWebhookWorkflow, webhookPriority, type WebhookStarter } from './start';

/**
 * The webhook routes of the ingress: `POST /webhooks/github` (X-Hub-Signature-256 with
 * GITHUB_WEBHOOK_SECRET) and `POST /webhooks/:source` for the sources of DURASYNC_WEBHOOK_SOURCES.
 * Each delivery starts one `processWebhookEvent` workflow (lib/webhooks/start.ts) and answers
 * `202 {"workflowId","runId"}` once the start is durable; a redelivery gets the same answer.
 */
export interface WebhookIngressOptions extends WebhookStarter {
  logger: Logger;
  /** GITHUB_WEBHOOK_SECRET; unset: the GitHub route answers 503. */
  githubSecret?: string;
  sources: WebhookSourceConfig[];
  /** Largest body (DURASYNC_WEBHOOK_MAX_BODY). Default: 25 MB. */
  maxBodyBytes?: number;
  /** Run-time settings: `webhooks.enabled` false at `source:<name>` (or global) answers 503. Default: none (always on). */
  settings?: SettingsReader;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

interface SourceSpec {
  name: string;
  secret: string;
  signatureHeader: string;
  deliveryHeader: string;
  eventHeader: string;
  allowBareHex: boolean;
}

function handler(options: WebhookIngressOptions, spec: SourceSpec) {
  const limit = options.maxBodyBytes ?? 25 * 1024 * 1024;
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const receivedAt = new Date();
    if ((await options.settings?.get('webhooks.enabled', `source:${spec.name}`)) === false) {
      req.resume();
      throw new HttpError(503, `webhooks from ${spec.name} are disabled by the setting webhooks.enabled (durasync settings get webhooks.enabled --scope source:${spec.name})`);
    }
    const body = await readRawBody(req, limit);
    if (!verifySignature(spec.secret, body, req.headers[spec.signatureHeader], { allowBareHex: spec.allowBareHex })) {
      throw new HttpError(401, `${spec.signatureHeader}: missing or not a valid sha256 signature of the body`);
    }
    const deliveryId = header(req, spec.deliveryHeader);
    const event = header(req, spec.eventHeader);
    if (!deliveryId) throw new HttpError(400, `${spec.deliveryHeader}: missing`);
    if (!DELIVERY_ID.test(deliveryId)) throw new HttpError(400, `${spec.deliveryHeader}: expected letters, digits and . _ : - (at most 200)`);
    if (!event) throw new HttpError(400, `${spec.eventHeader}: missing`);
    if (event.length > 200) throw new HttpError(400, `${spec.eventHeader}: longer than 200 characters`);
    const contentType = String(req.headers['content-type'] ?? '');
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      throw new HttpError(415, 'form-encoded webhooks are not accepted: set the webhook content type to application/json');
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `body: not JSON (${(err as Error).message})`);
    }
    try {
      const { workflowId, runId, started } = await startWebhookWorkflow(options, { source: spec.name, deliveryId, event, body, payload, receivedAt });
      options.logger.info({ source: spec.name, deliveryId, event, workflowId, started }, started ? 'webhook accepted' : 'webhook redelivered');
      sendJson(res, 202, { workflowId, runId });
    } catch (err) {
      if (err instanceof PayloadTooLargeError) throw new HttpError(413, err.message);
      throw err;
    }
  };
}

export function webhookRoutes(options: WebhookIngressOptions): Routes {
  const sources = new Map<string, SourceSpec>(
    options.sources.map((s) => [s.name, { name: s.name, secret: s.secret, signatureHeader: s.signatureHeader, deliveryHeader: s.deliveryHeader, eventHeader: s.eventHeader, allowBareHex: true }]),
  );
  const github = options.githubSecret
    ? handler(options, {
        name: 'github',
        secret: options.githubSecret,
        signatureHeader: 'x-hub-signature-256',
        deliveryHeader: 'x-github-delivery',
        eventHeader: 'x-github-event',
        allowBareHex: false,
      })
    : undefined;
  const handlers = new Map([...sources].map(([name, spec]) => [name, handler(options, spec)]));
  return {
    '/webhooks/github': {
      POST: async (req, res) => {
        if (!github) {
          req.resume();
          throw new HttpError(503, 'GitHub webhooks are off: GITHUB_WEBHOOK_SECRET is not set');
        }
        await github(req, res);
      },
    },
    '/webhooks/:source': {
      POST: async (req, res, _url, params) => {
        const run = handlers.get(params.source ?? '');
        if (!run) {
          req.resume();
          throw new HttpError(404, `no webhook source ${params.source ?? ''}`);
        }
        await run(req, res);
      },
    },
  };
}

/**
 * The webhook routes as `durasync serve` and `npm run dev` run them: the configured secrets, the
 * ingestion task queue and priorities, the object store, and run-time settings when a database is
 * configured.
 */
export function openWebhookIngress(options: { config: DurasyncConfig; client: Client; logger: Logger }): { options: WebhookIngressOptions; close(): Promise<void> } {
  const { config, client, logger } = options;
  const objects: ObjectStore = createObjectStore(config);
  const { database } = config;
  // Connects on the first read; an unreachable database leaves every source on (lib/settings.ts).
  const store: Store | undefined = database.url || database.supabase ? createStore({ databaseUrl: database.url, supabase: database.supabase, logger, poolMax: 1 }) : undefined;
  const settings = store ? new Settings({ store, ttlMs: config.settings.ttlMs, logger: logger.child({ component: 'settings' }) }) : undefined;
  return {
    options: {
      client,
      taskQueue: taskQueueName('ingestion', config.temporal.taskQueuePrefix),
      objects,
      priority: webhookPriority(config.priority),
      logger: logger.child({ component: 'webhooks' }),
      githubSecret: config.webhooks.githubSecret,
      sources: config.webhooks.sources,
      maxBodyBytes: config.webhooks.maxBodyBytes,
      ...(settings ? { settings } : {}),
    },
    close: async () => {
      try {
        await objects.close();
      } finally {
        await store?.close();
      }
    },
  };
}
