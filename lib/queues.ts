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
export function taskQueueName(queue: QueueName | ApiQueueName, prefix = ''): string {
  return `${prefix}${queue}`;
}

/**
 * Activity-only task queues for calls to a rate-limited provider. Workflows of any family schedule
 * their provider activities there, and the server paces them for every worker together
 * (maxTaskQueueActivitiesPerSecond, DURASYNC_QUEUE_RATES). A process serving a family that uses one
 * also polls it.
 */
export const API_QUEUES = ['github-api', 'drive-api'] as const;
export type ApiQueueName = (typeof API_QUEUES)[number];

/** The API queues each family's workflows use. */
export const API_QUEUES_OF: Record<QueueName, readonly ApiQueueName[]> = {
  sync: ['github-api', 'drive-api'],
  // ingestSource's GitHub pulls (lib/ingest/sources/github.ts).
  ingestion: ['github-api'],
  'branch-delta': [],
};

export function isApiQueueName(value: string): value is ApiQueueName {
  return (API_QUEUES as readonly string[]).includes(value);
}

/** The API queues a process serving `queues` polls. */
export function apiQueuesFor(queues: readonly QueueName[]): ApiQueueName[] {
  return API_QUEUES.filter((api) => queues.some((queue) => API_QUEUES_OF[queue].includes(api)));
}
