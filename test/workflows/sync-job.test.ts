import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createJobActivities, type JobActivityDeps } from '../../activities/jobs';
import type { FinishSyncJobInput, SyncJob } from '../../lib/db/store';
import type { syncJob } from '../../workflows/sync-job';
import { createTimeSkippingEnv, uniqueTaskQueue } from '../helpers/temporal';

const EventType = temporal.api.enums.v1.EventType;

/**
 * The syncJob workflow's `sync` kind on the time-skipping test server: a job never overlaps a run
 * of its link (`sync:<linkId>`): it waits 30 s at a time until that run is over, then runs its own.
 * syncLink is a stand-in (test/fixtures/sync-job-busy-link); the rows live in memory.
 */
describe('syncJob workflow, sync kind', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    [env, bundle] = await Promise.all([
      createTimeSkippingEnv(),
      bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/sync-job-busy-link'), logger: new DefaultLogger('WARN') }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await env?.teardown();
  });

  function memoryJobs(jobs: SyncJob[]): JobActivityDeps['store'] & { rows: Map<string, SyncJob> } {
    const rows = new Map(jobs.map((j) => [j.id, j]));
    return {
      rows,
      getSyncJob: (id: string) => Promise.resolve(rows.get(id) ?? null),
      finishSyncJob: (input: FinishSyncJobInput) => {
        const job = rows.get(input.id)!;
        const done: SyncJob = { ...job, status: input.status, result: input.result ?? null, lastError: input.status === 'failed' ? (input.error ?? null) : null, finishedAt: new Date() };
        rows.set(job.id, done);
        return Promise.resolve(done);
      },
    };
  }

  function row(kind: string, linkId: string | null, payload: SyncJob['payload']): SyncJob {
    const now = new Date();
    return { id: randomUUID(), dedupKey: randomUUID(), kind, linkId, payload, status: 'running', priority: 0, runAfter: now, attempts: 1, claimedBy: 'bridge', claimedAt: now, finishedAt: null, result: null, lastError: null, createdAt: now, updatedAt: now };
  }

  it('waits for a running sync:<linkId> and then runs its own syncLink with the payload direction', async () => {
    const taskQueue = uniqueTaskQueue('sync-job');
    const linkId = randomUUID();
    const job = row('sync', linkId, { direction: 'drive_to_github' });
    const bad = row('sync', randomUUID(), { direction: 'sideways' });
    const store = memoryJobs([job, bad]);
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createJobActivities({ store }) });

    await worker.runUntil(async () => {
      // A scheduled run of the link, busy for 2 minutes of workflow time.
      const scheduled = await env.client.workflow.start('syncLink', { workflowId: `sync:${linkId}`, taskQueue, args: [{ linkId, holdMs: 120_000 }] });
      const result = await env.client.workflow.execute<typeof syncJob>('syncJob', { workflowId: `job:${job.id}`, taskQueue, args: [{ jobId: job.id }] });
      const first = (await scheduled.result()) as { startedAt: number; runId: string };

      expect(result).toEqual({ jobId: job.id, kind: 'sync', status: 'succeeded' });
      const stored = store.rows.get(job.id)!;
      expect(stored.status).toBe('succeeded');
      const own = stored.result as { linkId: string; direction: string; startedAt: number; runId: string };
      expect(own).toMatchObject({ linkId, direction: 'drive_to_github' });
      expect(own.runId).not.toBe(first.runId);
      expect(own.startedAt).toBeGreaterThanOrEqual(first.startedAt + 120_000);

      const history = await env.client.workflow.getHandle(`job:${job.id}`).fetchHistory();
      const count = (type: temporal.api.enums.v1.EventType) => (history.events ?? []).filter((e) => e.eventType === type).length;
      // Refused while the scheduled run went on, a 30 s timer each time, then started.
      expect(count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED)).toBeGreaterThanOrEqual(1);
      expect(count(EventType.EVENT_TYPE_TIMER_STARTED)).toBe(count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED));
      expect(count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)).toBe(1);

      const refused = await env.client.workflow.execute<typeof syncJob>('syncJob', { workflowId: `job:${bad.id}`, taskQueue, args: [{ jobId: bad.id }] });
      expect(refused).toMatchObject({ status: 'failed', error: 'direction must be one of drive_to_github, github_to_drive, both' });
      expect(store.rows.get(bad.id)).toMatchObject({ status: 'failed', lastError: 'direction must be one of drive_to_github, github_to_drive, both' });
    });
  });
});
