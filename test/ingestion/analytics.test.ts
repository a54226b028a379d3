import { randomBytes } from 'node:crypto';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import type { DailyAnalyticsInput, DailyAnalyticsResult } from '../../workflows';
import { splitRange } from '../../workflows/ingestion/daily-analytics';
import type { TestDeps } from '../helpers/deps';
import { startIngestionHarness, type IngestionHarness } from '../helpers/ingestion';
import { runDurasyncSplit } from '../helpers/process';

jest.setTimeout(120_000);

/** dailyAnalytics on a real `ingestion` worker, database and Temporal server. */
describe('dailyAnalytics', () => {
  let harness: IngestionHarness;
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let taskQueue: string;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    harness = await startIngestionHarness();
    ({ env, deps, taskQueue, cliEnv } = harness);
  });

  afterAll(async () => {
    await harness?.close();
  });

  const run = (input: DailyAnalyticsInput, workflowId = `analytics:${'lastDays' in input ? `last${input.lastDays}` : `${input.from}:${input.to}`}:${randomBytes(3).toString('hex')}`) =>
    env.client.workflow.execute<(i: DailyAnalyticsInput) => Promise<DailyAnalyticsResult>>('dailyAnalytics', { workflowId, taskQueue, args: [input] });

  /** The whole daily_metrics table, updated_at included: a re-run that changes nothing leaves it equal. */
  async function snapshot(): Promise<unknown[]> {
    const pg = new PgClient({ connectionString: deps.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query(`select to_char(day, 'YYYY-MM-DD') as day, metric, dimension, value::float8 as value, updated_at from daily_metrics order by 1, 2, 3`);
      return rows as unknown[];
    } finally {
      await pg.end();
    }
  }

  const event = (source: string, externalId: string, type: string | null, at: string) =>
    deps.store.upsertEvent({ source, externalId, kind: type ? `${type}.x` : 'change', type, occurredAt: new Date(at) });

  it('splits ranges into chunks of 31 days and explains an invalid one', () => {
    expect(splitRange('2026-01-01', '2026-01-01')).toEqual([{ from: '2026-01-01', to: '2026-01-01' }]);
    expect(splitRange('2026-01-01', '2026-03-05')).toEqual([
      { from: '2026-01-01', to: '2026-01-31' },
      { from: '2026-02-01', to: '2026-03-03' },
      { from: '2026-03-04', to: '2026-03-05' },
    ]);
    expect(splitRange('2026-02-30', '2026-03-01')).toMatch(/^from: "2026-02-30" is not a date/);
    expect(splitRange('2026-03-02', '2026-03-01')).toBe('from 2026-03-02 is after to 2026-03-01');
  });

  it('aggregates events per day, source and type, changes nothing on a re-run, and counts an event added since', async () => {
    await event('github', 'g1', 'push', '2026-05-01T08:00:00Z');
    await event('github', 'g2', 'push', '2026-05-01T23:30:00Z');
    await event('github', 'g3', 'issues', '2026-05-01T12:00:00Z');
    await event('drive', 'd1', null, '2026-05-01T09:00:00Z');
    await event('drive', 'd2', null, '2026-05-02T09:00:00Z');
    await event('github', 'g4', 'issues', '2026-06-03T00:00:00Z'); // a later chunk
    await event('github', 'outside', 'push', '2026-06-04T00:00:00Z');

    const range = { from: '2026-05-01', to: '2026-06-03' };
    const first = await run(range);
    expect(first).toMatchObject({ from: range.from, to: range.to, days: 34, chunks: 2 });
    const metrics = await deps.store.listDailyMetrics(range);
    expect(metrics).toEqual([
      { day: '2026-05-01', metric: 'events', dimension: '', value: 4 },
      { day: '2026-05-01', metric: 'events', dimension: 'drive', value: 1 },
      { day: '2026-05-01', metric: 'events', dimension: 'github', value: 3 },
      { day: '2026-05-01', metric: 'events_by_type', dimension: 'drive:change', value: 1 },
      { day: '2026-05-01', metric: 'events_by_type', dimension: 'github:issues', value: 1 },
      { day: '2026-05-01', metric: 'events_by_type', dimension: 'github:push', value: 2 },
      { day: '2026-05-02', metric: 'events', dimension: '', value: 1 },
      { day: '2026-05-02', metric: 'events', dimension: 'drive', value: 1 },
      { day: '2026-05-02', metric: 'events_by_type', dimension: 'drive:change', value: 1 },
      { day: '2026-06-03', metric: 'events', dimension: '', value: 1 },
      { day: '2026-06-03', metric: 'events', dimension: 'github', value: 1 },
      { day: '2026-06-03', metric: 'events_by_type', dimension: 'github:issues', value: 1 },
    ]);
    expect(first.rows).toBe(metrics.length);

    const before = await snapshot();
    await run(range);
    expect(await snapshot()).toEqual(before);

    await event('drive', 'd3', 'comment', '2026-05-02T10:00:00Z');
    await run(range);
    const after = await deps.store.listDailyMetrics({ from: '2026-05-02', to: '2026-05-02' });
    expect(after).toEqual([
      { day: '2026-05-02', metric: 'events', dimension: '', value: 2 },
      { day: '2026-05-02', metric: 'events', dimension: 'drive', value: 2 },
      { day: '2026-05-02', metric: 'events_by_type', dimension: 'drive:change', value: 1 },
      { day: '2026-05-02', metric: 'events_by_type', dimension: 'drive:comment', value: 1 },
    ]);
    expect(await deps.store.listDailyMetrics({ from: '2026-06-04', to: '2026-06-04' })).toEqual([]);
  });

  it('answers progress and marks itself DurasyncKind=analytics, with a summary on each activity', async () => {
    const workflowId = `analytics:2026-01-01:2026-02-15:${randomBytes(3).toString('hex')}`;
    await run({ from: '2026-01-01', to: '2026-02-15' }, workflowId);
    const handle = env.client.workflow.getHandle(workflowId);
    expect((await handle.describe()).searchAttributes).toMatchObject({ DurasyncKind: ['analytics'] });
    expect(await handle.query('progress')).toMatchObject({ stage: 'done', done: 2, total: 2 });
    const summaries = (await handle.fetchHistory()).events
      ?.filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => e.userMetadata?.summary?.data && Buffer.from(e.userMetadata.summary.data).toString());
    expect(summaries).toEqual(['"aggregate daily metrics 2026-01-01..2026-01-31 (1/2)"', '"aggregate daily metrics 2026-02-01..2026-02-15 (2/2)"']);
  });

  it('fails an invalid range at once with a non-retryable InvalidRange', async () => {
    for (const input of [{ from: '2026-03-02', to: '2026-03-01' }, { from: '2026-13-01', to: '2026-12-01' }]) {
      const failure = await run(input).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'InvalidRange', nonRetryable: true });
      expect((cause as ApplicationFailure).message).toMatch(/^invalid range: [^\n]+$/);
    }
  });

  it('backfills with the CLI, --wait printing a one-line summary; a bad range is bad usage', async () => {
    const done = await runDurasyncSplit(['analytics', 'backfill', '--from', '2026-05-01', '--to', '2026-05-02', '--wait'], cliEnv);
    expect(done.code).toBe(0);
    expect(done.stdout.trim().split('\n')).toEqual(['aggregated 2026-05-01..2026-05-02: 2 day(s), 1 chunk(s), 10 metric row(s)']);
    const status = await env.client.workflow.getHandle('analytics:2026-05-01:2026-05-02').describe();
    expect(status.status.name).toBe('COMPLETED');

    const bad = await runDurasyncSplit(['analytics', 'backfill', '--from', '2026-05-03', '--to', '2026-05-02'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid range: from 2026-05-03 is after to 2026-05-02');
  });
});
