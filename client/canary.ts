import type { Client } from '@temporalio/client';
import type { canary, CanaryInput, CanaryResult } from '../workflows/canary';
import { DurasyncKind } from '../workflows/search-attributes';

/**
 * Starts the canary workflow on `taskQueue` and waits for its result. Its workflow id names the
 * queue and the time, so canaries never collide and the Web UI lists them by DurasyncKind = "canary".
 */
export async function startCanary(client: Client, taskQueue: string, timeoutMs: number, input: CanaryInput = {}): Promise<CanaryResult> {
  const handle = await client.workflow.start<typeof canary>('canary', {
    args: [input],
    taskQueue,
    workflowId: `canary:${taskQueue}:${new Date().toISOString()}`,
    workflowExecutionTimeout: timeoutMs,
    typedSearchAttributes: [{ key: DurasyncKind, value: 'canary' }],
    staticSummary: `canary on ${taskQueue}`,
    staticDetails: 'Proves that the workers of this queue poll for tasks and reach the database and cache.',
  });
  return handle.result();
}
