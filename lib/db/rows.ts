import { UnexpectedResultError } from './errors';
import { CONFLICT_POLICIES, SYNC_DIRECTIONS } from './types';
import type { Branch, BranchDelta, BranchPendingSummary, BranchSnapshot, PendingBranchBatch, ConflictPolicy, DeadLetter, FeatureFlag, JsonValue, StagedContent, StoredProviderToken, SyncConflictRecord, SyncDirection, SyncFile, SyncJob, SyncJobStatus, SyncLink, SyncLinkStatus } from './types';

/**
 * snake_case rows of the SQL functions -> camelCase store types, in one place for both adapters.
 * The transports differ in how they hand values over: pg gives timestamptz as Date and int8 as a
 * string; PostgREST gives JSON (timestamps as ISO strings, int8 as numbers). The readers accept
 * both and refuse anything else with an UnexpectedResultError naming the function and column.
 */

export type Row = Record<string, unknown>;

const SYNC_JOB_STATUSES: readonly SyncJobStatus[] = ['queued', 'running', 'succeeded', 'failed'];

export function toSyncFile(row: Row, fn: string): SyncFile {
  const r = reader(row, fn);
  return {
    linkId: r.string('link_id'),
    githubPath: r.string('github_path'),
    driveFileId: r.stringOrNull('drive_file_id'),
    driveRevision: r.stringOrNull('drive_revision'),
    driveMd5: r.stringOrNull('drive_md5'),
    githubSha: r.stringOrNull('github_sha'),
    contentHash: r.stringOrNull('content_hash'),
    deleted: r.bool('deleted'),
    syncedAt: r.dateOrNull('synced_at'),
  };
}

export function toStagedContent(row: Row, fn: string): StagedContent {
  const r = reader(row, fn);
  return { path: r.string('path'), content: Buffer.from(r.string('content'), 'base64'), sha256: r.string('sha256') };
}

const CHANGE_KINDS = ['edit', 'delete'] as const;

export function toSyncConflict(row: Row, fn: string): SyncConflictRecord {
  const r = reader(row, fn);
  const policy = r.string('policy');
  if (!(CONFLICT_POLICIES as readonly string[]).includes(policy)) r.fail('policy', policy);
  const change = (column: string) => {
    const value = r.string(column);
    if (!(CHANGE_KINDS as readonly string[]).includes(value)) r.fail(column, value);
    return value as 'edit' | 'delete';
  };
  return {
    linkId: r.string('link_id'),
    runId: r.string('run_id'),
    path: r.string('path'),
    policy: policy as ConflictPolicy,
    keptAs: r.stringOrNull('kept_as'),
    driveChange: change('drive_change'),
    githubChange: change('github_change'),
    createdAt: r.date('created_at'),
  };
}

export function toSyncLink(row: Row, fn: string): SyncLink {
  const r = reader(row, fn);
  const direction = r.string('direction');
  if (!(SYNC_DIRECTIONS as readonly string[]).includes(direction)) r.fail('direction', direction);
  const policy = r.string('conflict_policy');
  if (!(CONFLICT_POLICIES as readonly string[]).includes(policy)) r.fail('conflict_policy', policy);
  return {
    id: r.string('id'),
    driveFolderId: r.string('drive_folder_id'),
    githubRepo: r.string('github_repo'),
    githubBranch: r.string('github_branch'),
    githubPath: r.string('github_path'),
    direction: direction as SyncDirection,
    userId: r.string('user_id'),
    conflictPolicy: policy as ConflictPolicy,
    status: r.string('status') as SyncLinkStatus,
    statusReason: r.stringOrNull('status_reason'),
    enabled: r.bool('enabled'),
    driveCursor: r.stringOrNull('drive_cursor'),
    githubCursor: r.stringOrNull('github_cursor'),
    lastSyncedAt: r.dateOrNull('last_synced_at'),
    createdAt: r.date('created_at'),
    updatedAt: r.date('updated_at'),
  };
}

export function toProviderToken(row: Row, fn: string): StoredProviderToken {
  const r = reader(row, fn);
  const refresh = r.stringOrNull('refresh_token');
  const scopes = row.scopes;
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) r.fail('scopes', scopes);
  return {
    provider: r.string('provider'),
    accountId: r.string('account_id'),
    accessToken: Buffer.from(r.string('access_token'), 'base64'),
    refreshToken: refresh === null ? null : Buffer.from(refresh, 'base64'),
    keyId: r.string('key_id'),
    expiresAt: r.dateOrNull('expires_at'),
    scopes: scopes as string[],
    updatedAt: r.date('updated_at'),
  };
}

export function toFeatureFlag(row: Row, fn: string): FeatureFlag {
  const r = reader(row, fn);
  return {
    key: r.string('key'),
    enabled: r.bool('enabled'),
    value: r.json('value'),
    description: r.stringOrNull('description'),
    createdAt: r.date('created_at'),
    updatedAt: r.date('updated_at'),
  };
}

export function toSyncJob(row: Row, fn: string): SyncJob {
  const r = reader(row, fn);
  const status = r.string('status');
  if (!(SYNC_JOB_STATUSES as readonly string[]).includes(status)) r.fail('status', status);
  return {
    id: r.string('id'),
    dedupKey: r.string('dedup_key'),
    kind: r.string('kind'),
    linkId: r.stringOrNull('link_id'),
    payload: r.json('payload'),
    status: status as SyncJobStatus,
    priority: r.int('priority'),
    runAfter: r.date('run_after'),
    attempts: r.int('attempts'),
    claimedBy: r.stringOrNull('claimed_by'),
    claimedAt: r.dateOrNull('claimed_at'),
    finishedAt: r.dateOrNull('finished_at'),
    result: r.json('result'),
    lastError: r.stringOrNull('last_error'),
    createdAt: r.date('created_at'),
    updatedAt: r.date('updated_at'),
  };
}

export function toBranch(row: Row, fn: string): Branch {
  const r = reader(row, fn);
  return {
    id: r.string('id'),
    name: r.string('name'),
    parentId: r.stringOrNull('parent_id'),
    parentSeq: r.intOrNull('parent_seq'),
    headSeq: r.int('head_seq'),
    metadata: r.json('metadata'),
    createdAt: r.date('created_at'),
    updatedAt: r.date('updated_at'),
    archivedAt: r.dateOrNull('archived_at'),
  };
}

export function toBranchDelta(row: Row, fn: string): BranchDelta {
  const r = reader(row, fn);
  return {
    branchId: r.string('branch_id'),
    seq: r.int('seq'),
    objectKey: r.string('object_key'),
    changeCount: r.int('change_count'),
    byteSize: r.int('byte_size'),
    checksum: r.string('checksum'),
    startLsn: r.stringOrNull('start_lsn'),
    endLsn: r.stringOrNull('end_lsn'),
    createdAt: r.date('created_at'),
    rawBytes: r.intOrNull('raw_bytes'),
    codec: r.stringOrNull('codec'),
  };
}

export function toBranchSnapshot(row: Row, fn: string): BranchSnapshot {
  const r = reader(row, fn);
  return {
    branchId: r.string('branch_id'),
    seq: r.int('seq'),
    objectKey: r.string('object_key'),
    checksum: r.string('checksum'),
    documentCount: r.int('document_count'),
    createdAt: r.date('created_at'),
  };
}

export function toPendingBranchBatch(row: Row, fn: string): PendingBranchBatch {
  const r = reader(row, fn);
  return { batchId: r.string('batch_id'), payload: r.string('payload'), changeCount: r.int('change_count'), byteSize: r.int('byte_size') };
}

export function toBranchPendingSummary(row: Row, fn: string): BranchPendingSummary {
  const r = reader(row, fn);
  return { branchId: r.string('branch_id'), lastBatchId: r.string('last_batch_id'), changes: r.int('changes'), bytes: r.int('bytes') };
}

export function toDeadLetter(row: Row, fn: string): DeadLetter {
  const r = reader(row, fn);
  return {
    id: r.string('id'),
    source: r.string('source'),
    ref: r.string('ref'),
    errorType: r.string('error_type'),
    errorMessage: r.string('error_message'),
    details: r.json('details'),
    workflowId: r.stringOrNull('workflow_id'),
    runId: r.stringOrNull('run_id'),
    attempts: r.intOrNull('attempts'),
    occurrences: r.int('occurrences'),
    firstFailedAt: r.date('first_failed_at'),
    lastFailedAt: r.date('last_failed_at'),
    resolvedAt: r.dateOrNull('resolved_at'),
    createdAt: r.date('created_at'),
    updatedAt: r.date('updated_at'),
  };
}

/** Reads the boolean `created` flag that idempotent functions add to their row. */
export function createdFlag(row: Row, fn: string): boolean {
  return reader(row, fn).bool('created');
}

/** Reads an integer column outside the row types (e.g. `head_seq` of commit_branch_delta). */
export function intColumn(row: Row, fn: string, column: string): number {
  return reader(row, fn).int(column);
}

/** The single row a function must return, or an UnexpectedResultError. */
export function onlyRow(rows: Row[], fn: string): Row {
  const [row] = rows;
  if (rows.length !== 1 || !row) throw new UnexpectedResultError(`${fn} returned ${rows.length} rows, expected 1`, undefined);
  return row;
}

export interface RowReader {
  string(column: string): string;
  stringOrNull(column: string): string | null;
  int(column: string): number;
  intOrNull(column: string): number | null;
  bool(column: string): boolean;
  date(column: string): Date;
  dateOrNull(column: string): Date | null;
  json(column: string): JsonValue;
  fail(column: string, value: unknown): never;
}

export function reader(row: Row, fn: string): RowReader {
  const fail = (column: string, value: unknown): never => {
    const shown = value === undefined ? 'missing' : `${typeof value} ${JSON.stringify(value)?.slice(0, 60)}`;
    throw new UnexpectedResultError(`${fn}: column ${column} is ${shown}`, undefined);
  };
  const get = (column: string): unknown => (column in row ? row[column] : fail(column, undefined));
  const self: RowReader = {
    fail,
    string(column) {
      const value = get(column);
      return typeof value === 'string' ? value : fail(column, value);
    },
    stringOrNull(column) {
      const value = get(column);
      return value === null ? null : self.string(column);
    },
    int(column) {
      const value = get(column);
      const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
      return Number.isSafeInteger(n) ? n : fail(column, value);
    },
    intOrNull(column) {
      return get(column) === null ? null : self.int(column);
    },
    bool(column) {
      const value = get(column);
      return typeof value === 'boolean' ? value : fail(column, value);
    },
    date(column) {
      const value = get(column);
      const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
      return date && !Number.isNaN(date.getTime()) ? date : fail(column, value);
    },
    dateOrNull(column) {
      return get(column) === null ? null : self.date(column);
    },
    json(column) {
      return get(column) as JsonValue;
    },
  };
  return self;
}
