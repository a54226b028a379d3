import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { dataConverter } from '../lib/temporal-client';
import { freePort } from '../lib/net';
import { startCanary } from '../client/canary';
import { createQueueWorker } from '../workers/process';
import { startOpsServer } from '../workers/ops-server';
import { codecRoutes } from '../workers/codec-endpoint';
import { EncryptionCodec } from '../lib/codec';
import type { RunningServer } from '../lib/http';
import { openTestDeps, type TestDeps } from './helpers/deps';
import { testWorkflowBundle } from './helpers/temporal';

/** With DURASYNC_ENCRYPTION_KEY set, history at rest holds ciphertext only; the codec endpoint decodes it for the Web UI. */
describe('payload encryption end to end', () => {
  const keyEnv = `k1:${randomBytes(32).toString('base64')}`;
  const prefix = `enc-${Date.now()}-`;
  const config = loadConfig({
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
    DURASYNC_TASK_QUEUE_PREFIX: prefix,
    DURASYNC_ENCRYPTION_KEY: keyEnv,
    DURASYNC_CODEC_TOKEN: 'codec-token-for-test',
  });
  let deps: TestDeps;
  let connection: Connection;
  let ops: RunningServer;

  beforeAll(async () => {
    deps = await openTestDeps();
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
    ops = await startOpsServer({
      host: '127.0.0.1',
      port: await freePort(),
      logger: createLogger({ level: 'silent' }),
      checks: {},
      metrics: () => Promise.resolve(''),
      routes: codecRoutes({ codec: new EncryptionCodec(config.encryption.keys!), token: config.encryption.codecToken, corsOrigins: ['http://localhost:8233'] }),
    });
  });

  afterAll(async () => {
    await ops?.close();
    await connection?.close();
    await deps?.close();
  });

  it('runs a workflow whose history, exported without the key, holds no plaintext, and decodes it through the codec endpoint', async () => {
    const native = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
    const worker = await createQueueWorker({
      connection: native,
      config,
      queue: 'sync',
      bundle: testWorkflowBundle(),
      metrics: createMetrics(),
      deps: { store: deps.store, cache: deps.cache, logger: createLogger({ level: 'silent' }) },
    });
    const client = new Client({ connection, dataConverter: dataConverter(config) });
    const result = await worker.runUntil(startCanary(client, `${prefix}sync`, 30_000));
    expect(result.status).toBe('ok');
    await native.close();

    // Fetched with a client that has no key: what an operator exports, what the server stores.
    const plainClient = new Client({ connection });
    let workflowId = '';
    for await (const wf of plainClient.workflow.list({ query: `TaskQueue = "${prefix}sync"` })) workflowId = wf.workflowId;
    expect(workflowId).not.toBe('');
    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const json = historyToJSON(history);
    const payloads = [...json.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1'));
    expect(payloads.length).toBeGreaterThan(0);
    // The worker's hostname is in worker identities (metadata, not payloads); the values are not.
    for (const text of ['"status":"ok"', '"workflowTaskQueue"', '"kind":"pg"', '"database":']) expect(json).not.toContain(text);
    for (const p of payloads) for (const text of ['status', 'database', `"${os.hostname()}"`, 'json/plain']) expect(p).not.toContain(text);
    expect(json).toContain(Buffer.from('binary/encrypted').toString('base64'));

    // The Web UI's codec endpoint decodes the workflow result for an authorised caller.
    const completed = history.events!.find((e) => e.workflowExecutionCompletedEventAttributes)!;
    const resultPayload = completed.workflowExecutionCompletedEventAttributes!.result!.payloads![0]!;
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(resultPayload.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(resultPayload.data!).toString('base64'),
        },
      ],
    });
    const decode = (headers: Record<string, string>) => fetch(`${ops.url}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const denied = await decode({});
    expect(denied.status).toBe(401);
    const ok = await decode({ authorization: 'Bearer codec-token-for-test', origin: 'http://localhost:8233' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const decoded = (await ok.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    const value = defaultPayloadConverter.fromPayload({
      metadata: Object.fromEntries(Object.entries(decoded.payloads[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(decoded.payloads[0]!.data, 'base64'),
    });
    expect(value).toMatchObject({ status: 'ok', worker: { hostname: os.hostname() } });
  });

  it('answers the browser preflight for an allowed UI origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${ops.url}/codec/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    const allowed = await preflight('http://localhost:8233');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const other = await preflight('http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
