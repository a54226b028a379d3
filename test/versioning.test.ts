import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../lib/net';
import { findTemporalBinary } from '../lib/tools';
import { startCanary } from '../client/canary';
import { createTestDatabase, type TestDatabase } from './helpers/db';
import { spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

const run = promisify(execFile);

/** The Worker Versioning rollout of docs/OPERATIONS.md, step by step, with the Temporal CLI on the test server. */
describe('Worker Versioning', () => {
  let db: TestDatabase;
  let worker: Spawned | undefined;
  let connection: Connection;

  beforeAll(async () => {
    db = await createTestDatabase();
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  });

  afterAll(async () => {
    await worker?.stop('SIGTERM', 10_000);
    await connection?.close();
    await db?.drop();
  });

  it('polls as a deployment version that the CLI makes current, after which its workflows run', async () => {
    const deployment = `durasync-test-${Date.now()}`;
    const buildId = '9.9.9+abc1234';
    const prefix = `ver-${Date.now()}-`;
    const opsPort = await freePort();
    worker = spawnDurasync(['worker', '--queues', 'sync'], {
      DATABASE_URL: db.url,
      REDIS_URL: '',
      DURASYNC_OPS_PORT: String(opsPort),
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
      DURASYNC_WORKER_VERSIONING: 'on',
      DURASYNC_DEPLOYMENT_NAME: deployment,
      DURASYNC_BUILD_ID: buildId,
    });
    const health = (await waitForHttp(`http://127.0.0.1:${opsPort}/health`, 45_000, 200, () => worker?.child.exitCode === null)) as { buildId: string };
    expect(health.buildId).toBe(buildId);

    const temporal = findTemporalBinary('temporal');
    const address = ['--address', process.env.TEMPORAL_ADDRESS!];
    // The version registers once the worker has polled.
    let described = '';
    for (let i = 0; i < 40 && !described.includes(buildId); i++) {
      described = await run(temporal, ['worker', 'deployment', 'describe', '--name', deployment, '-o', 'json', ...address]).then((r) => r.stdout, () => '');
      if (!described.includes(buildId)) await new Promise((r) => setTimeout(r, 250));
    }
    expect(described).toContain(buildId);

    await run(temporal, ['worker', 'deployment', 'set-current-version', '--deployment-name', deployment, '--build-id', buildId, '--yes', ...address]);
    const result = await startCanary(new Client({ connection }), `${prefix}sync`, 30_000);
    expect(result.status).toBe('ok');
    const current = JSON.parse((await run(temporal, ['worker', 'deployment', 'describe', '--name', deployment, '-o', 'json', ...address])).stdout) as {
      routingConfig: { currentVersionBuildID: string };
    };
    expect(current.routingConfig.currentVersionBuildID).toBe(buildId);
  });
});
