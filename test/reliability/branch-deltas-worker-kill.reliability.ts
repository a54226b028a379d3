import { Client as PgClient } from 'pg';
import { freePort } from '../../lib/net';
import type { Change } from '../../workflows/branches/types';
import { startBranchHarness, type BranchHarness } from '../helpers/branches';
import { spawnDurasync, waitForHttp, type Spawned } from '../helpers/process';
import { recordResult, reliabilityScale, sized, sleep } from './results';

/**
 * Scenario `branch-deltas-worker-kill`: branch changes accepted through ChangeIntake (durable in
 * Postgres) by concurrent producers over several branches, while the `branch-delta` worker, a
 * `durasync worker --queues branch-delta` child process, is SIGKILLed twice and started again.
 * Then: each branch's deltas are gapless (seqs 1..n), every accepted batch is marked consumed by
 * exactly one committed delta, and the deltas' change counts add up to the changes accepted.
 * Size: RELIABILITY_BRANCH_CHANGES (100,000; ci 5,000), in batches of 100.
 */
const CHANGES = sized('RELIABILITY_BRANCH_CHANGES', { full: 100_000, ci: 5_000 });
const BATCH = 100;
const BRANCHES = 4;
const PRODUCERS = 4;
const KILLS = 2;

describe('reliability: branch changes while the branch-delta worker process is SIGKILLed', () => {
  let h: BranchHarness;
  let proc: Spawned | undefined;

  beforeAll(async () => {
    h = await startBranchHarness();
    // The in-process worker gives way to a real `durasync worker` child.
    await h.stopWorker();
  }, 120_000);

  afterAll(async () => {
    await proc?.stop('SIGKILL');
    await h?.close();
  });

  async function startChild(): Promise<Spawned> {
    const opsPort = await freePort();
    const child = spawnDurasync(['worker', '--queues', 'branch-delta'], {
      ...h.cliEnv(),
      DURASYNC_OPS_PORT: String(opsPort),
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
      DURASYNC_SHUTDOWN_GRACE: '1s',
    });
    await waitForHttp(`http://127.0.0.1:${opsPort}/health/ready`, 60_000, 200, () => child.child.exitCode === null && child.child.signalCode === null);
    return child;
  }

  it(`commits ${CHANGES} changes in gapless deltas across ${KILLS} SIGKILLs of the worker`, async () => {
    const started = Date.now();
    proc = await startChild();
    const branchIds: string[] = [];
    for (let b = 0; b < BRANCHES; b++) branchIds.push(await h.createBranch());
    const acceptedBatches = new Map<string, { branchId: string; changes: number }>();
    const acceptedByBranch = new Map<string, number>(branchIds.map((id) => [id, 0]));
    let acceptedChanges = 0;
    const batches = Math.ceil(CHANGES / BATCH);
    let nextBatch = 0;
    const now = Date.UTC(2026, 0, 1);

    const kills: Array<{ atAccepted: number; restartMs: number }> = [];
    const killer = (async () => {
      for (let k = 1; k <= KILLS; k++) {
        while (acceptedChanges < (CHANGES * k) / (KILLS + 1)) await sleep(20);
        const at = acceptedChanges;
        proc.child.kill('SIGKILL');
        await proc.exited;
        const killedAt = Date.now();
        await sleep(1_000);
        proc = await startChild();
        kills.push({ atAccepted: at, restartMs: Date.now() - killedAt });
      }
    })();
    killer.catch(() => undefined);

    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        for (let b = nextBatch++; b < batches; b = nextBatch++) {
          const branchId = branchIds[b % BRANCHES]!;
          const size = Math.min(BATCH, CHANGES - b * BATCH);
          const changes: Change[] = Array.from({ length: size }, (_, k) => {
            const i = b * BATCH + k;
            const ts = new Date(now + i).toISOString();
            return { collection: 'notes', documentId: `note-${i % 2_000}`, op: 'insert', after: { title: `Note ${i % 2_000}`, body: `change ${i}`, v: i }, ts };
          });
          const result = await h.intake.accept(branchId, changes);
          acceptedBatches.set(result.batchId, { branchId, changes: result.accepted });
          acceptedByBranch.set(branchId, acceptedByBranch.get(branchId)! + result.accepted);
          acceptedChanges += result.accepted;
          // Pacing: the producers must not finish before the second kill.
          await sleep(Math.max(1, Math.floor(15_000 / batches)) * PRODUCERS);
        }
      }),
    );
    await killer;
    const acceptedMs = Date.now() - started;
    // Every branch flushed (its workflow commits all it holds) on the restarted worker.
    for (const id of branchIds) await h.flush(id);
    const flushedMs = Date.now() - started;

    let deltas = 0;
    let gaps = 0;
    let deltaChanges = 0;
    const perBranch: Record<string, { accepted: number; inDeltas: number; deltas: number }> = {};
    for (const id of branchIds) {
      const list = await h.store.listBranchDeltas(id);
      const seqs = list.map((d) => d.seq).sort((a, b) => a - b);
      if (seqs.some((s, i) => s !== i + 1)) gaps++;
      const sum = list.reduce((acc, d) => acc + d.changeCount, 0);
      deltas += list.length;
      deltaChanges += sum;
      perBranch[id] = { accepted: acceptedByBranch.get(id)!, inDeltas: sum, deltas: list.length };
    }
    const pg = new PgClient({ connectionString: h.deps.db.url });
    await pg.connect();
    const { rows } = await pg.query<{ id: string; delta_seq: string | null; change_count: number }>(
      'select id::text as id, delta_seq::text as delta_seq, change_count from branch_change_batches where branch_id = any($1::uuid[])',
      [branchIds],
    );
    await pg.end();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const unconsumed = [...acceptedBatches.keys()].filter((id) => byId.get(id)?.delta_seq == null).length;
    const unknownBatches = rows.filter((r) => !acceptedBatches.has(r.id)).length;

    recordResult({
      scenario: 'branch-deltas-worker-kill',
      title: 'Branch changes while the branch-delta worker process is SIGKILLed',
      scale: reliabilityScale(),
      date: new Date().toISOString(),
      durationMs: Date.now() - started,
      injected: [
        `${CHANGES} changes accepted through ChangeIntake by ${PRODUCERS} concurrent producers in batches of ${BATCH} over ${BRANCHES} branches`,
        `the \`durasync worker --queues branch-delta\` child process SIGKILLed ${KILLS} times mid-load (at ${kills.map((k) => k.atAccepted).join(' and ')} changes accepted), started again 1 s later`,
      ],
      checked: [
        "every branch's committed deltas are gapless: seqs 1..n",
        'every accepted batch is consumed by a committed delta (delta_seq set), and only accepted batches exist',
        "the deltas' change counts add up to the changes accepted, per branch (nothing lost, nothing committed twice)",
      ],
      counts: {
        changes_accepted: acceptedChanges,
        batches_accepted: acceptedBatches.size,
        worker_kills: kills.length,
        deltas,
        changes_in_deltas: deltaChanges,
        branches_with_gaps: gaps,
        batches_unconsumed: unconsumed,
        batches_not_accepted: unknownBatches,
        accepted_ms: acceptedMs,
        all_committed_ms: flushedMs,
      },
    });

    expect(kills).toHaveLength(KILLS);
    expect(acceptedChanges).toBe(CHANGES);
    expect(gaps).toBe(0);
    expect(unconsumed).toBe(0);
    expect(unknownBatches).toBe(0);
    for (const counts of Object.values(perBranch)) expect(counts.inDeltas).toBe(counts.accepted);
    expect(deltaChanges).toBe(acceptedChanges);
  }, 45 * 60_000);
});
