import { NotFoundError, UnexpectedResultError } from './errors';
import { createdFlag, intColumn, onlyRow, toBranch, toBranchDelta, toBranchPendingSummary, toBranchSnapshot, toPendingBranchBatch, toDeadLetter, toFeatureFlag, toProviderToken, toStagedContent, toSyncConflict, toSyncFile, toSyncJob, toSyncLink } from './rows';
import { reader, type Row } from './rows';
import { toStoredSetting, type SetSettingInput, type StoredSetting } from './settings-rows';
import { toIdentity, toIngestCursor, toSearchHit, toStoredEvent, toTrackedKeyword } from './ingestion-rows';
import { toNotificationDelivery, toNotificationSubscription, toNotificationTarget, type CreateNotificationSubscriptionInput, type NotificationDelivery, type NotificationEvent, type NotificationSubscription, type NotificationTarget, type RecordNotificationAttemptInput } from './notification-rows';
import type { DailyMetric, DayRange, EventSearchHit, Identity, KeywordHit, LinkIdentityInput, ListDeadLettersInput, IngestCursor, StoredEvent, TrackedKeyword, UpsertedEventRef, UpsertEventInput } from './ingestion-types';
import type {
  AppendBranchChangesInput,
  Branch,
  BranchDelta,
  BranchPendingSummary,
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
  JsonValue,
  RecordDeadLetterInput,
  SealedProviderToken,
  SetFeatureFlagInput,
  StagedContent,
  StoredProviderToken,
  SyncConflictInput,
  SyncConflictRecord,
  SyncFile,
  SyncFileInput,
  SyncJob,
  SyncLink,
  SyncLinkStatus,
} from './types';

/** A json/jsonb argument: pg needs it serialised, PostgREST takes it as is. */
export class JsonArg {
  constructor(readonly value: JsonValue) {}
}

export type SqlArg = string | number | boolean | null | Date | JsonArg;
/** Named arguments (`p_*`) of a SQL function; undefined ones are left out so the default applies. */
export type SqlArgs = Record<string, SqlArg | undefined>;

/** The arguments that were given, without the undefined ones. */
export function definedArgs(args: SqlArgs): [string, SqlArg][] {
  return Object.entries(args).filter((entry): entry is [string, SqlArg] => entry[1] !== undefined);
}

/**
 * Every Store operation, written once against two primitives that the adapters implement: call a
 * set-returning SQL function and get its rows, or call a scalar one and get its value. The
 * adapters only move arguments and errors across their transport (pg-store.ts, supabase-store.ts).
 */
export abstract class SqlFunctionStore {
  abstract readonly kind: 'pg' | 'supabase';

  /** Calls a set-returning function; rows come back snake_case, as the function declares them. */
  protected abstract callRows(fn: string, args: SqlArgs): Promise<Row[]>;
  /** Calls a function returning one scalar value. */
  protected abstract callScalar(fn: string, args: SqlArgs): Promise<unknown>;
  abstract close(): Promise<void>;

  async ping(): Promise<void> {
    const value = await this.callScalar('durasync_ping', {});
    if (value !== 'pong') throw new UnexpectedResultError(`durasync_ping returned ${JSON.stringify(value)}`, undefined);
  }

  async setFeatureFlag(input: SetFeatureFlagInput): Promise<FeatureFlag> {
    const fn = 'set_feature_flag';
    const rows = await this.callRows(fn, {
      p_key: input.key,
      p_enabled: input.enabled,
      p_value: input.value === undefined || input.value === null ? null : new JsonArg(input.value),
      p_description: input.description,
    });
    return toFeatureFlag(onlyRow(rows, fn), fn);
  }

  async getFeatureFlag(key: string): Promise<FeatureFlag | null> {
    const fn = 'get_feature_flag';
    const [row] = await this.callRows(fn, { p_key: key });
    return row ? toFeatureFlag(row, fn) : null;
  }

  async listFeatureFlags(): Promise<FeatureFlag[]> {
    const fn = 'list_feature_flags';
    return (await this.callRows(fn, {})).map((row) => toFeatureFlag(row, fn));
  }

  async enqueueSyncJob(input: EnqueueSyncJobInput): Promise<EnqueueSyncJobResult> {
    const fn = 'enqueue_sync_job';
    const row = onlyRow(
      await this.callRows(fn, {
        p_dedup_key: input.dedupKey,
        p_kind: input.kind,
        p_payload: input.payload === undefined ? undefined : new JsonArg(input.payload),
        p_link_id: input.linkId,
        p_priority: input.priority,
        p_run_after: input.runAfter,
      }),
      fn,
    );
    return { job: toSyncJob(row, fn), created: createdFlag(row, fn) };
  }

  async claimSyncJobs(input: ClaimSyncJobsInput): Promise<SyncJob[]> {
    const fn = 'claim_sync_jobs';
    const rows = await this.callRows(fn, { p_worker: input.worker, p_limit: input.limit, p_lease_seconds: input.leaseSeconds });
    return rows.map((row) => toSyncJob(row, fn));
  }

  async getSyncJob(id: string): Promise<SyncJob | null> {
    const fn = 'get_sync_job';
    const [row] = await this.callRows(fn, { p_id: id });
    return row ? toSyncJob(row, fn) : null;
  }

  async finishSyncJob(input: FinishSyncJobInput): Promise<SyncJob> {
    const fn = 'finish_sync_job';
    const rows = await this.callRows(fn, {
      p_id: input.id,
      p_status: input.status,
      p_result: input.result === undefined ? undefined : new JsonArg(input.result),
      p_error: input.error,
    });
    return toSyncJob(onlyRow(rows, fn), fn);
  }

  async completeSyncJob(input: CompleteSyncJobInput): Promise<SyncJob> {
    const fn = 'complete_sync_job';
    const rows = await this.callRows(fn, {
      p_id: input.id,
      p_worker: input.worker,
      p_result: input.result === undefined ? undefined : new JsonArg(input.result),
    });
    return toSyncJob(onlyRow(rows, fn), fn);
  }

  async failSyncJob(input: FailSyncJobInput): Promise<SyncJob> {
    const fn = 'fail_sync_job';
    const rows = await this.callRows(fn, { p_id: input.id, p_error: input.error, p_worker: input.worker });
    return toSyncJob(onlyRow(rows, fn), fn);
  }

  async createBranch(input: CreateBranchInput): Promise<CreateBranchResult> {
    const fn = 'create_branch';
    const row = onlyRow(
      await this.callRows(fn, {
        p_name: input.name,
        p_parent_id: input.parentId,
        p_parent_seq: input.parentSeq,
        p_metadata: input.metadata === undefined ? undefined : new JsonArg(input.metadata),
      }),
      fn,
    );
    return { branch: toBranch(row, fn), created: createdFlag(row, fn) };
  }

  async getBranch(id: string): Promise<Branch | null> {
    const fn = 'get_branch';
    const [row] = await this.callRows(fn, { p_id: id });
    return row ? toBranch(row, fn) : null;
  }

  async commitBranchDelta(input: CommitBranchDeltaInput): Promise<CommitBranchDeltaResult> {
    const fn = 'commit_branch_delta';
    const row = onlyRow(
      await this.callRows(fn, {
        p_branch_id: input.branchId,
        p_seq: input.seq,
        p_object_key: input.objectKey,
        p_change_count: input.changeCount,
        p_byte_size: input.byteSize,
        p_checksum: input.checksum,
        p_start_lsn: input.startLsn,
        p_end_lsn: input.endLsn,
        p_batch_ids: input.batchIds === undefined ? undefined : new JsonArg(input.batchIds),
        p_raw_bytes: input.rawBytes,
        p_codec: input.codec,
      }),
      fn,
    );
    return { delta: toBranchDelta(row, fn), created: createdFlag(row, fn), headSeq: intColumn(row, fn, 'head_seq') };
  }

  async listBranches(): Promise<Branch[]> {
    const fn = 'list_branches';
    return (await this.callRows(fn, {})).map((row) => toBranch(row, fn));
  }

  async appendBranchChanges(input: AppendBranchChangesInput): Promise<{ batchId: string }> {
    const fn = 'append_branch_changes';
    const value = await this.callScalar(fn, {
      p_branch_id: input.branchId,
      p_payload: input.payload,
      p_change_count: input.changeCount,
      p_byte_size: input.byteSize,
      p_first_ts: input.firstTs,
      p_last_ts: input.lastTs,
    });
    if (typeof value !== 'string' || !/^\d+$/.test(value)) {
      throw new UnexpectedResultError(`${fn} returned ${JSON.stringify(value)?.slice(0, 60)}, expected a batch id`, undefined);
    }
    return { batchId: value };
  }

  async pendingBranchBatches(input: { branchId: string; maxChanges: number; maxBytes: number }): Promise<PendingBranchBatch[]> {
    const fn = 'pending_branch_batches';
    const rows = await this.callRows(fn, { p_branch_id: input.branchId, p_max_changes: input.maxChanges, p_max_bytes: input.maxBytes });
    return rows.map((row) => toPendingBranchBatch(row, fn));
  }

  async branchesWithPendingBatches(): Promise<BranchPendingSummary[]> {
    const fn = 'branches_with_pending_batches';
    return (await this.callRows(fn, {})).map((row) => toBranchPendingSummary(row, fn));
  }

  async listBranchDeltas(branchId: string, range?: { fromSeq?: number; toSeq?: number }): Promise<BranchDelta[]> {
    const fn = 'list_branch_deltas';
    const rows = await this.callRows(fn, { p_branch_id: branchId, p_from_seq: range?.fromSeq, p_to_seq: range?.toSeq });
    return rows.map((row) => toBranchDelta(row, fn));
  }

  async recordBranchSnapshot(input: RecordBranchSnapshotInput): Promise<BranchSnapshot> {
    const fn = 'record_branch_snapshot';
    const rows = await this.callRows(fn, {
      p_branch_id: input.branchId,
      p_seq: input.seq,
      p_object_key: input.objectKey,
      p_checksum: input.checksum,
      p_document_count: input.documentCount,
    });
    return toBranchSnapshot(onlyRow(rows, fn), fn);
  }

  async latestBranchSnapshot(branchId: string, atOrBeforeSeq: number): Promise<BranchSnapshot | null> {
    const fn = 'latest_branch_snapshot';
    const [row] = await this.callRows(fn, { p_branch_id: branchId, p_at_or_before_seq: atOrBeforeSeq });
    return row ? toBranchSnapshot(row, fn) : null;
  }

  async archiveBranch(id: string): Promise<Branch> {
    const fn = 'archive_branch';
    return toBranch(onlyRow(await this.callRows(fn, { p_id: id }), fn), fn);
  }

  async deleteBranchData(id: string): Promise<DeletedBranchData> {
    const fn = 'delete_branch_data';
    const row = onlyRow(await this.callRows(fn, { p_id: id }), fn);
    return { deltas: intColumn(row, fn, 'deltas'), snapshots: intColumn(row, fn, 'snapshots'), batches: intColumn(row, fn, 'batches') };
  }

  async createSyncLink(input: CreateSyncLinkInput): Promise<{ link: SyncLink; created: boolean }> {
    const fn = 'create_sync_link';
    const row = onlyRow(
      await this.callRows(fn, {
        p_drive_folder_id: input.driveFolderId,
        p_github_repo: input.githubRepo,
        p_user_id: input.userId,
        p_github_branch: input.githubBranch,
        p_github_path: input.githubPath,
        p_direction: input.direction,
        p_conflict_policy: input.conflictPolicy,
      }),
      fn,
    );
    return { link: toSyncLink(row, fn), created: createdFlag(row, fn) };
  }

  async getSyncLink(id: string): Promise<SyncLink | null> {
    const fn = 'get_sync_link';
    const [row] = await this.callRows(fn, { p_id: id });
    return row ? toSyncLink(row, fn) : null;
  }

  async listSyncLinks(): Promise<SyncLink[]> {
    const fn = 'list_sync_links';
    return (await this.callRows(fn, {})).map((row) => toSyncLink(row, fn));
  }

  async upsertSyncFiles(linkId: string, files: SyncFileInput[]): Promise<number> {
    const fn = 'upsert_sync_files';
    const entries = files.map((f) => ({
      github_path: f.githubPath,
      drive_file_id: f.driveFileId ?? null,
      drive_revision: f.driveRevision ?? null,
      drive_md5: f.driveMd5 ?? null,
      github_sha: f.githubSha ?? null,
      content_hash: f.contentHash ?? null,
      deleted: f.deleted ?? false,
    }));
    const written = Number(await this.callScalar(fn, { p_link_id: linkId, p_files: new JsonArg(entries) }));
    if (!Number.isInteger(written)) throw new UnexpectedResultError(`${fn} returned a non-integer`, undefined);
    return written;
  }

  async listSyncFiles(linkId: string): Promise<SyncFile[]> {
    const fn = 'list_sync_files';
    return (await this.callRows(fn, { p_link_id: linkId })).map((row) => toSyncFile(row, fn));
  }

  async setSyncLinkStatus(id: string, status: SyncLinkStatus, reason?: string | null): Promise<SyncLink> {
    const fn = 'set_sync_link_status';
    const rows = await this.callRows(fn, { p_id: id, p_status: status, p_reason: reason ?? null });
    if (rows.length === 0) throw new NotFoundError(`sync link ${id} not found`, 'sync_link', id);
    return toSyncLink(onlyRow(rows, fn), fn);
  }

  async setSyncLinkCursors(input: { id: string; driveCursor?: string; githubCursor?: string }): Promise<SyncLink> {
    const fn = 'set_sync_link_cursors';
    const rows = await this.callRows(fn, { p_id: input.id, p_drive_cursor: input.driveCursor, p_github_cursor: input.githubCursor });
    return toSyncLink(onlyRow(rows, fn), fn);
  }

  async stageSyncContent(linkId: string, runId: string, files: StagedContent[]): Promise<number> {
    if (files.length === 0) return 0;
    const entries = files.map((f) => ({ path: f.path, content: f.content.toString('base64'), sha256: f.sha256 }));
    return this.countOf('stage_sync_content', { p_link_id: linkId, p_run_id: runId, p_files: new JsonArg(entries) });
  }

  async getStagedContent(runId: string, paths?: string[]): Promise<StagedContent[]> {
    const fn = 'get_staged_content';
    const rows = await this.callRows(fn, { p_run_id: runId, p_paths: paths ? new JsonArg(paths) : undefined });
    return rows.map((row) => toStagedContent(row, fn));
  }

  async clearStagedContent(input: { runId?: string; olderThan?: Date }): Promise<number> {
    return this.countOf('clear_staged_content', { p_run_id: input.runId, p_older_than: input.olderThan });
  }

  async recordSyncConflicts(linkId: string, runId: string, conflicts: SyncConflictInput[]): Promise<number> {
    if (conflicts.length === 0) return 0;
    const entries = conflicts.map((c) => ({ path: c.path, policy: c.policy, kept_as: c.keptAs, drive: c.driveChange, github: c.githubChange }));
    return this.countOf('record_sync_conflicts', { p_link_id: linkId, p_run_id: runId, p_conflicts: new JsonArg(entries) });
  }

  async listSyncConflicts(linkId: string, limit?: number): Promise<SyncConflictRecord[]> {
    const fn = 'list_sync_conflicts';
    return (await this.callRows(fn, { p_link_id: linkId, p_limit: limit })).map((row) => toSyncConflict(row, fn));
  }

  /** A function answering a row count. */
  private async countOf(fn: string, args: SqlArgs): Promise<number> {
    const count = Number(await this.callScalar(fn, args));
    if (!Number.isInteger(count)) throw new UnexpectedResultError(`${fn} returned a non-integer`, undefined);
    return count;
  }

  async putProviderToken(token: SealedProviderToken): Promise<StoredProviderToken> {
    const fn = 'put_provider_token';
    const rows = await this.callRows(fn, {
      p_provider: token.provider,
      p_account_id: token.accountId,
      p_access_token: token.accessToken.toString('base64'),
      p_refresh_token: token.refreshToken === null ? null : token.refreshToken.toString('base64'),
      p_key_id: token.keyId,
      p_expires_at: token.expiresAt,
      p_scopes: token.scopes.join(' '),
    });
    return toProviderToken(onlyRow(rows, fn), fn);
  }

  async getProviderToken(provider: string, accountId: string): Promise<StoredProviderToken | null> {
    const fn = 'get_provider_token';
    const [row] = await this.callRows(fn, { p_provider: provider, p_account_id: accountId });
    return row ? toProviderToken(row, fn) : null;
  }

  async recordDeadLetter(input: RecordDeadLetterInput): Promise<DeadLetter> {
    const fn = 'record_dead_letter';
    const rows = await this.callRows(fn, {
      p_source: input.source,
      p_ref: input.ref,
      p_error_type: input.errorType,
      p_error_message: input.errorMessage,
      p_details: input.details === undefined ? undefined : new JsonArg(input.details),
      p_workflow_id: input.workflowId,
      p_run_id: input.runId,
      p_attempts: input.attempts,
    });
    return toDeadLetter(onlyRow(rows, fn), fn);
  }

  async listDeadLetters(input: ListDeadLettersInput = {}): Promise<DeadLetter[]> {
    const fn = 'list_dead_letters';
    const rows = await this.callRows(fn, { p_include_resolved: input.includeResolved, p_source: input.source, p_limit: input.limit });
    return rows.map((row) => toDeadLetter(row, fn));
  }

  async getDeadLetter(id: string): Promise<DeadLetter | null> {
    const fn = 'get_dead_letter';
    const [row] = await this.callRows(fn, { p_id: id });
    return row ? toDeadLetter(row, fn) : null;
  }

  async resolveDeadLetter(id: string): Promise<DeadLetter> {
    const fn = 'resolve_dead_letter';
    const [row] = await this.callRows(fn, { p_id: id });
    if (!row) throw new NotFoundError(`dead letter ${id} not found`, 'dead_letter', id);
    return toDeadLetter(row, fn);
  }

  async upsertEvent(input: UpsertEventInput): Promise<{ event: StoredEvent; created: boolean }> {
    const fn = 'upsert_event';
    const row = onlyRow(
      await this.callRows(fn, {
        p_source: input.source,
        p_external_id: input.externalId,
        p_kind: input.kind,
        p_occurred_at: input.occurredAt,
        p_payload: input.payload === undefined ? undefined : new JsonArg(input.payload),
        p_payload_ref: input.payloadRef,
        p_type: input.type,
        p_action: input.action,
        p_repository: input.repository,
        p_title: input.title,
        p_body: input.body,
        p_occurrence_key: input.occurrenceKey,
      }),
      fn,
    );
    return { event: toStoredEvent(row, fn), created: createdFlag(row, fn) };
  }

  async upsertEvents(inputs: UpsertEventInput[]): Promise<UpsertedEventRef[]> {
    if (inputs.length === 0) return [];
    const fn = 'upsert_events';
    const items = inputs.map((e) => ({
      source: e.source,
      external_id: e.externalId,
      kind: e.kind,
      occurred_at: e.occurredAt.toISOString(),
      payload: e.payload ?? {},
      payload_ref: e.payloadRef ?? null,
      type: e.type ?? null,
      action: e.action ?? null,
      repository: e.repository ?? null,
      title: e.title ?? null,
      body: e.body ?? null,
      occurrence_key: e.occurrenceKey ?? null,
    }));
    const rows = await this.callRows(fn, { p_events: new JsonArg(items) });
    if (rows.length !== inputs.length) throw new UnexpectedResultError(`${fn}: expected ${inputs.length} rows, got ${rows.length}`, undefined);
    return rows
      .map((row) => ({ r: reader(row, fn), row }))
      .sort((a, b) => a.r.int('ordinal') - b.r.int('ordinal'))
      .map(({ r, row }) => ({ eventId: r.string('event_id'), externalId: r.string('external_id'), created: createdFlag(row, fn) }));
  }

  async markEventsProcessed(eventIds: string[]): Promise<number> {
    if (eventIds.length === 0) return 0;
    return this.countOf('mark_events_processed', { p_event_ids: new JsonArg(eventIds) });
  }

  async getIngestCursor(source: string, scope: string): Promise<IngestCursor | null> {
    const fn = 'get_ingest_cursor';
    const [row] = await this.callRows(fn, { p_source: source, p_scope: scope });
    return row ? toIngestCursor(row, fn) : null;
  }

  async saveIngestCursor(input: { source: string; scope: string; cursor: JsonValue; created: number }): Promise<IngestCursor> {
    const fn = 'save_ingest_cursor';
    return toIngestCursor(onlyRow(await this.callRows(fn, { p_source: input.source, p_scope: input.scope, p_cursor: new JsonArg(input.cursor), p_created: input.created }), fn), fn);
  }

  async listIngestCursors(source?: string): Promise<IngestCursor[]> {
    const fn = 'list_ingest_cursors';
    return (await this.callRows(fn, { p_source: source })).map((row) => toIngestCursor(row, fn));
  }

  async getSetting(scope: string, key: string): Promise<StoredSetting | null> {
    const fn = 'get_setting';
    const [row] = await this.callRows(fn, { p_scope: scope, p_key: key });
    return row ? toStoredSetting(row, fn) : null;
  }

  async setSetting(input: SetSettingInput): Promise<StoredSetting> {
    const fn = 'set_setting';
    return toStoredSetting(onlyRow(await this.callRows(fn, { p_scope: input.scope, p_key: input.key, p_value: new JsonArg(input.value), p_updated_by: input.updatedBy }), fn), fn);
  }

  async unsetSetting(scope: string, key: string): Promise<StoredSetting | null> {
    const fn = 'unset_setting';
    const [row] = await this.callRows(fn, { p_scope: scope, p_key: key });
    return row ? toStoredSetting(row, fn) : null;
  }

  async listSettings(scope?: string): Promise<StoredSetting[]> {
    const fn = 'list_settings';
    return (await this.callRows(fn, { p_scope: scope })).map((row) => toStoredSetting(row, fn));
  }

  async listEventsForExport(input: { from: Date; to: Date; after?: { occurredAt: string; id: string } | null; limit: number }): Promise<Array<{ event: StoredEvent; cursor: { occurredAt: string; id: string } }>> {
    const fn = 'list_events_for_export';
    const rows = await this.callRows(fn, { p_from: input.from, p_to: input.to, p_after_occurred_at: input.after?.occurredAt, p_after_id: input.after?.id, p_limit: input.limit });
    return rows.map((row) => {
      const event = toStoredEvent(row, fn);
      return { event, cursor: { occurredAt: reader(row, fn).string('cursor_occurred_at'), id: event.id } };
    });
  }

  async getEvent(source: string, externalId: string): Promise<StoredEvent | null> {
    const fn = 'get_event';
    const [row] = await this.callRows(fn, { p_source: source, p_external_id: externalId });
    return row ? toStoredEvent(row, fn) : null;
  }

  async countEvents(source?: string): Promise<number> {
    return this.countOf('count_events', { p_source: source });
  }

  async searchEvents(query: string, options: { limit?: number; source?: string } = {}): Promise<EventSearchHit[]> {
    const fn = 'search_events';
    const rows = await this.callRows(fn, { p_query: query, p_limit: options.limit, p_source: options.source });
    return rows.map((row) => toSearchHit(row, fn));
  }

  async linkIdentity(input: LinkIdentityInput): Promise<Identity> {
    const fn = 'link_identity';
    const rows = await this.callRows(fn, {
      p_provider: input.provider,
      p_external_id: input.externalId,
      p_login: input.login,
      p_email: input.email,
      p_name: input.name,
      p_event_id: input.eventId,
    });
    return toIdentity(onlyRow(rows, fn), fn);
  }

  async listTrackedKeywords(): Promise<TrackedKeyword[]> {
    const fn = 'list_tracked_keywords';
    return (await this.callRows(fn, {})).map((row) => toTrackedKeyword(row, fn));
  }

  async setTrackedKeyword(keyword: string, enabled?: boolean): Promise<TrackedKeyword> {
    const fn = 'set_tracked_keyword';
    return toTrackedKeyword(onlyRow(await this.callRows(fn, { p_keyword: keyword, p_enabled: enabled }), fn), fn);
  }

  async recordEventKeywords(eventId: string): Promise<KeywordHit[]> {
    const fn = 'record_event_keywords';
    const rows = await this.callRows(fn, { p_event_id: eventId });
    return rows.map((row) => ({ keyword: String(row.keyword), occurrences: Number(row.occurrences) }));
  }

  async aggregateDailyMetrics(range: DayRange): Promise<number> {
    return this.countOf('aggregate_daily_metrics', { p_from: range.from, p_to: range.to });
  }

  async listDailyMetrics(input: DayRange & { metric?: string }): Promise<DailyMetric[]> {
    const fn = 'list_daily_metrics';
    const rows = await this.callRows(fn, { p_from: input.from, p_to: input.to, p_metric: input.metric });
    return rows.map((row) => {
      const r = reader(row, fn);
      const value = Number(r.json('value'));
      if (!Number.isFinite(value)) r.fail('value', row.value);
      return { day: r.string('day'), metric: r.string('metric'), dimension: r.string('dimension'), value };
    });
  }

  async createNotificationSubscription(input: CreateNotificationSubscriptionInput): Promise<NotificationSubscription> {
    const fn = 'create_notification_subscription';
    const rows = await this.callRows(fn, { p_url: input.url, p_events: new JsonArg(input.events), p_format: input.format, p_secret: input.secret });
    return toNotificationSubscription(onlyRow(rows, fn), fn);
  }

  async listNotificationSubscriptions(event?: NotificationEvent): Promise<NotificationSubscription[]> {
    const fn = 'list_notification_subscriptions';
    return (await this.callRows(fn, { p_event: event })).map((row) => toNotificationSubscription(row, fn));
  }

  async getNotificationTarget(id: string): Promise<NotificationTarget | null> {
    const fn = 'get_notification_target';
    const [row] = await this.callRows(fn, { p_id: id });
    return row ? toNotificationTarget(row, fn) : null;
  }

  async setNotificationSubscriptionEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await this.callScalar('set_notification_subscription_enabled', { p_id: id, p_enabled: enabled })) === true;
  }

  async deleteNotificationSubscription(id: string): Promise<boolean> {
    return (await this.callScalar('delete_notification_subscription', { p_id: id })) === true;
  }

  async recordNotificationAttempt(input: RecordNotificationAttemptInput): Promise<NotificationDelivery> {
    const fn = 'record_notification_attempt';
    const rows = await this.callRows(fn, {
      p_subscription_id: input.subscriptionId,
      p_event: input.event,
      p_event_id: input.eventId,
      p_status: input.status,
      p_status_code: input.statusCode ?? null,
      p_error: input.error ?? null,
    });
    return toNotificationDelivery(onlyRow(rows, fn), fn);
  }

  async listNotificationDeliveries(input: { subscriptionId?: string; limit?: number } = {}): Promise<NotificationDelivery[]> {
    const fn = 'list_notification_deliveries';
    return (await this.callRows(fn, { p_subscription_id: input.subscriptionId, p_limit: input.limit })).map((row) => toNotificationDelivery(row, fn));
  }
}
