import { Client, type Pool } from 'pg';
import type { Logger } from '../logger';
import type { Change, ChangeOp } from '../../workflows/branches/types';
import type { ChangePage, ChangeSink, ChangeSource } from './change-source';

/**
 * The Postgres change source: rows that the trigger of watched tables (durasync_watch_table,
 * supabase/migrations/0010_change_log.sql) appends to `change_log`, read in id order after the
 * sink's position, a page at a time. It wakes on `NOTIFY durasync_change_log` (LISTEN on a
 * connection of its own, reconnected when it drops) and polls every `pollIntervalMs` as well, so a
 * missed notification or a dead listener only delays a page.
 *
 * Each page stops below `change_log_safe_horizon()`: ids come from a sequence, and a transaction
 * still open may hold an id below one already committed; reading past it would skip its change.
 * The sink (PostgresBatchSink) stores the page's batches and the new position in one transaction,
 * so a tailer killed anywhere resumes from the last page stored, and two tailers of one consumer
 * never forward a row twice (the second finds its page stale and re-reads).
 */
export interface PgChangeTailerOptions {
  /** The database holding change_log (and, for PostgresBatchSink, the branches). */
  pool: Pool;
  /** Connection string for the LISTEN connection (a pooled connection cannot hold LISTEN). */
  databaseUrl: string;
  logger?: Logger;
  /** Rows per page. Default: 1000. */
  pageSize?: number;
  /** Poll this often without notifications. Default: 2000 ms. */
  pollIntervalMs?: number;
  /** Wait after a failed page before trying again. Default: 1000 ms. */
  retryDelayMs?: number;
}

interface ChangeLogRow {
  id: string;
  branch_id: string;
  collection: string;
  document_id: string;
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ts: Date;
}

export const CHANGE_LOG_CHANNEL = 'durasync_change_log';

export class PgChangeTailer implements ChangeSource {
  readonly name = 'postgres change_log';
  private readonly pageSize: number;
  private readonly pollIntervalMs: number;
  private readonly retryDelayMs: number;
  private sink?: ChangeSink;
  private running = false;
  private loop?: Promise<void>;
  private listener?: Client;
  private listenerRetry?: NodeJS.Timeout;
  private wake?: () => void;
  private woken = false;
  /** Pages stored and changes forwarded since start (for logs and tests). */
  readonly stats = { pages: 0, changes: 0, stalePages: 0, errors: 0 };

  constructor(private readonly options: PgChangeTailerOptions) {
    this.pageSize = options.pageSize ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  async start(sink: ChangeSink): Promise<void> {
    if (this.running) throw new Error('PgChangeTailer already started');
    this.sink = sink;
    this.running = true;
    await this.listen().catch((err: unknown) => {
      this.options.logger?.warn({ err }, 'change_log LISTEN failed; polling only until it reconnects');
      this.scheduleListen();
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    if (this.listenerRetry) clearTimeout(this.listenerRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.loop;
  }

  /** Reads and forwards pages until caught up: what the loop does on each wake-up. Returns changes forwarded. */
  async drain(): Promise<number> {
    const sink = this.sink;
    if (!sink) throw new Error('PgChangeTailer not started');
    let forwarded = 0;
    let position = await sink.position();
    while (this.running) {
      const page = await this.readPage(position);
      if (!page) break;
      const result = await sink.write(page);
      if (result.status === 'stale') {
        this.stats.stalePages++;
        position = result.position;
        continue;
      }
      this.stats.pages++;
      this.stats.changes += page.changes.length;
      forwarded += page.changes.length;
      position = result.position;
      if (page.changes.length < this.pageSize) break;
    }
    return forwarded;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const forwarded = await this.drain();
        if (forwarded > 0) this.options.logger?.debug({ forwarded }, 'change_log forwarded');
        await this.sleep(this.pollIntervalMs);
      } catch (err) {
        this.stats.errors++;
        if (!this.running) break;
        this.options.logger?.warn({ err }, 'change_log page failed; retrying');
        await this.sleep(this.retryDelayMs);
      }
    }
  }

  /** The next page after `position`, or null when nothing committed is waiting. */
  private async readPage(position: string | null): Promise<ChangePage | null> {
    const after = position ?? '0';
    const { rows: horizonRows } = await this.options.pool.query<{ horizon: string | null }>('select change_log_safe_horizon()::text as horizon');
    const horizon = horizonRows[0]?.horizon;
    if (horizon === null || horizon === undefined) return null; // a writer holds it: next wake-up
    if (BigInt(horizon) <= BigInt(after)) return null;
    const { rows } = await this.options.pool.query<ChangeLogRow>(
      // Ordered by the bigint column, not the text alias (which would sort '1000' before '201').
      `select c.id::text as id, c.branch_id::text as branch_id, c.collection, c.document_id, c.op, c.before, c.after, c.ts
         from change_log c where c.id > $1 and c.id <= $2 order by c.id limit $3`,
      [after, horizon, this.pageSize],
    );
    if (rows.length === 0) return null;
    return { from: position, to: rows[rows.length - 1]!.id, changes: rows.map((row) => ({ branchId: row.branch_id, change: toChange(row) })) };
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    }).then(() => {
      this.wake = undefined;
      this.woken = false;
    });
  }

  private poke(): void {
    if (this.wake) this.wake();
    else this.woken = true;
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.options.databaseUrl, application_name: 'durasync-tailer-listen' });
    client.on('notification', () => this.poke());
    client.on('error', (err) => {
      if (this.listener !== client) return;
      this.options.logger?.warn({ err }, 'change_log LISTEN connection lost; reconnecting');
      this.listener = undefined;
      void client.end().catch(() => undefined);
      this.scheduleListen();
    });
    await client.connect();
    await client.query(`listen ${CHANGE_LOG_CHANNEL}`);
    if (!this.running) {
      await client.end();
      return;
    }
    this.listener = client;
    this.poke(); // changes made while nobody listened
  }

  private scheduleListen(): void {
    if (!this.running || this.listenerRetry) return;
    this.listenerRetry = setTimeout(() => {
      this.listenerRetry = undefined;
      if (!this.running) return;
      this.listen().catch(() => this.scheduleListen());
    }, this.retryDelayMs);
    this.listenerRetry.unref();
  }
}

function toChange(row: ChangeLogRow): Change {
  const change: Change = { collection: row.collection, documentId: row.document_id, op: row.op as ChangeOp, ts: row.ts.toISOString() };
  if (row.before) change.before = row.before;
  if (row.after) change.after = row.after;
  return change;
}
