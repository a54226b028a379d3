import { Client as PgClient } from 'pg';
import type { Store } from '../../lib/db/store';
import type { Change } from '../../workflows/branches/types';
import { sleep } from './results';

/**
 * The load and the read-back of the branch scenarios (branch-deltas-worker-kill, postgres-restart):
 * batches of changes over several branches from concurrent producers, then what the committed
 * deltas and the stored batches hold.
 */
export interface BranchLoad {
  total: number;
  batch: number;
  producers: number;
  branchIds: string[];
  /** Change number i (0..total-1). */
  change(i: number): Change;
  /** Hands one batch to the system (ChangeIntake.accept, with whatever retry the scenario wants). */
  send(branchId: string, changes: Change[]): Promise<void>;
}

/**
 * Batch b goes to branch b mod branches; each producer takes the next batch when it is done with its
 * own. Paced to about 15 s whatever the size, so the load is still going when the fault strikes.
 */
export async function produceBranchChanges(load: BranchLoad): Promise<void> {
  const { total, batch, producers, branchIds } = load;
  const batches = Math.ceil(total / batch);
  const pause = Math.max(1, Math.floor(15_000 / batches)) * producers;
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      for (let b = next++; b < batches; b = next++) {
        const size = Math.min(batch, total - b * batch);
        await load.send(branchIds[b % branchIds.length]!, Array.from({ length: size }, (_, k) => load.change(b * batch + k)));
        await sleep(pause);
      }
    }),
  );
}

export interface BranchDeltaCounts {
  deltas: number;
  changes: number;
  /** Branches whose delta seqs are not exactly 1..n. */
  gaps: number;
  perBranch: Record<string, { deltas: number; changes: number }>;
}

export async function countBranchDeltas(store: Pick<Store, 'listBranchDeltas'>, branchIds: string[]): Promise<BranchDeltaCounts> {
  const counts: BranchDeltaCounts = { deltas: 0, changes: 0, gaps: 0, perBranch: {} };
  for (const id of branchIds) {
    const list = await store.listBranchDeltas(id);
    if (list.map((d) => d.seq).sort((a, b) => a - b).some((s, i) => s !== i + 1)) counts.gaps++;
    const changes = list.reduce((acc, d) => acc + d.changeCount, 0);
    counts.deltas += list.length;
    counts.changes += changes;
    counts.perBranch[id] = { deltas: list.length, changes };
  }
  return counts;
}

/** The stored change batches of these branches; delta_seq is null until a committed delta consumed the batch. */
export async function storedBranchBatches(databaseUrl: string, branchIds: string[]): Promise<Array<{ id: string; delta_seq: string | null; change_count: number }>> {
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ id: string; delta_seq: string | null; change_count: number }>(
      'select id::text as id, delta_seq::text as delta_seq, change_count from branch_change_batches where branch_id = any($1::uuid[])',
      [branchIds],
    );
    return rows;
  } finally {
    await pg.end();
  }
}
