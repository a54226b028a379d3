/**
 * What the store reads and writes, in camelCase. Rows of the SQL functions are converted to these
 * types in one place (rows.ts), whichever transport fetched them.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface FeatureFlag {
  key: string;
  enabled: boolean;
  /** Optional configuration carried by the flag (variant, percentage...). */
  value: JsonValue | null;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SetFeatureFlagInput {
  key: string;
  enabled: boolean;
  /** Replaces the stored value. Default: null. */
  value?: JsonValue | null;
  /** Replaces the stored description when given; kept otherwise. */
  description?: string;
}

export type SyncJobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface SyncJob {
  id: string;
  dedupKey: string;
  kind: string;
  linkId: string | null;
  payload: JsonValue;
  status: SyncJobStatus;
  priority: number;
  runAfter: Date;
  /** How many times the job was claimed. */
  attempts: number;
  claimedBy: string | null;
  claimedAt: Date | null;
  finishedAt: Date | null;
  result: JsonValue | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EnqueueSyncJobInput {
  /** Caller-supplied idempotency key: enqueueing the same key again returns the existing job. */
  dedupKey: string;
  kind: string;
  /** Default: `{}`. */
  payload?: JsonValue;
  linkId?: string;
  /** Higher is claimed first. Default: 0. */
  priority?: number;
  /** Not claimable before. Default: now. */
  runAfter?: Date;
}

export interface EnqueueSyncJobResult {
  job: SyncJob;
  /** False when a job with this dedup key already existed (it is returned unchanged). */
  created: boolean;
}

export interface ClaimSyncJobsInput {
  /** Recorded as `claimedBy`. */
  worker: string;
  /** Most jobs to claim. Default: 1. */
  limit?: number;
  /**
   * The lease: jobs `running` whose claim is older than this many seconds are claimable again
   * (their claimer may have died before starting the work). Default: none, running jobs stay put.
   */
  leaseSeconds?: number;
}

export interface FinishSyncJobInput {
  id: string;
  status: 'succeeded' | 'failed';
  /** Kept in `result` (ids and counts, never contents). */
  result?: JsonValue;
  /** Kept in `lastError` when the status is failed: one line. */
  error?: string;
}

export interface CompleteSyncJobInput {
  id: string;
  /** When given, only the worker that claimed the job may complete it. */
  worker?: string;
  result?: JsonValue;
}

export interface FailSyncJobInput {
  id: string;
  error: string;
  /** When given, only the worker that claimed the job may fail it. */
  worker?: string;
}

export interface Branch {
  id: string;
  name: string;
  parentId: string | null;
  /** The parent's seq this branch starts from (null for a root branch). */
  parentSeq: number | null;
  /** The last delta committed; 0 when none. */
  headSeq: number;
  metadata: JsonValue;
  createdAt: Date;
  updatedAt: Date;
  /** When archive_branch archived it (no more appends or new deltas); null while active. */
  archivedAt: Date | null;
}

export interface CreateBranchInput {
  /** Unique; creating an existing name with the same parent returns that branch. */
  name: string;
  parentId?: string;
  /** Default: the parent's head. */
  parentSeq?: number;
  /** Default: `{}`. */
  metadata?: JsonValue;
}

export interface CreateBranchResult {
  branch: Branch;
  created: boolean;
}

export interface BranchDelta {
  branchId: string;
  seq: number;
  objectKey: string;
  changeCount: number;
  byteSize: number;
  checksum: string;
  startLsn: string | null;
  endLsn: string | null;
  createdAt: Date;
  /** Serialised (NDJSON) size before compression; null for deltas committed without it. */
  rawBytes: number | null;
  /** Compression of the object (`br`, `gzip`); null for deltas committed without it. */
  codec: string | null;
}

export interface CommitBranchDeltaInput {
  branchId: string;
  /** Must be the branch's headSeq + 1, or an already committed seq (then nothing changes). */
  seq: number;
  objectKey: string;
  changeCount: number;
  byteSize: number;
  checksum: string;
  startLsn?: string;
  endLsn?: string;
  /** Batches (branch_change_batches ids) the delta holds: marked consumed in the same transaction as the head move. */
  batchIds?: string[];
  /** Serialised size before compression. */
  rawBytes?: number;
  /** Compression of the object, e.g. `br`. */
  codec?: string;
}

export interface CommitBranchDeltaResult {
  /** The stored delta: on a re-commit, the one stored first (compare its checksum). */
  delta: BranchDelta;
  /** False when this seq was already committed. */
  created: boolean;
  /** The branch's head after the call. */
  headSeq: number;
}

export interface DeadLetter {
  id: string;
  source: string;
  ref: string;
  errorType: string;
  errorMessage: string;
  details: JsonValue;
  workflowId: string | null;
  runId: string | null;
  attempts: number | null;
  /** How many times this (source, ref) was recorded. */
  occurrences: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
  resolvedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface RecordDeadLetterInput {
  /** Which family gave up, e.g. `webhook:github`, `sync_job`. */
  source: string;
  /** The business key inside source (delivery id, job id...). With source, the natural key. */
  ref: string;
  errorType: string;
  errorMessage: string;
  /** Small context, never secrets or payloads. Default: `{}`. */
  details?: JsonValue;
  workflowId?: string;
  runId?: string;
  attempts?: number;
}

/**
 * A provider OAuth token as stored: the tokens are ciphertexts (lib/tokens/seal.ts), never
 * plaintext; `keyId` names the key that sealed them.
 */
export interface SealedProviderToken {
  provider: string;
  /** The durasync user (or installation) the token belongs to. */
  accountId: string;
  accessToken: Buffer;
  /** Absent for tokens that do not refresh (e.g. a GitHub installation or personal token). */
  refreshToken: Buffer | null;
  keyId: string;
  /** When the access token expires; null when it does not. */
  expiresAt: Date | null;
  scopes: string[];
}

export interface StoredProviderToken extends SealedProviderToken {
  updatedAt: Date;
}

export const SYNC_DIRECTIONS = ['drive_to_github', 'github_to_drive', 'both'] as const;
export type SyncDirection = (typeof SYNC_DIRECTIONS)[number];
export const CONFLICT_POLICIES = ['keep-both', 'drive-wins', 'github-wins'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];
export type SyncLinkStatus = 'active' | 'needs_reauth' | 'paused';

/** A Drive folder tied to a path of a GitHub repository branch. */
export interface SyncLink {
  id: string;
  driveFolderId: string;
  /** `owner/name`. */
  githubRepo: string;
  githubBranch: string;
  /** Folder inside the repository; '' is the root. */
  githubPath: string;
  direction: SyncDirection;
  /** The durasync user whose provider tokens the link syncs with. */
  userId: string;
  conflictPolicy: ConflictPolicy;
  status: SyncLinkStatus;
  statusReason: string | null;
  enabled: boolean;
  /** Drive changes page token of the last sync. */
  driveCursor: string | null;
  /** Last GitHub commit synced. */
  githubCursor: string | null;
  lastSyncedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateSyncLinkInput {
  driveFolderId: string;
  githubRepo: string;
  userId: string;
  /** Default: `main`. */
  githubBranch?: string;
  /** Default: '' (the repository root). */
  githubPath?: string;
  /** Default: `both`. */
  direction?: SyncDirection;
  /** Default: `keep-both`. */
  conflictPolicy?: ConflictPolicy;
}

/** One entry of a link's file map: a path in the repository and the Drive file it syncs with. */
export interface SyncFile {
  linkId: string;
  githubPath: string;
  driveFileId: string | null;
  driveRevision: string | null;
  driveMd5: string | null;
  githubSha: string | null;
  /** sha256 of the content last synced. */
  contentHash: string | null;
  deleted: boolean;
  syncedAt: Date | null;
}

export type SyncFileInput = Omit<Partial<SyncFile>, 'linkId' | 'syncedAt'> & { githubPath: string };

/** A file's content staged by one activity of a sync run for another (never in workflow history). */
export interface StagedContent {
  path: string;
  content: Buffer;
  /** sha256 of the content, hex. */
  sha256: string;
}

/** A path changed on both sides between two syncs, as recorded in sync_conflicts. */
export interface SyncConflictRecord {
  linkId: string;
  runId: string;
  path: string;
  policy: ConflictPolicy;
  /** keep-both: where the Drive version was kept. */
  keptAs: string | null;
  driveChange: 'edit' | 'delete';
  githubChange: 'edit' | 'delete';
  createdAt: Date;
}

export type SyncConflictInput = Omit<SyncConflictRecord, 'linkId' | 'runId' | 'createdAt'>;

/** A stored snapshot of a branch's materialised state at `seq` (an object in object storage). */
export interface BranchSnapshot {
  branchId: string;
  seq: number;
  objectKey: string;
  /** stateChecksum of the documents (lib/branches/materialize.ts). */
  checksum: string;
  documentCount: number;
  createdAt: Date;
}

export interface AppendBranchChangesInput {
  branchId: string;
  /** NDJSON, one Change per line. */
  payload: string;
  changeCount: number;
  byteSize: number;
  /** ISO 8601 timestamps of the first and last change. */
  firstTs?: string;
  lastTs?: string;
}

/** An unconsumed batch of changes, as pendingBranchBatches returns it. */
export interface PendingBranchBatch {
  /** bigint, as a string. */
  batchId: string;
  payload: string;
  changeCount: number;
  byteSize: number;
}

/** A branch with batches waiting for a delta. */
export interface BranchPendingSummary {
  branchId: string;
  /** The newest unconsumed batch id. */
  lastBatchId: string;
  changes: number;
  bytes: number;
}

export interface RecordBranchSnapshotInput {
  branchId: string;
  seq: number;
  objectKey: string;
  checksum: string;
  documentCount: number;
}

/** Rows deleteBranchData removed. */
export interface DeletedBranchData {
  deltas: number;
  snapshots: number;
  batches: number;
}
export type * from './ingestion-types';
