import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { startGithubEmulator, type GithubEmulator } from '../../emulators/github/server';
import { parseEncryptionKeys } from '../../lib/codec';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import type { CreateSyncLinkInput, SyncLink } from '../../lib/db/store';
import { createLogger, type LogLevel } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createGoogleRefresher } from '../../lib/providers/google';
import { taskQueueName, type ApiQueueName, type QueueName } from '../../lib/queues';
import { TokenService } from '../../lib/tokens/token-service';
import { createQueueWorker } from '../../workers/process';
import type { SyncLinkInput, SyncRunResult } from '../../workflows';
import { openTestDeps, type TestDeps } from './deps';
import { connectTestEnv, testWorkflowBundle } from './temporal';

/**
 * Everything a sync run needs, real but for Google and GitHub (the emulators): the run's Temporal
 * dev server, the suite's own database and Redis prefix, a token service sealing with a fresh key,
 * and workers for `sync`, `drive-api` and `github-api` under a unique task queue prefix.
 */
export interface SyncHarness {
  env: TestWorkflowEnvironment;
  client: Client;
  config: DurasyncConfig;
  deps: TestDeps;
  drive: DriveEmulator;
  github: GithubEmulator;
  tokens: TokenService;
  /** The user whose tokens the links use. */
  userId: string;
  /** The GitHub token the emulator accepts. */
  githubToken: string;
  /** The user's Google tokens as first stored (the emulator minted the access token). */
  googleAccessToken: string;
  googleRefreshToken: string;
  /** DURASYNC_TOKEN_KEY of the harness (`k1:<base64>`): seals every stored token. */
  tokenKey: string;
  /** DURASYNC_TASK_QUEUE_PREFIX of the harness's workers (`<prefix>sync`, `<prefix>drive-api`...). */
  taskQueuePrefix: string;
  /** Every line the in-process workers' logger wrote (pino JSON), oldest first. */
  logs(): string[];
  /** Cache operations the token service skipped because the cache was unavailable, by operation. */
  cacheUnavailable(): Record<string, number>;
  /**
   * The environment a `durasync worker` child needs to serve this harness's `sync` family (and its
   * provider queues) in place of the in-process workers; add DURASYNC_OPS_PORT.
   */
  workerEnv(): Record<string, string>;
  /** Another user with tokens of their own (each GitHub token has its own hourly rate limit); links take it as `userId`. */
  createUser(): Promise<string>;
  /** Creates a repository (with files) and a Drive folder, and a link between them. */
  createLink(options?: { files?: Record<string, string | Buffer>; path?: string } & Partial<CreateSyncLinkInput>): Promise<{ link: SyncLink; folderId: string; repo: string }>;
  /** Runs a sync workflow (id `sync:<linkId>`) to completion. */
  sync(linkId: string, options?: Omit<SyncLinkInput, 'linkId'> & { workflow?: 'syncLink' | 'driveToGithub' | 'githubToDrive' }): Promise<SyncRunResult>;
  /** Text of every live file under a Drive folder, by path. */
  driveTexts(folderId: string): Record<string, string>;
  /** Live files and folders under a folder (at any depth) sharing their parent and name with another: `<parentId>/<name>` of each. */
  driveDuplicates(folderId: string): string[];
  /** The Drive file at a path under a folder. */
  driveFileAt(folderId: string, path: string): string | undefined;
  /** Text of every file of a repository's default branch under `prefix`, by path relative to it. */
  repoTexts(repo: string, prefix?: string): Record<string, string>;
  /** Starts and stops the workers (e.g. to kill one mid-run). */
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

let repoCounter = 0;

export interface SyncHarnessOptions {
  latencyMs?: number;
  env?: Record<string, string>;
  /** A Redis of the suite's own for the token service and cache (default: the shared one, under a private prefix). */
  redisUrl?: string;
  /** Level of the workers' logger (captured in memory, see `logs()`). Default: info. */
  logLevel?: LogLevel;
}

export async function startSyncHarness(options: SyncHarnessOptions = {}): Promise<SyncHarness> {
  const env = await connectTestEnv();
  const deps = await openTestDeps(options.redisUrl ? { redisUrl: options.redisUrl } : {});
  const drive = await startDriveEmulator({ latencyMs: options.latencyMs });
  const github = await startGithubEmulator({ latencyMs: options.latencyMs });
  const prefix = `t${randomBytes(4).toString('hex')}-`;
  const keyText = `k1:${randomBytes(32).toString('base64')}`;
  const config = loadConfig({
    ...process.env,
    DURASYNC_TASK_QUEUE_PREFIX: prefix,
    DURASYNC_SHUTDOWN_GRACE: '1s',
    DURASYNC_TOKEN_KEY: keyText,
    GOOGLE_CLIENT_ID: 'durasync-test',
    GOOGLE_CLIENT_SECRET: 'durasync-test-secret',
    GOOGLE_TOKEN_URL: drive.tokenUrl,
    GOOGLE_API_ROOT_URL: drive.url,
    GITHUB_API_URL: github.url,
    ...options.env,
  });
  const logLines: string[] = [];
  const logger = createLogger({ level: options.logLevel ?? 'info', destination: { write: (line: string) => void logLines.push(line) } });
  const unavailable: Record<string, number> = {};
  const tokens = new TokenService({
    store: deps.store,
    cache: deps.cache,
    keys: parseEncryptionKeys(keyText),
    refresher: createGoogleRefresher(config.providers.google),
    logger,
    onCacheUnavailable: (operation) => void (unavailable[operation] = (unavailable[operation] ?? 0) + 1),
  });
  /** A user with a Google token pair and a GitHub token of their own, both known to the emulators. */
  const createUser = async () => {
    const id = `user-${randomBytes(3).toString('hex')}`;
    const { accessToken: googleAccess } = drive.seed.token({ refreshToken: `refresh-${id}` });
    await tokens.save('google', id, { accessToken: googleAccess, refreshToken: `refresh-${id}`, expiresAt: new Date(Date.now() + 3_600_000) });
    const githubAccess = `ghp_${randomBytes(12).toString('hex')}`;
    github.seed.token(githubAccess);
    await tokens.save('github', id, { accessToken: githubAccess, expiresAt: null });
    return { userId: id, googleAccessToken: googleAccess, githubToken: githubAccess };
  };
  const { userId, googleAccessToken: accessToken, githubToken } = await createUser();

  let workers: Array<{ worker: Worker; running: Promise<void> }> = [];
  const metrics = createMetrics();
  const harness: SyncHarness = {
    env,
    client: env.client,
    config,
    deps,
    drive,
    github,
    tokens,
    userId,
    githubToken,
    googleAccessToken: accessToken,
    googleRefreshToken: `refresh-${userId}`,
    tokenKey: keyText,
    taskQueuePrefix: prefix,
    logs: () => [...logLines],
    cacheUnavailable: () => ({ ...unavailable }),
    workerEnv: () => ({
      DATABASE_URL: deps.db.url,
      REDIS_URL: deps.redisUrl,
      DURASYNC_REDIS_PREFIX: deps.redisPrefix,
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE ?? '',
      DURASYNC_QUEUES: 'sync',
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_SHUTDOWN_GRACE: '1s',
      DURASYNC_TOKEN_KEY: keyText,
      GOOGLE_CLIENT_ID: 'durasync-test',
      GOOGLE_CLIENT_SECRET: 'durasync-test-secret',
      GOOGLE_TOKEN_URL: drive.tokenUrl,
      GOOGLE_API_ROOT_URL: drive.url,
      GITHUB_API_URL: github.url,
      ...options.env,
    }),
    async createUser() {
      return (await createUser()).userId;
    },
    async createLink(opts = {}) {
      const repo = opts.githubRepo ?? `acme/notes-${++repoCounter}-${randomBytes(2).toString('hex')}`;
      if (!opts.githubRepo) github.seed.repo(repo, { files: opts.files ?? {} });
      const folderId = opts.driveFolderId ?? drive.seed.folder(`notes-${repoCounter}`).id;
      const { link } = await deps.store.createSyncLink({
        driveFolderId: folderId,
        githubRepo: repo,
        userId: opts.userId ?? userId,
        githubPath: opts.path ?? opts.githubPath ?? '',
        ...(opts.direction ? { direction: opts.direction } : {}),
        ...(opts.conflictPolicy ? { conflictPolicy: opts.conflictPolicy } : {}),
      });
      return { link, folderId, repo };
    },
    async sync(linkId, opts = {}) {
      const { workflow = 'syncLink', ...input } = opts;
      const result = await env.client.workflow.execute<(input: SyncLinkInput) => Promise<SyncRunResult>>(workflow, {
        taskQueue: taskQueueName('sync', prefix),
        workflowId: `sync:${linkId}`,
        args: [{ linkId, ...input }],
        workflowExecutionTimeout: '3m',
      });
      return result;
    },
    driveTexts(folderId) {
      return Object.fromEntries([...drive.inspect.paths(folderId)].map(([path, id]) => [path, drive.inspect.content(id)?.toString('utf8') ?? '']));
    },
    driveDuplicates(folderId) {
      const live = drive.inspect.files().filter((f) => !f.trashed);
      const byId = new Map(live.map((f) => [f.id, f]));
      const under = (id: string | undefined, depth = 0): boolean => id === folderId || (!!id && depth < 50 && under(byId.get(id)?.parents?.[0], depth + 1));
      const seen = new Map<string, number>();
      for (const f of live) {
        const parent = f.parents?.[0];
        if (!under(parent)) continue;
        seen.set(`${parent}/${f.name}`, (seen.get(`${parent}/${f.name}`) ?? 0) + 1);
      }
      return [...seen].filter(([, n]) => n > 1).map(([key]) => key);
    },
    driveFileAt(folderId, path) {
      return drive.inspect.paths(folderId).get(path);
    },
    repoTexts(repo, prefix = '') {
      return Object.fromEntries(
        Object.entries(github.inspect.tree(repo))
          .filter(([p]) => p.startsWith(prefix))
          .map(([p, c]) => [p.slice(prefix.length), c.toString('utf8')]),
      );
    },
    async startWorkers() {
      const queues: Array<QueueName | ApiQueueName> = ['sync', 'drive-api', 'github-api'];
      const built = await Promise.all(
        queues.map((queue) =>
          createQueueWorker({
            connection: env.nativeConnection,
            config,
            queue,
            bundle: testWorkflowBundle(),
            metrics,
            deps: { store: deps.store, cache: deps.cache, logger, tokens, google: { rootUrl: drive.url }, github: { baseUrl: github.url } },
          }),
        ),
      );
      workers = built.map((worker) => ({ worker, running: worker.run() }));
    },
    async stopWorkers() {
      for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(workers.map((w) => w.running));
      workers = [];
    },
    async close() {
      await harness.stopWorkers();
      await drive.close();
      await github.close();
      await deps.close();
      await env.teardown();
    },
  };
  await harness.startWorkers();
  return harness;
}
