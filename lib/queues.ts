/**
 * durasync's task queues: one per job family, so each family scales and fails on its own.
 * A deployment may prefix them (DURASYNC_TASK_QUEUE_PREFIX) to share one namespace.
 */
export const QUEUES = ['sync', 'ingestion', 'branch-delta'] as const;
export type QueueName = (typeof QUEUES)[number];

export function isQueueName(value: string): value is QueueName {
  return (QUEUES as readonly string[]).includes(value);
}

/** The Temporal task queue a durasync queue runs on. */
export function taskQueueName(queue: QueueName, prefix = ''): string {
  return `${prefix}${queue}`;
}
