import type { EventActor } from '../workflows/ingestion/types';

/**
 * Webhook payloads -> the columns of an event. GitHub's event types we know are checked for the
 * fields we read (a payload missing them is an InvalidEventError); any other event type, and any
 * other source, is stored generically: never refused.
 */

export interface NormalizedEvent {
  /** `type` or `type.action`. */
  kind: string;
  type: string;
  action: string | null;
  repository: string | null;
  title: string;
  body: string | null;
  occurredAt: Date | null;
  actor: EventActor | null;
  /**
   * What happened, independent of the path it came by (events.occurrence_key): a webhook and the
   * same event pulled from the Events API get the same key. Null where no field pins one
   * occurrence down (stars, branch creation and deletion, unknown types).
   */
  occurrenceKey: string | null;
}

/** A payload that is not the event it claims to be. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** Longest body kept for search and keywords. */
const MAX_BODY = 64 * 1024;

type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

function obj(parent: Obj, key: string, event: string): Obj {
  const value = parent[key];
  if (!isObj(value)) throw new InvalidEventError(`${event}: "${key}" must be an object`);
  return value;
}

function str(parent: Obj, key: string, event: string): string {
  const value = parent[key];
  if (typeof value !== 'string') throw new InvalidEventError(`${event}: "${key}" must be a string`);
  return value;
}

const optStr = (parent: Obj | undefined, key: string): string | undefined => (typeof parent?.[key] === 'string' ? parent[key] : undefined);
const optObj = (parent: Obj | undefined, key: string): Obj | undefined => (isObj(parent?.[key]) ? parent[key] : undefined);

function date(value: unknown): Date | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const d = new Date(typeof value === 'number' && value < 1e12 ? value * 1000 : value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function text(...parts: (string | undefined | null)[]): string | null {
  const joined = parts.filter((p): p is string => typeof p === 'string' && p !== '').join('\n');
  return joined === '' ? null : joined.slice(0, MAX_BODY);
}

function repositoryOf(payload: Obj, event: string): string | null {
  if (payload.repository === undefined || payload.repository === null) return null;
  return str(obj(payload, 'repository', event), 'full_name', event);
}

function number(parent: Obj, key: string, event: string): number {
  const value = parent[key];
  if (typeof value !== 'number') throw new InvalidEventError(`${event}: "${key}" must be a number`);
  return value;
}

function senderOf(payload: Obj): EventActor | null {
  const sender = optObj(payload, 'sender');
  if (!sender || (typeof sender.id !== 'number' && typeof sender.id !== 'string')) return null;
  return { provider: 'github', externalId: String(sender.id), ...(optStr(sender, 'login') ? { login: optStr(sender, 'login') } : {}) };
}

type Parts = Omit<NormalizedEvent, 'kind' | 'type' | 'action' | 'repository' | 'actor' | 'occurrenceKey'> & { actor?: EventActor | null; occurrenceKey?: string | null };
type Normalizer = (payload: Obj, repo: string | null, event: string) => Parts;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

const GITHUB: Record<string, Normalizer> = {
  push(p, repo, e) {
    const ref = str(p, 'ref', e);
    const commits = p.commits === undefined ? [] : p.commits;
    if (!Array.isArray(commits)) throw new InvalidEventError(`${e}: "commits" must be an array`);
    const head = optObj(p, 'head_commit');
    const pusher = optObj(p, 'pusher');
    const sender = senderOf(p);
    const branch = ref.replace(/^refs\/(heads|tags)\//, '');
    return {
      title: p.deleted === true ? `${branch} deleted in ${repo ?? 'a repository'}` : `${plural(commits.length, 'commit')} pushed to ${branch}`,
      body: text(...commits.map((c) => (isObj(c) ? optStr(c, 'message') : undefined))),
      occurredAt: date(head?.timestamp),
      actor: sender ? { ...sender, ...(optStr(pusher, 'email') ? { email: optStr(pusher, 'email') } : {}), ...(optStr(pusher, 'name') ? { name: optStr(pusher, 'name') } : {}) } : null,
    };
  },
  pull_request(p, _repo, e) {
    const pr = obj(p, 'pull_request', e);
    return { title: `PR #${number(pr, 'number', e)}: ${str(pr, 'title', e)}`, body: text(optStr(pr, 'body')), occurredAt: date(pr.updated_at) };
  },
  issues(p, _repo, e) {
    const issue = obj(p, 'issue', e);
    return { title: `Issue #${number(issue, 'number', e)}: ${str(issue, 'title', e)}`, body: text(optStr(issue, 'body')), occurredAt: date(issue.updated_at) };
  },
  issue_comment(p, _repo, e) {
    const issue = obj(p, 'issue', e);
    const comment = obj(p, 'comment', e);
    return {
      title: `Comment on #${number(issue, 'number', e)}: ${optStr(issue, 'title') ?? ''}`.trimEnd(),
      body: text(str(comment, 'body', e)),
      occurredAt: date(comment.updated_at ?? comment.created_at),
    };
  },
  release(p, _repo, e) {
    const release = obj(p, 'release', e);
    const tag = str(release, 'tag_name', e);
    const name = optStr(release, 'name');
    return { title: `Release ${tag}${name && name !== tag ? `: ${name}` : ''}`, body: text(optStr(release, 'body')), occurredAt: date(release.published_at ?? release.created_at) };
  },
  star(p, repo) {
    return { title: `${optStr(optObj(p, 'sender'), 'login') ?? 'someone'} ${p.action === 'deleted' ? 'unstarred' : 'starred'} ${repo ?? 'a repository'}`, body: null, occurredAt: date(p.starred_at) };
  },
  watch(p, repo) {
    return { title: `${optStr(optObj(p, 'sender'), 'login') ?? 'someone'} starred ${repo ?? 'a repository'}`, body: null, occurredAt: null };
  },
  create(p, _repo, e) {
    return { title: `${str(p, 'ref_type', e)} ${str(p, 'ref', e)} created`, body: null, occurredAt: null };
  },
  delete(p, _repo, e) {
    return { title: `${str(p, 'ref_type', e)} ${str(p, 'ref', e)} deleted`, body: null, occurredAt: null };
  },
  workflow_run(p, _repo, e) {
    const run = obj(p, 'workflow_run', e);
    const outcome = optStr(run, 'conclusion') ?? optStr(run, 'status') ?? 'unknown';
    return {
      title: `Workflow ${str(run, 'name', e)} #${typeof run.run_number === 'number' ? run.run_number : '?'} ${outcome}${optStr(run, 'head_branch') ? ` on ${optStr(run, 'head_branch')}` : ''}`,
      body: text(optStr(run, 'display_title')),
      occurredAt: date(run.updated_at),
    };
  },
};

/** `type:part:part...` when every part is known, else null. */
function keyOf(...parts: unknown[]): string | null {
  if (parts.some((p) => (typeof p !== 'string' || p === '') && typeof p !== 'number')) return null;
  return parts.map(String).join(':');
}

const idOf = (o: Obj | undefined) => (typeof o?.id === 'number' || typeof o?.id === 'string' ? o.id : undefined);

/**
 * The occurrence key of a GitHub event (see NormalizedEvent.occurrenceKey): the repository, the
 * object's id, the action and the object's updated_at as the provider stamped them, which the
 * webhook and the Events API copy of one event share; a push by its ref and new head.
 */
const OCCURRENCE: Record<string, (p: Obj, repo: string, action: string | null) => string | null> = {
  push: (p, repo) => keyOf('push', repo, optStr(p, 'ref'), optStr(p, 'after')),
  pull_request: (p, repo, action) => keyOf('pull_request', repo, idOf(optObj(p, 'pull_request')), action, optStr(optObj(p, 'pull_request'), 'updated_at')),
  issues: (p, repo, action) => keyOf('issues', repo, idOf(optObj(p, 'issue')), action, optStr(optObj(p, 'issue'), 'updated_at')),
  issue_comment: (p, repo, action) => {
    const comment = optObj(p, 'comment');
    return keyOf('issue_comment', repo, idOf(comment), action, optStr(comment, 'updated_at') ?? optStr(comment, 'created_at'));
  },
  release: (p, repo, action) => keyOf('release', repo, idOf(optObj(p, 'release')), action),
  workflow_run: (p, repo, action) => keyOf('workflow_run', repo, idOf(optObj(p, 'workflow_run')), action, optStr(optObj(p, 'workflow_run'), 'updated_at')),
};

/** The GitHub event types with a normaliser of their own. */
export const GITHUB_EVENT_TYPES = Object.keys(GITHUB);

/** The columns any event has: its type, action, repository and (GitHub) sender; no body, no occurrence key. */
export function normalizeGeneric(source: string, event: string, payload: unknown): NormalizedEvent {
  const p = isObj(payload) ? payload : undefined;
  const action = optStr(p, 'action') ?? null;
  const repository = optStr(optObj(p, 'repository'), 'full_name') ?? null;
  return {
    type: event,
    action,
    kind: action ? `${event}.${action}` : event,
    repository,
    title: `${event}${action ? ` ${action}` : ''}${repository ? ` in ${repository}` : ''}`,
    body: null,
    occurredAt: null,
    actor: source === 'github' && p ? senderOf(p) : null,
    occurrenceKey: null,
  };
}

/**
 * The event columns of a delivery. Known GitHub types must be JSON objects with the fields their
 * normaliser reads (InvalidEventError otherwise); anything else is stored generically.
 */
export function normalizeEvent(source: string, event: string, payload: unknown): NormalizedEvent {
  const normalizer = source === 'github' ? GITHUB[event] : undefined;
  const p = isObj(payload) ? payload : undefined;
  if (normalizer && !p) throw new InvalidEventError(`${event}: the payload must be a JSON object`);
  const action = optStr(p, 'action') ?? null;
  const base = { type: event, action, kind: action ? `${event}.${action}` : event };
  if (!normalizer || !p) return normalizeGeneric(source, event, payload);
  const repository = repositoryOf(p, event);
  const parts = normalizer(p, repository, event);
  return { ...base, repository, ...parts, actor: parts.actor === undefined ? senderOf(p) : parts.actor, occurrenceKey: repository ? (OCCURRENCE[event]?.(p, repository.toLowerCase(), action) ?? null) : null };
}
