import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createDurasyncClient, type DurasyncClient } from '../../client';
import { loadConfig } from '../../lib/config';
import { LocalObjectStore } from '../../lib/objects';
import type { WebhookEventInput } from '../../lib/webhooks/start';
import { connectTestEnv } from '../helpers/temporal';

/** The client SDK's webhooks namespace: the ingress's delivery semantics, from code. No worker polls: the workflows stay running. */
describe('client.webhooks', () => {
  let env: TestWorkflowEnvironment;
  let client: DurasyncClient;
  let objectsDir: string;

  beforeAll(async () => {
    env = await connectTestEnv();
    objectsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-webhooks-client-'));
    const config = loadConfig({ ...process.env, DURASYNC_TASK_QUEUE_PREFIX: `wc${randomBytes(3).toString('hex')}-`, DURASYNC_OBJECTS_DIR: objectsDir });
    client = await createDurasyncClient({ config, connection: env.connection });
  });

  afterAll(async () => {
    await client?.close();
    rmSync(objectsDir, { recursive: true, force: true });
    await env?.teardown();
  });

  const inputOf = async (workflowId: string) => {
    const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    return defaultPayloadConverter.fromPayload<WebhookEventInput>(payload!);
  };

  it('starts one workflow per delivery: a repeated delivery gets the same workflow and run', async () => {
    const deliveryId = randomUUID();
    const first = await client.webhooks.deliver({ source: 'github', deliveryId, event: 'push', payload: { ref: 'refs/heads/main' } });
    const again = await client.webhooks.deliver({ source: 'github', deliveryId, event: 'push', payload: { ref: 'refs/heads/main' } });
    expect(first).toMatchObject({ workflowId: `webhook:github:${deliveryId}`, started: true });
    expect(again.runId).toBe(first.runId);
    expect(await client.webhooks.status('github', deliveryId)).toEqual({ workflowId: first.workflowId, runId: first.runId, status: 'RUNNING' });
    expect(await inputOf(first.workflowId)).toMatchObject({ source: 'github', deliveryId, event: 'push', payload: { ref: 'refs/heads/main' } });
    // What the Web UI shows for it.
    expect((await client.workflows.describe(first.workflowId)).staticSummary).toBe(`github push delivery ${deliveryId}`);
  });

  it('sends a payload over 256 KB through the object store, as a reference', async () => {
    const deliveryId = randomUUID();
    const big = { blob: 'x'.repeat(300 * 1024) };
    const { workflowId } = await client.webhooks.deliver({ source: 'acme', deliveryId, event: 'export', payload: big });
    const input = await inputOf(workflowId);
    expect(input.payload).toBeUndefined();
    expect(input.payloadRef).toBe(`webhooks/acme/${deliveryId}.json`);
    const stored = await new LocalObjectStore(objectsDir).get(input.payloadRef!);
    expect(JSON.parse(stored!.toString('utf8'))).toEqual(big);
  });

  it('refuses a source or delivery id that cannot name a workflow, in one line', async () => {
    await expect(client.webhooks.deliver({ source: 'Bad Source', deliveryId: 'd1', event: 'x', payload: {} })).rejects.toThrow(/^source: expected lowercase/);
    await expect(client.webhooks.status('github', 'no/slashes')).rejects.toThrow(/^deliveryId: expected letters/);
  });
});
