import { MockActivityEnvironment } from '@temporalio/testing';
import { createOpsActivities, type ProbeResult } from '../../activities/ops';
import { RedisCache, MemoryCache } from '../../lib/cache';
import { createStore, type Store } from '../../lib/db/store';
import { openTestDeps, type TestDeps } from '../helpers/deps';

describe('ops activities', () => {
  let deps: TestDeps;
  let store: Store;
  let cache: RedisCache;

  beforeAll(async () => {
    deps = await openTestDeps();
    ({ store, cache } = deps);
  });

  afterAll(async () => {
    await deps?.close();
  });

  it('reports the real database and Redis as reachable, with the task queue that ran the probe', async () => {
    const env = new MockActivityEnvironment({ taskQueue: 'ops-probe-queue' });
    const result = await env.run<[], ProbeResult, () => Promise<ProbeResult>>(createOpsActivities({ store, cache }).probeDependencies);
    expect(result.taskQueue).toBe('ops-probe-queue');
    expect(result.worker.pid).toBe(process.pid);
    expect(result.database).toMatchObject({ ok: true, kind: 'pg' });
    expect(result.cache).toMatchObject({ ok: true, kind: 'redis' });
    expect(result.database.ms).toBeGreaterThanOrEqual(0);
  });

  it('reports an unreachable Redis as a failed check without failing the activity', async () => {
    const deadRedis = new RedisCache('redis://127.0.0.1:1', 'durasync:test:dead:');
    try {
      const env = new MockActivityEnvironment();
      const result = await env.run<[], ProbeResult, () => Promise<ProbeResult>>(createOpsActivities({ store, cache: deadRedis }).probeDependencies);
      expect(result.database.ok).toBe(true);
      expect(result.cache.ok).toBe(false);
      expect(result.cache.error).toMatch(/^\w*Error: /);
    } finally {
      await deadRedis.close();
    }
  });

  it('reports a database that refuses connections, naming the error class but not the URL', async () => {
    const deadStore = createStore({ databaseUrl: 'postgres://postgres:s3cret@127.0.0.1:1/nowhere' });
    try {
      const env = new MockActivityEnvironment();
      const result = await env.run<[], ProbeResult, () => Promise<ProbeResult>>(createOpsActivities({ store: deadStore, cache: new MemoryCache() }).probeDependencies);
      expect(result.database.ok).toBe(false);
      expect(result.database.error).not.toContain('s3cret');
      expect(result.cache).toMatchObject({ ok: true, kind: 'memory' });
    } finally {
      await deadStore.close();
    }
  });
});
