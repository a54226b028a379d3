import type { Octokit } from '@octokit/rest';
import { isUuid } from '../../ids';
import type * as GithubProvider from '../../providers/github';
import { InvalidSourceConfigError, type PulledEvent, type SourceContext, type SourcePage, type SourcePlugin } from '../source-plugin';

/**
 * Source `github`: a repository's events (`{ repo: 'owner/name' }`) or an organisation's public
 * events (`{ org: 'name' }`) from GitHub's Events API, through Octokit on the `github-api` queue.
 *
 * - Conditional requests: the first page is asked with the ETag of the last pull (If-None-Match);
 *   GitHub answers 304 when nothing changed, which does not count against the rate limit.
 * - Cursor: the newest event id stored, the ETag and GitHub's X-Poll-Interval. A pull pages (100 a
 *   page) until it reaches an event at or below the cursor's id, the end of the feed (GitHub keeps
 *   300 events, 10 pages), or `since`. A pull sooner than the poll interval after the last one asks
 *   nothing (notModified), as GitHub asks of pollers.
 * - Events come in webhook shape (`IssuesEvent` -> `issues`, `repository` and `sender` added, a
 *   push's `head` as `after`), so the webhook normaliser reads them and a webhook and a pull of the
 *   same push or issue change share an occurrence key: stored once, whichever came first.
 * - Token: `user` (a durasync user id) uses that user's stored GitHub token; without it, GITHUB_TOKEN.
 * - Rate limits: 403/429 with x-ratelimit-remaining 0 or Retry-After fail as RateLimited with the
 *   reset as the next retry delay (lib/providers/failures.ts), and the queue itself is paced.
 * - Run-time settings at `source:github` (lib/settings.ts): `ingest.page_size` (per_page, default
 *   100) and `provider.rate_per_second` (page requests a second per worker process; unset: none).
 */

export type GithubSourceConfig = { repo: string; user?: string } | { org: string; user?: string };

export interface GithubSourceCursor {
  /** The newest event id stored (GitHub's ids grow); null before any. */
  lastEventId: string | null;
  /** The first page's ETag at the last pull. */
  etag: string | null;
  /** When the last pull asked GitHub (ISO). */
  polledAt: string | null;
  pollIntervalSeconds: number | null;
}

/** Events per page unless the setting ingest.page_size says: GitHub's maximum. */
const PER_PAGE = 100;
/** Where this plugin's settings are read. */
const SETTINGS_SCOPE = 'source:github';

/**
 * Spaces page requests `1 / rate` seconds apart in this process (provider.rate_per_second): each
 * request reserves the next free slot and waits for it, so concurrent pulls share the rate.
 */
export class RequestPacer {
  private next = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** How long the caller must wait before its request (already reserved); 0 without a rate. */
  reserve(ratePerSecond: number | null): number {
    if (!ratePerSecond || ratePerSecond <= 0) return 0;
    const now = this.now();
    const slot = Math.max(now, this.next);
    this.next = slot + 1000 / ratePerSecond;
    return slot - now;
  }
}

const pacer = new RequestPacer();
/** A pull this much sooner than the poll interval still goes ahead (schedule jitter). */
const POLL_TOLERANCE = 0.9;

const REPO = /^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/;
const ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

function parseConfig(raw: unknown): GithubSourceConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidSourceConfigError('github source: the config must be an object with repo or org');
  const { repo, org, user, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new InvalidSourceConfigError(`github source: unknown field ${unknown[0]} (expected repo or org, and user)`);
  if ((repo === undefined) === (org === undefined)) throw new InvalidSourceConfigError('github source: give exactly one of repo (owner/name) and org');
  if (user !== undefined && (typeof user !== 'string' || !isUuid(user))) throw new InvalidSourceConfigError(`github source: user must be a user id (UUID), got ${JSON.stringify(user)}`);
  const who = user === undefined ? {} : { user };
  if (repo !== undefined) {
    if (typeof repo !== 'string' || !REPO.test(repo)) throw new InvalidSourceConfigError(`github source: repo must be owner/name, got ${JSON.stringify(repo)}`);
    return { repo, ...who };
  }
  if (typeof org !== 'string' || !ORG.test(org)) throw new InvalidSourceConfigError(`github source: org must be an organisation login, got ${JSON.stringify(org)}`);
  return { org, ...who };
}

/** `IssueCommentEvent` -> `issue_comment`. */
export function webhookEventName(apiType: string): string {
  return apiType
    .replace(/Event$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

interface ApiEvent {
  id: string;
  type: string | null;
  actor: { id: number; login: string };
  repo: { id: number; name: string };
  org?: { id: number; login: string };
  payload: Record<string, unknown>;
  created_at: string | null;
}

/** An Events API event in the shape of the webhook of the same event. */
export function toPulledEvent(event: ApiEvent): PulledEvent {
  const type = webhookEventName(event.type ?? 'Unknown');
  const [, name] = event.repo.name.split('/');
  const payload: Record<string, unknown> = {
    ...event.payload,
    repository: { id: event.repo.id, name, full_name: event.repo.name },
    sender: { id: event.actor.id, login: event.actor.login },
    ...(event.org ? { organization: { id: event.org.id, login: event.org.login } } : {}),
  };
  // The webhook names a push's new head `after`; the Events API names it `head`.
  if (type === 'push' && typeof event.payload.head === 'string' && payload.after === undefined) payload.after = event.payload.head;
  return { externalId: String(event.id), type, payload, occurredAt: new Date(event.created_at ?? Date.now()) };
}

const newer = (a: string, b: string | null): boolean => b === null || BigInt(a) > BigInt(b);

interface PageToken {
  /** The 1-based page of the feed to ask next. */
  n: number;
  /** The cursor to save when this pull completes (from its first page). */
  next: GithubSourceCursor;
  /** per_page of the pull's first page (tokens from before the setting have none: 100). */
  perPage?: number;
}

function parseToken(page: string): PageToken {
  const token = JSON.parse(page) as PageToken;
  if (typeof token?.n !== 'number' || typeof token.next !== 'object') throw new InvalidSourceConfigError(`github source: a page token that is not one of ours: ${page.slice(0, 80)}`);
  return token;
}

function loadGithub(): typeof GithubProvider {
  // Octokit loads only in processes that pull (the CLI reads this file to check configs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate lazy load, see above
  return require('../../providers/github') as typeof GithubProvider;
}

async function listEvents(github: Octokit, config: GithubSourceConfig, page: number, etag: string | null, perPage: number) {
  const headers = etag ? { 'if-none-match': etag } : {};
  if ('repo' in config) {
    const [owner, repo] = config.repo.split('/') as [string, string];
    return github.rest.activity.listRepoEvents({ owner, repo, per_page: perPage, page, headers });
  }
  return github.rest.activity.listPublicOrgEvents({ org: config.org, per_page: perPage, page, headers });
}

const statusOf = (err: unknown): number | undefined => (typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : undefined);

export const githubSource: SourcePlugin<GithubSourceConfig, GithubSourceCursor> = {
  id: 'github',
  about: "a repository's or an organisation's events (GitHub Events API; ETag, poll interval; github-api queue)",
  queue: 'github-api',
  parseConfig,
  scope: (config) => ('repo' in config ? `repo:${config.repo.toLowerCase()}` : `org:${config.org.toLowerCase()}`),

  async fetchPage({ config, cursor, page, since }, ctx: SourceContext): Promise<SourcePage<GithubSourceCursor>> {
    const saved: GithubSourceCursor = cursor ?? { lastEventId: null, etag: null, polledAt: null, pollIntervalSeconds: null };
    const now = ctx.now();
    const token = page === null ? null : parseToken(page);
    if (token === null && since === null && saved.polledAt && saved.pollIntervalSeconds) {
      const elapsed = now.getTime() - Date.parse(saved.polledAt);
      if (elapsed < saved.pollIntervalSeconds * 1000 * POLL_TOLERANCE) {
        return { events: [], nextPage: null, cursor: saved, notModified: true, pollIntervalSeconds: saved.pollIntervalSeconds };
      }
    }
    const github = loadGithub().createGithubClient(await ctx.accessToken('github', config.user), ctx.providers.github);
    const n = token?.n ?? 1;
    // A page size changed between pages of one pull would skip or repeat events: the token keeps the first page's.
    const perPage = token ? (token.perPage ?? PER_PAGE) : ((await ctx.settings?.get('ingest.page_size', SETTINGS_SCOPE)) ?? PER_PAGE);
    const wait = pacer.reserve(await ctx.settings?.get('provider.rate_per_second', SETTINGS_SCOPE) ?? null);
    if (wait > 0) {
      ctx.heartbeat({ page: n, waitingMs: wait });
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    let response;
    try {
      // Only the first page is conditional: its ETag stands for the whole feed's head.
      response = await listEvents(github, config, n, token === null && since === null ? saved.etag : null, perPage);
    } catch (err) {
      const status = statusOf(err);
      if (status === 304) return { events: [], nextPage: null, cursor: { ...saved, polledAt: now.toISOString() }, notModified: true, ...(saved.pollIntervalSeconds ? { pollIntervalSeconds: saved.pollIntervalSeconds } : {}) };
      // Past the 300 events GitHub keeps: the feed ends here.
      if (status === 422 && token !== null) return { events: [], nextPage: null, cursor: token.next };
      throw err;
    }
    const data = response.data as unknown as ApiEvent[];
    const poll = Number(response.headers['x-poll-interval']);
    const pollIntervalSeconds = Number.isFinite(poll) && poll > 0 ? poll : saved.pollIntervalSeconds;
    const next: GithubSourceCursor = token?.next ?? {
      lastEventId: data.reduce<string | null>((max, e) => (newer(String(e.id), max) ? String(e.id) : max), saved.lastEventId),
      etag: typeof response.headers.etag === 'string' ? response.headers.etag : null,
      polledAt: now.toISOString(),
      pollIntervalSeconds: pollIntervalSeconds ?? null,
    };
    const fresh = data.filter((e) => newer(String(e.id), saved.lastEventId) && (since === null || Date.parse(e.created_at ?? '') >= since.getTime()));
    // Newest first: an event we had, or one older than `since`, means the rest is older still.
    const reachedKnown = fresh.length < data.length;
    const hasNext = /rel="next"/.test(String(response.headers.link ?? '')) && data.length > 0 && !reachedKnown;
    ctx.heartbeat({ page: n, events: fresh.length });
    return {
      events: fresh.map(toPulledEvent),
      nextPage: hasNext ? JSON.stringify({ n: n + 1, next, perPage } satisfies PageToken) : null,
      cursor: next,
      ...(pollIntervalSeconds ? { pollIntervalSeconds } : {}),
    };
  },
};
