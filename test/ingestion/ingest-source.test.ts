import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { createDurasyncClient, DurasyncWorkflowFailedError, type DurasyncClient } from '../../client';
import { startGithubEmulator, type GithubEmulator } from '../../emulators/github/server';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createActivityDeps } from '../../workers/activities';
import { createQueueWorker } from '../../workers/process';
import type { WebhookEventInput, WebhookEventResult } from '../../workflows';
import { openTestDeps, type TestDeps } from '../helpers/deps';
import { runDurasyncSplit } from '../helpers/process';
import { connectTestEnv, testWorkflowBundle } from '../helpers/temporal';

jest.setTimeout(120_000);

const TOKEN = `ghp_${randomBytes(12).toString('hex')}`;
const OCTOCAT = { login: 'octocat', id: 583231 };

/**
 * ingestSource with the built-in `github` source, end to end: the GitHub emulator's Events API
 * through Octokit on a `github-api` worker, events stored in a real database by an `ingestion`
 * worker, the workflows on the run's Temporal dev server.
 */
describe('ingestSource (github)', () => {
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let github: GithubEmulator;
  let workers: Array<{ worker: Worker; running: Promise<void> }> = [];
  let client: DurasyncClient;
  let config: DurasyncConfig;
  let cliEnv: Record<string, string>;
  let nextId = 9000;

  beforeAll(async () => {
    env = await connectTestEnv();
    deps = await openTestDeps();
    // No poll interval here (GitHub's 60 s would make back-to-back pulls skip); one test sets it.
    github = await startGithubEmulator({ pollIntervalSeconds: 0 });
    github.seed.token(TOKEN);
    const prefix = `ing${randomBytes(4).toString('hex')}-`;
    cliEnv = { DATABASE_URL: deps.db.url, DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_LOG_LEVEL: 'warn', GITHUB_API_URL: github.url, GITHUB_TOKEN: TOKEN };
    config = loadConfig({ ...process.env, ...cliEnv, DURASYNC_SHUTDOWN_GRACE: '1s' });
    const logger = createLogger({ level: 'silent' });
    const activityDeps = createActivityDeps({ config, store: deps.store, cache: deps.cache, logger });
    for (const queue of ['ingestion', 'github-api'] as const) {
      const worker = await createQueueWorker({ connection: env.nativeConnection, config, queue, bundle: testWorkflowBundle(), metrics: createMetrics(), deps: activityDeps });
      workers.push({ worker, running: worker.run() });
    }
    client = await createDurasyncClient({ config, connection: env.connection });
  });

  afterAll(async () => {
    await client?.close();
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(workers.map((w) => w.running));
    workers = [];
    await github?.close();
    await deps?.close();
    await env?.teardown();
  });

  async function sql<T extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    const pg = new PgClient({ connectionString: deps.db.url });
    await pg.connect();
    try {
      return (await pg.query<T>(text, values)).rows;
    } finally {
      await pg.end();
    }
  }

  const issue = (n: number, title: string, body = '') => ({
    id: 7_000_000 + n,
    number: n,
    title,
    body,
    state: 'open',
    user: { login: OCTOCAT.login, id: OCTOCAT.id },
    updated_at: `2026-11-20T10:${String(n % 60).padStart(2, '0')}:00Z`,
  });

  /** An issue opened, as the Events API records it and as the webhook delivers it. */
  function issueOpened(repo: string, n: number, title: string, body = '') {
    const i = issue(n, title, body);
    return {
      seed: () => github.seed.event(repo, { type: 'IssuesEvent', payload: { action: 'opened', issue: i }, actor: OCTOCAT }),
      webhook: { action: 'opened', issue: i, repository: { id: 1, name: repo.split('/')[1], full_name: repo }, sender: OCTOCAT },
    };
  }

  const runWebhook = (event: string, payload: unknown) => {
    const input: WebhookEventInput = { source: 'github', deliveryId: `d-${nextId++}`, event, payload, receivedAt: new Date().toISOString() };
    return env.client.workflow.execute<(i: WebhookEventInput) => Promise<WebhookEventResult>>('processWebhookEvent', {
      workflowId: `webhook:github:${input.deliveryId}`,
      taskQueue: `${config.temporal.taskQueuePrefix}ingestion`,
      args: [input],
    });
  };

  const eventsCalls = () => github.inspect.calls().filter((c) => c.route.endsWith('/events'));

  it("pulls a repository's events once, in webhook shape and enriched; the next pull is a 304 that stores nothing", async () => {
    const repo = 'acme/notes';
    github.seed.repo(repo, { files: { 'README.md': '# notes\n' } });
    await client.keywords.add(['durable']);
    issueOpened(repo, 1, 'Make sync durable', 'Retries should be durable too.').seed();
    github.seed.event(repo, { type: 'IssueCommentEvent', payload: { action: 'created', issue: issue(1, 'Make sync durable'), comment: { id: 55, body: 'agreed', created_at: '2026-11-20T11:00:00Z', updated_at: '2026-11-20T11:00:00Z' } }, actor: OCTOCAT });
    const sha = github.seed.commit(repo, { files: { 'a.md': 'a\n' }, message: 'Add a', actor: OCTOCAT });
    github.seed.event(repo, { type: 'WatchEvent', payload: { action: 'started' }, actor: { login: 'hubot', id: 2 } });
    github.seed.event(repo, { type: 'GollumEvent', payload: { pages: [{ page_name: 'Home', action: 'edited' }] }, actor: OCTOCAT });
    github.inspect.clearCalls();

    const first = await client.ingest.run('github', { repo });
    expect(first).toMatchObject({ source: 'github', scope: 'repo:acme/notes', pages: 1, fetched: 5, created: 5, duplicates: 0, enriched: 5, notModified: false });
    const rows = await sql<{ kind: string; external_id: string; repository: string; occurrence_key: string | null; processed: boolean; actor: boolean }>(
      `select kind, external_id, repository, occurrence_key, processed_at is not null as processed, actor_identity_id is not null as actor from events where source = 'github' and repository = $1 order by kind`,
      [repo],
    );
    expect(rows.map((r) => r.kind)).toEqual(['gollum', 'issue_comment.created', 'issues.opened', 'push', 'watch.started']);
    expect(rows.every((r) => r.processed && r.actor && r.repository === repo && /^\d+$/.test(r.external_id))).toBe(true);
    expect(rows.find((r) => r.kind === 'push')!.occurrence_key).toBe(`push:acme/notes:refs/heads/main:${sha}`);
    expect(rows.find((r) => r.kind === 'gollum')!.occurrence_key).toBeNull();
    const hits = await sql<{ keyword: string; occurrences: number }>(`select k.keyword, ek.occurrences from event_keywords ek join tracked_keywords k on k.id = ek.keyword_id join events e on e.id = ek.event_id where e.kind = 'issues.opened'`);
    expect(hits).toEqual([{ keyword: 'durable', occurrences: 2 }]);
    const [cursor] = await client.ingest.cursors('github');
    expect(cursor).toMatchObject({ source: 'github', scope: 'repo:acme/notes', runs: 1, lastCreated: 5 });
    expect((cursor!.cursor as { etag: string }).etag).toMatch(/^W\/"/);

    github.inspect.clearCalls();
    const second = await client.ingest.run('github', { repo });
    expect(second).toMatchObject({ pages: 1, fetched: 0, created: 0, notModified: true });
    expect(eventsCalls().map((c) => c.status)).toEqual([304]);
    expect(Number((await sql<{ n: string }>(`select count(*) as n from events where repository = $1`, [repo]))[0]!.n)).toBe(5);
  });

  it('pages through a long feed and then stops at the cursor: only new events are fetched and stored', async () => {
    const repo = 'acme/long';
    github.seed.repo(repo);
    for (let n = 1; n <= 150; n++) issueOpened(repo, n, `Issue ${n}`).seed();
    github.inspect.clearCalls();
    const first = await client.ingest.run('github', { repo });
    expect(first).toMatchObject({ pages: 2, fetched: 150, created: 150 });
    expect(eventsCalls().map((c) => c.status)).toEqual([200, 200]);

    for (let n = 151; n <= 153; n++) issueOpened(repo, n, `Issue ${n}`).seed();
    github.inspect.clearCalls();
    const next = await client.ingest.run('github', { repo });
    // Page 1 holds the 3 new events and then known ones: no second page is asked for.
    expect(next).toMatchObject({ pages: 1, fetched: 3, created: 3, duplicates: 0 });
    expect(eventsCalls()).toHaveLength(1);
    expect(Number((await sql<{ n: string }>(`select count(*) as n from events where repository = $1`, [repo]))[0]!.n)).toBe(153);
  });

  it('stores an occurrence once when its webhook comes first and when the pull comes first', async () => {
    const repo = 'acme/overlap';
    github.seed.repo(repo);
    // Webhook first: the pull finds them stored.
    const early = [issueOpened(repo, 201, 'Webhook first A'), issueOpened(repo, 202, 'Webhook first B')];
    for (const e of early) {
      e.seed();
      expect((await runWebhook('issues', e.webhook)).created).toBe(true);
    }
    const sha = github.seed.commit(repo, { files: { 'x.md': 'x\n' }, message: 'Add x', actor: OCTOCAT });
    const push = { ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, commits: [{ id: sha, message: 'Add x' }], repository: { id: 1, name: 'overlap', full_name: repo }, sender: OCTOCAT, pusher: { name: 'octocat', email: 'octocat@example.com' } };
    expect((await runWebhook('push', push)).created).toBe(true);
    const pulled = await client.ingest.run('github', { repo });
    expect(pulled).toMatchObject({ fetched: 3, created: 0, duplicates: 3 });

    // Pull first: the webhook finds it stored.
    const late = issueOpened(repo, 203, 'Pull first');
    late.seed();
    expect(await client.ingest.run('github', { repo })).toMatchObject({ fetched: 1, created: 1 });
    const webhook = await runWebhook('issues', late.webhook);
    expect(webhook.created).toBe(false);

    const rows = await sql<{ kind: string; n: string }>(`select kind, count(*) as n from events where repository = $1 group by kind order by kind`, [repo]);
    expect(rows).toEqual([
      { kind: 'issues.opened', n: '3' },
      { kind: 'push', n: '1' },
    ]);
  });

  it("skips a pull sooner than GitHub's poll interval without asking GitHub", async () => {
    const slow = await startGithubEmulator({ pollIntervalSeconds: 3600 });
    slow.seed.token(TOKEN);
    slow.seed.repo('acme/slow');
    slow.seed.event('acme/slow', { type: 'WatchEvent', payload: { action: 'started' }, actor: OCTOCAT });
    const slowConfig = loadConfig({ ...process.env, ...cliEnv, GITHUB_API_URL: slow.url, DURASYNC_TASK_QUEUE_PREFIX: `slow${randomBytes(3).toString('hex')}-` });
    const logger = createLogger({ level: 'silent' });
    const activityDeps = createActivityDeps({ config: slowConfig, store: deps.store, cache: deps.cache, logger });
    const own = await Promise.all(
      (['ingestion', 'github-api'] as const).map((queue) => createQueueWorker({ connection: env.nativeConnection, config: slowConfig, queue, bundle: testWorkflowBundle(), metrics: createMetrics(), deps: activityDeps })),
    );
    const running = own.map((w) => w.run());
    const slowClient = await createDurasyncClient({ config: slowConfig, connection: env.connection });
    try {
      expect(await slowClient.ingest.run('github', { repo: 'acme/slow' })).toMatchObject({ created: 1, pollIntervalSeconds: 3600 });
      slow.seed.event('acme/slow', { type: 'WatchEvent', payload: { action: 'started' }, actor: { login: 'hubot', id: 2 } });
      slow.inspect.clearCalls();
      expect(await slowClient.ingest.run('github', { repo: 'acme/slow' })).toMatchObject({ created: 0, notModified: true, pollIntervalSeconds: 3600 });
      expect(slow.inspect.calls()).toHaveLength(0);
      // A backfill (--since) asks anyway.
      expect(await slowClient.ingest.run('github', { repo: 'acme/slow' }, { since: new Date(Date.now() - 3_600_000) })).toMatchObject({ created: 1 });
    } finally {
      await slowClient.close();
      for (const w of own) w.shutdown();
      await Promise.all(running);
      await slow.close();
    }
  });

  it('fails a config the source refuses at once, and a repository GitHub does not know without retrying', async () => {
    expect(() => client.ingest.scope('github', { repo: 'not a repo' })).toThrow('github source: repo must be owner/name, got "not a repo"');
    expect(() => client.ingest.scope('gitlab', { repo: 'a/b' })).toThrow('unknown source "gitlab": expected one of github');
    const failed = await client.ingest.run('github', { repo: 'acme/missing' }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(DurasyncWorkflowFailedError);
    expect((failed as DurasyncWorkflowFailedError).causes.map((c) => c.message).join(' ')).toMatch(/github pull events: 404/);
  });

  it('runs from the CLI: ingest run --wait, ingest cursors, keywords, schedule create ingest and analytics; bad flags exit 2', async () => {
    const repo = 'acme/cli';
    github.seed.repo(repo);
    issueOpened(repo, 301, 'From the CLI').seed();
    const pulled = await runDurasyncSplit(['ingest', 'run', '--source', 'github', '--repo', repo, '--wait'], cliEnv);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.trim()).toBe('pulled github repo:acme/cli: 1 new, 0 already stored, 1 page(s)');
    const cursors = await runDurasyncSplit(['--json', 'ingest', 'cursors', '--source', 'github'], cliEnv);
    expect((JSON.parse(cursors.stdout) as { cursors: Array<{ scope: string }> }).cursors.map((c) => c.scope)).toContain('repo:acme/cli');

    expect((await runDurasyncSplit(['keywords', 'add', 'Temporal', 'sync'], cliEnv)).stdout.trim().split('\n')).toEqual(['tracking temporal', 'tracking sync']);
    expect((await runDurasyncSplit(['keywords', 'disable', 'sync'], cliEnv)).stdout.trim()).toBe('disabled sync');
    const listed = (await runDurasyncSplit(['keywords', 'list'], cliEnv)).stdout;
    expect(listed).toMatch(/^sync\s+disabled$/m);
    expect(listed).toMatch(/^temporal\s+enabled$/m);

    const created = await runDurasyncSplit(['schedule', 'create', 'ingest', '--source', 'github', '--repo', repo, '--every', '1m', '--paused'], cliEnv);
    expect(created.stdout.trim()).toBe(`created schedule ingest-github-repo-acme-cli: pulls github repo:acme/cli on ${config.temporal.taskQueuePrefix}ingestion, every 1m (paused)`);
    const described = await client.schedules.describe('ingest-github-repo-acme-cli');
    expect(described).toMatchObject({ workflowType: 'ingestSource', args: [{ source: 'github', config: { repo } }], overlap: 'SKIP', paused: true });
    await client.schedules.delete('ingest-github-repo-acme-cli');

    const analyticsId = `daily-analytics-${randomBytes(3).toString('hex')}`;
    const analytics = await runDurasyncSplit(['schedule', 'create', 'analytics', '--days', '2', '--id', analyticsId, '--paused'], cliEnv);
    expect(analytics.stdout.trim()).toBe(`created schedule ${analyticsId}: daily metrics of the last 2 day(s) on ${config.temporal.taskQueuePrefix}ingestion, cron 10 0 * * * (paused)`);
    try {
      await client.schedules.trigger(analyticsId);
      let workflowId: string | undefined;
      for (let i = 0; i < 100 && !workflowId; i++) {
        workflowId = (await client.schedules.describe(analyticsId)).recentActions[0]?.workflowId;
        if (!workflowId) await new Promise((r) => setTimeout(r, 100));
      }
      const result = await client.workflows.result<{ from: string; to: string; days: number }>(workflowId!);
      const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      expect(result).toMatchObject({ days: 2, from: new Date(today - 2 * 86_400_000).toISOString().slice(0, 10), to: new Date(today - 86_400_000).toISOString().slice(0, 10) });
    } finally {
      await client.schedules.delete(analyticsId);
    }

    for (const [args, message] of [
      [['ingest', 'run', '--source', 'gitlab', '--repo', repo], '--source: unknown source "gitlab", expected one of github'],
      [['ingest', 'run', '--source', 'github', '--repo', 'nope'], 'github source: --repo must be owner/name, got "nope"'],
      [['ingest', 'run', '--source', 'github'], 'github source: give exactly one of repo (owner/name) and org'],
      [['ingest', 'run', '--source', 'github', '--repo', repo, '--since', 'yesterday'], '--since: expected an ISO date such as 2026-01-01T00:00:00Z, got "yesterday"'],
      [['schedule', 'create', 'analytics', '--days', '0'], '--days: expected a whole number from 1 to 366, got "0"'],
      [['keywords', 'add', ' '], 'keyword: expected 1 to 100 characters on one line, got " "'],
    ] as const) {
      const bad = await runDurasyncSplit([...args], cliEnv);
      expect({ args, code: bad.code, stderr: bad.stderr.trim().split('\n').pop() }).toEqual({ args, code: 2, stderr: expect.stringContaining(message) as unknown });
    }
  });
});
