import { freePort } from '../../lib/net';
import { startBranchHarness, type BranchHarness } from '../helpers/branches';
import { spawnDurasync, waitForHttp, type Spawned } from '../helpers/process';
import { countBranchDeltas, produceBranchChanges, storedBranchBatches } from './branch-load';
import { recordScenario, sized, sleep } from './results';

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

    await produceBranchChanges({
      total: CHANGES,
      batch: BATCH,
      producers: PRODUCERS,
      branchIds,
      change: (i) => ({ collection: 'notes', documentId: `note-${i % 2_000}`, op: 'insert', after: { title: `Note ${i % 2_000}`, body: `change ${i}`, v: i }, ts: new Date(now + i).toISOString() }),
      async send(branchId, changes) {
        const result = await h.intake.accept(branchId, changes);
        acceptedBatches.set(result.batchId, { branchId, changes: result.accepted });
        acceptedByBranch.set(branchId, acceptedByBranch.get(branchId)! + result.accepted);
        acceptedChanges += result.accepted;
      },
    });
    await killer;
    const acceptedMs = Date.now() - started;
    // Every branch flushed (its workflow commits all it holds) on the restarted worker.
    for (const id of branchIds) await h.flush(id);
    const flushedMs = Date.now() - started;

    const { deltas, gaps, changes: deltaChanges, perBranch } = await countBranchDeltas(h.store, branchIds);
    const rows = await storedBranchBatches(h.deps.db.url, branchIds);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const unconsumed = [...acceptedBatches.keys()].filter((id) => byId.get(id)?.delta_seq == null).length;
    const unknownBatches = rows.filter((r) => !acceptedBatches.has(r.id)).length;

    recordScenario(started, {
      scenario: 'branch-deltas-worker-kill',
      title: 'Branch changes while the branch-delta worker process is SIGKILLed',
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
    for (const id of branchIds) expect(perBranch[id]?.changes).toBe(acceptedByBranch.get(id));
    expect(deltaChanges).toBe(acceptedChanges);
  }, 45 * 60_000);
});
