import type { Cache } from '../lib/cache';
import type { DurasyncConfig } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { DurasyncMetrics } from '../lib/metrics';
import type { ApiQueueName, QueueName } from '../lib/queues';
import type { Store } from '../lib/db/store';
import type { GithubSettings } from '../lib/providers/github';
import type { GoogleSettings } from '../lib/providers/google';
import { TokenService } from '../lib/tokens/token-service';
import { refresherByProvider } from '../lib/tokens/refresher-by-provider';
import { createOpsActivities } from '../activities/ops';
import type * as GoogleModule from '../lib/providers/google';
import type * as GithubProviderModule from '../lib/providers/github';
import type * as DriveModule from '../activities/sync/drive';
import type * as GithubModule from '../activities/sync/github';
import type * as JobsModule from '../activities/jobs';
import type * as RecordsModule from '../activities/sync/records';
import type * as BranchesModule from '../activities/branches';
import type * as IngestionModule from '../activities/ingestion';
import type * as SourcesModule from '../activities/ingest-source';
import type * as ExportModule from '../activities/export';
import type * as NotificationsModule from '../activities/notifications';
import type { BranchConcurrency } from '../activities/branches';
import type { ObjectStore } from '../lib/objects';

// Each family's activities (and the provider SDKs they load: googleapis, Octokit) are loaded when a
// process serves that family, so a process of one queue does not pay for the others (googleapis'
// Drive module and Octokit are about 15 MB). A synchronous require keeps this working the same
// under tsx, ts-jest and the compiled build (a dynamic import() would need file extensions).
function load<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate lazy load, see above
  return require(id) as T;
}

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
  /** GITHUB_TOKEN: the deployment's own token for pulled GitHub events. Secret. */
  githubToken?: string;
  /** Object storage (deltas, snapshots); the branch-delta activities need it. */
  objects?: ObjectStore;
  /** Concurrency per kind of branch work (DURASYNC_BRANCH_CONCURRENCY). */
  branchConcurrency?: Partial<BranchConcurrency>;
}

const syncDeps = (deps: ActivityDeps) => ({ ...deps, tokens: deps.tokens ?? null, google: deps.google ?? {}, github: deps.github ?? {} });

/** Builds the deps once per process: the token service over the store and cache, provider settings. */
export function createActivityDeps(options: { config: DurasyncConfig; store: Store; cache: Cache; logger: Logger; metrics?: DurasyncMetrics }): ActivityDeps {
  const { config, store, cache, logger, metrics } = options;
  const google = config.providers.google;
  const { oauthUrl, clientId, clientSecret } = config.providers.github;
  const tokens = config.tokens.keys
    ? new TokenService({
        store,
        cache,
        keys: config.tokens.keys,
        // googleapis (and Octokit) load only in processes that refresh that provider's tokens.
        refresher: refresherByProvider({
          google: () => load<typeof GoogleModule>('../lib/providers/google').createGoogleRefresher(google),
          github: () => load<typeof GithubProviderModule>('../lib/providers/github').createGithubRefresher({ oauthUrl, clientId, clientSecret }),
        }),
        logger,
        refreshMarginMs: config.tokens.refreshMarginMs,
        onCacheUnavailable: (operation) => metrics?.cacheUnavailable.inc({ operation }),
      })
    : null;
  const { token: githubToken, baseUrl } = config.providers.github;
  const github = baseUrl ? { baseUrl } : {};
  return { store, cache, logger, tokens, google: { rootUrl: google.rootUrl }, github, githubToken, branchConcurrency: config.branches.concurrency };
}

/** ingestSource's activities (pulled events): on `ingestion`, and on each API queue a source plugin uses. */
function sourceActivities(deps: ActivityDeps): object {
  const { createSourceActivities } = load<typeof SourcesModule>('../activities/ingest-source');
  return createSourceActivities({ store: deps.store, tokens: deps.tokens ?? null, github: deps.github ?? {}, githubToken: deps.githubToken, logger: deps.logger });
}

/** The activities of a provider API queue (activity-only workers). */
export function activitiesForApiQueue(queue: ApiQueueName, deps: ActivityDeps): object {
  switch (queue) {
    case 'drive-api':
      return { ...load<typeof DriveModule>('../activities/sync/drive').createDriveActivities(syncDeps(deps)) };
    case 'github-api':
      return { ...load<typeof GithubModule>('../activities/sync/github').createGithubActivities(syncDeps(deps)), ...sourceActivities(deps) };
  }
}

/**
 * The activities each queue's worker registers. Every queue runs the ops activities (the canary
 * probes each queue); each job family adds its own factory here.
 */
export function activitiesForQueue(queue: QueueName, deps: ActivityDeps): object {
  // deliverNotifications runs as a child on the queue of the job that saw the event: every family.
  const ops = { ...createOpsActivities(deps), ...load<typeof NotificationsModule>('../activities/notifications').createNotificationActivities(deps) };
  switch (queue) {
    case 'sync': {
      const { createJobActivities } = load<typeof JobsModule>('../activities/jobs');
      const { createSyncRecordActivities } = load<typeof RecordsModule>('../activities/sync/records');
      return { ...ops, ...createJobActivities(deps), ...createSyncRecordActivities(deps) };
    }
    case 'ingestion': {
      const { createIngestionActivities } = load<typeof IngestionModule>('../activities/ingestion');
      const { createExportActivities } = load<typeof ExportModule>('../activities/export');
      return { ...ops, ...createIngestionActivities({ store: deps.store, objects: deps.objects ?? null, logger: deps.logger }), ...sourceActivities(deps), ...createExportActivities({ store: deps.store, objects: deps.objects ?? null, logger: deps.logger }) };
    }
    case 'branch-delta': {
      if (!deps.objects) return { ...ops };
      const { createBranchActivities } = load<typeof BranchesModule>('../activities/branches');
      return { ...ops, ...createBranchActivities({ store: deps.store, objects: deps.objects, logger: deps.logger, concurrency: deps.branchConcurrency }) };
    }
  }
}
