import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { createChangeIntake } from '../../lib/branches/intake';
import { MemoryCache } from '../../lib/cache';
import { loadConfig } from '../../lib/config';
import { createStore } from '../../lib/db/store';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { LocalObjectStore } from '../../lib/objects';
import type { Change } from '../../workflows/branches/types';
import { createQueueWorker } from '../../workers/process';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres';
import { connectTestEnv, testWorkflowBundle } from '../helpers/temporal';
import { recordResult, reliabilityScale, sized, sleep } from './results';

/**
 * Scenario `postgres-restart`: branch changes accepted through ChangeIntake by concurrent
 * producers, a `branch-delta` worker in this process committing deltas, all on a Postgres of the
 * scenario's own (test/helpers/private-postgres.ts), which is stopped (fast shutdown) mid-load
 * and started again on its data dir. An accept() that fails while it is down is retried by its
 * producer, as a client would. Then: deltas gapless, every accepted batch consumed by a committed
 * delta, delta change counts equal to the changes of the stored batches. (Webhook ingestion with
 * Postgres stopped mid-burst is test/ingestion/durability.test.ts.)
 * Size: RELIABILITY_PG_CHANGES (100,000; ci 3,000), in batches of 100.
 */
const CHANGES = sized('RELIABILITY_PG_CHANGES', { full: 100_000, ci: 3_000 });
const BATCH = 100;
const BRANCHES = 3;
const PRODUCERS = 3;
const OUTAGE_MS = 5_000;

describe('reliability: branch changes while Postgres is restarted', () => {
  let pg: PrivatePostgres;
  let env: TestWorkflowEnvironment;
  let objectsDir: string;

  beforeAll(async () => {
    [pg, env] = await Promise.all([startPrivatePostgres(), connectTestEnv()]);
    objectsDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-rel-pg-'));
  }, 120_000);

  afterAll(async () => {
    await env?.teardown();
    await pg?.close();
    if (objectsDir) await rm(objectsDir, { recursive: true, force: true });
  }, 120_000);

  it(`commits ${CHANGES} changes in gapless deltas across a Postgres restart`, async () => {
    const started = Date.now();
    const logger = createLogger({ level: 'silent' });
    const prefix = `relpg${randomBytes(3).toString('hex')}-`;
    const config = loadConfig({ ...process.env, DATABASE_URL: pg.url, DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_SHUTDOWN_GRACE: '1s', DURASYNC_OBJECTS_DIR: objectsDir });
    const store = createStore({ databaseUrl: pg.url, logger });
    const objects = new LocalObjectStore(objectsDir);
    const worker = await createQueueWorker({
      connection: env.nativeConnection,
      config,
      queue: 'branch-delta',
      bundle: testWorkflowBundle(),
      metrics: createMetrics(),
      deps: { store, cache: new MemoryCache(), logger, objects },
    });
    let workerFailure: unknown;
    const running = worker.run().catch((err: unknown) => void (workerFailure = err));
    const taskQueue = worker.options.taskQueue;
    const intake = createChangeIntake({ store, client: env.client, config, logger });

    const branchIds: string[] = [];
    for (let b = 0; b < BRANCHES; b++) branchIds.push((await store.createBranch({ name: `rel-pg-${b}-${randomBytes(3).toString('hex')}` })).branch.id);
    const acceptedBatches = new Set<string>();
    let acceptedChanges = 0;
    let failedAccepts = 0;
    const batches = Math.ceil(CHANGES / BATCH);
    let nextBatch = 0;
    const now = Date.UTC(2026, 0, 1);

    let outageMs = 0;
    const outage = (async () => {
      while (acceptedChanges < CHANGES / 3) await sleep(20);
      const stoppedAt = Date.now();
      await pg.stop();
      await sleep(OUTAGE_MS);
      await pg.start();
      outageMs = Date.now() - stoppedAt;
    })();
    outage.catch(() => undefined);

    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        for (let b = nextBatch++; b < batches; b = nextBatch++) {
          const branchId = branchIds[b % BRANCHES]!;
          const size = Math.min(BATCH, CHANGES - b * BATCH);
          const changes: Change[] = Array.from({ length: size }, (_, k) => {
            const i = b * BATCH + k;
            return { collection: 'notes', documentId: `note-${i % 1_000}`, op: 'insert', after: { body: `change ${i}` }, ts: new Date(now + i).toISOString() };
          });
          for (let attempt = 0; ; attempt++) {
            try {
              const result = await intake.accept(branchId, changes);
              acceptedBatches.add(result.batchId);
              acceptedChanges += result.accepted;
              break;
            } catch (err) {
              failedAccepts++;
              if (attempt > 200) throw err;
              await sleep(250);
            }
          }
          await sleep(Math.max(1, Math.floor(15_000 / batches)) * PRODUCERS);
        }
      }),
    );
    await outage;
    const acceptedMs = Date.now() - started;
    for (const branchId of branchIds) {
      await intake.flush(branchId);
      const start = new WithStartWorkflowOperation('branchDeltas', { workflowId: `branch:${branchId}`, taskQueue, args: [{ branchId }], workflowIdConflictPolicy: 'USE_EXISTING' });
      await env.client.workflow.executeUpdateWithStart<Workflow, number, []>('flush', { startWorkflowOperation: start });
    }
    const committedMs = Date.now() - started;

    let deltas = 0;
    let gaps = 0;
    let deltaChanges = 0;
    for (const id of branchIds) {
      const list = await store.listBranchDeltas(id);
      if (list.map((d) => d.seq).sort((a, b) => a - b).some((s, i) => s !== i + 1)) gaps++;
      deltas += list.length;
      deltaChanges += list.reduce((acc, d) => acc + d.changeCount, 0);
    }
    const db = new PgClient({ connectionString: pg.url });
    await db.connect();
    const { rows } = await db.query<{ id: string; delta_seq: string | null; change_count: number }>(
      'select id::text as id, delta_seq::text as delta_seq, change_count from branch_change_batches where branch_id = any($1::uuid[])',
      [branchIds],
    );
    await db.end();
    const storedChanges = rows.reduce((acc, r) => acc + r.change_count, 0);
    const consumed = new Set(rows.filter((r) => r.delta_seq !== null).map((r) => r.id));
    const lostBatches = [...acceptedBatches].filter((id) => !consumed.has(id)).length;
    const unconsumed = rows.length - consumed.size;
    // A batch whose accept() failed on the client yet committed in Postgres (its answer lost in the shutdown).
    const storedNotAcknowledged = rows.filter((r) => !acceptedBatches.has(r.id)).length;

    await intake.close();
    worker.shutdown();
    await running;
    await store.close();
    await objects.close();

    recordResult({
      scenario: 'postgres-restart',
      title: 'Branch changes while Postgres is stopped and started again',
      scale: reliabilityScale(),
      date: new Date().toISOString(),
      durationMs: Date.now() - started,
      injected: [
        `${CHANGES} changes accepted through ChangeIntake by ${PRODUCERS} concurrent producers in batches of ${BATCH} over ${BRANCHES} branches, a branch-delta worker committing deltas`,
        `the scenario's own Postgres stopped (pg_ctl -m fast) once a third were accepted, down ${outageMs} ms, started again on its data dir; failed accept() calls retried by the producer`,
      ],
      checked: [
        "every branch's committed deltas are gapless: seqs 1..n",
        'every acknowledged batch is consumed by a committed delta; no stored batch left unconsumed',
        "the deltas' change counts equal the changes of the stored batches (nothing lost, nothing committed twice)",
        'the worker kept running through the outage',
      ],
      counts: {
        changes_accepted: acceptedChanges,
        batches_acknowledged: acceptedBatches.size,
        accept_calls_failed_and_retried: failedAccepts,
        batches_stored: rows.length,
        stored_not_acknowledged: storedNotAcknowledged,
        changes_stored: storedChanges,
        deltas,
        changes_in_deltas: deltaChanges,
        branches_with_gaps: gaps,
        acknowledged_batches_lost: lostBatches,
        stored_batches_unconsumed: unconsumed,
        outage_ms: outageMs,
        accepted_ms: acceptedMs,
        all_committed_ms: committedMs,
      },
    });

    expect(workerFailure).toBeUndefined();
    expect(outageMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(failedAccepts).toBeGreaterThan(0);
    expect(acceptedChanges).toBe(CHANGES);
    expect(gaps).toBe(0);
    expect(lostBatches).toBe(0);
    expect(unconsumed).toBe(0);
    expect(deltaChanges).toBe(storedChanges);
  }, 45 * 60_000);
});
