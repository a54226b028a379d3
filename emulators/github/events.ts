import { nowIso } from './shapes';
import type { OrgState, RepoEvent, RepoState } from './shapes';
import type { Ids } from './world';

/** Recording and rendering the Events API's events (`/repos/{owner}/{repo}/events`, `/orgs/{org}/events`). */

/** Who an event is by: a GitHub login, and its user id (default: one the emulator assigns per login). */
export interface EventActor {
  login: string;
  id?: number;
}

export interface SeedEventOptions {
  /** GitHub's event type: `PushEvent`, `IssuesEvent`, `CreateEvent`, `WatchEvent`... */
  type: string;
  /** The event's `payload`, as given. */
  payload: Record<string, unknown>;
  /** Default: `seed-user` (the default seed author, slugified). */
  actor?: EventActor;
  /** Default: now. Feeds sort newest first by this, then by id; GitHub drops events older than 90 days. */
  createdAt?: string | Date;
}

/** An event as the Events API answers it. */
export interface GithubEventJson {
  id: string;
  type: string;
  actor: { id: number; login: string; display_login: string; gravatar_id: string; url: string; avatar_url: string };
  repo: { id: number; name: string; url: string };
  payload: Record<string, unknown>;
  public: boolean;
  created_at: string;
  org?: { id: number; login: string; gravatar_id: string; url: string; avatar_url: string };
}

/** GitHub keeps at most 300 events per feed, none older than 90 days. */
export const FEED_LIMIT = 300;
const FEED_MAX_AGE_MS = 90 * 24 * 3600 * 1000;
const NO_COMMIT = '0'.repeat(40);

/** A git author name as a GitHub login: "Seed User" -> "seed-user" (at most 39 characters, as GitHub allows). */
export function slugLogin(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 39)
    .replace(/-+$/, '');
  return slug || 'ghost';
}

function isoSeconds(value: string | Date | undefined): string {
  if (value === undefined) return nowIso();
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`seed.event: createdAt is not a date: ${String(value)}`);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Appends an event to the repository's feed; an actor without an id gets its login's stable id. */
export function recordEvent(repo: RepoState, options: SeedEventOptions, ids: Ids): RepoEvent {
  if (!options.type) throw new Error('seed.event: type is required');
  const login = options.actor?.login ?? 'seed-user';
  const event: RepoEvent = {
    id: String(ids.next('event')),
    type: options.type,
    actor: { login, id: options.actor?.id ?? ids.accountId(login) },
    payload: structuredClone(options.payload),
    createdAt: isoSeconds(options.createdAt),
  };
  repo.events.push(event);
  return event;
}

/** The `PushEvent` of a push that moved `ref` (`refs/heads/main`) from `before` (undefined: a new ref) to `head`, in its 2025 shape. */
export function recordPush(
  repo: RepoState,
  push: { ref: string; before: string | undefined; head: string; actor: EventActor },
  ids: Ids,
): RepoEvent {
  const payload = { repository_id: repo.id, push_id: ids.next('push'), ref: push.ref, head: push.head, before: push.before ?? NO_COMMIT };
  return recordEvent(repo, { type: 'PushEvent', payload, actor: push.actor }, ids);
}

/** Newest first: by `created_at`, then by id. */
export function newestFirst<T extends { event: RepoEvent }>(items: T[]): T[] {
  const key = (e: RepoEvent) => `${e.createdAt}|${e.id.padStart(20, '0')}`;
  return items.sort((a, b) => (key(a.event) < key(b.event) ? 1 : key(a.event) > key(b.event) ? -1 : 0));
}

/** A feed as GitHub serves it: newest first, at most 300 events, none older than 90 days. */
export function feed(repos: RepoState[], now = Date.now()): Array<{ repo: RepoState; event: RepoEvent }> {
  const all = repos.flatMap((repo) => repo.events.map((event) => ({ repo, event })));
  return newestFirst(all.filter(({ event }) => now - Date.parse(event.createdAt) <= FEED_MAX_AGE_MS)).slice(0, FEED_LIMIT);
}

const avatar = (id: number): string => `https://avatars.githubusercontent.com/u/${id}?`;

export function eventJson(api: string, repo: RepoState, event: RepoEvent, org: OrgState | undefined): GithubEventJson {
  const { login, id } = event.actor;
  return {
    id: event.id,
    type: event.type,
    actor: { id, login, display_login: login, gravatar_id: '', url: `${api}/users/${login}`, avatar_url: avatar(id) },
    repo: { id: repo.id, name: repo.fullName, url: `${api}/repos/${repo.fullName}` },
    payload: structuredClone(event.payload),
    // GitHub marks an event of a private repository `public: false`.
    public: !repo.private,
    created_at: event.createdAt,
    ...(org ? { org: { id: org.id, login: org.login, gravatar_id: '', url: `${api}/orgs/${org.login}`, avatar_url: avatar(org.id) } } : {}),
  };
}
