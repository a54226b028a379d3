import type { Pool, PoolClient } from 'pg';
import type { Change } from '../../workflows/branches/types';
import { serializeChanges } from './changes';

/**
 * Change-stream adapters: where changes come from when producers do not call the intake
 * themselves. A source reads an ordered stream (Postgres `change_log` rows in id order; a MongoDB
 * change stream; ...) and hands it on page by page to a sink. Each page carries the position the
 * stream was at before it (`from`) and after it (`to`): opaque strings to everyone but the source
 * (a change_log id; a MongoDB resume token as JSON).
 *
 * Exactly once: the sink makes a page's changes AND its `to` position durable in one transaction,
 * and only if the stored position is still `from` (compare-and-set). So a source that dies
 * mid-page resumes after a restart from the last position acknowledged (nothing lost), and a page
 * read twice (a restart, or two sources of one consumer racing) is stored once (nothing sent
 * twice). A MongoDB source fits as is: `from`/`to` are resume tokens, `start` opens the stream with
 * `resumeAfter` = the sink's position, and every event of one token is one page.
 */

/** One page of a change stream: changes of any number of branches, in stream order. */
export interface ChangePage {
  /** The stream position before this page: the sink's stored position (null: the stream's beginning). */
  from: string | null;
  /** The position after the page's last change. */
  to: string;
  changes: Array<{ branchId: string; change: Change }>;
}

/** What the sink did with a page. */
export type SinkResult =
  /** Stored; the position is now `page.to`. */
  | { status: 'stored'; batches: AppendedBatch[]; position: string }
  /** The stored position was not `page.from` (another source of the consumer got there first, or
   *  the page was already stored): nothing written; go on from `position`. */
  | { status: 'stale'; position: string | null };

export interface AppendedBatch {
  branchId: string;
  batchId: string;
  changes: number;
  bytes: number;
}

/** Where a source's pages go. */
export interface ChangeSink {
  /** The last position acknowledged durable for this consumer (null: nothing yet): where a source resumes. */
  position(): Promise<string | null>;
  /** Stores one page atomically (see ChangePage); resolves once it is durable or found stale. */
  write(page: ChangePage): Promise<SinkResult>;
}

/** A change-stream adapter. */
export interface ChangeSource {
  /** What it reads, for logs: `postgres change_log`, `mongodb orders.changes`, ... */
  readonly name: string;
  /** Starts reading from the sink's position; resolves once running (reading continues in the background). */
  start(sink: ChangeSink): Promise<void>;
  /** Stops reading; resolves when the page in progress (if any) is stored or abandoned. */
  stop(): Promise<void>;
}

/** Changes of a branch per batch: at most this many bytes of NDJSON (one change may exceed it alone). */
export const MAX_BATCH_BYTES = 1024 * 1024;

export interface PostgresBatchSinkOptions {
  pool: Pool;
  /** The consumer whose position is kept (change_log_cursors.consumer). */
  consumer: string;
  /** Called after each stored page with the batches it appended: e.g. to have the flusher signal their workflows. */
  onStored?: (batches: AppendedBatch[]) => void | Promise<void>;
}

/**
 * The sink every source can use: in one Postgres transaction, it locks the consumer's row of
 * change_log_cursors (two sources of one consumer serialise there), checks the stored position is
 * the page's `from`, appends the page's changes as batches of their branches (append_branch_changes,
 * as Store.appendBranchChanges does; in page order, split at MAX_BATCH_BYTES) and stores `to`.
 * Changes of an archived or deleted branch are dropped (counted in `skipped`): they can never be
 * appended, and holding the stream back for them would stop every other branch.
 */
export class PostgresBatchSink implements ChangeSink {
  /** Changes dropped because their branch is archived or gone. */
  skipped = 0;

  constructor(private readonly options: PostgresBatchSinkOptions) {}

  async position(): Promise<string | null> {
    const { rows } = await this.options.pool.query<{ position: string | null; resume_token: string | null }>(
      'select position::text as position, resume_token from change_log_cursors where consumer = $1',
      [this.options.consumer],
    );
    return storedPosition(rows[0]);
  }

  async write(page: ChangePage): Promise<SinkResult> {
    const db = await this.options.pool.connect();
    let batches: AppendedBatch[];
    let broken = false;
    // A checked-out connection that dies between queries emits 'error': the query in progress fails.
    const onError = () => void (broken = true);
    db.on('error', onError);
    try {
      await db.query('begin');
      await db.query('insert into change_log_cursors (consumer, position) values ($1, 0) on conflict (consumer) do nothing', [this.options.consumer]);
      const { rows } = await db.query<{ position: string | null; resume_token: string | null }>(
        'select position::text as position, resume_token from change_log_cursors where consumer = $1 for update',
        [this.options.consumer],
      );
      const current = storedPosition(rows[0]);
      if (current !== page.from) {
        await db.query('rollback');
        return { status: 'stale', position: current };
      }
      batches = await this.append(db, page);
      const numeric = /^\d+$/.test(page.to);
      await db.query('update change_log_cursors set position = $2, resume_token = $3, updated_at = now() where consumer = $1', [
        this.options.consumer,
        numeric ? page.to : null,
        numeric ? null : page.to,
      ]);
      await db.query('commit');
    } catch (err) {
      broken = true;
      await db.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      db.off('error', onError);
      db.release(broken);
    }
    await this.options.onStored?.(batches);
    return { status: 'stored', batches, position: page.to };
  }

  private async append(db: PoolClient, page: ChangePage): Promise<AppendedBatch[]> {
    const byBranch = new Map<string, Change[]>();
    for (const { branchId, change } of page.changes) {
      let list = byBranch.get(branchId);
      if (!list) byBranch.set(branchId, (list = []));
      list.push(change);
    }
    if (byBranch.size === 0) return [];
    // Share locks, as append_branch_changes takes them: an archive waits for this transaction.
    const { rows: open } = await db.query<{ id: string }>('select id::text as id from branches where id = any($1::uuid[]) and archived_at is null for share', [
      [...byBranch.keys()],
    ]);
    const writable = new Set(open.map((r) => r.id));
    const out: AppendedBatch[] = [];
    for (const [branchId, changes] of byBranch) {
      if (!writable.has(branchId)) {
        this.skipped += changes.length;
        continue;
      }
      for (const chunk of chunkByBytes(changes, MAX_BATCH_BYTES)) {
        const payload = serializeChanges(chunk);
        const bytes = Buffer.byteLength(payload);
        const { rows } = await db.query<{ id: string }>(
          'select append_branch_changes(p_branch_id => $1, p_payload => $2, p_change_count => $3, p_byte_size => $4, p_first_ts => $5, p_last_ts => $6) as id',
          [branchId, payload, chunk.length, bytes, chunk[0]!.ts, chunk[chunk.length - 1]!.ts],
        );
        out.push({ branchId, batchId: rows[0]!.id, changes: chunk.length, bytes });
      }
    }
    return out;
  }
}

function storedPosition(row: { position: string | null; resume_token: string | null } | undefined): string | null {
  if (!row) return null;
  if (row.resume_token !== null) return row.resume_token;
  return row.position === null || row.position === '0' ? null : row.position;
}

function* chunkByBytes(changes: Change[], maxBytes: number): Generator<Change[]> {
  let chunk: Change[] = [];
  let bytes = 0;
  for (const change of changes) {
    const size = Buffer.byteLength(JSON.stringify(change)) + 1;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(change);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
