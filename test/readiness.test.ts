import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnEmbeddedPostgres, type SpawnedEmbeddedPostgres } from '../lib/db/embedded-postgres-process';
import { migrate } from '../lib/db/migrate';
import { freePort, waitForPort } from '../lib/net';
import { startDevServer, stopChild, type DevServer } from '../workers/temporal-dev-server';
import { spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

/**
 * Readiness follows the dependencies: a worker process with its own Temporal server, Postgres and
 * Redis (so that stopping them disturbs no other test) answers 503 naming whichever is down, and
 * 200 again once it is back, without a restart.
 */
describe('worker readiness', () => {
  let dir: string;
  let temporal: DevServer | undefined;
  let pg: SpawnedEmbeddedPostgres | undefined;
  let redis: ChildProcess | undefined;
  let worker: Spawned | undefined;
  let ports: { temporal: number; pg: number; redis: number; ops: number };

  const startTemporal = () => startDevServer({ port: ports.temporal, uiPort: false, dbFilename: path.join(dir, 'temporal.db') });
  const startPg = () => spawnEmbeddedPostgres({ port: ports.pg, dataDir: path.join(dir, 'pgdata') });
  const startRedis = async () => {
    const child = spawn('redis-server', ['--port', String(ports.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPort('127.0.0.1', ports.redis, 10_000);
    return child;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'durasync-ready-'));
    ports = { temporal: await freePort(), pg: await freePort(), redis: await freePort(), ops: await freePort() };
    [temporal, pg, redis] = await Promise.all([startTemporal(), startPg(), startRedis()]);
    await migrate(pg.url);
    worker = spawnDurasync(['worker', '--queues', 'sync'], {
      TEMPORAL_ADDRESS: temporal.address,
      DATABASE_URL: pg.url,
      REDIS_URL: `redis://127.0.0.1:${ports.redis}`,
      DURASYNC_OPS_PORT: String(ports.ops),
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
    });
  });

  afterAll(async () => {
    await worker?.stop('SIGTERM', 10_000);
    if (redis) await stopChild(redis);
    await pg?.close();
    await temporal?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const ready = () => `http://127.0.0.1:${ports.ops}/health/ready`;

  it('is ready with Temporal, Postgres and Redis up', async () => {
    const body = (await waitForHttp(ready(), 45_000, 200, () => worker?.child.exitCode === null)) as { checks: Record<string, unknown> };
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'redis', 'temporal', 'workers']);
  });

  it('answers 503 naming redis while Redis is stopped, and 200 once it is back', async () => {
    await stopChild(redis!);
    const down = (await waitForHttp(ready(), 15_000, 503)) as { failing: string[] };
    expect(down.failing).toEqual(['redis']);
    redis = await startRedis();
    await waitForHttp(ready(), 15_000, 200);
  });

  it('answers 503 naming database while Postgres is stopped, and 200 once it is back', async () => {
    await pg!.close();
    const down = (await waitForHttp(ready(), 15_000, 503)) as { failing: string[] };
    expect(down.failing).toEqual(['database']);
    pg = await startPg();
    await waitForHttp(ready(), 20_000, 200);
  });

  it('answers 503 naming temporal while the Temporal server is stopped, and 200 once it is back', async () => {
    await temporal!.stop();
    const down = (await waitForHttp(ready(), 15_000, 503)) as { failing: string[] };
    expect(down.failing).toContain('temporal');
    temporal = await startTemporal();
    await waitForHttp(ready(), 30_000, 200);
    expect(worker!.child.exitCode).toBeNull();
  });
});
