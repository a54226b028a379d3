import { Pool } from 'pg';
import { PostgresBatchSink, type AppendedBatch, type ChangePage, type ChangeSink } from '../../lib/branches/change-source';
import { parseChanges } from '../../lib/branches/changes';
import { PgChangeTailer } from '../../lib/branches/pg-tailer';
import type { Change } from '../../workflows/branches/types';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The Postgres change-stream tailer on the real Postgres (one cloned database per test): triggers
 * of watched tables -> change_log -> PgChangeTailer -> PostgresBatchSink -> branch_change_batches.
 */

let db: TestDatabase;
let admin: Pool;
const open: Array<{ stop(): Promise<void> }> = [];
const pools: Pool[] = [];

beforeEach(async () => {
  db = await createTestDatabase();
  admin = new Pool({ connectionString: db.url, max: 4 });
  // An idle connection the server ends (a terminate aimed at the tailers, the database's drop) must not crash the suite.
  admin.on('error', () => undefined);
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((t) => t.stop()));
  await Promise.allSettled(pools.splice(0).map((p) => p.end()));
  await admin.end();
  await db.drop();
});

async function branch(name: string): Promise<string> {
  const { rows } = await admin.query<{ id: string }>('select id::text as id from create_branch($1)', [name]);
  return rows[0]!.id;
}

async function watched(table: string, branchId: string): Promise<void> {
  await admin.query(`create table ${table} (id text primary key, title text, n integer not null default 0)`);
  await admin.query('select durasync_watch_table($1::regclass, $2::uuid)', [table, branchId]);
}

function pool(name = 'durasync-tailer-test'): Pool {
  const p = new Pool({ connectionString: db.url, max: 2, application_name: name });
  p.on('error', () => undefined);
  pools.push(p);
  return p;
}

async function startTailer(options: { consumer?: string; pageSize?: number; pool?: Pool; sink?: (sink: PostgresBatchSink) => ChangeSink; onStored?: (b: AppendedBatch[]) => void } = {}) {
  const p = options.pool ?? pool();
  const sink = new PostgresBatchSink({ pool: p, consumer: options.consumer ?? 'test', onStored: options.onStored });
  const tailer = new PgChangeTailer({ pool: p, databaseUrl: db.url, pageSize: options.pageSize ?? 100, pollIntervalMs: 200, retryDelayMs: 50 });
  await tailer.start(options.sink ? options.sink(sink) : sink);
  open.push(tailer);
  return { tailer, sink };
}

/** Every change stored in the branch's batches, in batch order. */
async function storedChanges(branchId: string): Promise<Change[]> {
  const { rows } = await admin.query<{ payload: string; change_count: number }>('select payload, change_count from branch_change_batches where branch_id = $1 order by id', [branchId]);
  const out: Change[] = [];
  for (const row of rows) {
    const changes = parseChanges(row.payload, 'application/x-ndjson');
    expect(changes).toHaveLength(row.change_count);
    out.push(...changes);
  }
  return out;
}

async function changeLogCount(branchId: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>('select count(*)::text as n from change_log where branch_id = $1', [branchId]);
  return Number(rows[0]!.n);
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Inserts rows doc-<from>..doc-<to-1> in transactions of `perTx` rows. */
async function insertRows(table: string, from: number, to: number, perTx = 25): Promise<void> {
  for (let i = from; i < to; i += perTx) {
    const ids = Array.from({ length: Math.min(perTx, to - i) }, (_, k) => `doc-${String(i + k).padStart(6, '0')}`);
    await admin.query(`insert into ${table} (id, title) select x, 'title ' || x from unnest($1::text[]) x`, [ids]);
  }
}

function expectEachOnce(changes: Change[], count: number): void {
  const ids = changes.map((c) => c.documentId);
  expect(ids).toHaveLength(count);
  expect(new Set(ids).size).toBe(count);
  // In change_log order, which is insertion order here.
  expect(ids).toEqual([...ids].sort());
}

describe('PgChangeTailer', () => {
  it("forwards a watched table's inserts, updates and deletes, in order, as batches of the branch", async () => {
    const branchId = await branch('tail-basic');
    await watched('notes', branchId);
    const noted: AppendedBatch[] = [];
    await startTailer({ onStored: (b) => void noted.push(...b) });

    await admin.query(`insert into notes (id, title) values ('a', 'first'), ('b', 'second')`);
    await admin.query(`update notes set title = 'first, edited', n = 1 where id = 'a'`);
    await admin.query(`delete from notes where id = 'b'`);
    await until(async () => (await storedChanges(branchId)).length === 4);

    const changes = await storedChanges(branchId);
    expect(changes.map((c) => [c.collection, c.documentId, c.op])).toEqual([
      ['notes', 'a', 'insert'],
      ['notes', 'b', 'insert'],
      ['notes', 'a', 'update'],
      ['notes', 'b', 'delete'],
    ]);
    expect(changes[0]!.after).toEqual({ id: 'a', title: 'first', n: 0 });
    expect(changes[0]!.before).toBeUndefined();
    expect(changes[2]).toMatchObject({ before: { id: 'a', title: 'first', n: 0 }, after: { id: 'a', title: 'first, edited', n: 1 } });
    expect(changes[3]).toMatchObject({ before: { id: 'b', title: 'second', n: 0 } });
    expect(changes[3]!.after).toBeUndefined();
    // The flusher hears of exactly the stored batches.
    expect(noted.reduce((n, b) => n + b.changes, 0)).toBe(4);
    expect(noted.every((b) => b.branchId === branchId && /^\d+$/.test(b.batchId))).toBe(true);
    const { rows } = await admin.query<{ position: string }>(`select position::text as position from change_log_cursors where consumer = 'test'`);
    expect(rows[0]!.position).toBe(String(await changeLogCount(branchId)));

    // Unwatched: later writes are not recorded.
    await admin.query(`select durasync_unwatch_table('notes')`);
    await admin.query(`insert into notes (id) values ('c')`);
    expect(await changeLogCount(branchId)).toBe(4);
  });

  it('resumes after a crash mid-stream (connection destroyed before a commit) losing and repeating nothing', async () => {
    const branchId = await branch('tail-crash');
    await watched('items', branchId);
    await insertRows('items', 0, 1000);

    // The first tailer's connection dies as it commits its third page: that page rolls back.
    const p = pool('durasync-tailer-crash');
    let commits = 0;
    let dead = false;
    p.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: typeof query }).query = (...args: unknown[]) => {
        const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as (err: Error) => void) : undefined;
        const fail = (message: string) => {
          if (!callback) return Promise.reject(new Error(message));
          callback(new Error(message));
          return undefined;
        };
        // After the crash the "process" is dead: nothing it sends arrives.
        if (dead) return fail('tailer process is dead');
        if (args[0] === 'commit' && ++commits === 3) {
          dead = true;
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
          return fail('connection destroyed mid-commit');
        }
        return query(...args);
      };
    });
    const first = await startTailer({ pool: p });
    await until(async () => first.tailer.stats.errors > 0);
    await first.tailer.stop();
    const afterCrash = (await storedChanges(branchId)).length;
    expect(afterCrash).toBe(200); // two pages committed, the third rolled back

    // More writes while no tailer runs, then a fresh one (new pool) takes over.
    await insertRows('items', 1000, 1500);
    const second = await startTailer({ pool: pool() });
    await insertRows('items', 1500, 2000);
    await until(async () => (await storedChanges(branchId)).length >= 2000);
    await new Promise((r) => setTimeout(r, 300)); // would any extra page arrive?
    await second.tailer.stop();

    expect(await changeLogCount(branchId)).toBe(2000);
    expectEachOnce(await storedChanges(branchId), 2000);
  });

  it('survives its connections being terminated while it streams', async () => {
    const branchId = await branch('tail-terminate');
    await watched('rows', branchId);
    const { tailer } = await startTailer({ pageSize: 50 });
    const writing = insertRows('rows', 0, 3000, 10);
    // Kill every tailer connection (pool and LISTEN) a few times while rows stream in.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name like 'durasync-tailer%'`);
    }
    await writing;
    await until(async () => (await storedChanges(branchId)).length >= 3000, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(tailer.stats.errors).toBeGreaterThan(0);
    expectEachOnce(await storedChanges(branchId), 3000);
  });

  it('two tailers of one consumer never forward a row twice', async () => {
    const branchId = await branch('tail-two');
    await watched('docs', branchId);
    await insertRows('docs', 0, 1000);
    const a = await startTailer({ pageSize: 20, pool: pool('durasync-tailer-a') });
    const b = await startTailer({ pageSize: 20, pool: pool('durasync-tailer-b') });
    await insertRows('docs', 1000, 2000, 5);
    await until(async () => (await storedChanges(branchId)).length >= 2000);
    await new Promise((r) => setTimeout(r, 300));
    expectEachOnce(await storedChanges(branchId), 2000);
    expect(a.tailer.stats.changes + b.tailer.stats.changes).toBe(2000);

    // The same page written twice (a source that re-sends after a crash) is stored once.
    const sink = new PostgresBatchSink({ pool: pool(), consumer: 'replay' });
    const page: ChangePage = { from: null, to: '1', changes: [{ branchId, change: { collection: 'docs', documentId: 'x', op: 'delete', ts: new Date().toISOString() } }] };
    expect((await sink.write(page)).status).toBe('stored');
    expect(await sink.write(page)).toEqual({ status: 'stale', position: '1' });
    expect(await sink.position()).toBe('1');
  });

  it('keeps a MongoDB-style resume token as the position and drops changes of archived branches', async () => {
    const live = await branch('tail-token-live');
    const archived = await branch('tail-token-archived');
    await admin.query('select archive_branch($1)', [archived]);
    const sink = new PostgresBatchSink({ pool: pool(), consumer: 'mongo:orders' });
    expect(await sink.position()).toBeNull();
    const ts = new Date().toISOString();
    const token = JSON.stringify({ _data: '8263A1B2C3000000012B022C0100296E5A1004' });
    const result = await sink.write({
      from: null,
      to: token,
      changes: [
        { branchId: live, change: { collection: 'orders', documentId: 'o1', op: 'insert', after: { total: 3 }, ts } },
        { branchId: archived, change: { collection: 'orders', documentId: 'o2', op: 'insert', after: { total: 4 }, ts } },
      ],
    });
    expect(result).toMatchObject({ status: 'stored', position: token, batches: [{ branchId: live, changes: 1 }] });
    expect(sink.skipped).toBe(1);
    expect(await sink.position()).toBe(token);
    expect((await storedChanges(live)).map((c) => c.documentId)).toEqual(['o1']);
  });
});
