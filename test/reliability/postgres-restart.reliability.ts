import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createChangeIntake } from '../../lib/branches/intake';
import { createLogger } from '../../lib/logger';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres';
import { connectTestEnv } from '../helpers/temporal';
import { countBranchDeltas, produceBranchChanges, storedBranchBatches } from './branch-load';
import { startScenarioWorker } from '../helpers/queue-worker';
import { recordScenario, sized, sleep } from './results';

/**
 * Scenario `postgres-restart`: branch changes accepted through ChangeIntake by concurrent
 * producers, a `branch-delta` worker in this process committing deltas, all on a Postgres of the
 * scenario's own (test/helpers/private-postgres.ts), which is stopped (fast shutdown) mid-load
 * and started again on its data dir. An accept() that fails while it is down is retried by its
 * producer, as a client would. Then: deltas gapless, every accepted batch consumed by a committed
 * delta, delta change counts equal to the changes of the stored batches. (Webhook ingestion with
 * Postgres stopped mid-burst is webhooks-durability.reliability.ts.)
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
    const worker = await startScenarioWorker({
      connection: env.nativeConnection,
      queue: 'branch-delta',
      databaseUrl: pg.url,
      objectsDir,
      taskQueuePrefix: prefix,
      logger,
      env: { DURASYNC_OBJECTS_DIR: objectsDir },
    });
    const { config, store, taskQueue } = worker;
    const intake = createChangeIntake({ store, client: env.client, config, logger });

    const branchIds: string[] = [];
    for (let b = 0; b < BRANCHES; b++) branchIds.push((await store.createBranch({ name: `rel-pg-${b}-${randomBytes(3).toString('hex')}` })).branch.id);
    const acceptedBatches = new Set<string>();
    let acceptedChanges = 0;
    let failedAccepts = 0;
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

    await produceBranchChanges({
      total: CHANGES,
      batch: BATCH,
      producers: PRODUCERS,
      branchIds,
      change: (i) => ({ collection: 'notes', documentId: `note-${i % 1_000}`, op: 'insert', after: { body: `change ${i}` }, ts: new Date(now + i).toISOString() }),
      async send(branchId, changes) {
        for (let attempt = 0; ; attempt++) {
          try {
            const result = await intake.accept(branchId, changes);
            acceptedBatches.add(result.batchId);
            acceptedChanges += result.accepted;
            return;
          } catch (err) {
            failedAccepts++;
            if (attempt > 200) throw err;
            await sleep(250);
          }
        }
      },
    });
    await outage;
    const acceptedMs = Date.now() - started;
    for (const branchId of branchIds) {
      await intake.flush(branchId);
      const start = new WithStartWorkflowOperation('branchDeltas', { workflowId: `branch:${branchId}`, taskQueue, args: [{ branchId }], workflowIdConflictPolicy: 'USE_EXISTING' });
      await env.client.workflow.executeUpdateWithStart<Workflow, number, []>('flush', { startWorkflowOperation: start });
    }
    const committedMs = Date.now() - started;

    const { deltas, gaps, changes: deltaChanges } = await countBranchDeltas(store, branchIds);
    const rows = await storedBranchBatches(pg.url, branchIds);
    const storedChanges = rows.reduce((acc, r) => acc + r.change_count, 0);
    const consumed = new Set(rows.filter((r) => r.delta_seq !== null).map((r) => r.id));
    const lostBatches = [...acceptedBatches].filter((id) => !consumed.has(id)).length;
    const unconsumed = rows.length - consumed.size;
    // A batch whose accept() failed on the client yet committed in Postgres (its answer lost in the shutdown).
    const storedNotAcknowledged = rows.filter((r) => !acceptedBatches.has(r.id)).length;

    await intake.close();
    await worker.stop();

    recordScenario(started, {
      scenario: 'postgres-restart',
      title: 'Branch changes while Postgres is stopped and started again',
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

    expect(worker.failure()).toBeUndefined();
    expect(outageMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(failedAccepts).toBeGreaterThan(0);
    expect(acceptedChanges).toBe(CHANGES);
    expect(gaps).toBe(0);
    expect(lostBatches).toBe(0);
    expect(unconsumed).toBe(0);
    expect(deltaChanges).toBe(storedChanges);
  }, 45 * 60_000);
});
