import { randomBytes } from 'node:crypto';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Redis } from 'ioredis';
import { taskQueueName } from '../../lib/queues';
import type { SyncRunResult } from '../../workflows';
import { hasRedisServer, REDIS_SERVER, startPrivateRedis, type PrivateRedis } from '../helpers/private-redis';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const rand = () => randomBytes(4).toString('hex');

/** The attempts of an activity type as the history records them (the started event of each scheduled one). */
function activityAttempts(events: HistoryEvent[], activityType: string) {
  const scheduled = new Map<string, string>();
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) scheduled.set(String(e.eventId), name);
  }
  const out: Array<{ attempt: number; lastFailureType: string | null; failedType: string | null }> = [];
  for (const e of events) {
    const started = e.activityTaskStartedEventAttributes;
    if (!started || scheduled.get(String(started.scheduledEventId)) !== activityType) continue;
    const failed = events.find((f) => f.activityTaskFailedEventAttributes && String(f.activityTaskFailedEventAttributes.startedEventId) === String(e.eventId));
    out.push({
      attempt: started.attempt ?? 0,
      lastFailureType: started.lastFailure?.applicationFailureInfo?.type ?? null,
      failedType: failed?.activityTaskFailedEventAttributes?.failure?.cause?.applicationFailureInfo?.type ?? failed?.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type ?? null,
    });
  }
  return out;
}

/**
 * A history as text: every field of every event, with all bytes (payload data and metadata) decoded
 * as UTF-8. Walks the messages' own fields: their toJSON would leave payloads base64-encoded.
 */
function historyText(events: HistoryEvent[]): string {
  const plain = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === 'object') {
      if (typeof (value as { toNumber?: unknown }).toNumber === 'function') return (value as { toString(): string }).toString(); // Long
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  return JSON.stringify(plain(events));
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function historyOf(h: SyncHarness, workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  return (await h.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

async function failureOf(run: Promise<unknown>): Promise<WorkflowFailedError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError)) throw new Error(`expected the run to fail with WorkflowFailedError, got ${String(err)}`);
  return err;
}

/** Provider failures, expired and revoked tokens, a lost Redis: what a sync run rides out, and what fails it at once. */
describe('sync resilience', () => {
  let h: SyncHarness;
  /** Every secret the suite's runs used: none may reach a history or a log line. */
  const secrets: string[] = [];

  beforeAll(async () => {
    h = await startSyncHarness({ logLevel: 'trace' });
    secrets.push(h.githubToken, h.googleAccessToken, h.googleRefreshToken, h.tokenKey, h.tokenKey.slice(h.tokenKey.indexOf(':') + 1));
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  function startRun(linkId: string) {
    return h.client.workflow.start<(input: { linkId: string }) => Promise<SyncRunResult>>('syncLink', {
      taskQueue: taskQueueName('sync', h.taskQueuePrefix),
      workflowId: `sync:${linkId}`,
      args: [{ linkId }],
      workflowExecutionTimeout: '3m',
    });
  }

  /** A user of its own with Google tokens (access token valid for `expiresInMs`, maybe already past) and a GitHub token. */
  async function newUser(options: { googleExpiresInMs?: number; githubToken?: string } = {}) {
    const userId = `user-${rand()}`;
    const refreshToken = `refresh-${userId}-${rand()}`;
    const { accessToken } = h.drive.seed.token({ refreshToken });
    await h.tokens.save('google', userId, { accessToken, refreshToken, expiresAt: new Date(Date.now() + (options.googleExpiresInMs ?? 3_600_000)) });
    const githubToken = options.githubToken ?? h.githubToken;
    await h.tokens.save('github', userId, { accessToken: githubToken, expiresAt: null });
    secrets.push(accessToken, refreshToken, githubToken);
    return { userId, refreshToken, accessToken };
  }

  /** A link with `n` files on each side (Drive ones partly in a subfolder); the union both sides must end with. */
  async function twoSidedLink(n: number, options: { userId?: string } = {}) {
    const githubFiles = Object.fromEntries(Array.from({ length: n }, (_, i) => [`from-github/g${i}.md`, `github file ${i}\n`]));
    const { link, folderId, repo } = await h.createLink({ files: githubFiles, ...(options.userId ? { userId: options.userId } : {}) });
    const sub = h.drive.seed.folder('from-drive', folderId);
    const driveFiles: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const path = i % 2 ? `from-drive/d${i}.md` : `d${i}.md`;
      h.drive.seed.file({ name: path.slice(path.lastIndexOf('/') + 1), parentId: i % 2 ? sub.id : folderId, content: `drive file ${i}\n` });
      driveFiles[path] = `drive file ${i}\n`;
    }
    return { link, folderId, repo, expected: { ...githubFiles, ...driveFiles } };
  }

  function expectSyncedOnce(run: SyncRunResult, link: { folderId: string; repo: string; expected: Record<string, string> }, commitsBefore: number) {
    expect(run.status).toBe('synced');
    expect(run.toGithub.commits).toHaveLength(1);
    expect(h.github.inspect.commits(link.repo)).toHaveLength(commitsBefore + 1);
    expect(h.repoTexts(link.repo)).toEqual(link.expected);
    expect(h.driveTexts(link.folderId)).toEqual(link.expected);
    expect(h.driveDuplicates(link.folderId)).toEqual([]);
  }

  it('rides out Drive 429 bursts and GitHub secondary rate limits: the run succeeds, every file is there once, the history shows the retries', async () => {
    const link = await twoSidedLink(10);
    const commitsBefore = h.github.inspect.commits(link.repo).length;
    h.drive.inspect.clearCalls();
    h.github.inspect.clearCalls();
    h.drive.faults.set({ rateLimitBurst: { count: 3, retryAfterSec: 1 } });
    h.github.faults.set({ secondaryLimit: { count: 2, retryAfterSec: 1 } });
    const started = Date.now();
    try {
      const run = await h.sync(link.link.id);
      expectSyncedOnce(run, link, commitsBefore);
    } finally {
      h.drive.faults.reset();
      h.github.faults.reset();
    }
    // Every armed fault was answered, and retries waited for Retry-After (1 s each).
    expect(h.drive.inspect.calls().filter((c) => c.status === 429)).toHaveLength(3);
    expect(h.github.inspect.calls().filter((c) => c.status === 403)).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);

    const events = await historyOf(h, `sync:${link.link.id}`);
    const drive = activityAttempts(events, 'listDriveChanges');
    const github = activityAttempts(events, 'listGithubChanges');
    expect(drive).toEqual([{ attempt: 4, lastFailureType: 'RateLimited', failedType: null }]);
    expect(github).toEqual([{ attempt: 3, lastFailureType: 'RateLimited', failedType: null }]);
  });

  it('rides out dropped connections on both sides (in the listings and in the commit) and Drive 5xx answers', async () => {
    const link = await twoSidedLink(10);
    const commitsBefore = h.github.inspect.commits(link.repo).length;
    h.drive.inspect.clearCalls();
    h.github.inspect.clearCalls();
    h.drive.faults.set({ dropConnections: 1, status5xx: 1 });
    h.github.faults.set({ dropConnections: 1, latencyMs: 300 });
    try {
      const handle = await startRun(link.link.id);
      // The commit has read the branch: its next call (POST git/trees, answered after 300 ms) is dropped.
      const readBranch = () => h.github.inspect.calls().some((c) => c.method === 'GET' && c.route === '/repos/{owner}/{repo}/commits');
      await waitFor(readBranch, 60_000);
      h.github.faults.set({ dropConnections: 1 });
      expectSyncedOnce(await handle.result(), link, commitsBefore);
    } finally {
      h.drive.faults.reset();
      h.github.faults.reset();
    }
    expect(h.drive.inspect.calls().map((c) => c.status).filter((s) => s === 0 || s >= 500)).toEqual([0, 503]);
    const githubFailures = h.github.inspect.calls().filter((c) => c.status === 0);
    expect(githubFailures.map((c) => `${c.method} ${c.route}`)).toEqual(['GET /repos/{owner}/{repo}/git/ref/{ref}', 'POST /repos/{owner}/{repo}/git/trees']);

    const events = await historyOf(h, `sync:${link.link.id}`);
    expect(activityAttempts(events, 'listDriveChanges')).toEqual([{ attempt: 3, lastFailureType: 'ProviderUnavailable', failedType: null }]);
    expect(activityAttempts(events, 'listGithubChanges')).toEqual([{ attempt: 2, lastFailureType: 'ProviderUnavailable', failedType: null }]);
    expect(activityAttempts(events, 'commitToGithub')).toEqual([{ attempt: 2, lastFailureType: 'ProviderUnavailable', failedType: null }]);
  });

  // GitHub sends `x-ratelimit-reset` on every answer: a 5xx with quota left must back off normally,
  // not wait for the hourly window's reset (lib/providers/failures.ts retryDelayMs).
  it('rides out GitHub 5xx answers in the listing and in the commit', async () => {
    const link = await twoSidedLink(5);
    const commitsBefore = h.github.inspect.commits(link.repo).length;
    h.github.inspect.clearCalls();
    h.github.faults.set({ status5xx: 1, failOn: { method: 'POST', route: '/repos/{owner}/{repo}/git/trees', status: 502, count: 1 } });
    const started = Date.now();
    try {
      expectSyncedOnce(await h.sync(link.link.id), link, commitsBefore);
    } finally {
      h.github.faults.reset();
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(h.github.inspect.calls().filter((c) => c.status >= 500)).toHaveLength(2);
    const events = await historyOf(h, `sync:${link.link.id}`);
    expect(activityAttempts(events, 'listGithubChanges')).toEqual([{ attempt: 2, lastFailureType: 'ProviderUnavailable', failedType: null }]);
    expect(activityAttempts(events, 'commitToGithub')).toEqual([{ attempt: 2, lastFailureType: 'ProviderUnavailable', failedType: null }]);
  });

  it('fails fast on a 401: a GitHub token the provider does not accept fails the run as Unauthorized, non-retryable, after one attempt', async () => {
    const user = await newUser({ githubToken: `ghp_${randomBytes(12).toString('hex')}` }); // never seeded: GitHub answers 401
    const { link } = await h.createLink({ userId: user.userId, files: { 'a.md': 'a\n' } });
    h.github.inspect.clearCalls();
    const started = Date.now();

    const err = await failureOf(h.sync(link.id));

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err.cause).toBeInstanceOf(ActivityFailure);
    const activity = err.cause as ActivityFailure;
    expect(activity.activityType).toBe('listGithubChanges');
    expect(activity.cause).toBeInstanceOf(ApplicationFailure);
    const failure = activity.cause as ApplicationFailure;
    expect(failure.type).toBe('Unauthorized');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^github list changes: 401 Bad credentials/);
    expect(failure.message).not.toContain('\n');
    expect(h.github.inspect.calls().filter((c) => c.status === 401)).toHaveLength(1);

    const events = await historyOf(h, `sync:${link.id}`);
    expect(activityAttempts(events, 'listGithubChanges')).toEqual([{ attempt: 1, lastFailureType: null, failedType: 'Unauthorized' }]);
    // The stored token is no good: the link waits for its user to authorise durasync again.
    expect(await h.deps.store.getSyncLink(link.id)).toMatchObject({ status: 'needs_reauth', statusReason: expect.stringContaining('401') as unknown });
  });

  it('a revoked refresh token behind an expired access token fails the run as TokenRevoked, marks the link needs_reauth, and the next run is skipped', async () => {
    const user = await newUser({ googleExpiresInMs: -60_000 });
    h.drive.revoke(user.refreshToken);
    const { link } = await h.createLink({ userId: user.userId, files: { 'a.md': 'a\n' } });

    const err = await failureOf(h.sync(link.id));

    expect(err.cause).toBeInstanceOf(ActivityFailure);
    const failure = (err.cause as ActivityFailure).cause as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('TokenRevoked');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(`the google authorisation of user ${user.userId} was revoked: the link needs re-authorisation; reconnect with: durasync connect google --user ${user.userId}`);
    // One refresh grant was tried, and not retried.
    expect(h.drive.inspect.grants(user.refreshToken)).toBe(1);
    const stored = await h.deps.store.getSyncLink(link.id);
    expect(stored).toMatchObject({ status: 'needs_reauth', statusReason: failure.message });

    const next = await h.sync(link.id);
    expect(next).toMatchObject({ status: 'skipped', reason: 'link is needs reauth', toGithub: { commits: [] } });
    expect(h.drive.inspect.grants(user.refreshToken)).toBe(1);
  });

  it('100 concurrent runs needing one user\'s just-expired Google token cause exactly one refresh', async () => {
    const user = await newUser({ googleExpiresInMs: -1000 });
    const links = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const created = await h.createLink({ userId: user.userId });
        h.drive.seed.file({ name: `n${i}.md`, parentId: created.folderId, content: `note ${i}\n` });
        return created;
      }),
    );
    // A slow token endpoint (and API): the activities pile up while the refresh is in flight.
    h.drive.faults.set({ latencyMs: 300 });
    try {
      const runs = await Promise.all(links.map(({ link }) => h.sync(link.id)));
      expect(runs.map((r) => r.status)).toEqual(links.map(() => 'synced'));
    } finally {
      h.drive.faults.reset();
    }
    expect(h.drive.inspect.grants(user.refreshToken)).toBe(1);
    links.forEach(({ repo }, i) => expect(h.repoTexts(repo)).toEqual({ [`n${i}.md`]: `note ${i}\n` }));
    // Every listing of the 100 ran with the refreshed token (one attempt each, none failed on a 401).
    expect(h.drive.inspect.calls().filter((c) => c.status === 401)).toEqual([]);
    const refreshed = await h.tokens.accessToken('google', user.userId);
    expect(refreshed).not.toBe(user.accessToken);
    secrets.push(refreshed);
  }, 120_000);

  it('a search of every recorded history and log line finds no token, no key and no file content', async () => {
    const marker = `MARKER-${rand()}-CONTENT`;
    // A run moving marked contents both ways, one that refreshes an expired token, one that fails.
    const { link, folderId } = await h.createLink({ files: { 'gh.md': `${marker} from github\n` } });
    h.drive.seed.file({ name: 'dr.md', parentId: folderId, content: `${marker} from drive\n` });
    expect((await h.sync(link.id)).status).toBe('synced');
    const expired = await newUser({ googleExpiresInMs: -1000 });
    const refreshedLink = await h.createLink({ userId: expired.userId, files: { 'x.md': `${marker} x\n` } });
    expect((await h.sync(refreshedLink.link.id)).status).toBe('synced');
    const refreshed = await h.tokens.accessToken('google', expired.userId);
    expect(refreshed).not.toBe(expired.accessToken);
    secrets.push(refreshed);
    const bad = await newUser({ githubToken: `ghp_${randomBytes(12).toString('hex')}` });
    const failing = await h.createLink({ userId: bad.userId, files: { 'y.md': `${marker} y\n` } });
    await failureOf(h.sync(failing.link.id));

    // Every workflow of the suite's sync queue (visibility is eventually consistent: wait for ours).
    const query = `TaskQueue = '${taskQueueName('sync', h.taskQueuePrefix)}'`;
    const ours = [link.id, refreshedLink.link.id, failing.link.id].map((id) => `sync:${id}`);
    let executions: Array<{ workflowId: string; runId: string }> = [];
    for (let i = 0; i < 60; i++) {
      executions = [];
      for await (const wf of h.client.workflow.list({ query })) executions.push({ workflowId: wf.workflowId, runId: wf.runId });
      if (ours.every((id) => executions.some((e) => e.workflowId === id))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ours.every((id) => executions.some((e) => e.workflowId === id))).toBe(true);
    const histories = await Promise.all(executions.map(async (e) => ({ ...e, text: historyText(await historyOf(h, e.workflowId, e.runId)) })));
    const logs = h.logs();

    // The search is real: payloads are decoded (the inputs carry the link ids), and the logs hold the refresh.
    for (const { text } of histories) expect(text.length).toBeGreaterThan(1000);
    // The workflow input, decoded from its payload bytes (then escaped as a JSON string).
    expect(histories.find((x) => x.workflowId === `sync:${link.id}`)?.text).toContain(JSON.stringify(JSON.stringify({ linkId: link.id })).slice(1, -1));
    expect(histories.find((x) => x.workflowId === `sync:${failing.link.id}`)?.text).toContain('Bad credentials');
    expect(logs.some((line) => line.includes('provider token refreshed') && line.includes(expired.userId))).toBe(true);

    const leaks: string[] = [];
    for (const secret of new Set(secrets)) {
      for (const { workflowId, text } of histories) if (text.includes(secret)) leaks.push(`${secret.slice(0, 12)}... in the history of ${workflowId}`);
      for (const line of logs) if (line.includes(secret)) leaks.push(`${secret.slice(0, 12)}... in the log line ${line.slice(0, 200)}`);
    }
    for (const { workflowId, text } of histories) if (text.includes(marker)) leaks.push(`file content in the history of ${workflowId}`);
    expect(leaks).toEqual([]);
  }, 90_000);
});

if (!hasRedisServer) process.stderr.write(`[resilience] ${REDIS_SERVER} is not installed: skipping the Redis outage test\n`);

(hasRedisServer ? describe : describe.skip)(`sync with its Redis going away mid-run${hasRedisServer ? '' : ` (skipped: ${REDIS_SERVER} is not installed)`}`, () => {
  let h: SyncHarness;
  let redis: PrivateRedis;

  beforeAll(async () => {
    // A Redis of this suite's own: the machine's shared one serves the other suites.
    redis = await startPrivateRedis();
    h = await startSyncHarness({ redisUrl: redis.url });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await redis?.kill();
  });

  it('Redis stopped mid-run changes nothing but speed: the run succeeds with every file, the token service counts the skipped cache', async () => {
    const githubFiles = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`g${i}.md`, `github ${i}\n`]));
    const { link, folderId, repo } = await h.createLink({ files: githubFiles });
    const driveFiles: Record<string, string> = {};
    for (let i = 0; i < 40; i++) {
      h.drive.seed.file({ name: `d${i}.md`, parentId: folderId, content: `drive ${i}\n` });
      driveFiles[`d${i}.md`] = `drive ${i}\n`;
    }
    // The token is cached in this Redis: the token service uses it until it goes away.
    const peek = new Redis(redis.url, { keyPrefix: h.deps.redisPrefix });
    try {
      expect(await peek.get(`token:google:${h.userId}`)).toBeTruthy();
    } finally {
      peek.disconnect();
    }
    expect(h.cacheUnavailable()).toEqual({});

    h.drive.faults.set({ latencyMs: 100 });
    h.drive.inspect.clearCalls();
    const handle = await h.client.workflow.start('syncLink', {
      taskQueue: taskQueueName('sync', h.taskQueuePrefix),
      workflowId: `sync:${link.id}`,
      args: [{ linkId: link.id }],
      workflowExecutionTimeout: '3m',
    });
    // Listing done, downloads under way: Redis goes.
    const downloading = () => h.drive.inspect.calls().some((c) => c.method === 'GET' && c.fileId && c.query.includes('alt=media'));
    for (let i = 0; i < 300 && !downloading(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(downloading()).toBe(true);
    await redis.kill();

    const run = (await handle.result()) as SyncRunResult;
    h.drive.faults.reset();

    expect(run.status).toBe('synced');
    expect(run.toGithub.commits).toHaveLength(1);
    expect(h.repoTexts(repo)).toEqual({ ...githubFiles, ...driveFiles });
    expect(h.driveTexts(folderId)).toEqual({ ...githubFiles, ...driveFiles });
    expect(h.driveDuplicates(folderId)).toEqual([]);
    const skipped = h.cacheUnavailable();
    expect(Object.values(skipped).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(skipped.get).toBeGreaterThan(0);
    expect(h.logs().filter((l) => l.includes('token cache unavailable'))).toHaveLength(1);
  }, 90_000);
});
