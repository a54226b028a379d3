import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startIngressServer } from '../../client/ingress';
import type { RunningServer } from '../../lib/http';
import { createLogger } from '../../lib/logger';
import { LocalObjectStore } from '../../lib/objects';
import { signBody } from '../../lib/webhooks/signature';
import type { WebhookEventInput } from '../../lib/webhooks/start';
import { connectTestEnv, uniqueTaskQueue } from '../helpers/temporal';

/**
 * The webhook routes of the ingress against the run's Temporal dev server. No worker polls the
 * test's task queue: the workflows stay running, and the tests read their executions and start events.
 */
describe('webhook ingress', () => {
  const secret = 'gh-secret-' + randomUUID();
  const acmeSecret = 'acme-secret-' + randomUUID();
  const logger = createLogger({ level: 'silent' });
  let env: TestWorkflowEnvironment;
  let server: RunningServer;
  let noSecret: RunningServer;
  let objectsDir: string;
  let objects: LocalObjectStore;
  let taskQueue: string;

  beforeAll(async () => {
    env = await connectTestEnv();
    objectsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-webhooks-'));
    objects = new LocalObjectStore(objectsDir);
    taskQueue = uniqueTaskQueue('webhooks');
    const webhooks = {
      client: env.client,
      taskQueue,
      objects,
      logger,
      githubSecret: secret,
      maxBodyBytes: 1024 * 1024,
      sources: [{ name: 'acme', secretVar: 'ACME_SECRET', secret: acmeSecret, signatureHeader: 'x-acme-signature', deliveryHeader: 'x-acme-delivery', eventHeader: 'x-acme-event' }],
    };
    server = await startIngressServer({ host: '127.0.0.1', port: 0, logger, connection: env.connection, webhooks });
    noSecret = await startIngressServer({ host: '127.0.0.1', port: 0, logger, connection: env.connection, webhooks: { ...webhooks, githubSecret: undefined } });
  });

  afterAll(async () => {
    await server?.close();
    await noSecret?.close();
    rmSync(objectsDir, { recursive: true, force: true });
    await env?.teardown();
  });

  function post(body: string | Buffer, headers: Record<string, string>, route = '/webhooks/github', on = server): Promise<Response> {
    return fetch(`${on.url}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  }

  function github(body: string | Buffer, delivery = randomUUID(), event = 'push', extra: Record<string, string> = {}): Promise<Response> {
    return post(body, { 'x-github-delivery': delivery, 'x-github-event': event, 'x-hub-signature-256': signBody(secret, body), ...extra });
  }

  /** Executions with this id, by a visibility query; visibility is eventually consistent, so an execution just started may take a moment to be listed. */
  async function executions(workflowId: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      let n = 0;
      for await (const _ of env.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) n++;
      if (n > 0 || attempt >= 50) return n;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function startInput(workflowId: string): Promise<WebhookEventInput> {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    return defaultPayloadConverter.fromPayload(payload);
  }

  async function notStarted(workflowId: string): Promise<void> {
    await expect(env.client.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);
  }

  it('accepts a signed delivery with 202 and one workflow; a redelivery gets the same answer and starts nothing', async () => {
    const delivery = randomUUID();
    const body = JSON.stringify({ ref: 'refs/heads/main', commits: [] });
    const first = await github(body, delivery);
    expect(first.status).toBe(202);
    const answer = (await first.json()) as { workflowId: string; runId: string };
    expect(answer.workflowId).toBe(`webhook:github:${delivery}`);
    expect(answer.runId).toMatch(/^[0-9a-f-]{36}$/);
    const description = await env.client.workflow.getHandle(answer.workflowId).describe();
    expect(description.type).toBe('processWebhookEvent');
    expect(description.taskQueue).toBe(taskQueue);
    const input = await startInput(answer.workflowId);
    expect(input).toMatchObject({ source: 'github', deliveryId: delivery, event: 'push', payload: { ref: 'refs/heads/main', commits: [] } });
    expect(input.payloadRef).toBeUndefined();
    expect(Number.isNaN(Date.parse(input.receivedAt))).toBe(false);

    const again = await github(body, delivery);
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(answer);
    // Also once the workflow has closed (REJECT_DUPLICATE): still the same answer, nothing new.
    await env.client.workflow.getHandle(answer.workflowId).terminate('test');
    const afterClose = await github(body, delivery);
    expect(afterClose.status).toBe(202);
    expect(await afterClose.json()).toEqual(answer);
    expect(await executions(answer.workflowId)).toBe(1);
  });

  it('accepts every event type', async () => {
    for (const event of ['ping', 'issues', 'installation_repositories']) {
      expect((await github('{"zen":"x"}', randomUUID(), event)).status).toBe(202);
    }
  });

  it.each([
    ['missing', undefined],
    ['wrong', 'sha256=' + '0'.repeat(64)],
    ['signed with another secret', signBody('not-the-secret', '{"a":1}')],
    ['sha1 only', 'sha1=' + '0'.repeat(40)],
    ['another algorithm', 'sha512=' + '0'.repeat(128)],
    ['bare hex', signBody(secret, '{"a":1}').slice('sha256='.length)],
    ['truncated', signBody(secret, '{"a":1}').slice(0, 40)],
  ])('answers 401 and starts nothing for a %s signature', async (_name, signature) => {
    const delivery = randomUUID();
    const headers: Record<string, string> = { 'x-github-delivery': delivery, 'x-github-event': 'push' };
    if (signature) headers['x-hub-signature-256'] = signature;
    if (_name === 'sha1 only') {
      delete headers['x-hub-signature-256'];
      headers['x-hub-signature'] = signature!;
    }
    const res = await post('{"a":1}', headers);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toMatch(/x-hub-signature-256/);
    await notStarted(`webhook:github:${delivery}`);
  });

  it('answers 400 for malformed JSON, and for a missing delivery or event header', async () => {
    const delivery = randomUUID();
    const bad = await github('{"not json', delivery);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not JSON/);
    await notStarted(`webhook:github:${delivery}`);
    const body = '{}';
    const noDelivery = await post(body, { 'x-github-event': 'push', 'x-hub-signature-256': signBody(secret, body) });
    expect(noDelivery.status).toBe(400);
    expect(((await noDelivery.json()) as { error: string }).error).toMatch(/x-github-delivery/);
    const noEvent = await post(body, { 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signBody(secret, body) });
    expect(noEvent.status).toBe(400);
    expect(((await noEvent.json()) as { error: string }).error).toMatch(/x-github-event/);
  });

  it('answers 413 past DURASYNC_WEBHOOK_MAX_BODY', async () => {
    const delivery = randomUUID();
    const body = JSON.stringify({ blob: 'x'.repeat(1024 * 1024) });
    const res = await github(body, delivery);
    expect(res.status).toBe(413);
    await notStarted(`webhook:github:${delivery}`);
  });

  it('puts a payload over 256 KB in the object store and starts the workflow with payloadRef', async () => {
    const delivery = randomUUID();
    const body = JSON.stringify({ files: Array.from({ length: 5000 }, (_, i) => ({ path: `src/file-${i}.ts`, sha: randomUUID() })) });
    expect(Buffer.byteLength(body)).toBeGreaterThan(256 * 1024);
    const res = await github(body, delivery);
    expect(res.status).toBe(202);
    const { workflowId } = (await res.json()) as { workflowId: string };
    const input = await startInput(workflowId);
    expect(input.payload).toBeUndefined();
    expect(input.payloadRef).toBe(`webhooks/github/${delivery}.json`);
    expect((await objects.get(input.payloadRef!))!.toString('utf8')).toBe(body);
  });

  it('answers 503 with a reason when GITHUB_WEBHOOK_SECRET is not set, even for a signed body', async () => {
    const delivery = randomUUID();
    const res = await post('{}', { 'x-github-delivery': delivery, 'x-github-event': 'push', 'x-hub-signature-256': signBody(secret, '{}') }, '/webhooks/github', noSecret);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(/GITHUB_WEBHOOK_SECRET/);
    await notStarted(`webhook:github:${delivery}`);
  });

  it('serves the configured sources on /webhooks/:source with their own secret and headers; unknown sources 404', async () => {
    const delivery = randomUUID();
    const body = '{"invoice":42}';
    const headers = { 'x-acme-delivery': delivery, 'x-acme-event': 'invoice.paid' };
    const bad = await post(body, { ...headers, 'x-acme-signature': signBody(secret, body) }, '/webhooks/acme');
    expect(bad.status).toBe(401);
    const first = await post(body, { ...headers, 'x-acme-signature': signBody(acmeSecret, body) }, '/webhooks/acme');
    expect(first.status).toBe(202);
    const answer = (await first.json()) as { workflowId: string; runId: string };
    expect(answer.workflowId).toBe(`webhook:acme:${delivery}`);
    expect(await startInput(answer.workflowId)).toMatchObject({ source: 'acme', deliveryId: delivery, event: 'invoice.paid', payload: { invoice: 42 } });
    // The bare hex digest is accepted for other sources.
    const again = await post(body, { ...headers, 'x-acme-signature': signBody(acmeSecret, body).slice(7) }, '/webhooks/acme');
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual(answer);
    expect(await executions(answer.workflowId)).toBe(1);
    const unknown = await post(body, { ...headers, 'x-acme-signature': signBody(acmeSecret, body) }, '/webhooks/nobody');
    expect(unknown.status).toBe(404);
  });

  it('a burst of 1,000 deliveries gives 1,000 202s and 1,000 executions', async () => {
    const burstQueue = uniqueTaskQueue('webhook-burst');
    const burst = await startIngressServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      connection: env.connection,
      webhooks: { client: env.client, taskQueue: burstQueue, objects, logger, githubSecret: secret, sources: [] },
    });
    try {
      const statuses: number[] = [];
      const deliveries = Array.from({ length: 1000 }, () => randomUUID());
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < deliveries.length) {
            const delivery = deliveries[next++]!;
            const body = JSON.stringify({ n: delivery });
            const res = await post(body, { 'x-github-delivery': delivery, 'x-github-event': 'push', 'x-hub-signature-256': signBody(secret, body) }, '/webhooks/github', burst);
            statuses.push(res.status);
            await res.arrayBuffer();
          }
        }),
      );
      expect(statuses.filter((s) => s === 202)).toHaveLength(1000);
      const deadline = Date.now() + 30_000;
      let count = 0;
      while (Date.now() < deadline) {
        count = (await env.client.workflow.count(`TaskQueue = "${burstQueue}"`)).count;
        if (count >= 1000) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(count).toBe(1000);
    } finally {
      await burst.close();
    }
  }, 120_000);
});
