/**
 * Scenario `deltas`: branch deltas end to end on this machine, against what a user would build
 * instead. durasync's side runs as in production: ChangeIntake.accept() appends each batch to
 * Postgres (durable: "accepted"), the DeltaFlusher signals the branch's `branchDeltas` workflow
 * (signalWithStart, default thresholds), whose storeDelta / commitDelta activities (a `branch-delta`
 * worker in this process) compress pending batches into an object (local object store in a temp
 * folder) and commit the delta's metadata in Postgres. A change counts once a committed delta holds
 * it. Against a fresh headless Temporal dev server and a scratch database on DATABASE_URL's Postgres
 * server (default postgres://postgres@127.0.0.1:5432; dropped after).
 *
 * Phases, in this order:
 * - `flush latency`: one branch, changes paced at `--rate` (1,000/s) in batches every 50 ms for
 *   `--latency-seconds` (20): per batch, from the accept() call to the commit of the delta holding
 *   it (branch_deltas.created_at, the same clock) -> `flush_p99_ms` (and p50, max);
 * - `compression`: `--docs` (50) documents updated over and over (`--repeat` changes, 20,000), each
 *   change carrying the whole document -> `compression_ratio` = raw NDJSON bytes / stored bytes of
 *   the branch's deltas;
 * - `throughput`: `--changes` (200,000) changes of a notes workload (10,000 documents, ~250 B each)
 *   pushed by `--producers` (4) concurrent producers in `--batch` (1,000) change batches over
 *   `--branches` (4) branches, timed from the first accept() until the flush update of every branch
 *   has returned (their committed deltas cover everything) -> `changes_per_sec`;
 * - `bullmq`: the same kind of changes, one BullMQ job per change on the machine's Redis
 *   (REDIS_URL, default 127.0.0.1:6379; a unique queue, obliterated after), added in bulk of
 *   `--batch`, a worker at `--bullmq-concurrency` (50) that INSERTs each change into a scratch table
 *   of the same database (a pool of 20 connections), timed from the first add until every job's
 *   row is committed -> `bullmq_changes_per_sec` over `--bullmq-changes` (default: min(changes, 50,000)).
 *
 * `lost`: changes accepted by durasync and not in a committed delta once flushed (sum over the
 * phases); `bullmq_lost`: jobs added whose row is missing. Targets: changes_per_sec >= 10,000,
 * >= 2x bullmq_changes_per_sec, compression_ratio >= 20, lost = 0. Report: bench/results/deltas.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { Queue, Worker as BullWorker } from 'bullmq';
import { Pool } from 'pg';
import { createChangeIntake, type ChangeIntake } from '../../lib/branches/intake';
import { MemoryCache } from '../../lib/cache';
import { loadConfig } from '../../lib/config';
import { createStore, type Store } from '../../lib/db/store';
import { createMetrics } from '../../lib/metrics';
import { freePort } from '../../lib/net';
import { createObjectStore } from '../../lib/objects';
import type { Change } from '../../workflows/branches/types';
import { createActivityDeps } from '../../workers/activities';
import { loadWorkflowBundle } from '../../workers/bundle';
import { createQueueWorker } from '../../workers/process';
import { installRuntime } from '../../workers/runtime';
import { benchLogger, cleanupOnExit, machineInfo, percentile, progress, round, scratchDatabase, shownPath, startBenchTemporal, writeResult, type BenchDatabase, type ScenarioOptions, printReport, intFlag } from '../lib';

const TARGETS = { changesPerSec: 10_000, vsBullmq: 2, compression: 20 } as const;
/** Flush latency: batches this often (the rate sets their size). */
const PACE_MS = 50;
const BULLMQ_POOL = 20;

const WORDS = 'alpha beta gamma delta notes draft review meeting sync branch merge table index query page block list task done open idea'.split(' ');

/** The throughput workload: change `i` of a notes app (10,000 documents, inserts then updates, ~250 bytes). */
function noteChange(i: number, now: number): Change {
  const doc = i % 10_000;
  const words = Array.from({ length: 12 }, (_, k) => WORDS[(i * 7 + k * 13 + doc) % WORDS.length]).join(' ');
  return {
    collection: 'notes',
    documentId: `note-${doc}`,
    op: i < 10_000 ? 'insert' : 'update',
    after: { title: `Note ${doc}`, body: `${words} (${i})`, tags: [WORDS[doc % WORDS.length], WORDS[(doc >> 3) % WORDS.length]], version: Math.floor(i / 10_000) + 1, updatedAt: new Date(now + i).toISOString() },
    ts: new Date(now + i).toISOString(),
  };
}

/** The compression workload: update `i` of one of `docs` documents, carrying the whole document. */
function repeatedUpdate(i: number, docs: number, now: number): Change {
  const doc = i % docs;
  const ts = new Date(now + i * 10).toISOString();
  return {
    collection: 'tasks',
    documentId: `task-${doc}`,
    op: 'update',
    after: {
      title: `Task ${doc}: ship the quarterly report`,
      description: 'Collect the numbers from every team, check them against last quarter, write the summary and send it for review.',
      assignee: `user-${doc % 7}@example.com`,
      status: ['todo', 'doing', 'review', 'done'][Math.floor(i / docs) % 4],
      priority: doc % 3,
      labels: ['report', 'quarterly', doc % 2 ? 'finance' : 'ops'],
      revision: Math.floor(i / docs) + 1,
      updatedAt: ts,
    },
    ts,
  };
}

interface DeltaTotals {
  deltas: number;
  changes: number;
  rawBytes: number;
  storedBytes: number;
}

async function deltaTotals(store: Store, branchIds: string[]): Promise<DeltaTotals> {
  const out: DeltaTotals = { deltas: 0, changes: 0, rawBytes: 0, storedBytes: 0 };
  for (const id of branchIds) {
    for (const d of await store.listBranchDeltas(id)) {
      out.deltas++;
      out.changes += d.changeCount;
      out.rawBytes += d.rawBytes ?? 0;
      out.storedBytes += d.byteSize;
    }
  }
  return out;
}

export async function runDeltas(options: ScenarioOptions, flags: Record<string, string>): Promise<void> {
  const CHANGES = intFlag(flags, 'changes', 200_000, 1);
  const BATCH = intFlag(flags, 'batch', 1000, 1);
  const PRODUCERS = intFlag(flags, 'producers', 4, 1);
  const BRANCHES = intFlag(flags, 'branches', 4, 1);
  const RATE = intFlag(flags, 'rate', 1000, 1);
  const LATENCY_SECONDS = intFlag(flags, 'latency-seconds', 20, 1);
  const DOCS = intFlag(flags, 'docs', 50, 1);
  const REPEAT = intFlag(flags, 'repeat', 20_000, 1);
  const BULLMQ_CHANGES = intFlag(flags, 'bullmq-changes', Math.min(CHANGES, 50_000), 1);
  const BULLMQ_CONCURRENCY = intFlag(flags, 'bullmq-concurrency', 50, 1);
  const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const benchStarted = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const logger = benchLogger();

  let server: Awaited<ReturnType<typeof startBenchTemporal>> | undefined;
  let db: BenchDatabase | undefined;
  let store: Store | undefined;
  let native: NativeConnection | undefined;
  let connection: Connection | undefined;
  let worker: { worker: Worker; running: Promise<void> } | undefined;
  let intake: ChangeIntake | undefined;
  let objectsDir: string | undefined;
  let bullQueue: Queue | undefined;
  let bullWorker: BullWorker | undefined;
  let bullPool: Pool | undefined;
  const cleanup = cleanupOnExit(async () => {
    await bullWorker?.close().catch(() => undefined);
    await bullQueue?.obliterate({ force: true }).catch(() => undefined);
    await bullQueue?.close().catch(() => undefined);
    await bullPool?.end().catch(() => undefined);
    await intake?.close().catch(() => undefined);
    if (worker?.worker.getState() === 'RUNNING') worker.worker.shutdown();
    await worker?.running.catch(() => undefined);
    await connection?.close();
    await native?.close();
    await store?.close();
    await db?.close();
    await server?.stop();
    if (objectsDir) await rm(objectsDir, { recursive: true, force: true });
  });

  try {
    progress(`deltas: ${CHANGES} changes in ${BATCH}-change batches (${PRODUCERS} producers, ${BRANCHES} branches); latency at ${RATE}/s for ${LATENCY_SECONDS} s; ${REPEAT} updates of ${DOCS} docs; BullMQ ${BULLMQ_CHANGES} jobs at concurrency ${BULLMQ_CONCURRENCY}`);
    installRuntime({ logger, sdkMetricsAddress: `127.0.0.1:${await freePort()}` });
    const setup = await Promise.allSettled([startBenchTemporal().then((s) => (server = s)), scratchDatabase().then((d) => (db = d)), mkdtemp(path.join(os.tmpdir(), 'durasync-bench-objects-')).then((d) => (objectsDir = d))]);
    const setupFailed = setup.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (setupFailed) throw setupFailed.reason;
    if (!server || !db || !objectsDir) throw new Error('set-up did not finish');
    progress(`temporal ${server.address}, database ${db.kind}, objects ${objectsDir}`);

    const prefix = `bench-${randomBytes(3).toString('hex')}-`;
    const config = loadConfig({ TEMPORAL_ADDRESS: server.address, DATABASE_URL: db.url, DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_SHUTDOWN_GRACE: '2s', DURASYNC_OBJECTS_DIR: objectsDir });
    store = createStore({ databaseUrl: db.url, poolMax: config.database.poolMax, logger });
    const deps = { ...createActivityDeps({ config, store, cache: new MemoryCache(), logger }), objects: createObjectStore(config) };
    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const bundle = await loadWorkflowBundle(undefined, logger);
    const built = await createQueueWorker({ connection: native, config, queue: 'branch-delta', bundle, metrics: createMetrics(), deps });
    worker = { worker: built, running: built.run() };
    intake = createChangeIntake({ store, client, config, logger });
    const accept = intake;
    const st = store;
    const flushBranch = (branchId: string) => client.workflow.getHandle(`branch:${branchId}`).executeUpdate<number, []>('flush');
    const newBranch = async (name: string) => (await st.createBranch({ name: `${name}-${randomBytes(3).toString('hex')}` })).branch.id;
    let sent = 0;
    const durasyncBranches: string[] = [];

    // Flush latency: paced batches, accept() call -> commit of the delta holding the batch.
    const pacedBranch = await newBranch('bench-paced');
    durasyncBranches.push(pacedBranch);
    const perBatch = Math.max(1, Math.round((RATE * PACE_MS) / 1000));
    const batches = Math.max(1, Math.round((LATENCY_SECONDS * 1000) / PACE_MS));
    const acceptedAt = new Map<string, number>();
    {
      progress(`flush latency: ${batches} batches of ${perBatch} changes every ${PACE_MS} ms (${round((perBatch * 1000) / PACE_MS)} changes/s)`);
      const now = Date.now();
      const start = performance.now();
      const inFlight: Array<Promise<void>> = [];
      for (let b = 0; b < batches; b++) {
        const due = start + b * PACE_MS;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const changes = Array.from({ length: perBatch }, (_, k) => noteChange(b * perBatch + k, now));
        const t = Date.now();
        inFlight.push(
          accept.accept(pacedBranch, changes).then((r) => {
            acceptedAt.set(r.batchId, t);
          }),
        );
        sent += perBatch;
      }
      await Promise.all(inFlight);
      await accept.flush(pacedBranch);
      await flushBranch(pacedBranch);
    }
    const latencyPool = new Pool({ connectionString: db.url, max: 1 });
    const { rows: committedRows } = await latencyPool
      .query<{ id: string; committed: Date }>(
        `select c.id::text as id, d.created_at as committed from branch_change_batches c join branch_deltas d on d.branch_id = c.branch_id and d.seq = c.delta_seq where c.branch_id = $1`,
        [pacedBranch],
      )
      .finally(() => latencyPool.end());
    const latencies = committedRows.map((r) => r.committed.getTime() - (acceptedAt.get(r.id) ?? NaN)).filter((ms) => Number.isFinite(ms)).sort((a, b) => a - b);
    const flush = {
      batches: acceptedAt.size,
      batches_committed: latencies.length,
      p50_ms: round(percentile(latencies, 50)),
      p99_ms: round(percentile(latencies, 99)),
      max_ms: round(latencies[latencies.length - 1] ?? NaN),
    };
    progress(`flush latency: p50 ${flush.p50_ms} ms, p99 ${flush.p99_ms} ms, max ${flush.max_ms} ms over ${flush.batches_committed}/${flush.batches} batches`);

    // Compression: the same few documents updated over and over.
    const repeatBranch = await newBranch('bench-repeated');
    durasyncBranches.push(repeatBranch);
    {
      const now = Date.now();
      for (let i = 0; i < REPEAT; i += BATCH) {
        await accept.accept(repeatBranch, Array.from({ length: Math.min(BATCH, REPEAT - i) }, (_, k) => repeatedUpdate(i + k, DOCS, now)));
      }
      sent += REPEAT;
      await accept.flush(repeatBranch);
      await flushBranch(repeatBranch);
    }
    const repeated = await deltaTotals(st, [repeatBranch]);
    const compressionRatio = repeated.storedBytes > 0 ? repeated.rawBytes / repeated.storedBytes : 0;
    progress(`compression: ${repeated.changes} changes in ${repeated.deltas} deltas, ${repeated.rawBytes} raw bytes -> ${repeated.storedBytes} stored (${round(compressionRatio, 1)}x)`);

    // Throughput: producers push CHANGES in BATCH-change batches over BRANCHES branches.
    const branches = await Promise.all(Array.from({ length: BRANCHES }, (_, b) => newBranch(`bench-throughput-${b}`)));
    durasyncBranches.push(...branches);
    const throughput = { changes: CHANGES, accept_seconds: 0, seconds: 0, changes_per_sec: 0, accept_changes_per_sec: 0, deltas: 0 };
    {
      const now = Date.now();
      const batchCount = Math.ceil(CHANGES / BATCH);
      // Built ahead, so that the timing covers the pipeline, not the workload generator.
      const payloads = Array.from({ length: batchCount }, (_, b) => Array.from({ length: Math.min(BATCH, CHANGES - b * BATCH) }, (_, k) => noteChange(b * BATCH + k, now)));
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          for (let b = next++; b < batchCount; b = next++) await accept.accept(branches[b % BRANCHES]!, payloads[b]!);
        }),
      );
      const accepted = performance.now();
      await accept.flush();
      await Promise.all(branches.map((id) => flushBranch(id)));
      const done = performance.now();
      sent += CHANGES;
      throughput.accept_seconds = round((accepted - t0) / 1000, 2);
      throughput.seconds = round((done - t0) / 1000, 2);
      throughput.changes_per_sec = Math.round(CHANGES / ((done - t0) / 1000));
      throughput.accept_changes_per_sec = Math.round(CHANGES / ((accepted - t0) / 1000));
      throughput.deltas = (await deltaTotals(st, branches)).deltas;
    }
    progress(`throughput: ${CHANGES} changes accepted in ${throughput.accept_seconds} s, durable in deltas after ${throughput.seconds} s: ${throughput.changes_per_sec} changes/s (${throughput.deltas} deltas)`);

    const all = await deltaTotals(st, durasyncBranches);
    const lost = sent - all.changes;

    // BullMQ: one job per change, each stored with one INSERT.
    const bull = { changes: BULLMQ_CHANGES, concurrency: BULLMQ_CONCURRENCY, seconds: 0, changes_per_sec: 0, add_seconds: 0, lost: 0 };
    {
      bullPool = new Pool({ connectionString: db.url, max: BULLMQ_POOL, application_name: 'durasync-bench-bullmq' });
      await bullPool.query(`create table bullmq_changes (id bigserial primary key, collection text not null, document_id text not null, op text not null, doc jsonb, ts timestamptz not null)`);
      const connectionOptions = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), password: redisUrl.password || undefined, maxRetriesPerRequest: null };
      const name = `durasync-bench-${randomBytes(4).toString('hex')}`;
      bullQueue = new Queue(name, { connection: connectionOptions, defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000 } });
      const pool = bullPool;
      let processed = 0;
      let allDone!: () => void;
      const finished = new Promise<void>((resolve) => (allDone = resolve));
      bullWorker = new BullWorker<Change>(
        name,
        async (job) => {
          const c = job.data;
          await pool.query('insert into bullmq_changes (collection, document_id, op, doc, ts) values ($1, $2, $3, $4, $5)', [c.collection, c.documentId, c.op, JSON.stringify(c.after ?? null), c.ts]);
          if (++processed === BULLMQ_CHANGES) allDone();
        },
        { connection: connectionOptions, concurrency: BULLMQ_CONCURRENCY, autorun: false },
      );
      bullWorker.on('failed', (job, err) => progress(`bullmq job ${job?.id} failed: ${err.message}`));
      await bullWorker.waitUntilReady();
      const now = Date.now();
      const payloads = Array.from({ length: Math.ceil(BULLMQ_CHANGES / BATCH) }, (_, b) => Array.from({ length: Math.min(BATCH, BULLMQ_CHANGES - b * BATCH) }, (_, k) => noteChange(b * BATCH + k, now)));
      const t0 = performance.now();
      void bullWorker.run();
      for (const batch of payloads) await bullQueue.addBulk(batch.map((data) => ({ name: 'change', data })));
      const added = performance.now();
      await finished;
      const done = performance.now();
      const { rows } = await pool.query<{ n: string }>('select count(*)::text as n from bullmq_changes');
      bull.add_seconds = round((added - t0) / 1000, 2);
      bull.seconds = round((done - t0) / 1000, 2);
      bull.changes_per_sec = Math.round(BULLMQ_CHANGES / ((done - t0) / 1000));
      bull.lost = BULLMQ_CHANGES - Number(rows[0]!.n);
    }
    progress(`bullmq: ${BULLMQ_CHANGES} jobs added in ${bull.add_seconds} s, stored after ${bull.seconds} s: ${bull.changes_per_sec} changes/s`);

    const report = {
      scenario: 'deltas',
      changes_per_sec: throughput.changes_per_sec,
      bullmq_changes_per_sec: bull.changes_per_sec,
      compression_ratio: round(compressionRatio, 1),
      flush_p99_ms: flush.p99_ms,
      lost,
      bullmq_lost: bull.lost,
      targets: {
        changes_per_sec_at_least_10000: throughput.changes_per_sec >= TARGETS.changesPerSec,
        at_least_2x_bullmq: throughput.changes_per_sec >= TARGETS.vsBullmq * bull.changes_per_sec,
        compression_at_least_20x: compressionRatio >= TARGETS.compression,
        nothing_lost: lost === 0,
      },
      throughput: { ...throughput, batch: BATCH, producers: PRODUCERS, branches: BRANCHES },
      flush: { ...flush, rate: round((perBatch * 1000) / PACE_MS), batch: perBatch, seconds: LATENCY_SECONDS },
      compression: { docs: DOCS, ...repeated, ratio: round(compressionRatio, 2) },
      bullmq: { ...bull, pg_pool: BULLMQ_POOL },
      sent,
      committed: all.changes,
      machine: { ...machineInfo(), load_average_1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) } },
      database: db.kind,
      date: new Date().toISOString(),
      duration_s: round((Date.now() - benchStarted) / 1000),
      notes: [
        'durasync: ChangeIntake.accept() (a batch durable in Postgres) -> DeltaFlusher signal (product defaults: 100 changes or 5 s) -> branchDeltas workflow -> storeDelta (compressed object, local object store) + commitDelta (metadata, head moved); the branch-delta worker, the Temporal dev server, Postgres and Redis all share this machine.',
        'changes_per_sec: changes / seconds from the first accept() until the flush update of every branch returned (every accepted change is in a committed delta); accept_changes_per_sec: until the last accept() resolved.',
        `flush latency: batches of ${perBatch} changes every ${PACE_MS} ms; from the accept() call to branch_deltas.created_at of the delta holding the batch.`,
        'compression_ratio: raw NDJSON bytes / stored bytes over the deltas of the repeated-updates branch (each change carries the whole document).',
        `bullmq: one job per change (addBulk of ${BATCH}), removeOnComplete, a worker at concurrency ${BULLMQ_CONCURRENCY} doing one INSERT per job into a scratch table (pg pool of ${BULLMQ_POOL}); timed from the first add until the last INSERT resolved.`,
        'lost: changes accepted by durasync minus changes in committed deltas; bullmq_lost: jobs added minus rows stored.',
      ],
    };
    const out = shownPath(await writeResult(options.resultsDir, 'deltas.json', report));
    const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const table = [
      `deltas: ${db.kind}`,
      `changes/s (durable in deltas): ${report.changes_per_sec} (target >= ${TARGETS.changesPerSec}: ${met(report.targets.changes_per_sec_at_least_10000)})`,
      `bullmq changes/s (one job per change): ${report.bullmq_changes_per_sec} (durasync >= ${TARGETS.vsBullmq}x: ${met(report.targets.at_least_2x_bullmq)})`,
      `compression on repeated updates: ${report.compression_ratio}x (target >= ${TARGETS.compression}x: ${met(report.targets.compression_at_least_20x)})`,
      `flush p99 at ${report.flush.rate} changes/s: ${report.flush_p99_ms} ms (p50 ${flush.p50_ms} ms)`,
      `lost: ${lost} (bullmq: ${bull.lost}) (${met(report.targets.nothing_lost)})`,
      `wrote ${out} (${report.duration_s} s)`,
    ];
    printReport(options, table, report);
  } finally {
    await cleanup();
  }
}
