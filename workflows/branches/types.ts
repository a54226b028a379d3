/**
 * Branch deltas: what crosses the workflow boundary (ids, counts, checksums; never changes
 * themselves, which stay in Postgres batches and object storage). Pure types, shared by workflows,
 * activities, the client and the CLI.
 */

export type ChangeOp = 'insert' | 'update' | 'delete';

/** One change of a document, as producers send it. */
export interface Change {
  collection: string;
  documentId: string;
  op: ChangeOp;
  /** The document before the change (optional; updates and deletes). */
  before?: Record<string, unknown>;
  /** The document after the change (inserts; updates as a whole document). */
  after?: Record<string, unknown>;
  /** Updates as a shallow patch: keys set, `null` removes a key. */
  patch?: Record<string, unknown>;
  /** When it happened at the source: ISO 8601. */
  ts: string;
}

/** Signal `changes`: batches are waiting (durable in Postgres) for the branch's workflow. */
export interface ChangesSignal {
  /** The newest batch id the sender knows of. */
  lastBatchId: string;
  changes: number;
  bytes: number;
}

/** One delta written by storeDelta, before and after commitDelta. */
export interface DeltaSummary {
  branchId: string;
  seq: number;
  objectKey: string;
  changeCount: number;
  /** Compressed size, as stored. */
  byteSize: number;
  /** Serialised (NDJSON) size before compression. */
  rawBytes: number;
  codec: 'br' | 'gzip';
  /** sha256 (hex) of the serialised changes. */
  checksum: string;
  /** The batches the delta holds, in order: commitDelta marks exactly these consumed. */
  batchIds: string[];
}

/** Query `stats` of branchDeltas. */
export interface BranchStats {
  branchId: string;
  /** Last delta committed (durable). */
  headSeq: number;
  /** Deltas and changes committed by this workflow execution chain. */
  deltas: number;
  changes: number;
  rawBytes: number;
  storedBytes: number;
  /** Changes signalled but not yet in a committed delta (as far as the workflow knows). */
  pendingChanges: number;
  /** Executions so far (continue-as-new). */
  runs: number;
}
