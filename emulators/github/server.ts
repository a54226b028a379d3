import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, readBody } from '../../lib/http';
import type { Logger } from '../../lib/logger';
import { DOCS, GithubApiError, badRequest, notFound } from './errors';
import { FaultState } from './faults';
import type { GithubFaults } from './faults';
import { gitRoutes } from './routes-git';
import { repoRoutes } from './routes-repo';
import { createRepo, pushCommit } from './seed';
import type { SeedCommitOptions, SeedRepoOptions } from './seed';
import type { RepoState, Route } from './shapes';

export type { GithubFaults } from './faults';
export type { SeedCommitOptions, SeedFiles, SeedRepoOptions } from './seed';

export interface GithubEmulatorOptions {
  /** Default: 0, a free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Delay before every answer. Default: 0. */
  latencyMs?: number;
  /** Primary rate limit per token per hour (`x-ratelimit-limit`). Default: 5000. */
  rateLimit?: number;
  /** Request bodies above this answer 413. Default: 64 MiB. */
  maxBodyBytes?: number;
  /** Entries of a recursive `git/trees` answer before it stops with `truncated: true`. Default: 100,000, GitHub's limit. */
  maxTreeEntries?: number;
  /** Receives one debug line per call. Default: none. */
  logger?: Logger;
}

/** One answered (or dropped: status 0) call, for counting API calls per synced file. */
export interface GithubCall {
  method: string;
  /** GitHub's path template, e.g. `/repos/{owner}/{repo}/git/trees`; `(unmatched)` when none fits. */
  route: string;
  path: string;
  status: number;
}

export interface GithubEmulator {
  /** Octokit's `baseUrl`, e.g. http://127.0.0.1:41234. */
  url: string;
  port: number;
  /** Stops the server, dropping keep-alive connections. Idempotent. */
  close(): Promise<void>;
  seed: {
    /** Registers a token; `repos` ("owner/name") limits what it sees (others answer 404). Default: every repository. */
    token(token: string, options?: { repos?: string[] }): void;
    /** Creates a repository with one initial commit on its default branch; returns that commit's sha. */
    repo(fullName: string, options?: SeedRepoOptions): string;
    /** A user's push: one commit on `branch` (null deletes a path; `parent` makes it a force push); returns its sha. */
    commit(fullName: string, options: SeedCommitOptions): string;
  };
  inspect: {
    calls(): GithubCall[];
    clearCalls(): void;
    /** The branch's log, newest first. */
    commits(fullName: string, branch?: string): Array<{ sha: string; message: string; parents: string[]; tree: string }>;
    /** The files at a branch, tag or commit sha. */
    tree(fullName: string, ref?: string): Record<string, Buffer>;
    /** The commit a branch points at, if it exists. */
    ref(fullName: string, branch: string): string | undefined;
  };
  faults: { set(faults: GithubFaults): void; reset(): void };
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

const ROUTES: CompiledRoute[] = [...repoRoutes, ...gitRoutes].map((route) => {
  const names: string[] = [];
  const source = route.template.replace(/\/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    if (name === 'path') return '(?:/(.*))?';
    return ['ref', 'basehead'].includes(name) ? '/(.+)' : '/([^/]+)';
  });
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
});

function match(method: string, pathname: string): { route: CompiledRoute; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.regex.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1] ?? '')));
    return { route, params };
  }
  return undefined;
}

function tokenOf(req: IncomingMessage): string | undefined {
  const m = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/**
 * GitHub's REST API for the Drive <-> GitHub sync, in memory, for tests and offline runs: repositories
 * with a real content-addressed git object store (git's own SHAs), the git data API (refs, commits,
 * trees, blobs), contents, commits (with `link` pagination) and compare; token auth, per-token
 * primary rate limits with GitHub's headers, and injectable faults. Not emulated: anything outside
 * the routes in routes-*.ts (issues, pulls, search...), conditional requests, GraphQL, webhooks.
 */
export async function startGithubEmulator(options: GithubEmulatorOptions = {}): Promise<GithubEmulator> {
  const limit = options.rateLimit ?? 5000;
  const limits = { treeEntries: Math.max(1, options.maxTreeEntries ?? 100_000), compareFiles: 300 };
  const repos = new Map<string, RepoState>();
  const tokens = new Map<string, { userId: number; repos?: Set<string>; used: number; reset: number }>();
  const calls: GithubCall[] = [];
  const faults = new FaultState();
  let url = '';
  let concurrentPushes = 0;

  const findRepo = (fullName: string): RepoState => {
    const repo = repos.get(fullName.toLowerCase());
    if (!repo) throw new Error(`github emulator: no repository ${fullName}`);
    return repo;
  };

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<GithubCall> {
    const method = req.method ?? 'GET';
    const pathname = new URL(req.url ?? '/', 'http://emulator').pathname;
    const query = new URL(req.url ?? '/', 'http://emulator').searchParams;
    const found = match(method, pathname);
    const call: GithubCall = { method, route: found?.route.template ?? '(unmatched)', path: pathname, status: 0 };
    const headers: Record<string, string> = { 'x-github-request-id': requestId, 'x-github-api-version-selected': '2022-11-28' };
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      call.status = status;
      send(res, status, body, { ...headers, ...extra });
      return call;
    };
    try {
      const delay = faults.latency(options.latencyMs ?? 0);
      if (delay > 0) await sleep(delay);
      if (faults.takeDrop()) {
        req.socket.destroy();
        return call;
      }
      const token = tokenOf(req);
      const account = token ? tokens.get(token) : undefined;
      if (!account) throw new GithubApiError(401, 'Bad credentials', DOCS.root);
      const now = Math.floor(Date.now() / 1000);
      if (now >= account.reset) Object.assign(account, { used: 0, reset: now + 3600 });
      const exhausted = account.used >= limit;
      if (!exhausted) account.used++;
      Object.assign(headers, {
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': String(limit - account.used),
        'x-ratelimit-used': String(account.used),
        'x-ratelimit-reset': String(account.reset),
        'x-ratelimit-resource': 'core',
      });
      if (exhausted) {
        throw new GithubApiError(
          403,
          `API rate limit exceeded for user ID ${account.userId}. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
          DOCS.rateLimit,
        );
      }
      const injected = faults.take(method, call.route, requestId);
      if (injected) throw injected;
      if (!found) throw notFound();
      const fullName = `${found.params.owner ?? ''}/${found.params.repo ?? ''}`.toLowerCase();
      const repo = repos.get(fullName);
      if (!repo || (account.repos && !account.repos.has(fullName))) throw notFound(DOCS.repos);
      if (method === 'PATCH' && faults.takeMoveRef(repo.fullName)) {
        const branch = (found.params.ref ?? '').replace(/^(refs\/)?heads\//, '');
        const n = ++concurrentPushes;
        pushCommit(repo, { branch, files: { [`.concurrent-push-${n}`]: `concurrent push ${n}\n` }, message: `Concurrent push ${n}` });
      }
      let body: Record<string, unknown> = {};
      if (method === 'POST' || method === 'PATCH') {
        const text = await readBody(req, options.maxBodyBytes ?? 64 * 1024 * 1024);
        try {
          const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          body = parsed as Record<string, unknown>;
        } catch {
          throw badRequest('Problems parsing JSON');
        }
      }
      const result = found.route.handle({ repo, params: found.params, query, body, api: url, limits });
      return answer(result.status, result.body, result.headers);
    } catch (err) {
      if (err instanceof GithubApiError) return answer(err.status, err.body(), err.headers);
      if (err instanceof HttpError) return answer(err.status, { message: err.message, documentation_url: DOCS.root, status: String(err.status) }, { connection: 'close' });
      throw err;
    }
  }

  const server = createServer((req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    handle(req, res, requestId)
      .then((call) => {
        calls.push(call);
        options.logger?.debug({ ...call, requestId }, 'github emulator call');
      })
      .catch((err: unknown) => {
        options.logger?.error({ err }, 'github emulator: request failed');
        calls.push({ method: req.method ?? 'GET', route: '(error)', path: req.url ?? '', status: 500 });
        if (!res.headersSent) send(res, 500, { message: 'Server Error', documentation_url: DOCS.root, status: '500' }, { 'x-github-request-id': requestId });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  options.logger?.info({ url }, 'github emulator listening');

  let closing: Promise<void> | undefined;
  let nextUserId = 1;
  return {
    url,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
    seed: {
      token(token, opts = {}) {
        const visible = opts.repos ? new Set(opts.repos.map((r) => r.toLowerCase())) : undefined;
        tokens.set(token, { userId: nextUserId++, ...(visible ? { repos: visible } : {}), used: 0, reset: 0 });
      },
      repo(fullName, opts) {
        if (repos.has(fullName.toLowerCase())) throw new Error(`github emulator: repository ${fullName} exists`);
        const repo = createRepo(fullName, opts);
        repos.set(fullName.toLowerCase(), repo);
        return repo.store.resolve(repo.defaultBranch) as string;
      },
      commit: (fullName, opts) => pushCommit(findRepo(fullName), opts),
    },
    inspect: {
      calls: () => calls.map((c) => ({ ...c })),
      clearCalls: () => void calls.splice(0),
      commits(fullName, branch) {
        const repo = findRepo(fullName);
        const head = repo.store.refs.get(`refs/heads/${branch ?? repo.defaultBranch}`);
        return head
          ? repo.store.ancestors(head).map((sha) => {
              const c = repo.store.commit(sha);
              return { sha, message: c?.message ?? '', parents: c?.parents ?? [], tree: c?.tree ?? '' };
            })
          : [];
      },
      tree(fullName, ref) {
        const repo = findRepo(fullName);
        const sha = repo.store.resolve(ref ?? repo.defaultBranch);
        if (!sha) throw new Error(`github emulator: no ref ${ref ?? repo.defaultBranch} in ${fullName}`);
        const files: Record<string, Buffer> = {};
        for (const [path, e] of repo.store.flatten(repo.store.commit(sha)?.tree)) files[path] = repo.store.blob(e.sha) ?? Buffer.alloc(0);
        return files;
      },
      ref: (fullName, branch) => findRepo(fullName).store.refs.get(`refs/heads/${branch}`),
    },
    faults: { set: (f) => faults.set(f), reset: () => faults.reset() },
  };
}
