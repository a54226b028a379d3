import { ConfigError } from '../errors';
import type { Logger } from '../logger';
import { PgStore } from './pg-store';
import { SupabaseStore } from './supabase-store';
import type {
  JsonValue,
  AppendBranchChangesInput,
  Branch,
  BranchPendingSummary,
  BranchDelta,
  BranchSnapshot,
  DeletedBranchData,
  PendingBranchBatch,
  RecordBranchSnapshotInput,
  ClaimSyncJobsInput,
  CommitBranchDeltaInput,
  CommitBranchDeltaResult,
  CompleteSyncJobInput,
  CreateBranchInput,
  CreateBranchResult,
  CreateSyncLinkInput,
  DeadLetter,
  EnqueueSyncJobInput,
  EnqueueSyncJobResult,
  FailSyncJobInput,
  FeatureFlag,
  FinishSyncJobInput,
  RecordDeadLetterInput,
  SealedProviderToken,
  StagedContent,
  SyncConflictInput,
  SyncConflictRecord,
  SetFeatureFlagInput,
  StoredProviderToken,
  SyncFile,
  SyncFileInput,
  SyncJob,
  SyncLink,
  SyncLinkStatus,
} from './types';
import type { SetSettingInput, StoredSetting } from './settings-rows';
import type { CreateNotificationSubscriptionInput, NotificationDelivery, NotificationEvent, NotificationSubscription, NotificationTarget, RecordNotificationAttemptInput } from './notification-rows';
import type { DailyMetric, DayRange, EventSearchHit, Identity, KeywordHit, LinkIdentityInput, ListDeadLettersInput, IngestCursor, StoredEvent, TrackedKeyword, UpsertedEventRef, UpsertEventInput } from './ingestion-types';

export type * from './types';
export type { SetSettingInput, StoredSetting } from './settings-rows';
export type * from './notification-rows';
export { NOTIFICATION_EVENTS } from './notification-rows';

/** Where an export stopped: the last exported event's exact occurred_at (text, microseconds) and id. */
export interface EventExportCursor {
  occurredAt: string;
  id: string;
}
export {
  BranchSeqGapError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  StoreError,
  StoreUnavailableError,
  UnexpectedResultError,
} from './errors';

/**
 * Postgres, the system of record, as the app uses it. Every method is one SQL function of
 * supabase/migrations, so the two adapters (PgStore over pg, SupabaseStore over supabase-js
 * `.rpc()`) behave identically. Failures are StoreError subclasses: NotFoundError, ConflictError,
 * BranchSeqGapError, InvalidArgumentError, StoreUnavailableError (retryable), UnexpectedResultError.
 */
export interface Store {
  /** Which adapter this is. */
  readonly kind: 'pg' | 'supabase';

  /** Resolves when the database answers (`durasync_ping()`); throws StoreUnavailableError if not. */
  ping(): Promise<void>;

  /** Releases the store's connections. Idempotent; the store is unusable afterwards. */
  close(): Promise<void>;

  /** Creates or replaces a flag (`set_feature_flag`); a missing description keeps the stored one. */
  setFeatureFlag(input: SetFeatureFlagInput): Promise<FeatureFlag>;

  /** The flag with this key, or null (`get_feature_flag`). */
  getFeatureFlag(key: string): Promise<FeatureFlag | null>;

  /** Every flag, ordered by key (`list_feature_flags`). */
  listFeatureFlags(): Promise<FeatureFlag[]>;

  /**
   * Queues a sync job unless one with the same dedup key exists (`enqueue_sync_job`). Returns the
   * job either way; `created` tells which.
   */
  enqueueSyncJob(input: EnqueueSyncJobInput): Promise<EnqueueSyncJobResult>;

  /**
   * Claims up to `limit` due queued jobs, highest priority then oldest first (`claim_sync_jobs`,
   * FOR UPDATE SKIP LOCKED): they come back running, claimed by `worker`, attempts counted. Two
   * concurrent claimers never get the same job. An empty array when nothing is due. With
   * `leaseSeconds`, running jobs claimed longer ago than that are claimable again (re-claimed,
   * attempts counted). Jobs of a kind whose feature flag `jobs.<kind>` is disabled are skipped.
   */
  claimSyncJobs(input: ClaimSyncJobsInput): Promise<SyncJob[]>;

  /** The job with this id, or null (`get_sync_job`). */
  getSyncJob(id: string): Promise<SyncJob | null>;

  /**
   * Finishes a job for the workflow that owns it, whoever claimed it last (`finish_sync_job`):
   * succeeded with `result`, or failed with `error` in lastError. Idempotent: finishing a job
   * already in that status returns it. NotFoundError for an unknown id; ConflictError when the
   * job already finished with the other status; InvalidArgumentError for another status.
   */
  finishSyncJob(input: FinishSyncJobInput): Promise<SyncJob>;

  /**
   * Marks a running job succeeded (`complete_sync_job`). Idempotent: completing a succeeded job
   * returns it. NotFoundError for an unknown id; ConflictError when the job is queued or failed,
   * or claimed by another worker than `worker`.
   */
  completeSyncJob(input: CompleteSyncJobInput): Promise<SyncJob>;

  /**
   * Marks a running job failed for good (`fail_sync_job`). Idempotent like completeSyncJob, with
   * the same errors.
   */
  failSyncJob(input: FailSyncJobInput): Promise<SyncJob>;

  /**
   * Creates a branch, optionally from a parent at `parentSeq` (default: the parent's head)
   * (`create_branch`). Idempotent on the name; ConflictError if the name exists with another
   * parent, NotFoundError for an unknown parent, InvalidArgumentError for a seq beyond its head.
   */
  createBranch(input: CreateBranchInput): Promise<CreateBranchResult>;

  /** The branch with this id, or null (`get_branch`). */
  getBranch(id: string): Promise<Branch | null>;

  /**
   * Records delta `seq` of a branch and moves its head there in one transaction
   * (`commit_branch_delta`). `seq` must be headSeq + 1: otherwise BranchSeqGapError and nothing
   * changes. In the same transaction, the batches of `batchIds` that belong to this branch and are
   * not yet consumed are marked consumed by this seq (pendingBranchBatches no longer returns
   * them). Re-committing a committed seq returns the stored delta with `created: false` and
   * changes nothing (no batch is marked). NotFoundError for an unknown branch; ConflictError
   * (reason `archived`) for a new seq on an archived branch.
   */
  commitBranchDelta(input: CommitBranchDeltaInput): Promise<CommitBranchDeltaResult>;

  /** Every branch, oldest first, archived ones included (`list_branches`). */
  listBranches(): Promise<Branch[]>;

  /**
   * Appends a batch of changes (NDJSON `payload`, one Change per line) to a branch
   * (`append_branch_changes`); it waits, durable, until a committed delta holds it. Returns the
   * batch id (a bigint, as a string; ids grow with appends). NotFoundError for an unknown branch;
   * ConflictError (reason `archived`) for an archived one.
   */
  appendBranchChanges(input: AppendBranchChangesInput): Promise<{ batchId: string }>;

  /**
   * The branch's unconsumed batches, oldest (lowest id) first, as many as fit within both
   * `maxChanges` and `maxBytes` counted cumulatively; the first pending batch always comes back,
   * even when it alone exceeds a cap. Empty when nothing is pending (or the branch is unknown)
   * (`pending_branch_batches`).
   */
  pendingBranchBatches(input: { branchId: string; maxChanges: number; maxBytes: number }): Promise<PendingBranchBatch[]>;

  /**
   * Branches that are not archived and have unconsumed batches, with the newest such batch id and
   * the pending totals, oldest pending work first (`branches_with_pending_batches`).
   */
  branchesWithPendingBatches(): Promise<BranchPendingSummary[]>;

  /**
   * The branch's deltas in seq order, optionally within `fromSeq`..`toSeq` (inclusive). Empty for
   * an unknown branch (`list_branch_deltas`).
   */
  listBranchDeltas(branchId: string, range?: { fromSeq?: number; toSeq?: number }): Promise<BranchDelta[]>;

  /**
   * Records a snapshot of a branch's state at `seq` (0..headSeq) stored at `objectKey`
   * (`record_branch_snapshot`). Idempotent on (branch, seq): a repeat returns the row stored
   * first. NotFoundError for an unknown branch; InvalidArgumentError for a seq beyond the head;
   * ConflictError when another snapshot already uses the object key.
   */
  recordBranchSnapshot(input: RecordBranchSnapshotInput): Promise<BranchSnapshot>;

  /** The branch's newest snapshot at or before `atOrBeforeSeq`, or null (`latest_branch_snapshot`). */
  latestBranchSnapshot(branchId: string, atOrBeforeSeq: number): Promise<BranchSnapshot | null>;

  /**
   * Archives a branch (`archive_branch`): appends and new deltas are refused from then on.
   * Idempotent (the first archivedAt stays). NotFoundError for an unknown id.
   */
  archiveBranch(id: string): Promise<Branch>;

  /**
   * Deletes an archived branch's rows: its batches, deltas, snapshots and the branch itself, in
   * one transaction (`delete_branch_data`), and says how many of each went. Objects in storage
   * are the caller's to delete (list the deltas first). ConflictError when the branch is not
   * archived (reason `state`) or has child branches (reason `children`). An unknown id counts as
   * already deleted: all zeros, so a retry after a lost answer succeeds.
   */
  deleteBranchData(id: string): Promise<DeletedBranchData>;

  /**
   * Records work given up on (`record_dead_letter`). Upsert on (source, ref): a second record
   * updates the error, counts an occurrence and clears resolvedAt.
   */
  recordDeadLetter(input: RecordDeadLetterInput): Promise<DeadLetter>;

  /** Dead letters, newest failure first; unresolved only unless `includeResolved` (`list_dead_letters`). */
  listDeadLetters(input?: ListDeadLettersInput): Promise<DeadLetter[]>;

  /** The dead letter with this id, or null (`get_dead_letter`). */
  getDeadLetter(id: string): Promise<DeadLetter | null>;

  /** Marks a dead letter resolved; idempotent (`resolve_dead_letter`). NotFoundError for an unknown id. */
  resolveDeadLetter(id: string): Promise<DeadLetter>;

  /**
   * Stores an event once per (source, externalId) (`upsert_event`): a repeat returns the stored
   * event unchanged with `created: false`.
   */
  upsertEvent(input: UpsertEventInput): Promise<{ event: StoredEvent; created: boolean }>;

  /**
   * upsertEvent() for a page of events in one call (`upsert_events`): one result per input, in
   * order; `created: false` when stored before by either key (externalId or occurrenceKey).
   */
  upsertEvents(inputs: UpsertEventInput[]): Promise<UpsertedEventRef[]>;

  /** Sets processed_at (enrichment done) on those of the events that have none; returns how many (`mark_events_processed`). */
  markEventsProcessed(eventIds: string[]): Promise<number>;

  /** Where a pulled feed stopped, or null before its first completed pull (`get_ingest_cursor`). */
  getIngestCursor(source: string, scope: string): Promise<IngestCursor | null>;

  /** Records a completed pull: the feed's new cursor and how many events it stored first (`save_ingest_cursor`). */
  saveIngestCursor(input: { source: string; scope: string; cursor: JsonValue; created: number }): Promise<IngestCursor>;

  /** Every pulled feed's cursor, of one source or all (`list_ingest_cursors`). */
  listIngestCursors(source?: string): Promise<IngestCursor[]>;

  /** A run-time setting at exactly this scope, or null (`get_setting`; lib/settings.ts resolves scope -> global -> default). */
  getSetting(scope: string, key: string): Promise<StoredSetting | null>;

  /** Sets a run-time setting at a scope, replacing its value (`set_setting`). Values are checked by lib/settings.ts, not here. */
  setSetting(input: SetSettingInput): Promise<StoredSetting>;

  /** Removes a setting from a scope; the removed one, or null when it was not set there (`unset_setting`). */
  unsetSetting(scope: string, key: string): Promise<StoredSetting | null>;

  /** Every stored setting, or those of one scope, by key then scope (`list_settings`). */
  listSettings(scope?: string): Promise<StoredSetting[]>;

  /** The event, or null (`get_event`). */
  getEvent(source: string, externalId: string): Promise<StoredEvent | null>;

  /** How many events are stored, of one source or all (`count_events`). */
  countEvents(source?: string): Promise<number>;

  /**
   * The next `limit` (1..10000) events with from <= occurred_at < to, in (occurred_at, id) order,
   * strictly after `after` when given (`list_events_for_export`). Each comes with its cursor: the
   * exact occurred_at (microseconds, as text) and id to pass as the next call's `after`.
   */
  listEventsForExport(input: { from: Date; to: Date; after?: EventExportCursor | null; limit: number }): Promise<Array<{ event: StoredEvent; cursor: EventExportCursor }>>;

  /**
   * Events matching `query` in full text (websearch syntax) or as a substring of their title and
   * body, best first, without payloads (`search_events`). Default limit 20.
   */
  searchEvents(query: string, options?: { limit?: number; source?: string }): Promise<EventSearchHit[]>;

  /**
   * Upserts a provider identity and resolves it to a canonical one with a confidence and the rule
   * that matched (`link_identity`): same email 0.9, same login on another provider 0.6, else
   * itself (provider id, 1.0). With eventId, the event's actor becomes this identity.
   */
  linkIdentity(input: LinkIdentityInput): Promise<Identity>;

  /** Tracked keywords, by keyword (`list_tracked_keywords`). */
  listTrackedKeywords(): Promise<TrackedKeyword[]>;

  /** Tracks a keyword (lower-cased), or enables/disables it (`set_tracked_keyword`). */
  setTrackedKeyword(keyword: string, enabled?: boolean): Promise<TrackedKeyword>;

  /**
   * Counts the enabled tracked keywords in an event's title and body (whole words, any case) and
   * records the hits, replacing earlier counts (`record_event_keywords`). NotFoundError for an unknown event.
   */
  recordEventKeywords(eventId: string): Promise<KeywordHit[]>;

  /**
   * Recomputes the daily event metrics of the days from..to (inclusive, UTC) from the events
   * (`aggregate_daily_metrics`): `events` (dimension '' and per source) and `events_by_type`
   * (`<source>:<type or kind>`). Idempotent: a re-run writes the same rows, and rows of days that
   * no longer have events are deleted. Returns how many metric rows the range has.
   * InvalidArgumentError when from is after to.
   */
  aggregateDailyMetrics(range: DayRange): Promise<number>;

  /** The daily metrics of from..to, by day, metric and dimension; one metric if given (`list_daily_metrics`). */
  listDailyMetrics(input: DayRange & { metric?: string }): Promise<DailyMetric[]>;

  /** Creates a sync link, or returns the one with the same folder, repository, branch and path (`created: false`). */
  createSyncLink(input: CreateSyncLinkInput): Promise<{ link: SyncLink; created: boolean }>;

  /** A sync link by id, or null. */
  getSyncLink(id: string): Promise<SyncLink | null>;

  /** Every sync link, oldest first. */
  listSyncLinks(): Promise<SyncLink[]>;

  /** Sets a link's status (`active`, `needs_reauth`, `paused`) and why. NotFoundError for an unknown id. */
  setSyncLinkStatus(id: string, status: SyncLinkStatus, reason?: string | null): Promise<SyncLink>;

  /**
   * Upserts file map entries of a link by path, in one call; a Drive file seen at a new path moves
   * its entry there (the old path is marked deleted). Returns how many entries were written.
   */
  upsertSyncFiles(linkId: string, files: SyncFileInput[]): Promise<number>;

  /** The file map of a link, by path (deleted entries included). */
  listSyncFiles(linkId: string): Promise<SyncFile[]>;

  /** Records the link's sync position (Drive page token, last GitHub commit) and the time; absent values are kept. */
  setSyncLinkCursors(input: { id: string; driveCursor?: string; githubCursor?: string }): Promise<SyncLink>;

  /** Stages file contents of a sync run (upsert by path); returns how many were written. */
  stageSyncContent(linkId: string, runId: string, files: StagedContent[]): Promise<number>;

  /** Staged contents of a run, by path (all of them when `paths` is not given). */
  getStagedContent(runId: string, paths?: string[]): Promise<StagedContent[]>;

  /** Removes a run's staged contents, or (olderThan) every run's staged before that time. Returns the count. */
  clearStagedContent(input: { runId?: string; olderThan?: Date }): Promise<number>;

  /** Records a run's conflicts, once per (run, path); returns how many were new. */
  recordSyncConflicts(linkId: string, runId: string, conflicts: SyncConflictInput[]): Promise<number>;

  /** The latest conflicts of a link, newest first. */
  listSyncConflicts(linkId: string, limit?: number): Promise<SyncConflictRecord[]>;

  /**
   * Stores a provider token (sealed by lib/tokens/seal.ts), replacing the one of the same provider
   * and account; a null refresh token keeps the stored one (refresh grants may omit it).
   */
  putProviderToken(token: SealedProviderToken): Promise<StoredProviderToken>;

  /** The sealed token of a provider and account, or null. */
  getProviderToken(provider: string, accountId: string): Promise<StoredProviderToken | null>;

  /** Adds an outbound notification subscription; returned without its secret (`create_notification_subscription`). */
  createNotificationSubscription(input: CreateNotificationSubscriptionInput): Promise<NotificationSubscription>;

  /** Subscriptions, oldest first, never with secrets; with `event`, the enabled ones receiving it (`list_notification_subscriptions`). */
  listNotificationSubscriptions(event?: NotificationEvent): Promise<NotificationSubscription[]>;

  /** URL, format and secret of a subscription, or null: for the delivery activity only (`get_notification_target`). */
  getNotificationTarget(id: string): Promise<NotificationTarget | null>;

  /** Enables or disables a subscription; false for an unknown id (`set_notification_subscription_enabled`). */
  setNotificationSubscriptionEnabled(id: string, enabled: boolean): Promise<boolean>;

  /** Deletes a subscription and its delivery log; false for an unknown id (`delete_notification_subscription`). */
  deleteNotificationSubscription(id: string): Promise<boolean>;

  /** Counts one attempt of the delivery (subscription, event id) and records its outcome (`record_notification_attempt`). */
  recordNotificationAttempt(input: RecordNotificationAttemptInput): Promise<NotificationDelivery>;

  /** Deliveries, newest first (default limit 50), of one subscription or all (`list_notification_deliveries`). */
  listNotificationDeliveries(input?: { subscriptionId?: string; limit?: number }): Promise<NotificationDelivery[]>;
}

export interface CreateStoreOptions {
  /** postgres:// URL: selects PgStore when `supabase` is not given. */
  databaseUrl?: string;
  /** Supabase project URL and service role key: selects SupabaseStore. Wins over databaseUrl. */
  supabase?: { url: string; serviceKey: string };
  /** Default: none. */
  logger?: Logger;
  /** PgStore's most pooled connections. Default: 10. */
  poolMax?: number;
}

/**
 * The store for a configuration: SupabaseStore when `supabase` is given, else PgStore over
 * `databaseUrl`. Neither is a ConfigError. Nothing is connected until the first call.
 */
export function createStore(options: CreateStoreOptions): Store {
  if (options.supabase) {
    return new SupabaseStore({ ...options.supabase, logger: options.logger });
  }
  if (options.databaseUrl) {
    return new PgStore({ databaseUrl: options.databaseUrl, poolMax: options.poolMax, logger: options.logger });
  }
  throw new ConfigError('DATABASE_URL', 'no database configured: set DATABASE_URL, or SUPABASE_URL and a service key');
}
