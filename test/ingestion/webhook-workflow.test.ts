import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { createDurasyncClient, type DurasyncClient } from '../../client';
import type { LocalObjectStore } from '../../lib/objects';
import type { WebhookEventInput, WebhookEventResult } from '../../workflows';
import type { TestDeps } from '../helpers/deps';
import { startIngestionHarness, type IngestionHarness } from '../helpers/ingestion';
import { runDurasyncSplit } from '../helpers/process';

jest.setTimeout(120_000);

/** processWebhookEvent on a real `ingestion` worker, database, object store and Temporal server. */
describe('processWebhookEvent', () => {
  let harness: IngestionHarness;
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let objects: LocalObjectStore;
  let client: DurasyncClient;
  let taskQueue: string;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    harness = await startIngestionHarness({ objects: true });
    ({ env, deps, taskQueue, cliEnv } = harness);
    objects = harness.objects!;
    client = await createDurasyncClient({ config: harness.config, connection: env.connection });
  });

  afterAll(async () => {
    await client?.close();
    await harness?.close();
  });

  const delivery = (event: string, payload: unknown, extra: Partial<WebhookEventInput> = {}): WebhookEventInput => ({
    source: 'github',
    deliveryId: `d-${randomBytes(6).toString('hex')}`,
    event,
    payload,
    receivedAt: '2026-11-22T10:00:00.000Z',
    ...extra,
  });
  const run = (input: WebhookEventInput) =>
    env.client.workflow.execute<(i: WebhookEventInput) => Promise<WebhookEventResult>>('processWebhookEvent', {
      workflowId: `webhook:${input.source}:${input.deliveryId}`,
      taskQueue,
      args: [input],
    });
  const fast = { maximumAttempts: 2, initialInterval: '50ms', maximumInterval: '100ms' } as const;

  it('stores a delivery once when it arrives twice, with its keywords and actor, and is searchable', async () => {
    await deps.store.setTrackedKeyword('regression');
    const input = delivery('pull_request', {
      action: 'opened',
      repository: { full_name: 'acme/app' },
      sender: { id: 7, login: 'ann' },
      pull_request: { number: 12, title: 'Fix the Regression in sync', body: 'regression, not regressions', updated_at: '2026-11-22T09:00:00Z' },
    });
    const first = await run(input);
    expect(first).toMatchObject({ workflowId: `webhook:github:${input.deliveryId}`, kind: 'pull_request.opened', created: true, keywords: [{ keyword: 'regression', occurrences: 2 }] });
    expect(first.identityId).toEqual(expect.any(String));

    const second = await run(input);
    expect(second).toMatchObject({ eventId: first.eventId, created: false });
    expect(await client.events.count({ source: 'github' })).toBe(1);
    const stored = await client.events.show('github', input.deliveryId);
    expect(stored).toMatchObject({ id: first.eventId, repository: 'acme/app', title: 'PR #12: Fix the Regression in sync', actorIdentityId: first.identityId, payloadRef: null });
    expect((await client.events.search('regression')).map((hit) => hit.event.id)).toEqual([first.eventId]);

    const handle = env.client.workflow.getHandle(first.workflowId);
    const description = await handle.describe();
    expect(description.searchAttributes).toMatchObject({ DurasyncKind: ['webhook'], DurasyncSource: ['github'], DurasyncStatus: ['duplicate'] });
    expect(await handle.query('progress')).toMatchObject({ stage: 'done' });
    if (process.env.DURASYNC_RECORD_HISTORIES) {
      await writeFile(path.join(__dirname, '..', 'histories', 'process-webhook-event-local.json'), historyToJSON(await handle.fetchHistory()));
    }
  });

  it('dead-letters a malformed payload object without retrying, and dlq retry stores it once the object is fixed', async () => {
    const payloadRef = `webhooks/github/${randomBytes(4).toString('hex')}.json`;
    await objects.put(payloadRef, Buffer.from(JSON.stringify({ ref: 42, repository: { full_name: 'acme/app' } })));
    const input = delivery('push', undefined, { payloadRef, retry: fast });
    delete input.payload;

    const failure = await run(input).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The steps are local activities: their failure is the workflow's cause as it was thrown.
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'InvalidEvent', nonRetryable: true });

    const [letter, ...others] = await client.dlq.list({ source: 'webhook:github' });
    expect(others.filter((d) => d.ref === input.deliveryId)).toEqual([]);
    expect(letter).toMatchObject({ ref: input.deliveryId, errorType: 'InvalidEvent', attempts: 1, workflowId: `webhook:github:${input.deliveryId}`, resolvedAt: null });
    expect(letter?.details).toMatchObject({ input: { source: 'github', deliveryId: input.deliveryId, event: 'push', payloadRef } });

    const stillBroken = await runDurasyncSplit(['dlq', 'retry', letter!.id], cliEnv);
    expect(stillBroken.code).toBe(4);
    await objects.put(payloadRef, Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/app' }, commits: [{ message: 'one' }] })));
    const retried = await runDurasyncSplit(['--json', 'dlq', 'retry', letter!.id], cliEnv);
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({ deadLetter: { id: letter!.id }, result: { kind: 'push', created: true } });
    expect((await client.dlq.list({ all: true })).find((d) => d.id === letter!.id)?.resolvedAt).toEqual(expect.any(Date));
    expect((await client.dlq.list()).find((d) => d.id === letter!.id)).toBeUndefined();
    expect(await client.events.show('github', input.deliveryId)).toMatchObject({ title: '1 commit pushed to main', payloadRef, payload: {} });
  });

  it('dead-letters a database failure after its last retry, keeps the inline payload, and retries it once the database is fixed', async () => {
    const pg = new PgClient({ connectionString: deps.db.url });
    await pg.connect();
    let broken = false;
    try {
      await pg.query('alter function record_event_keywords(uuid) rename to record_event_keywords_broken');
      broken = true;
      const input = delivery('issues', { action: 'opened', repository: { full_name: 'acme/app' }, issue: { number: 5, title: 'Slow' } }, { retry: fast });
      await expect(run(input)).rejects.toBeInstanceOf(WorkflowFailedError);
      const letter = (await client.dlq.list()).find((d) => d.ref === input.deliveryId);
      expect(letter).toMatchObject({ source: 'webhook:github', attempts: 2 });
      expect(letter?.errorType).not.toBe('InvalidEvent');
      expect(letter?.details).toMatchObject({ inlinePayload: true, input: { payloadRef: `dead-letters/webhook/github/${input.deliveryId}.json` } });

      await pg.query('alter function record_event_keywords_broken(uuid) rename to record_event_keywords');
      broken = false;
      const outcomes = await client.dlq.retryAll();
      expect(outcomes).toContainEqual({ deadLetterId: letter!.id, ok: true });
      expect(await client.events.show('github', input.deliveryId)).toMatchObject({ kind: 'issues.opened', title: 'Issue #5: Slow' });

      const count = await runDurasyncSplit(['--json', 'events', 'count', '--source', 'github'], cliEnv);
      expect(JSON.parse(count.stdout)).toEqual({ count: await deps.store.countEvents('github'), source: 'github' });
      const list = await runDurasyncSplit(['dlq', 'list', '--all'], cliEnv);
      expect(list.stdout).toContain(letter!.id);
      const missing = await runDurasyncSplit(['dlq', 'retry', '00000000-0000-0000-0000-000000000000'], cliEnv);
      expect(missing.code).toBe(3);
    } finally {
      // Leave the database as the next test expects it, even when an assertion failed.
      if (broken) await pg.query('alter function record_event_keywords_broken(uuid) rename to record_event_keywords');
      await pg.end();
    }
  });

  it('stores deliveries that arrive out of order once each, dated by the event, not the arrival, and marks them processed', async () => {
    const issue = (updated: string) => ({ id: 4242, number: 42, title: 'Out of order', updated_at: updated });
    const base = { repository: { full_name: 'acme/order' }, sender: { id: 9, login: 'cy' } };
    // GitHub's redelivery or a slow path: the close arrives first, then the open, then the close again.
    const closed = delivery('issues', { ...base, action: 'closed', issue: issue('2026-11-21T12:00:00Z') });
    const opened = delivery('issues', { ...base, action: 'opened', issue: issue('2026-11-21T09:00:00Z') });
    const closedAgain = { ...closed, deliveryId: `${closed.deliveryId}-redelivered` };
    const results = [await run(closed), await run(opened), await run(closedAgain)];
    expect(results.map((r) => [r.kind, r.created])).toEqual([['issues.closed', true], ['issues.opened', true], ['issues.closed', false]]);
    expect(results[2]!.eventId).toBe(results[0]!.eventId);
    expect(new Set(results.map((r) => r.identityId)).size).toBe(1);
    const pg = new PgClient({ connectionString: deps.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ kind: string; occurred_at: Date; processed: boolean }>(
        `select kind, occurred_at, processed_at is not null as processed from events where repository = 'acme/order' order by occurred_at`,
      );
      expect(rows.map((r) => [r.kind, r.occurred_at.toISOString(), r.processed])).toEqual([
        ['issues.opened', '2026-11-21T09:00:00.000Z', true],
        ['issues.closed', '2026-11-21T12:00:00.000Z', true],
      ]);
    } finally {
      await pg.end();
    }
  });
});
