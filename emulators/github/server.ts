import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, readBody } from '../../lib/http';
import type { Logger } from '../../lib/logger';
import { StateFile, notifying } from '../state-file';
import { Activity } from './activity';
import { Hookshot } from './deliveries';
import { DOCS, GithubApiError, badRequest, notFound } from './errors';
import { eventJson, newestFirst, recordEvent, slugLogin } from './events';
import type { GithubEventJson, SeedEventOptions } from './events';
import { FaultState } from './faults';
import type { GithubFaults } from './faults';
import { etagMatches, eventRoutes, orgRoutes } from './routes-events';
import { deliveryJson, newHook } from './hooks';
import { issueRoutes, newIssue } from './issues';
import { accountsPart, countersPart, reposPart } from './persist';
import { gitRoutes } from './routes-git';
import { hookRoutes } from './routes-hooks';
import { repoRoutes } from './routes-repo';
import { GithubDeviceFlow, type DeviceFlowSnapshot, type GithubOAuthApp } from './oauth-device';
import { createRepo, pushCommit } from './seed';
import type { SeedCommitOptions, SeedHookOptions, SeedIssueOptions, SeedRepoOptions } from './seed';
import type { OrgRoute, OrgState, RepoState, Route, RouteResult } from './shapes';
import { GithubWorld } from './world';
import type { Account } from './world';

export type { EventActor, GithubEventJson, SeedEventOptions } from './events';
export type { GithubFaults } from './faults';
export type { GithubOAuthApp } from './oauth-device';
export type { SeedCommitOptions, SeedFiles, SeedHookOptions, SeedIssueOptions, SeedRepoOptions } from './seed';

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
  /** The events feeds' `x-poll-interval` (seconds). Default: 60, GitHub's. */
  pollIntervalSeconds?: number;
  /** How long a webhook receiver has to answer before the delivery is recorded as `timed out`. Default: 10,000, GitHub's. */
  webhookTimeoutMs?: number;
  /** Receives one debug line per call. Default: none. */
  logger?: Logger;
  /** Apps the device flow knows (more with `seed.oauthApp`). Default: none. */
  oauthApps?: GithubOAuthApp[];
  /** The signed-in user who approves device codes at `/login/device`. Default: `octocat`. */
  login?: string;
  /** `interval` of new device codes, in seconds (tests poll faster). Default: 5, GitHub's. */
  deviceIntervalSeconds?: number;
  /** Device-flow polls closer together than this answer `slow_down` whatever the interval said (exercises a client's slow_down handling). Default: the interval. */
  devicePollFloorSeconds?: number;
  /** `expires_in` of new device codes, in seconds. Default: 900, GitHub's. */
  deviceCodeExpiresInSeconds?: number;
  /**
   * Keeps the emulator's state in this JSON file: loaded at start (missing: empty; unreadable: a
   * StateFileError naming it), saved within 200 ms of every change, flushed by `close()`.
   * Repositories (git objects, refs, feeds, issues, hooks and deliveries), tokens, organizations
   * and id counters survive a restart. Default: memory only.
   */
  stateFile?: string;
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
  /** Stops the server, dropping keep-alive connections and webhook deliveries not yet answered (unrecorded), then saves the state file. Idempotent. */
  close(): Promise<void>;
  seed: {
    /**
     * Registers a token; `repos` ("owner/name") limits what it sees (others answer 404). Default: every repository.
     * `login` is its user, the pusher and sender of what it does. Default: `user-<n>`, n counting tokens from 1.
     */
    token(token: string, options?: { repos?: string[]; login?: string }): void;
    /** Creates a repository with one initial commit on its default branch; returns that commit's sha. */
    repo(fullName: string, options?: SeedRepoOptions): string;
    /**
     * A user's push: one commit on `branch` (null deletes a path; `parent` makes it a force push); returns its sha.
     * Records a `PushEvent` in the repository's feed (`options.actor`, default: the author's name as a login) and delivers `push`.
     */
    commit(fullName: string, options: SeedCommitOptions): string;
    /**
     * Makes `login` an organization: events of its repositories carry `org`, and `GET /orgs/{login}/events`
     * answers (404 for any other login, and for an organization without repositories). Idempotent.
     */
    org(login: string): void;
    /** Appends an event (`type`, `payload` as given) to the repository's feed; returns its id. */
    event(fullName: string, options: SeedEventOptions): string;
    /** Registers an OAuth App or GitHub App for the device flow (`durasync connect github`). */
    oauthApp(app: GithubOAuthApp): void;
    /** Adds a webhook (events default `['push']`, no `ping` sent) and returns its id; it gets every later push, issue... it subscribes to. */
    hook(fullName: string, options: SeedHookOptions): number;
    /** Opens an issue as `actor` (default: `seed-user`): records an `IssuesEvent` and delivers `issues`; returns its number. */
    issue(fullName: string, options: SeedIssueOptions): number;
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
    /** Every event recorded for the repository, newest first, as the Events API shows them (no 300 or 90-day cut). */
    events(fullName: string): GithubEventJson[];
    /** Every webhook delivery of the repository, oldest first, as `GET .../deliveries/{id}` shows it, with its `hook_id`. */
    deliveries(fullName: string): Array<Record<string, unknown> & { hook_id: number }>;
    /** Resolves once every queued webhook delivery has been attempted. */
    deliveriesSettled(): Promise<void>;
  };
  faults: { set(faults: GithubFaults): void; reset(): void };
}

type CompiledRoute = (Route | OrgRoute) & {
  regex: RegExp;
  names: string[];
};

const ROUTES: CompiledRoute[] = [...repoRoutes, ...gitRoutes, ...eventRoutes, ...hookRoutes, ...issueRoutes, ...orgRoutes].map((route) => {
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
 * trees, blobs), contents, commits (with `link` pagination), compare, and the Events API's repository
 * and organization feeds (events seeded with `seed.event`, a `PushEvent` per ref update, seeded or
 * through the API, an `IssuesEvent` per opened issue; at most 300 per feed, `x-poll-interval`, a weak
 * `etag` and a 304 answer to a matching `If-None-Match` that does not count against the rate limit);
 * opening issues; repository webhooks (hooks.ts, routes-hooks.ts) delivering signed `ping`, `push` and
 * `issues` events as GitHub's Hookshot does (deliveries.ts); token auth, per-token primary rate limits
 * with GitHub's headers, and injectable faults; `GET /user`; GitHub's OAuth device flow and token
 * endpoint (oauth-device.ts), whose tokens work on the API as the signed-in user's. Not emulated: anything outside the routes in
 * routes-*.ts and issues.ts (pulls, search, user feeds, other issue routes...), conditional requests
 * on other routes, GraphQL, organization webhooks, GitHub's refusal of hook urls on localhost.
 */
export async function startGithubEmulator(options: GithubEmulatorOptions = {}): Promise<GithubEmulator> {
  const limit = options.rateLimit ?? 5000;
  const limits = { treeEntries: Math.max(1, options.maxTreeEntries ?? 100_000), compareFiles: 300, pollIntervalSeconds: options.pollIntervalSeconds ?? 60 };
  const world = new GithubWorld();
  const { repos, tokens, orgs } = world;
  let url = '';
  const oauth = new GithubDeviceFlow({
    baseUrl: () => url,
    login: options.login ?? 'octocat',
    intervalSec: options.deviceIntervalSeconds ?? 5,
    ...(options.devicePollFloorSeconds === undefined ? {} : { pollFloorSec: options.devicePollFloorSeconds }),
    ...(options.deviceCodeExpiresInSeconds === undefined ? {} : { codeTtlSec: options.deviceCodeExpiresInSeconds }),
    register: (token, login, expiresAt) => tokens.set(token, { userId: world.accountId(login), login, used: 0, reset: 0, ...(expiresAt === null ? {} : { expiresAt }) }),
  });
  for (const app of options.oauthApps ?? []) oauth.addApp(app);
  const deviceFlowPart = { key: 'deviceFlow', snapshot: () => oauth.snapshot(), restore: (j: unknown) => oauth.restore(j as DeviceFlowSnapshot) };
  const persist = options.stateFile
    ? new StateFile(options.stateFile, [reposPart(world), accountsPart(world), countersPart(world), deviceFlowPart], { emulator: 'github', logger: options.logger })
    : undefined;
  await persist?.load();
  const hookshot = new Hookshot(world, { onRecorded: () => persist?.changed(), timeoutMs: options.webhookTimeoutMs });
  const activity = new Activity(world, hookshot, () => url);
  const calls: GithubCall[] = [];
  const faults = new FaultState();
  let concurrentPushes = 0;

  const findRepo = (fullName: string): RepoState => {
    const repo = repos.get(fullName.toLowerCase());
    if (!repo) throw new Error(`github emulator: no repository ${fullName}`);
    return repo;
  };

  /** A user's push (seeded, or a concurrent push fault) and the `PushEvent` it records. */
  function userPush(repo: RepoState, opts: SeedCommitOptions): string {
    const ref = `refs/heads/${opts.branch ?? repo.defaultBranch}`;
    const before = repo.store.refs.get(ref);
    const head = pushCommit(repo, opts);
    const pusher = opts.author ?? { name: 'Seed User', email: 'seed@durasync.invalid' };
    activity.refUpdated(repo, { ref, before, after: head, actor: opts.actor ?? { login: slugLogin(pusher.name) }, pusher });
    return head;
  }

  const userOf = (account: Account) => ({ login: account.login, id: world.accountId(account.login) });

  /** The organization of `/orgs/{org}` and its repositories the account sees; 404 unless seeded with `seed.org` and owning one. */
  function orgScope(login: string, account: Account): { org: OrgState; repos: RepoState[] } {
    const org = orgs.get(login.toLowerCase());
    const owned = [...repos.values()].filter((r) => r.owner.toLowerCase() === login.toLowerCase());
    if (!org || owned.length === 0) throw notFound(DOCS.orgEvents);
    return { org, repos: owned.filter((r) => !account.repos || account.repos.has(r.fullName.toLowerCase())) };
  }

  /** Sends JSON, or nothing when `body` is undefined (a 304). */
  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    if (body === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** A `/repos/{owner}/{repo}` route: 404 unless the account sees the repository; parses a POST/PATCH body. */
  async function handleRepoRoute(
    req: IncomingMessage,
    method: string,
    route: Route,
    params: Record<string, string>,
    query: URLSearchParams,
    account: Account,
  ): Promise<RouteResult> {
    const fullName = `${params.owner ?? ''}/${params.repo ?? ''}`.toLowerCase();
    const repo = repos.get(fullName);
    if (!repo || (account.repos && !account.repos.has(fullName))) throw notFound(DOCS.repos);
    if (method === 'PATCH' && faults.takeMoveRef(repo.fullName)) {
      const branch = (params.ref ?? '').replace(/^(refs\/)?heads\//, '');
      const n = ++concurrentPushes;
      userPush(repo, { branch, files: { [`.concurrent-push-${n}`]: `concurrent push ${n}\n` }, message: `Concurrent push ${n}` });
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
    return route.handle({ repo, params, query, body, api: url, limits, orgs, world, activity, user: userOf(account) });
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
      const oauthStatus = pathname.startsWith('/login/') ? await oauth.handle(req, res, pathname) : undefined;
      if (oauthStatus !== undefined) return Object.assign(call, { route: pathname, status: oauthStatus });
      const token = tokenOf(req);
      const account = token ? tokens.get(token) : undefined;
      if (!account || (account.expiresAt !== undefined && account.expiresAt <= Date.now())) throw new GithubApiError(401, 'Bad credentials', DOCS.root);
      const now = Math.floor(Date.now() / 1000);
      if (now >= account.reset) Object.assign(account, { used: 0, reset: now + 3600 });
      const exhausted = account.used >= limit;
      if (!exhausted) account.used++;
      const rateHeaders = () =>
        Object.assign(headers, {
          'x-ratelimit-limit': String(limit),
          'x-ratelimit-remaining': String(limit - account.used),
          'x-ratelimit-used': String(account.used),
          'x-ratelimit-reset': String(account.reset),
          'x-ratelimit-resource': 'core',
        });
      rateHeaders();
      if (exhausted) {
        throw new GithubApiError(
          403,
          `API rate limit exceeded for user ID ${account.userId}. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
          DOCS.rateLimit,
        );
      }
      const injected = faults.take(method, call.route, requestId);
      if (injected) throw injected;
      if (method === 'GET' && pathname === '/user') {
        call.route = '/user';
        return answer(200, { login: account.login ?? `seed-user-${account.userId}`, id: account.userId, type: 'User', site_admin: false });
      }
      if (!found) throw notFound();
      const result =
        found.route.scope === 'org'
          ? found.route.handle({ ...orgScope(found.params.org ?? '', account), params: found.params, query, body: {}, api: url, limits, orgs, world, activity, user: userOf(account) })
          : await handleRepoRoute(req, method, found.route, found.params, query, account);
      const etag = result.headers?.etag;
      if (method === 'GET' && result.status === 200 && etag && etagMatches(req.headers['if-none-match'], etag)) {
        // Not modified: GitHub does not count a 304 against the primary rate limit, so the call is refunded.
        account.used--;
        rateHeaders();
        const { link: _link, ...kept } = result.headers ?? {};
        return answer(304, undefined, kept);
      }
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
        if (call.method !== 'GET') persist?.changed();
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
  /** Seed helpers write: each call schedules a save. */
  const watched = <T extends object>(seed: T): T => (persist ? notifying(seed, () => persist.changed()) : seed);
  return {
    url,
    port,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await hookshot.close();
        await persist?.flush();
      })()),
    seed: watched({
      token(token, opts = {}) {
        const visible = opts.repos ? new Set(opts.repos.map((r) => r.toLowerCase())) : undefined;
        const userId = world.next('user');
        tokens.set(token, { userId, login: opts.login ?? `user-${userId}`, ...(visible ? { repos: visible } : {}), used: 0, reset: 0 });
      },
      repo(fullName, opts) {
        if (repos.has(fullName.toLowerCase())) throw new Error(`github emulator: repository ${fullName} exists`);
        const repo = createRepo(fullName, world.next('repo'), opts);
        repos.set(fullName.toLowerCase(), repo);
        return repo.store.resolve(repo.defaultBranch) as string;
      },
      commit: (fullName, opts) => userPush(findRepo(fullName), opts),
      org(login) {
        if (!orgs.has(login.toLowerCase())) orgs.set(login.toLowerCase(), { id: world.accountId(login), login });
      },
      event: (fullName, opts) => recordEvent(findRepo(fullName), opts, world).id,
      oauthApp: (app) => oauth.addApp(app),
      hook(fullName, opts) {
        const repo = findRepo(fullName);
        const hook = newHook(world.next('hook'), { config: { url: opts.url, secret: opts.secret, content_type: opts.contentType }, events: opts.events, active: opts.active }, repo.hooks);
        repo.hooks.push(hook);
        return hook.id;
      },
      issue(fullName, opts) {
        const repo = findRepo(fullName);
        const actor = opts.actor ?? { login: 'seed-user' };
        const issue = newIssue({ repo, world }, opts, { login: actor.login, id: actor.id ?? world.accountId(actor.login) });
        activity.issueOpened(repo, issue);
        return issue.number;
      },
    }),
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
      events(fullName) {
        const repo = findRepo(fullName);
        const org = orgs.get(repo.owner.toLowerCase());
        return newestFirst(repo.events.map((event) => ({ event }))).map(({ event }) => eventJson(url, repo, event, org));
      },
      deliveries(fullName) {
        const repo = findRepo(fullName);
        const api = `${url}/repos/${repo.fullName}`;
        return repo.hooks
          .flatMap((hook) => hook.deliveries.map((d) => ({ hook, d })))
          .sort((a, b) => a.d.id - b.d.id)
          .map(({ hook, d }) => ({ hook_id: hook.id, ...deliveryJson(repo.id, d, { url: `${api}/hooks/${hook.id}/deliveries/${d.id}` }) }));
      },
      deliveriesSettled: () => hookshot.idle(),
    },
    faults: { set: (f) => faults.set(f), reset: () => faults.reset() },
  };
}
