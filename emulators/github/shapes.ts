import type { Activity } from './activity';
import type { GitStore, Signature } from './git-store';
import type { HookState } from './hooks';
import type { IssueState } from './issues';
import type { GithubWorld } from './world';

/** One emulated repository: its metadata and its git objects and refs. */
export interface RepoState {
  id: number;
  owner: string;
  name: string;
  fullName: string;
  defaultBranch: string;
  private: boolean;
  createdAt: string;
  /** The last ref update's time (`pushed_at`). */
  pushedAt: string;
  store: GitStore;
  /** Its activity feed (`/events`), oldest first, as seeded. */
  events: RepoEvent[];
  /** Issues by creation order; an issue's number is its index + 1. */
  issues: IssueState[];
  /** Its webhooks, with their delivery logs. */
  hooks: HookState[];
}

/** One recorded event of a repository's feed; rendered with `eventJson` (events.ts). */
export interface RepoEvent {
  /** A numeric string, increasing across the emulator's life. */
  id: string;
  /** `PushEvent`, `IssuesEvent`, `CreateEvent`... */
  type: string;
  actor: { id: number; login: string };
  payload: Record<string, unknown>;
  /** ISO 8601 without milliseconds. */
  createdAt: string;
}

/** An owner seeded with `seed.org`: its repositories' events carry `org`, and `/orgs/{org}/events` answers. */
export interface OrgState {
  id: number;
  login: string;
}

/** What a route handler gets: the repository, decoded path parameters, the query and the JSON body. */
export interface RouteContext {
  repo: RepoState;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** The emulator's base URL, for the `url` fields of answers. */
  api: string;
  /** Response size limits: entries of a recursive tree (then `truncated`), files of a compare. */
  limits: { treeEntries: number; compareFiles: number; pollIntervalSeconds: number };
  /** The organizations seeded with `seed.org`, by lower-cased login. */
  orgs: ReadonlyMap<string, OrgState>;
  /** The emulator's state, for ids. */
  world: GithubWorld;
  /** Records and delivers what a call did (pushes, opened issues, pings). */
  activity: Activity;
  /** The user whose token made the call. */
  user: { login: string; id: number };
}

/** What an organization route gets: the organization and the repositories of it the token sees. */
export interface OrgRouteContext extends Omit<RouteContext, 'repo'> {
  org: OrgState;
  repos: RepoState[];
}

export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A route under `/repos/{owner}/{repo}`: answered only when the repository exists and the token sees it. */
export interface Route {
  scope?: 'repo';
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** GitHub's path template, e.g. `/repos/{owner}/{repo}/git/ref/{ref}`; `{ref}`, `{path}` and `{basehead}` may hold slashes. */
  template: string;
  handle(ctx: RouteContext): RouteResult;
}

/** A route under `/orgs/{org}`: answered only for an organization seeded with `seed.org` that owns a repository. */
export interface OrgRoute {
  scope: 'org';
  method: 'GET';
  template: string;
  handle(ctx: OrgRouteContext): RouteResult;
}

export const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Base64 wrapped at 60 characters with a trailing newline, as the contents and blobs APIs answer. */
export function base64Lines(data: Buffer): string {
  const text = data.toString('base64');
  return text === '' ? '' : `${text.match(/.{1,60}/g)?.join('\n') ?? ''}\n`;
}

export const repoApi = (ctx: Pick<RouteContext, 'api' | 'repo'>): string => `${ctx.api}/repos/${ctx.repo.fullName}`;
const html = (repo: RepoState): string => `https://github.com/${repo.fullName}`;

export function nodeId(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`).toString('base64').replace(/=+$/, '');
}

export function repoJson(ctx: Pick<RouteContext, 'api' | 'repo'>): Record<string, unknown> {
  const { repo } = ctx;
  return {
    id: repo.id,
    node_id: nodeId('Repository', String(repo.id)),
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    owner: { login: repo.owner, id: 1, type: 'User', url: `${ctx.api}/users/${repo.owner}` },
    html_url: html(repo),
    url: repoApi(ctx),
    description: null,
    fork: false,
    archived: false,
    disabled: false,
    default_branch: repo.defaultBranch,
    created_at: repo.createdAt,
    updated_at: repo.createdAt,
    pushed_at: repo.pushedAt,
    permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
  };
}

export function refJson(ctx: Pick<RouteContext, 'api' | 'repo'>, ref: string, sha: string): Record<string, unknown> {
  return {
    ref,
    node_id: nodeId('Ref', `${ctx.repo.fullName}:${ref}`),
    url: `${repoApi(ctx)}/git/${ref}`,
    object: { type: 'commit', sha, url: `${repoApi(ctx)}/git/commits/${sha}` },
  };
}

/** A commit as the git data API (`/git/commits`) shows it. */
export function gitCommitJson(ctx: Pick<RouteContext, 'api' | 'repo'>, sha: string): Record<string, unknown> {
  const c = ctx.repo.store.commit(sha);
  if (!c) throw new Error(`not a commit: ${sha}`);
  return {
    sha,
    node_id: nodeId('Commit', sha),
    url: `${repoApi(ctx)}/git/commits/${sha}`,
    html_url: `${html(ctx.repo)}/commit/${sha}`,
    author: c.author,
    committer: c.committer,
    tree: { sha: c.tree, url: `${repoApi(ctx)}/git/trees/${c.tree}` },
    message: c.message,
    parents: c.parents.map((p) => ({ sha: p, url: `${repoApi(ctx)}/git/commits/${p}`, html_url: `${html(ctx.repo)}/commit/${p}` })),
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}

/** A commit as the commits API (`/commits`, compare) shows it. */
export function commitJson(ctx: Pick<RouteContext, 'api' | 'repo'>, sha: string): Record<string, unknown> {
  const c = ctx.repo.store.commit(sha);
  if (!c) throw new Error(`not a commit: ${sha}`);
  return {
    sha,
    node_id: nodeId('Commit', sha),
    commit: {
      author: c.author,
      committer: c.committer,
      message: c.message,
      tree: { sha: c.tree, url: `${repoApi(ctx)}/git/trees/${c.tree}` },
      url: `${repoApi(ctx)}/git/commits/${sha}`,
      comment_count: 0,
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    },
    url: `${repoApi(ctx)}/commits/${sha}`,
    html_url: `${html(ctx.repo)}/commit/${sha}`,
    author: null,
    committer: null,
    parents: c.parents.map((p) => ({ sha: p, url: `${repoApi(ctx)}/commits/${p}`, html_url: `${html(ctx.repo)}/commit/${p}` })),
  };
}

/** Parses an `author`/`committer` body field, defaulting to the emulator's identity and now. */
export function signature(value: unknown, fallback?: Signature): Signature {
  const v = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const date = typeof v.date === 'string' && !Number.isNaN(Date.parse(v.date)) ? new Date(v.date).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
  return {
    name: typeof v.name === 'string' ? v.name : (fallback?.name ?? 'durasync-emulator'),
    email: typeof v.email === 'string' ? v.email : (fallback?.email ?? 'emulator@durasync.invalid'),
    date: date ?? fallback?.date ?? nowIso(),
  };
}
