import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { createStore, type Branch, type BranchDelta, type CreateBranchInput, type Store } from '../lib/db/store';
import { createChangeIntake, type AcceptResult, type ChangeIntake } from '../lib/branches/intake';
import { materializeBranch } from '../lib/branches/materialize';
import { createLogger, type Logger } from '../lib/logger';
import { createObjectStore, type ObjectStore } from '../lib/objects';
import { taskQueueName } from '../lib/queues';
import type { BranchDeltasInput, CleanupBranchResult } from '../workflows/branches/branch-deltas';
import type { BranchStats, Change } from '../workflows/branches/types';
import { toDurasyncError } from './errors';

/**
 * The `branches` namespace of the client SDK: branches (Postgres), their changes (through the
 * ChangeIntake: one durable batch per push, the branch's workflow signalled in batches) and their
 * entity workflow `branch:<branchId>` on the `branch-delta` queue (flush update, stats query).
 * Needs a database (DATABASE_URL or SUPABASE_URL); materialize() also reads object storage.
 */

export type { AcceptResult } from '../lib/branches/intake';
export type { BranchStats, Change } from '../workflows/branches/types';

type BranchDeltasWorkflow = (input: BranchDeltasInput) => Promise<BranchStats>;

/** The workflow id of a branch's entity workflow. */
export const branchWorkflowId = (branchId: string): string => `branch:${branchId}`;

export interface BranchDetails {
  branch: Branch;
  deltas: BranchDelta[];
  /** Totals over the deltas: changes, stored (compressed) bytes, raw bytes, raw/stored ratio. */
  changes: number;
  storedBytes: number;
  rawBytes: number;
  ratio: number | null;
}

export interface MaterializedBranch {
  seq: number;
  documents: Map<string, unknown>;
  checksum: string;
}

export interface BranchesApi {
  /** Creates a branch (idempotent on the name), optionally from a parent at a seq (default: its head). */
  create(input: CreateBranchInput): Promise<{ branch: Branch; created: boolean }>;
  list(): Promise<Branch[]>;
  /** The branch, its deltas and their totals; null for an unknown id. */
  show(branchId: string): Promise<BranchDetails | null>;
  /** Appends changes (array or NDJSON) as one durable batch; the workflow is signalled by the intake's thresholds, or on close(). */
  pushChanges(branchId: string, changes: Change[] | string): Promise<AcceptResult>;
  /** Processes everything pending now (the `flush` update, starting the workflow if needed); returns the durable head seq. */
  flush(branchId: string): Promise<number>;
  /** The `stats` query of the branch's workflow. */
  stats(branchId: string): Promise<BranchStats>;
  /** The branch's documents at `seq` (default: its head). */
  materialize(branchId: string, seq?: number): Promise<MaterializedBranch>;
  /**
   * Archives a branch: what is pending is flushed into deltas first, then the branch takes no more
   * changes and its workflow (`branch:<id>`) is cancelled. Returns the archived branch.
   */
  archive(branchId: string): Promise<Branch>;
  /** Runs `cleanupBranch` (workflow id `branch-cleanup:<id>`): an archived branch's objects, then its rows, are deleted. */
  cleanup(branchId: string): Promise<CleanupBranchResult>;
  /** Flushes the intake and closes what was opened. */
  close(): Promise<void>;
}

export function branchesApi(client: Client, config: DurasyncConfig, options: { logger?: Logger } = {}): BranchesApi {
  const logger = options.logger ?? createLogger({ level: 'warn' });
  const taskQueue = taskQueueName('branch-delta', config.temporal.taskQueuePrefix);
  let store: Store | undefined;
  let objects: ObjectStore | undefined;
  let intake: ChangeIntake | undefined;
  const db = (): Store => (store ??= createStore({ databaseUrl: config.database.url, supabase: config.database.supabase, logger, poolMax: 2 }));
  const objectStore = (): ObjectStore => (objects ??= createObjectStore(config));
  const changeIntake = (): ChangeIntake => (intake ??= createChangeIntake({ store: db(), client, config, logger }));

  return {
    create: (input) => db().createBranch(input),
    list: () => db().listBranches(),
    async show(branchId) {
      const branch = await db().getBranch(branchId);
      if (!branch) return null;
      const deltas = await db().listBranchDeltas(branchId);
      const changes = deltas.reduce((n, d) => n + d.changeCount, 0);
      const storedBytes = deltas.reduce((n, d) => n + d.byteSize, 0);
      const rawBytes = deltas.reduce((n, d) => n + (d.rawBytes ?? 0), 0);
      return { branch, deltas, changes, storedBytes, rawBytes, ratio: storedBytes > 0 && rawBytes > 0 ? rawBytes / storedBytes : null };
    },
    pushChanges: (branchId, changes) => changeIntake().accept(branchId, changes),
    async flush(branchId) {
      const workflowId = branchWorkflowId(branchId);
      try {
        await intake?.flush(branchId);
        const start = new WithStartWorkflowOperation<BranchDeltasWorkflow>('branchDeltas', {
          workflowId,
          taskQueue,
          args: [{ branchId, ...(config.branches.compactEvery > 0 ? { compactEvery: config.branches.compactEvery } : {}) }],
          staticSummary: `deltas of branch ${branchId}`,
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        return await client.workflow.executeUpdateWithStart<BranchDeltasWorkflow, number, []>('flush', { startWorkflowOperation: start });
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async stats(branchId) {
      const workflowId = branchWorkflowId(branchId);
      try {
        return await client.workflow.getHandle(workflowId).query<BranchStats>('stats');
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async materialize(branchId, seq) {
      const state = await materializeBranch({ store: db(), objects: objectStore() }, branchId, seq);
      return { seq: state.seq, documents: state.documents, checksum: state.checksum };
    },
    async archive(branchId) {
      if (!(await db().getBranch(branchId))?.archivedAt) await this.flush(branchId);
      const branch = await db().archiveBranch(branchId);
      try {
        await client.workflow.getHandle(branchWorkflowId(branchId)).cancel();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw toDurasyncError(err, branchWorkflowId(branchId));
      }
      return branch;
    },
    async cleanup(branchId) {
      const workflowId = `branch-cleanup:${branchId}`;
      try {
        return await client.workflow.execute<(input: { branchId: string }) => Promise<CleanupBranchResult>>('cleanupBranch', { workflowId, taskQueue, args: [{ branchId }], workflowIdReusePolicy: 'ALLOW_DUPLICATE', staticSummary: `cleanup of archived branch ${branchId}` });
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async close() {
      try {
        await intake?.close();
      } finally {
        await objects?.close();
        await store?.close();
      }
    },
  };
}
