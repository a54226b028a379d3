import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { createStore, type DeadLetter, type EventSearchHit, type Store, type StoredEvent } from '../lib/db/store';
import { createLogger } from '../lib/logger';
import { taskQueueName } from '../lib/queues';
import { webhookWorkflowId, type WebhookEventInput, type WebhookEventResult } from '../workflows/ingestion/types';
import { toDurasyncError } from './errors';

/**
 * The `events` and `dlq` namespaces of the client SDK: stored webhook events (Postgres), and the
 * dead letters of deliveries given up on, which `retry` runs again as `processWebhookEvent` with
 * the same workflow id. Both need a database (DATABASE_URL or SUPABASE_URL).
 */

type ProcessWebhookEvent = (input: WebhookEventInput) => Promise<WebhookEventResult>;

/** No dead letter has this id. */
export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError';
  constructor(readonly deadLetterId: string) {
    super(`no dead letter ${deadLetterId}`);
  }
}

/** The dead letter is not a webhook delivery (or lost its input), so it cannot be re-run. */
export class DeadLetterNotRetryableError extends Error {
  override readonly name = 'DeadLetterNotRetryableError';
  constructor(
    readonly deadLetterId: string,
    reason: string,
  ) {
    super(`dead letter ${deadLetterId} cannot be retried: ${reason}`);
  }
}

export interface EventsApi {
  /** Stored events, of one source or all. */
  count(options?: { source?: string }): Promise<number>;
  /** One event with its payload, or null. */
  show(source: string, externalId: string): Promise<StoredEvent | null>;
  /** Full-text (websearch syntax) or substring matches, best first, without payloads. Default limit 20. */
  search(text: string, options?: { limit?: number; source?: string }): Promise<EventSearchHit[]>;
}

export interface DeadLetterRetry {
  deadLetter: DeadLetter;
  result: WebhookEventResult;
}

export interface DlqApi {
  /** Dead letters, newest failure first; unresolved ones unless `all`. */
  list(options?: { all?: boolean; source?: string; limit?: number }): Promise<DeadLetter[]>;
  /**
   * Re-runs a webhook delivery's dead letter: `processWebhookEvent` with its recorded input, id
   * `webhook:<source>:<deliveryId>`, reuse policy ALLOW_DUPLICATE_FAILED_ONLY (a run in progress,
   * or one that succeeded since, is waited for instead). Marks the dead letter resolved once the
   * run succeeds. DeadLetterNotFoundError, DeadLetterNotRetryableError, DurasyncWorkflowFailedError.
   */
  retry(deadLetterId: string): Promise<DeadLetterRetry>;
  /** retry() of every unresolved webhook dead letter, one at a time; each outcome, failures included. */
  retryAll(): Promise<{ deadLetterId: string; ok: boolean; error?: string }[]>;
  close(): Promise<void>;
}

const isObj = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The input recorded in a webhook dead letter's details (activities/ingestion.ts recordDeadLetter). */
function recordedInput(letter: DeadLetter): WebhookEventInput {
  if (!letter.source.startsWith('webhook:')) throw new DeadLetterNotRetryableError(letter.id, `source ${letter.source} is not a webhook`);
  const input = isObj(letter.details) ? letter.details.input : undefined;
  if (!isObj(input)) throw new DeadLetterNotRetryableError(letter.id, 'its details hold no input');
  const { source, deliveryId, event, receivedAt, payloadRef } = input;
  if (typeof source !== 'string' || typeof deliveryId !== 'string' || typeof event !== 'string' || typeof receivedAt !== 'string') {
    throw new DeadLetterNotRetryableError(letter.id, 'its recorded input is incomplete');
  }
  if (typeof payloadRef !== 'string') throw new DeadLetterNotRetryableError(letter.id, 'its payload was not kept (no object store when it failed)');
  return { source, deliveryId, event, receivedAt, payloadRef };
}

export function ingestionApis(client: Client, config: DurasyncConfig): { events: EventsApi; dlq: DlqApi; db: () => Store } {
  let store: Store | undefined;
  const db = (): Store =>
    (store ??= createStore({ databaseUrl: config.database.url, supabase: config.database.supabase, logger: createLogger({ level: 'warn' }), poolMax: 2 }));
  const taskQueue = taskQueueName('ingestion', config.temporal.taskQueuePrefix);

  async function run(input: WebhookEventInput): Promise<WebhookEventResult> {
    const workflowId = webhookWorkflowId(input.source, input.deliveryId);
    try {
      const handle = await client.workflow
        .start<ProcessWebhookEvent>('processWebhookEvent', { workflowId, taskQueue, args: [input], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY', staticSummary: `dead-letter retry: ${input.source} ${input.event} delivery ${input.deliveryId}` })
        .catch((err: unknown) => {
          if (err instanceof WorkflowExecutionAlreadyStartedError) return client.workflow.getHandle<ProcessWebhookEvent>(workflowId);
          throw err;
        });
      return await handle.result();
    } catch (err) {
      throw toDurasyncError(err, workflowId);
    }
  }

  const dlq: DlqApi = {
    list: ({ all = false, source, limit } = {}) => db().listDeadLetters({ includeResolved: all, source, limit }),
    async retry(deadLetterId) {
      const letter = await db().getDeadLetter(deadLetterId);
      if (!letter) throw new DeadLetterNotFoundError(deadLetterId);
      const result = await run(recordedInput(letter));
      return { deadLetter: await db().resolveDeadLetter(deadLetterId), result };
    },
    async retryAll() {
      const outcomes: { deadLetterId: string; ok: boolean; error?: string }[] = [];
      for (const letter of await db().listDeadLetters({ limit: 10000 })) {
        if (!letter.source.startsWith('webhook:')) continue;
        try {
          await dlq.retry(letter.id);
          outcomes.push({ deadLetterId: letter.id, ok: true });
        } catch (err) {
          outcomes.push({ deadLetterId: letter.id, ok: false, error: err instanceof Error ? err.message : String(err) });
        }
      }
      return outcomes;
    },
    async close() {
      await store?.close();
      store = undefined;
    },
  };

  const events: EventsApi = {
    count: ({ source } = {}) => db().countEvents(source),
    show: (source, externalId) => db().getEvent(source, externalId),
    search: (text, options) => db().searchEvents(text, options),
  };
  return { events, dlq, db };
}
