import { patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { progressQuery, type Progress } from './progress';
import type { OpsActivities, ProbeResult } from '../activities/ops';
import { DurasyncKind, DurasyncStatus } from './search-attributes';

const { probeDependencies } = proxyActivities<OpsActivities>({
  // A probe takes milliseconds; a held one (holdMs) heartbeats every second, so a worker that dies
  // under it is noticed after the heartbeat timeout and the probe is retried on another worker.
  startToCloseTimeout: '1h',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  summary: 'probe database and cache from a worker of this queue',
});

export interface CanaryInput {
  /** Hold the probe activity this long (heartbeating), e.g. to watch a drain or a failover. Default: 0. */
  holdMs?: number;
}

export interface CanaryResult extends ProbeResult {
  /** `ok` when every dependency answered, else `degraded`. */
  status: 'ok' | 'degraded';
  /** The queue the workflow ran on (the activity ran on the same one). */
  workflowTaskQueue: string;
}

/**
 * The canary: a workflow and an activity on one queue, started with `durasync canary --queue Q`.
 * Completing proves that the queue has workers polling for workflow and activity tasks and that they
 * reach the database and the cache. It sets DurasyncStatus to `ok` or `degraded` for the Web UI.
 */
export async function canary(input: CanaryInput = {}): Promise<CanaryResult> {
  let progress: Progress = { stage: 'probing', message: 'probing the database and cache from a worker of this queue' };
  setHandler(progressQuery, () => progress);
  setCurrentDetails(progress.message!);
  // Added after canaries were already running: `patched` keeps histories recorded before the change
  // replaying (test/histories/canary-ok.json), while new runs label themselves even when their
  // starter did not (`durasync start canary`).
  if (patched('canary-sets-kind')) upsertSearchAttributes([{ key: DurasyncKind, value: 'canary' }]);
  const probe = await probeDependencies(input.holdMs ? { holdMs: input.holdMs } : {});
  const status = probe.database.ok && probe.cache.ok ? 'ok' : 'degraded';
  upsertSearchAttributes([{ key: DurasyncStatus, value: status }]);
  progress = { stage: 'done', message: status };
  setCurrentDetails(
    [
      `**${status}** on \`${probe.taskQueue}\` (worker pid ${probe.worker.pid} on ${probe.worker.hostname})`,
      `- database (${probe.database.kind}): ${probe.database.ok ? `${probe.database.ms} ms` : probe.database.error ?? 'failed'}`,
      `- cache (${probe.cache.kind}): ${probe.cache.ok ? `${probe.cache.ms} ms` : probe.cache.error ?? 'failed'}`,
    ].join('\n'),
  );
  return { ...probe, status, workflowTaskQueue: workflowInfo().taskQueue };
}
