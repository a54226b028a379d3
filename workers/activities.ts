import type { Cache } from '../lib/cache';
import type { Logger } from '../lib/logger';
import type { QueueName } from '../lib/queues';
import type { Store } from '../lib/db/store';
import { createOpsActivities } from '../activities/ops';

/** What a worker process builds once and hands to every activity factory. */
export interface ActivityDeps {
  store: Store;
  cache: Cache;
  logger: Logger;
}

/**
 * The activities each queue's worker registers. Every queue runs the ops activities (the canary
 * probes each queue); each job family adds its own factory here.
 */
export function activitiesForQueue(queue: QueueName, deps: ActivityDeps): object {
  const ops = createOpsActivities(deps);
  switch (queue) {
    case 'sync':
      return { ...ops };
    case 'ingestion':
      return { ...ops };
    case 'branch-delta':
      return { ...ops };
  }
}
