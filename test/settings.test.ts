import { randomBytes, randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { startIngressServer } from '../client/ingress';
import { createDurasyncClient, type DurasyncClient } from '../client';
import { startGithubEmulator, type GithubEmulator } from '../emulators/github/server';
import { loadConfig } from '../lib/config';
import { createStore, type Store } from '../lib/db/store';
import { RequestPacer } from '../lib/ingest/sources/github';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { LocalObjectStore } from '../lib/objects';
import { checkScope, parseSettingValue, scopeKind, Settings, settingsFor } from '../lib/settings';
import { signBody } from '../lib/webhooks/signature';
import { createActivityDeps } from '../workers/activities';
import { JobBridge } from '../workers/job-bridge';
import { createQueueWorker } from '../workers/process';
import { createTestDatabase, type TestDatabase } from './helpers/db';
import { runDurasyncSplit } from './helpers/process';
import { connectTestEnv, testWorkflowBundle, uniqueTaskQueue } from './helpers/temporal';
import { RedisCache } from '../lib/cache';
import { testRedisPrefix } from './helpers/redis';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import os from 'node:os';
import path from 'node:path';

jest.setTimeout(120_000);

/**
 * Run-time settings: the registry's checks, the reader's cache and fallback on a real database,
 * each consumer changing behaviour while it runs (ingress, job bridge, the github source through
 * real workers and the GitHub emulator), and `durasync settings`.
 */

describe('settings registry', () => {
  it('refuses an unknown key, a scope the key cannot be set at and a bad value, each with one line', () => {
    expect(() => checkScope('jobs.nope', 'global')).toThrow(/^unknown setting "jobs\.nope": expected one of ingest\.pages_per_run, /);
    expect(() => checkScope('jobs.batch_size', 'source:github')).toThrow('jobs.batch_size cannot be set at source:github: its scopes are global, queue:<name>');
    expect(() => scopeKind('queue:nope')).toThrow(/^bad scope "queue:nope": expected global, queue:<sync\|/);
    expect(() => scopeKind('source:')).toThrow(/^bad scope "source:"/);
    expect(checkScope('jobs.batch_size', 'queue:sync').type).toBe('int');
    expect(() => parseSettingValue('jobs.batch_size', '0')).toThrow('jobs.batch_size: expected 1 to 1000, got 0');
    expect(() => parseSettingValue('ingest.page_size', '2.5')).toThrow('ingest.page_size: expected a whole number from 1 to 100, got 2.5');
    expect(() => parseSettingValue('webhooks.enabled', 'maybe')).toThrow('webhooks.enabled: expected true or false, got "maybe"');
    expect(() => parseSettingValue('jobs.poll_interval', 'soon')).toThrow('jobs.poll_interval: expected a duration in milliseconds, got "soon"');
    expect(parseSettingValue('jobs.poll_interval', '2s')).toBe(2000);
    expect(parseSettingValue('webhooks.enabled', 'off')).toBe(false);
    expect(parseSettingValue('provider.rate_per_second', '0.5')).toBe(0.5);
  });

  it('reads DURASYNC_SETTINGS_TTL (default 10s) and refuses a value that is not a duration', () => {
    expect(loadConfig({}).settings.ttlMs).toBe(10_000);
    expect(loadConfig({ DURASYNC_SETTINGS_TTL: '500ms' }).settings.ttlMs).toBe(500);
    expect(() => loadConfig({ DURASYNC_SETTINGS_TTL: 'soon' })).toThrow(/DURASYNC_SETTINGS_TTL.*expected a duration/);
  });

  it('paces provider requests 1/rate apart, shared by concurrent callers, and not at all without a rate', () => {
    let now = 1000;
    const pacer = new RequestPacer(() => now);
    expect([pacer.reserve(4), pacer.reserve(4), pacer.reserve(4)]).toEqual([0, 250, 500]);
    now += 1000;
    expect(pacer.reserve(4)).toBe(0);
    expect(pacer.reserve(null)).toBe(0);
  });
});

describe('settings on a real database', () => {
  let db: TestDatabase;
  let store: Store;
  let env: TestWorkflowEnvironment;
  let dbEnv: Record<string, string>;
  const logger = createLogger({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createStore({ databaseUrl: db.url });
    env = await connectTestEnv();
    dbEnv = { DATABASE_URL: db.url, DURASYNC_LOG_LEVEL: 'warn' };
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
    await env?.teardown();
  });

  afterEach(async () => {
    for (const s of await store.listSettings()) await store.unsetSetting(s.scope, s.key);
  });

  it('resolves the scope, then global, then the fallback, then the default', async () => {
    const settings = new Settings({ store, ttlMs: 0 });
    expect(await settings.resolve('jobs.batch_size', 'queue:sync')).toMatchObject({ value: null, from: 'default' });
    expect(await settings.get('jobs.batch_size', 'queue:sync', 10)).toBe(10);
    expect(await settings.get('webhooks.enabled', 'source:acme')).toBe(true);
    await store.setSetting({ scope: 'global', key: 'jobs.batch_size', value: 20 });
    expect(await settings.resolve('jobs.batch_size', 'queue:sync', 10)).toMatchObject({ value: 20, from: 'global' });
    await store.setSetting({ scope: 'queue:sync', key: 'jobs.batch_size', value: 30 });
    expect(await settings.resolve('jobs.batch_size', 'queue:sync', 10)).toMatchObject({ value: 30, from: 'scope' });
    expect(await settings.get('jobs.batch_size', 'queue:ingestion', 10)).toBe(20);
    // A value written by hand in SQL that the registry refuses is skipped, and counted.
    await store.setSetting({ scope: 'queue:sync', key: 'jobs.batch_size', value: 'lots' });
    expect(await settings.resolve('jobs.batch_size', 'queue:sync', 10)).toMatchObject({ value: 20, from: 'global' });
    expect(settings.stats().invalid).toBe(1);
  });

  it('caches for the TTL: a value set is seen once the TTL has passed, with one read of the table per TTL', async () => {
    let now = 0;
    const settings = new Settings({ store, ttlMs: 10_000, now: () => now });
    await store.setSetting({ scope: 'queue:sync', key: 'jobs.batch_size', value: 5 });
    expect(await settings.get('jobs.batch_size', 'queue:sync')).toBe(5);
    await store.setSetting({ scope: 'queue:sync', key: 'jobs.batch_size', value: 7 });
    now = 9_999;
    expect(await Promise.all([settings.get('jobs.batch_size', 'queue:sync'), settings.get('webhooks.enabled', 'source:x')])).toEqual([5, true]);
    now = 10_000;
    expect(await settings.get('jobs.batch_size', 'queue:sync')).toBe(7);
    expect(settings.stats()).toEqual({ loads: 2, failures: 0, invalid: 0 });
  });

  it('keeps the last values read while the database is unreachable, counts the failures, and recovers', async () => {
    const unreachable = createStore({ databaseUrl: 'postgres://postgres@127.0.0.1:1/nowhere' });
    let down = false;
    let now = 0;
    const switching = { listSettings: (scope?: string) => (down ? unreachable : store).listSettings(scope) };
    const settings = new Settings({ store: switching, ttlMs: 1000, now: () => now, loadTimeoutMs: 3000 });
    try {
      await store.setSetting({ scope: 'source:acme', key: 'webhooks.enabled', value: false });
      expect(await settings.get('webhooks.enabled', 'source:acme')).toBe(false);
      down = true;
      now = 5000;
      expect(await settings.get('webhooks.enabled', 'source:acme')).toBe(false);
      expect(settings.stats()).toMatchObject({ loads: 1, failures: 1 });
      // Before any read succeeded: the defaults.
      const fresh = new Settings({ store: switching, ttlMs: 1000, now: () => now });
      expect(await fresh.get('webhooks.enabled', 'source:acme')).toBe(true);
      expect(fresh.stats().failures).toBe(1);
      down = false;
      await store.setSetting({ scope: 'source:acme', key: 'webhooks.enabled', value: true });
      now = 10_000;
      expect(await settings.get('webhooks.enabled', 'source:acme')).toBe(true);
      expect(settings.stats()).toMatchObject({ loads: 2, failures: 1 });
    } finally {
      await unreachable.close();
    }
  });

  it('answers 503 for a source an operator disabled, and 202 again once enabled, on the same running ingress', async () => {
    const objectsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-settings-'));
    const secret = `acme-${randomUUID()}`;
    const server = await startIngressServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      connection: env.connection,
      webhooks: {
        client: env.client,
        taskQueue: uniqueTaskQueue('settings-webhooks'),
        objects: new LocalObjectStore(objectsDir),
        logger,
        sources: [{ name: 'acme', secretVar: 'ACME_SECRET', secret, signatureHeader: 'x-acme-signature', deliveryHeader: 'x-acme-delivery', eventHeader: 'x-acme-event' }],
        settings: new Settings({ store, ttlMs: 0 }),
      },
    });
    const started: string[] = [];
    const deliver = async () => {
      const body = JSON.stringify({ n: started.length });
      const res = await fetch(`${server.url}/webhooks/acme`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-acme-delivery': randomUUID(), 'x-acme-event': 'ping', 'x-acme-signature': signBody(secret, body) },
      });
      const answer = (await res.json()) as { workflowId?: string; error?: string };
      if (answer.workflowId) started.push(answer.workflowId);
      return { status: res.status, answer };
    };
    try {
      expect((await deliver()).status).toBe(202);
      await store.setSetting({ scope: 'source:acme', key: 'webhooks.enabled', value: false });
      const off = await deliver();
      expect(off.status).toBe(503);
      expect(JSON.stringify(off.answer)).toContain('webhooks from acme are disabled by the setting webhooks.enabled');
      await store.setSetting({ scope: 'source:acme', key: 'webhooks.enabled', value: true });
      expect((await deliver()).status).toBe(202);
      // A global false applies to every source without its own value.
      await store.unsetSetting('source:acme', 'webhooks.enabled');
      await store.setSetting({ scope: 'global', key: 'webhooks.enabled', value: false });
      expect((await deliver()).status).toBe(503);
      expect(started).toHaveLength(2);
    } finally {
      await Promise.all(started.map((id) => env.client.workflow.getHandle(id).terminate('test done').catch(() => undefined)));
      await server.close();
      rmSync(objectsDir, { recursive: true, force: true });
    }
  });

  it("the job bridge claims jobs.batch_size jobs per poll and waits jobs.poll_interval, changed while it runs", async () => {
    const bridge = new JobBridge({ client: env.client, store, taskQueue: uniqueTaskQueue('settings-sync'), logger, pollIntervalMs: 1000, leaseMs: 600_000, batchSize: 10, settings: new Settings({ store, ttlMs: 0 }) });
    const kind = `settings-${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 4; i++) await store.enqueueSyncJob({ dedupKey: `${kind}-${i}`, kind });
    const started: string[] = [];
    try {
      expect(await bridge.current()).toEqual({ batchSize: 10, pollIntervalMs: 1000 });
      await store.setSetting({ scope: 'queue:sync', key: 'jobs.batch_size', value: 1 });
      await store.setSetting({ scope: 'queue:sync', key: 'jobs.poll_interval', value: 250 });
      const first = await bridge.pollOnce();
      started.push(...first.started);
      expect(first.claimed).toHaveLength(1);
      await store.setSetting({ scope: 'global', key: 'jobs.batch_size', value: 2 });
      await store.unsetSetting('queue:sync', 'jobs.batch_size');
      const second = await bridge.pollOnce();
      started.push(...second.started);
      expect(second.claimed).toHaveLength(2);
      expect(await bridge.current()).toEqual({ batchSize: 2, pollIntervalMs: 250 });
      expect(bridge.stats()).toMatchObject({ claimed: 3, started: 3 });
    } finally {
      await bridge.stop();
      await Promise.all(started.map((id) => env.client.workflow.getHandle(`job:${id}`).terminate('test done').catch(() => undefined)));
    }
  });

  it('durasync settings set, get, list and unset; bad input exits 2 with one line', async () => {
    const set = await runDurasyncSplit(['settings', 'set', 'jobs.batch_size', '25', '--scope', 'queue:sync'], dbEnv);
    expect(set).toMatchObject({ code: 0, stdout: 'jobs.batch_size = 25 at queue:sync\n' });
    const get = await runDurasyncSplit(['--json', 'settings', 'get', 'jobs.batch_size', '--scope', 'queue:sync'], dbEnv);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ key: 'jobs.batch_size', scope: 'queue:sync', value: 25, from: 'scope' });
    const list = await runDurasyncSplit(['--json', 'settings', 'list'], dbEnv);
    expect((JSON.parse(list.stdout) as { settings: unknown[] }).settings).toEqual([expect.objectContaining({ scope: 'queue:sync', key: 'jobs.batch_size', value: 25 })]);
    const unset = await runDurasyncSplit(['settings', 'unset', 'jobs.batch_size', '--scope', 'queue:sync'], dbEnv);
    expect(unset).toMatchObject({ code: 0, stdout: 'unset jobs.batch_size at queue:sync\n' });
    const after = await runDurasyncSplit(['settings', 'get', 'webhooks.enabled', '--scope', 'source:github'], dbEnv);
    expect(after.stdout).toBe('webhooks.enabled = true (default)\n');

    const bad = await runDurasyncSplit(['settings', 'set', 'jobs.batch_size', '5000', '--scope', 'queue:sync'], dbEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('jobs.batch_size: expected 1 to 1000, got 5000');
    const scope = await runDurasyncSplit(['settings', 'set', 'webhooks.enabled', 'false', '--scope', 'queue:sync'], dbEnv);
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain('webhooks.enabled cannot be set at queue:sync');
    expect(await store.listSettings()).toEqual([]);
  });
});

describe('settings read by the github source and ingestSource', () => {
  const TOKEN = `ghp_${randomBytes(12).toString('hex')}`;
  const OCTOCAT = { login: 'octocat', id: 583231 };
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let store: Store;
  let cache: RedisCache;
  let redisCleanup: () => Promise<void>;
  let github: GithubEmulator;
  let client: DurasyncClient;
  const workers: Array<{ worker: Worker; running: Promise<void> }> = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    db = await createTestDatabase();
    store = createStore({ databaseUrl: db.url });
    const redis = testRedisPrefix();
    cache = new RedisCache(redis.url, redis.prefix);
    redisCleanup = redis.cleanup;
    // The workers' shared reader for this store (activities/ingest-source.ts): no caching here.
    settingsFor(store, { ttlMs: 0 });
    github = await startGithubEmulator({ pollIntervalSeconds: 0 });
    github.seed.token(TOKEN);
    const config = loadConfig({ ...process.env, DATABASE_URL: db.url, DURASYNC_TASK_QUEUE_PREFIX: `set${randomBytes(4).toString('hex')}-`, GITHUB_API_URL: github.url, GITHUB_TOKEN: TOKEN, DURASYNC_SHUTDOWN_GRACE: '1s' });
    const deps = createActivityDeps({ config, store, cache, logger: createLogger({ level: 'silent' }) });
    for (const queue of ['ingestion', 'github-api'] as const) {
      const worker = await createQueueWorker({ connection: env.nativeConnection, config, queue, bundle: testWorkflowBundle(), metrics: createMetrics(), deps });
      workers.push({ worker, running: worker.run() });
    }
    client = await createDurasyncClient({ config, connection: env.connection });
  });

  afterAll(async () => {
    await client?.close();
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(workers.map((w) => w.running));
    await github?.close();
    await cache?.close();
    await redisCleanup?.();
    await store?.close();
    await db?.drop();
    await env?.teardown();
  });

  function seed(repo: string, n: number): void {
    github.seed.repo(repo, { files: { 'README.md': '# r\n' } });
    for (let i = 0; i < n; i++) github.seed.event(repo, { type: 'WatchEvent', payload: { action: 'started' }, actor: { ...OCTOCAT, id: OCTOCAT.id + i } });
  }
  const eventsCalls = () => github.inspect.calls().filter((c) => c.route.endsWith('/events'));

  it('pages by ingest.page_size, paced by provider.rate_per_second, and continues as new after ingest.pages_per_run', async () => {
    seed('acme/settings-a', 5);
    await client.settings.set('ingest.page_size', 2, { scope: 'source:github' });
    await client.settings.set('provider.rate_per_second', 5, { scope: 'source:github' });
    github.inspect.clearCalls();
    const startedAt = Date.now();
    const first = await client.ingest.run('github', { repo: 'acme/settings-a' });
    const elapsed = Date.now() - startedAt;
    expect(first).toMatchObject({ pages: 3, fetched: 5, created: 5 });
    expect(eventsCalls()).toHaveLength(3);
    // Three requests at 5 a second: at least two gaps of 200 ms.
    expect(elapsed).toBeGreaterThanOrEqual(390);

    // Changed while the workers run: the next pull sees it.
    seed('acme/settings-b', 5);
    await client.settings.unset('provider.rate_per_second', { scope: 'source:github' });
    await client.settings.set('ingest.page_size', 5, { scope: 'source:github' });
    await client.settings.set('ingest.pages_per_run', 1);
    github.inspect.clearCalls();
    const second = await client.ingest.run('github', { repo: 'acme/settings-b' });
    expect(second).toMatchObject({ pages: 1, fetched: 5, created: 5 });

    seed('acme/settings-c', 4);
    await client.settings.set('ingest.page_size', 2, { scope: 'source:github' });
    const third = await client.ingest.run('github', { repo: 'acme/settings-c' });
    expect(third).toMatchObject({ pages: 2, fetched: 4 });
    // pages_per_run 1: the second page ran in a new run of the same workflow id.
    let runs = 0;
    for (let attempt = 0; attempt < 50 && runs < 2; attempt++) {
      runs = 0;
      for await (const _ of client.temporal.workflow.list({ query: `WorkflowId = "${third.workflowId}"` })) runs++;
      if (runs < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(runs).toBe(2);
    if (process.env.DURASYNC_RECORD_HISTORIES) {
      // The first run: pagesPerRun from prepareIngest, then continue-as-new after one page.
      const executions = [];
      for await (const e of client.temporal.workflow.list({ query: `WorkflowId = "${third.workflowId}"` })) executions.push(e);
      const first = executions.sort((x, y) => x.startTime.getTime() - y.startTime.getTime())[0]!;
      const history = await client.temporal.workflow.getHandle(third.workflowId, first.runId).fetchHistory();
      await writeFile(path.join(__dirname, 'histories', 'ingest-source-pages-per-run-setting.json'), historyToJSON(history));
    }
  });
});
