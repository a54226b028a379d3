import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { createObjectStore, type ObjectStore } from '../lib/objects';
import { taskQueueName } from '../lib/queues';
import { DELIVERY_ID, SOURCE_NAME, startWebhookWorkflow, webhookPriority, webhookWorkflowId } from '../lib/webhooks/start';
import { toDurasyncError } from './errors';

/**
 * Webhook deliveries from code: a service that already received and verified a webhook (or holds
 * events in another queue) hands it to durasync exactly as the ingress does: workflow
 * `processWebhookEvent` with id `webhook:<source>:<deliveryId>`, started at most once per delivery.
 */
export interface WebhooksApi {
  /**
   * Starts the delivery's workflow, or finds it (a repeated delivery starts nothing new and gets
   * the same answer). Payloads over 256 KB go to the object store first.
   */
  deliver(input: { source: string; deliveryId: string; event: string; payload: unknown; receivedAt?: Date }): Promise<{ workflowId: string; runId: string; started: boolean }>;
  /** Where a delivery's workflow is: its id, run and status. */
  status(source: string, deliveryId: string): Promise<{ workflowId: string; runId: string; status: WorkflowExecutionStatusName }>;
  close(): Promise<void>;
}

export function webhooksApi(client: Client, config: DurasyncConfig): WebhooksApi {
  let objects: ObjectStore | undefined;
  const taskQueue = taskQueueName('ingestion', config.temporal.taskQueuePrefix);
  const priority = webhookPriority(config.priority);
  const check = (source: string, deliveryId: string) => {
    if (!SOURCE_NAME.test(source)) throw new TypeError(`source: expected lowercase letters, digits, _ and - (at most 40), got "${source}"`);
    if (!DELIVERY_ID.test(deliveryId)) throw new TypeError(`deliveryId: expected letters, digits and ._:- (at most 200), got "${deliveryId}"`);
  };
  return {
    async deliver(input) {
      check(input.source, input.deliveryId);
      const body = Buffer.from(JSON.stringify(input.payload) ?? 'null');
      try {
        return await startWebhookWorkflow(
          { client, taskQueue, objects: (objects ??= createObjectStore(config)), priority },
          { source: input.source, deliveryId: input.deliveryId, event: input.event, body, payload: input.payload, receivedAt: input.receivedAt },
        );
      } catch (err) {
        throw toDurasyncError(err, webhookWorkflowId(input.source, input.deliveryId));
      }
    },
    async status(source, deliveryId) {
      check(source, deliveryId);
      const workflowId = webhookWorkflowId(source, deliveryId);
      try {
        const d = await client.workflow.getHandle(workflowId).describe();
        return { workflowId, runId: d.runId, status: d.status.name };
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async close() {
      await objects?.close();
    },
  };
}
