import type { Cache } from '../lib/cache';
import type { DurasyncConfig } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { DurasyncMetrics } from '../lib/metrics';
import type { ApiQueueName, QueueName } from '../lib/queues';
import type { Store } from '../lib/db/store';
import type { GithubSettings } from '../lib/providers/github';
import { createGoogleRefresher, type GoogleSettings } from '../lib/providers/google';
import { TokenService } from '../lib/tokens/token-service';
import { createOpsActivities } from '../activities/ops';
import { createDriveActivities } from '../activities/sync/drive';
import { createGithubActivities } from '../activities/sync/github';
import { createSyncRecordActivities } from '../activities/sync/records';
import { createJobActivities } from '../activities/jobs';

/** What a worker process builds once and hands to every activity factory. */
export interface ActivityDeps {
  store: Store;
  cache: Cache;
  logger: Logger;
  /** Provider tokens; null when DURASYNC_TOKEN_KEY is not set (provider activities then fail with NotConfigured). */
  tokens?: TokenService | null;
  /** Default: Google's API. */
  google?: Pick<GoogleSettings, 'rootUrl'>;
  /** Default: api.github.com. */
  github?: GithubSettings;
}

const syncDeps = (deps: ActivityDeps) => ({ ...deps, tokens: deps.tokens ?? null, google: deps.google ?? {}, github: deps.github ?? {} });

/** Builds the deps once per process: the token service over the store and cache, provider settings. */
export function createActivityDeps(options: { config: DurasyncConfig; store: Store; cache: Cache; logger: Logger; metrics?: DurasyncMetrics }): ActivityDeps {
  const { config, store, cache, logger, metrics } = options;
  const google = config.providers.google;
  const tokens = config.tokens.keys
    ? new TokenService({
        store,
        cache,
        keys: config.tokens.keys,
        refresher: createGoogleRefresher(google),
        logger,
        refreshMarginMs: config.tokens.refreshMarginMs,
        onCacheUnavailable: (operation) => metrics?.cacheUnavailable.inc({ operation }),
      })
    : null;
  return { store, cache, logger, tokens, google: { rootUrl: google.rootUrl }, github: config.providers.github };
}

/** The activities of a provider API queue (activity-only workers). */
export function activitiesForApiQueue(queue: ApiQueueName, deps: ActivityDeps): object {
  switch (queue) {
    case 'drive-api':
      return { ...createDriveActivities(syncDeps(deps)) };
    case 'github-api':
      return { ...createGithubActivities(syncDeps(deps)) };
  }
}

/**
 * The activities each queue's worker registers. Every queue runs the ops activities (the canary
 * probes each queue); each job family adds its own factory here.
 */
export function activitiesForQueue(queue: QueueName, deps: ActivityDeps): object {
  const ops = createOpsActivities(deps);
  switch (queue) {
    case 'sync':
      return { ...ops, ...createJobActivities(deps), ...createSyncRecordActivities(deps) };
    case 'ingestion':
      return { ...ops };
    case 'branch-delta':
      return { ...ops };
  }
}
