import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createChangeIntake, type ChangeIntake } from '../../lib/branches/intake';
import { materializeBranch } from '../../lib/branches/materialize';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import type { CommitBranchDeltaInput, CommitBranchDeltaResult, Store } from '../../lib/db/store';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { LocalObjectStore, type ObjectStore } from '../../lib/objects';
import { createQueueWorker } from '../../workers/process';
import type { BranchDeltasInput, BranchStats, Change } from '../../workflows';
import { openTestDeps, type TestDeps } from './deps';
import { connectTestEnv, testWorkflowBundle } from './temporal';

/**
 * A `branch-delta` worker in the test process on the run's Temporal dev server, with the suite's
 * own database, a temporary object folder, a unique task queue prefix and a ChangeIntake. The
 * store the worker sees can be given hooks around commitBranchDelta (to kill the worker between
 * storeDelta and commitDelta, or lose a commit's answer).
 */
export interface BranchHarness {
  env: TestWorkflowEnvironment;
  config: DurasyncConfig;
  deps: TestDeps;
  store: Store;
  objects: ObjectStore;
  intake: ChangeIntake;
  taskQueue: string;
  hooks: {
    beforeCommit?: (input: CommitBranchDeltaInput) => Promise<void> | void;
    afterCommit?: (input: CommitBranchDeltaInput, result: CommitBranchDeltaResult) => Promise<void> | void;
  };
  /** Environment for a `durasync` CLI child using this harness's database, objects and queues. */
  cliEnv(): Record<string, string>;
  createBranch(name?: string): Promise<string>;
  /** Starts `branchDeltas` (id `branch:<id>`) if it is not running, with these options. */
  startBranchWorkflow(input: BranchDeltasInput): Promise<void>;
  flush(branchId: string): Promise<number>;
  stats(branchId: string): Promise<BranchStats>;
  materialize(branchId: string, seq?: number): Promise<{ seq: number; documents: Map<string, Record<string, unknown>>; checksum: string }>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export async function startBranchHarness(options: { env?: Record<string, string> } = {}): Promise<BranchHarness> {
  const env = await connectTestEnv();
  const deps = await openTestDeps();
  const objectsDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-objects-'));
  const prefix = `b${randomBytes(4).toString('hex')}-`;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: deps.db.url,
    DURASYNC_TASK_QUEUE_PREFIX: prefix,
    DURASYNC_SHUTDOWN_GRACE: '1s',
    DURASYNC_OBJECTS_DIR: objectsDir,
    ...options.env,
  });
  const objects = new LocalObjectStore(objectsDir);
  const logger = createLogger({ level: 'silent' });
  const hooks: BranchHarness['hooks'] = {};
  const real = deps.store;
  const store = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'commitBranchDelta') {
        return async (input: CommitBranchDeltaInput) => {
          await hooks.beforeCommit?.(input);
          const result = await target.commitBranchDelta(input);
          await hooks.afterCommit?.(input, result);
          return result;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const intake = createChangeIntake({ store: real, client: env.client, config, logger });
  const taskQueue = `${prefix}branch-delta`;
  let running: { worker: Worker; done: Promise<void> } | undefined;
  const workflowId = (branchId: string) => `branch:${branchId}`;

  const harness: BranchHarness = {
    env,
    config,
    deps,
    store: real,
    objects,
    intake,
    taskQueue,
    hooks,
    cliEnv: () => ({
      DATABASE_URL: deps.db.url,
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_OBJECTS_DIR: objectsDir,
      DURASYNC_LOG_LEVEL: 'warn',
    }),
    async createBranch(name = `branch-${randomBytes(4).toString('hex')}`) {
      return (await real.createBranch({ name })).branch.id;
    },
    async startBranchWorkflow(input) {
      await env.client.workflow.start('branchDeltas', { workflowId: workflowId(input.branchId), taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' });
    },
    async flush(branchId) {
      await intake.flush(branchId);
      const start = new WithStartWorkflowOperation('branchDeltas', { workflowId: workflowId(branchId), taskQueue, args: [{ branchId }], workflowIdConflictPolicy: 'USE_EXISTING' });
      return env.client.workflow.executeUpdateWithStart<Workflow, number, []>('flush', { startWorkflowOperation: start });
    },
    stats: (branchId) => env.client.workflow.getHandle(workflowId(branchId)).query<BranchStats>('stats'),
    materialize: (branchId, seq) => materializeBranch({ store: real, objects }, branchId, seq),
    async startWorker() {
      const worker = await createQueueWorker({
        connection: env.nativeConnection,
        config,
        queue: 'branch-delta',
        bundle: testWorkflowBundle(),
        metrics: createMetrics(),
        deps: { store, cache: deps.cache, logger, objects },
      });
      running = { worker, done: worker.run() };
    },
    async stopWorker() {
      if (!running) return;
      if (running.worker.getState() === 'RUNNING') running.worker.shutdown();
      await running.done;
      running = undefined;
    },
    async close() {
      await intake.close().catch(() => undefined);
      await harness.stopWorker();
      await objects.close();
      await deps.close();
      await env.teardown();
      await rm(objectsDir, { recursive: true, force: true });
    },
  };
  await harness.startWorker();
  return harness;
}

/** The source state, computed independently of lib/branches/materialize.ts. */
export function applyReference(state: Map<string, Record<string, unknown>>, change: Change): void {
  const key = `${change.collection}/${change.documentId}`;
  if (change.op === 'delete') {
    state.delete(key);
  } else if (change.op === 'insert' || change.after) {
    state.set(key, { ...change.after });
  } else {
    const next: Record<string, unknown> = { ...state.get(key) };
    for (const [k, v] of Object.entries(change.patch ?? {})) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    state.set(key, next);
  }
}

let tick = Date.UTC(2026, 0, 1);
/** A change of `doc` in collection `c`: insert/update with `{ n, by }` or delete. */
export function change(documentId: string, op: Change['op'], fields: Record<string, unknown> = {}, collection = 'notes'): Change {
  const ts = new Date((tick += 1000)).toISOString();
  if (op === 'delete') return { collection, documentId, op, ts };
  if (op === 'update' && !('whole' in fields)) return { collection, documentId, op, patch: fields, ts };
  return { collection, documentId, op, after: fields, ts };
}
