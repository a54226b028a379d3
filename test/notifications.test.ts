import { createHmac, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { notificationBody, signBody } from '../activities/notifications';
import type { NotificationEvent, Store } from '../lib/db/store';
import type { DeliverNotificationsResult, WebhookEventInput, WebhookEventResult } from '../workflows';
import { startBranchHarness, change } from './helpers/branches';
import type { TestDeps } from './helpers/deps';
import { startIngestionHarness, type IngestionHarness } from './helpers/ingestion';
import { runDurasyncSplit } from './helpers/process';
import { startSyncHarness } from './helpers/sync';

jest.setTimeout(120_000);

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A local receiver: records every POST; `answer` decides the status per path (default 200). */
async function startReceiver(answer: (path: string, count: number) => Promise<number> | number = () => 200) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const p = req.url ?? '/';
      received.push({ path: p, headers: req.headers, body, at: Date.now() });
      void Promise.resolve(answer(p, received.filter((r) => r.path === p).length)).then((status) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A history as text with every payload decoded (history JSON holds payload data base64-encoded). */
function readable(historyJson: string): string {
  const decoded: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (key === 'data' && typeof v === 'string') decoded.push(Buffer.from(v, 'base64').toString('utf8'));
        else walk(v);
      }
    }
  };
  walk(JSON.parse(historyJson));
  return `${historyJson}\n${decoded.join('\n')}`;
}

const verified = (r: Received, secret: string) => r.headers['x-durasync-signature-256'] === `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;

async function subscribe(store: Store, url: string, events: NotificationEvent[], format: 'json' | 'slack' = 'json') {
  const secret = randomBytes(24).toString('hex');
  const subscription = await store.createNotificationSubscription({ url, events, format, secret });
  return { id: subscription.id, secret };
}

describe('notification bodies', () => {
  it('builds a Slack body with text and blocks, and signs the exact bytes sent', () => {
    const input = { event: 'branch.delta_committed' as const, eventId: 'b1:3', occurredAt: '2026-11-22T10:00:00.000Z', data: { branchId: 'b1', seq: 3, changes: 12 } };
    const slack = JSON.parse(notificationBody('slack', input)) as { text: string; blocks: Array<{ type: string }> };
    expect(slack.text).toBe('Branch b1 committed delta 3 (12 change(s))');
    expect(slack.blocks.map((b) => b.type)).toEqual(['section', 'section', 'context']);
    const json = notificationBody('json', input);
    expect(JSON.parse(json)).toEqual({ id: 'b1:3', event: 'branch.delta_committed', occurredAt: input.occurredAt, text: slack.text, data: input.data });
    expect(signBody('k'.repeat(16), json)).toBe(`sha256=${createHmac('sha256', 'k'.repeat(16)).update(json).digest('hex')}`);
  });
});

/** Dead letters on a real `ingestion` worker: the child deliverNotifications runs on the same queue. */
describe('dead-letter notifications', () => {
  let harness: IngestionHarness;
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let taskQueue: string;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    harness = await startIngestionHarness({ objects: true });
    ({ env, deps, taskQueue, cliEnv } = harness);
  });

  afterEach(async () => {
    for (const s of await deps.store.listNotificationSubscriptions()) await deps.store.deleteNotificationSubscription(s.id);
  });

  afterAll(async () => {
    await harness?.close();
  });

  /** A push whose `ref` is not a string: InvalidEvent at once, then the dead letter. */
  async function deadLetter(): Promise<{ input: WebhookEventInput; runId: string; childId: string; deadLetterId: string; failedAfterMs: number }> {
    const input: WebhookEventInput = {
      source: 'github',
      deliveryId: `d-${randomBytes(6).toString('hex')}`,
      event: 'push',
      payload: { ref: 42, repository: { full_name: 'acme/app' } },
      receivedAt: '2026-11-22T10:00:00.000Z',
      retry: { maximumAttempts: 1 },
    };
    const started = Date.now();
    const handle = await env.client.workflow.start<(i: WebhookEventInput) => Promise<WebhookEventResult>>('processWebhookEvent', {
      workflowId: `webhook:${input.source}:${input.deliveryId}`,
      taskQueue,
      args: [input],
    });
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const failedAfterMs = Date.now() - started;
    const letter = (await deps.store.listDeadLetters({ source: 'webhook:github' })).find((d) => d.ref === input.deliveryId);
    expect(letter).toBeDefined();
    const runId = handle.firstExecutionRunId;
    return { input, runId, deadLetterId: letter!.id, childId: `notify:dead_letter:${letter!.id}:${runId}`, failedAfterMs };
  }

  it('announces a dead-lettered webhook with exactly one signed delivery, and keeps the secret and URL out of history', async () => {
    const receiver = await startReceiver();
    try {
      const sub = await subscribe(deps.store, `${receiver.url}/hook`, ['dead_letter']);
      const other = await subscribe(deps.store, `${receiver.url}/other`, ['sync.finished']);
      const { input, childId, deadLetterId } = await deadLetter();
      const result = await env.client.workflow.getHandle(childId).result() as DeliverNotificationsResult;
      expect(result).toMatchObject({ event: 'dead_letter', subscriptions: 1, delivered: 1, failed: 0 });

      expect(receiver.received).toHaveLength(1);
      const [got] = receiver.received;
      expect(got!.path).toBe('/hook');
      expect(verified(got!, sub.secret)).toBe(true);
      expect(verified(got!, other.secret)).toBe(false);
      expect(got!.headers['x-durasync-event']).toBe('dead_letter');
      expect(got!.headers['x-durasync-delivery']).toBe(childId.slice('notify:dead_letter:'.length));
      expect(JSON.parse(got!.body)).toMatchObject({ event: 'dead_letter', data: { deadLetterId, source: 'webhook:github', ref: input.deliveryId, errorType: 'InvalidEvent', attempts: 1 } });
      expect(got!.body).not.toContain('acme/app'); // ids and counts, never the payload

      const [delivery, ...more] = await deps.store.listNotificationDeliveries({ subscriptionId: sub.id });
      expect(more).toEqual([]);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200, event: 'dead_letter' });

      const parent = historyToJSON(await env.client.workflow.getHandle(`webhook:github:${input.deliveryId}`).fetchHistory());
      const child = historyToJSON(await env.client.workflow.getHandle(childId).fetchHistory());
      expect(readable(parent)).toContain('notify-dead-letter'); // the patch marker: payloads are decoded
      expect(readable(child)).toContain(deadLetterId);
      for (const history of [parent, child].map(readable)) {
        expect(history).not.toContain(sub.secret);
        expect(history).not.toContain(receiver.url);
      }
      if (process.env.DURASYNC_RECORD_HISTORIES) {
        await writeFile(path.join(__dirname, 'histories', 'process-webhook-event-notify.json'), parent);
        await writeFile(path.join(__dirname, 'histories', 'deliver-notifications.json'), child);
      }
    } finally {
      await receiver.close();
    }
  });

  it('retries a receiver answering 500 twice, then 200, and logs the delivery with 3 attempts', async () => {
    const receiver = await startReceiver((_p, count) => (count <= 2 ? 500 : 200));
    try {
      const sub = await subscribe(deps.store, `${receiver.url}/flaky`, ['dead_letter']);
      const { childId } = await deadLetter();
      expect(await env.client.workflow.getHandle(childId).result()).toMatchObject({ delivered: 1, failed: 0 });
      expect(receiver.received).toHaveLength(3);
      expect(receiver.received.every((r) => verified(r, sub.secret))).toBe(true);
      expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1); // the same body every attempt
      expect(await deps.store.listNotificationDeliveries({ subscriptionId: sub.id })).toEqual([
        expect.objectContaining({ status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null, deliveredAt: expect.any(Date) as unknown }),
      ]);
    } finally {
      await receiver.close();
    }
  });

  it('does not retry a 400, and disables a subscription whose receiver answers 410', async () => {
    const receiver = await startReceiver((p) => (p === '/bad' ? 400 : 410));
    try {
      const bad = await subscribe(deps.store, `${receiver.url}/bad`, ['dead_letter']);
      const gone = await subscribe(deps.store, `${receiver.url}/gone`, ['dead_letter']);
      const { childId } = await deadLetter();
      expect(await env.client.workflow.getHandle(childId).result()).toMatchObject({ subscriptions: 2, delivered: 0, failed: 1, unsubscribed: 1 });
      expect(receiver.received.map((r) => r.path).sort()).toEqual(['/bad', '/gone']);
      expect(await deps.store.listNotificationDeliveries({ subscriptionId: bad.id })).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, lastStatusCode: 400 })]);
      expect((await deps.store.listNotificationSubscriptions()).find((s) => s.id === gone.id)).toMatchObject({ enabled: false });
      expect(await deps.store.listNotificationSubscriptions('dead_letter')).toEqual([expect.objectContaining({ id: bad.id })]);
    } finally {
      await receiver.close();
    }
  });

  it('does not hold up the job while a slow receiver answers, and sends the Slack format', async () => {
    const receiver = await startReceiver(async () => {
      await new Promise((r) => setTimeout(r, 5000));
      return 200;
    });
    try {
      await subscribe(deps.store, `${receiver.url}/slow`, ['dead_letter'], 'slack');
      const { childId, failedAfterMs } = await deadLetter();
      const childDone = env.client.workflow.getHandle(childId).result();
      expect(failedAfterMs).toBeLessThan(4000);
      const parentDoneAt = Date.now();
      await childDone;
      expect(Date.now() - parentDoneAt).toBeGreaterThan(1000); // the delivery was still going on
      const body = JSON.parse(receiver.received[0]!.body) as { text: string; blocks: unknown[] };
      expect(body.text).toMatch(/^Dead letter [0-9a-f-]{36} from webhook:github: InvalidEvent/);
      expect(body.blocks.length).toBeGreaterThan(0);
    } finally {
      await receiver.close();
    }
  });

  it('adds, lists, removes subscriptions and shows deliveries from the CLI, never printing a stored secret', async () => {
    const added = await runDurasyncSplit(['--json', 'notifications', 'add', '--url', 'https://example.test/hook', '--events', 'sync.finished,dead_letter', '--format', 'slack'], cliEnv);
    expect(added.code).toBe(0);
    const doc = JSON.parse(added.stdout) as { subscription: { id: string; events: string[]; format: string }; secret: string };
    expect(doc.subscription).toMatchObject({ events: ['dead_letter', 'sync.finished'], format: 'slack', enabled: true });
    expect(doc.secret).toMatch(/^[0-9a-f]{64}$/);
    expect((await deps.store.getNotificationTarget(doc.subscription.id))?.secret).toBe(doc.secret);

    const fromEnv = await runDurasyncSplit(['notifications', 'add', '--url', 'http://127.0.0.1:1/x', '--events', 'branch.delta_committed', '--secret-env', 'HOOK_SECRET'], { ...cliEnv, HOOK_SECRET: 's'.repeat(20) });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).not.toContain('s'.repeat(20));

    const list = await runDurasyncSplit(['notifications', 'list'], cliEnv);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(doc.subscription.id);
    expect(list.stdout).toContain('branch.delta_committed');
    expect(list.stdout).not.toContain(doc.secret);

    const badEvent = await runDurasyncSplit(['notifications', 'add', '--url', 'https://x.test', '--events', 'sync.done'], cliEnv);
    expect(badEvent.code).toBe(2);
    expect(badEvent.stderr.trim()).toBe('durasync notifications add: --events: unknown event "sync.done", expected sync.finished, sync.conflicts, dead_letter, branch.delta_committed');
    const badUrl = await runDurasyncSplit(['notifications', 'add', '--url', 'ftp://x.test', '--events', 'dead_letter'], cliEnv);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--url: expected an http(s) URL');
    const noEnv = await runDurasyncSplit(['notifications', 'add', '--url', 'https://x.test', '--events', 'dead_letter', '--secret-env', 'DURASYNC_NO_SUCH_VAR'], cliEnv);
    expect(noEnv.code).toBe(2);

    await deps.store.recordNotificationAttempt({ subscriptionId: doc.subscription.id, event: 'dead_letter', eventId: 'e-1', status: 'pending', statusCode: 503, error: 'the receiver answered 503' });
    const deliveries = await runDurasyncSplit(['--json', 'notifications', 'deliveries', '--subscription', doc.subscription.id, '--limit', '5'], cliEnv);
    expect(deliveries.code).toBe(0);
    expect(JSON.parse(deliveries.stdout)).toMatchObject({ deliveries: [{ eventId: 'e-1', status: 'pending', attempts: 1, lastStatusCode: 503 }] });
    expect((await runDurasyncSplit(['notifications', 'deliveries', '--limit', '0'], cliEnv)).code).toBe(2);

    const removed = await runDurasyncSplit(['notifications', 'remove', doc.subscription.id], cliEnv);
    expect(removed.code).toBe(0);
    expect((await deps.store.listNotificationSubscriptions()).map((s) => s.id)).not.toContain(doc.subscription.id);
    expect((await runDurasyncSplit(['notifications', 'remove', doc.subscription.id], cliEnv)).code).toBe(3);
  });
});

describe('branch delta notifications', () => {
  it('announces each committed delta once, with its seq and change count', async () => {
    const h = await startBranchHarness();
    const receiver = await startReceiver();
    try {
      const sub = await subscribe(h.store, `${receiver.url}/deltas`, ['branch.delta_committed'], 'json');
      const branchId = await h.createBranch();
      await h.intake.accept(branchId, [change('a', 'insert', { n: 1 }), change('b', 'insert', { n: 1 })]);
      expect(await h.flush(branchId)).toBe(1);
      const result = await h.env.client.workflow.getHandle(`notify:branch.delta_committed:${branchId}:1`).result() as DeliverNotificationsResult;
      expect(result).toMatchObject({ delivered: 1 });
      expect(receiver.received).toHaveLength(1);
      expect(verified(receiver.received[0]!, sub.secret)).toBe(true);
      expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ event: 'branch.delta_committed', id: `${branchId}:1`, data: { branchId, seq: 1, changes: 2 } });
      const history = historyToJSON(await h.env.client.workflow.getHandle(`branch:${branchId}`).fetchHistory());
      expect(readable(history)).toContain('notify-branch-delta');
      expect(readable(history)).not.toContain(sub.secret);
      if (process.env.DURASYNC_RECORD_HISTORIES) await writeFile(path.join(__dirname, 'histories', 'branch-deltas-notify.json'), history);
    } finally {
      await receiver.close();
      await h.close();
    }
  });
});

describe('sync notifications', () => {
  it('announces a finished sync run with its counts, and a run with conflicts as sync.conflicts too', async () => {
    const h = await startSyncHarness({ logLevel: 'warn' });
    const receiver = await startReceiver();
    try {
      const sub = await subscribe(h.deps.store, `${receiver.url}/sync`, ['sync.finished', 'sync.conflicts']);
      const { link, folderId, repo } = await h.createLink({ files: { 'a.md': 'alpha', 'b.md': 'beta' }, conflictPolicy: 'keep-both' });
      const run = await h.sync(link.id);
      expect(run.status).toBe('synced');
      const { runId } = await h.env.client.workflow.getHandle(`sync:${link.id}`).describe();
      expect(await h.env.client.workflow.getHandle(`notify:sync.finished:${runId}`).result()).toMatchObject({ delivered: 1 });
      const body = JSON.parse(receiver.received[0]!.body) as { data: Record<string, unknown> };
      expect(verified(receiver.received[0]!, sub.secret)).toBe(true);
      expect(body.data).toMatchObject({ linkId: link.id, runId, toDrive: run.toDrive.written + run.toDrive.trashed, conflicts: 0 });
      expect(receiver.received.map((r) => r.headers['x-durasync-event'])).toEqual(['sync.finished']);
      const history = historyToJSON(await h.env.client.workflow.getHandle(`sync:${link.id}`).fetchHistory());
      expect(readable(history)).toContain('notify-sync');
      expect(readable(history)).not.toContain(sub.secret);
      expect(readable(history)).not.toContain('alpha'); // file contents never enter history
      if (process.env.DURASYNC_RECORD_HISTORIES) await writeFile(path.join(__dirname, 'histories', 'sync-link-notify.json'), history);

      // Both sides edit a.md: the next run records a conflict.
      h.drive.seed.update(h.driveFileAt(folderId, 'a.md')!, { content: 'drive edit' });
      h.github.seed.commit(repo, { files: { 'a.md': 'github edit' } });
      const second = await h.sync(link.id);
      expect(second.conflicts).toHaveLength(1);
      const { runId: secondRunId } = await h.env.client.workflow.getHandle(`sync:${link.id}`).describe();
      await h.env.client.workflow.getHandle(`notify:sync.finished:${secondRunId}`).result();
      await h.env.client.workflow.getHandle(`notify:sync.conflicts:${secondRunId}`).result();
      const later = receiver.received.slice(1);
      expect(later.map((r) => r.headers['x-durasync-event']).sort()).toEqual(['sync.conflicts', 'sync.finished']);
      expect(later.every((r) => verified(r, sub.secret))).toBe(true);
      expect(JSON.parse(later.find((r) => r.headers['x-durasync-event'] === 'sync.conflicts')!.body)).toMatchObject({ id: secondRunId, data: { linkId: link.id, conflicts: 1 } });
    } finally {
      await receiver.close();
      await h.close();
    }
  });
});
