import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { WebhookEventInput } from '../../workflows/ingestion/types';
import type { ObjectStore } from '../objects';
import { loadPriorityConfig, type DurasyncConfig } from '../config';

/**
 * Starting `processWebhookEvent` (the ingestion family's workflow, implemented in workflows/ingestion)
 * for one delivery of a webhook, shared by the ingress routes and the Redis Streams bridge.
 * Deduplication is the workflow id `webhook:<source>:<deliveryId>`: started with
 * REJECT_DUPLICATE + USE_EXISTING, a redelivery starts nothing and gets the same run back.
 */

/** The workflow type, started by name (the workflow code lives with the ingestion family). */
export const WEBHOOK_WORKFLOW_TYPE = 'processWebhookEvent';

/** Bodies above this travel through the object store (`payloadRef`) instead of the workflow input. */
export const INLINE_PAYLOAD_LIMIT = 256 * 1024;

/** The input of `processWebhookEvent` (the ingestion family's contract). */
export type { WebhookEventInput };

export interface WebhookDelivery {
  source: string;
  deliveryId: string;
  event: string;
  /** The raw JSON text of the payload (already checked to parse). */
  body: Buffer;
  /** The parsed payload. */
  payload: unknown;
  receivedAt?: Date;
}

export interface WebhookStarter {
  client: Client;
  /** The ingestion task queue (taskQueueName('ingestion', prefix)). */
  taskQueue: string;
  /** Where payloads over 256 KB go; without one, they are refused. */
  objects?: Pick<ObjectStore, 'put'>;
  /**
   * Which deliveries start with the urgent task priority: durasync's own starters pass the loaded
   * config's (webhookPriority(config.priority)). Default: DURASYNC_PRIORITY_URGENT and
   * DURASYNC_URGENT_WEBHOOK_EVENTS read from the environment.
   */
  priority?: WebhookPriority;
}

/** The urgent priority key and the events it applies to: `event` (any source) or `source:event`. */
export interface WebhookPriority {
  urgent: number;
  urgentEvents: readonly string[];
}

/** The webhook part of the configured priorities. */
export function webhookPriority(priority: DurasyncConfig['priority']): WebhookPriority {
  return { urgent: priority.urgent, urgentEvents: priority.urgentWebhookEvents };
}

let fromEnv: WebhookPriority | undefined;
function envPriority(): WebhookPriority {
  fromEnv ??= webhookPriority(loadPriorityConfig(process.env));
  return fromEnv;
}

/**
 * The priority key a delivery starts with: the urgent one when its event is listed (as `event` or
 * `source:event`), else undefined (Temporal's default, 3). Urgent deliveries overtake a backlog of
 * other work on the ingestion queue; the workflow's activities inherit the priority.
 */
export function webhookPriorityKey(priority: WebhookPriority, source: string, event: string): number | undefined {
  return priority.urgentEvents.includes(event) || priority.urgentEvents.includes(`${source}:${event}`) ? priority.urgent : undefined;
}

/** A delivery id or source name usable in a workflow id and an object key. */
export const DELIVERY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
export const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

export function webhookWorkflowId(source: string, deliveryId: string): string {
  return `webhook:${source}:${deliveryId}`;
}

export function webhookPayloadKey(source: string, deliveryId: string): string {
  return `webhooks/${source}/${deliveryId}.json`;
}

/** A payload too large to travel inline with no object store to put it in. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/**
 * Starts (or finds) the workflow of a delivery. Resolves once the start is durable in Temporal
 * (or the workflow already existed, running or closed) with its id and run id. `started` is false
 * only when the workflow had already closed (a still-running one is returned by USE_EXISTING,
 * indistinguishable from a new start).
 */
export async function startWebhookWorkflow(starter: WebhookStarter, delivery: WebhookDelivery): Promise<{ workflowId: string; runId: string; started: boolean }> {
  const workflowId = webhookWorkflowId(delivery.source, delivery.deliveryId);
  const input: WebhookEventInput = {
    source: delivery.source,
    deliveryId: delivery.deliveryId,
    event: delivery.event,
    receivedAt: (delivery.receivedAt ?? new Date()).toISOString(),
  };
  if (delivery.body.length > INLINE_PAYLOAD_LIMIT) {
    if (!starter.objects) throw new PayloadTooLargeError(`payload of ${delivery.body.length} bytes is over ${INLINE_PAYLOAD_LIMIT} and no object store is configured`);
    const key = webhookPayloadKey(delivery.source, delivery.deliveryId);
    // Written before the start, so a workflow never sees a reference to nothing. A redelivery
    // rewrites the same bytes (the write is atomic).
    await starter.objects.put(key, delivery.body, 'application/json');
    input.payloadRef = key;
  } else {
    input.payload = delivery.payload;
  }
  const priorityKey = webhookPriorityKey(starter.priority ?? envPriority(), delivery.source, delivery.event);
  try {
    const handle = await starter.client.workflow.start(WEBHOOK_WORKFLOW_TYPE, {
      taskQueue: starter.taskQueue,
      workflowId,
      args: [input],
      staticSummary: `${delivery.source} ${delivery.event} delivery ${delivery.deliveryId}${input.payloadRef ? ' (payload in the object store)' : ''}`,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      ...(priorityKey !== undefined ? { priority: { priorityKey } } : {}),
    });
    return { workflowId, runId: handle.firstExecutionRunId, started: true };
  } catch (err) {
    // REJECT_DUPLICATE: the workflow ran and closed already. Same answer as the first time.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const description = await starter.client.workflow.getHandle(workflowId).describe();
    return { workflowId, runId: description.runId, started: false };
  }
}
