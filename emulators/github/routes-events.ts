import { createHash } from 'node:crypto';
import { DOCS, GithubApiError } from './errors';
import { FEED_LIMIT, eventJson, feed } from './events';
import type { OrgState, OrgRoute, RepoState, Route, RouteResult } from './shapes';

/**
 * The Events API's feeds: newest first, `per_page` (default 30, max 100) and `page`, at most 300
 * events (a page starting past them answers 422), `x-poll-interval` (60 unless configured), and a weak `etag` over the
 * page's body; the server answers a GET whose `If-None-Match` matches that etag with an uncharged 304.
 */

function pageOf(
  url: string,
  query: URLSearchParams,
  api: string,
  repos: RepoState[],
  orgOf: (repo: RepoState) => OrgState | undefined,
  pollIntervalSeconds: number,
): RouteResult {
  const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30));
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  if ((page - 1) * perPage >= FEED_LIMIT) {
    throw new GithubApiError(422, 'In order to keep the API fast for everyone, pagination is limited for this resource.', DOCS.pagination);
  }
  const events = feed(repos);
  const last = Math.max(1, Math.ceil(events.length / perPage));
  const link = (n: number, rel: string) => {
    const q = new URLSearchParams(query);
    q.set('page', String(n));
    return `<${url}?${q.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(page - 1, 'prev'), link(1, 'first'));
  const body = events.slice((page - 1) * perPage, page * perPage).map(({ repo, event }) => eventJson(api, repo, event, orgOf(repo)));
  const etag = `W/"${createHash('md5').update(JSON.stringify(body)).digest('hex')}"`;
  const headers: Record<string, string> = { etag, 'x-poll-interval': String(pollIntervalSeconds) };
  if (links.length > 0) headers.link = links.join(', ');
  return { status: 200, body, headers };
}

export const eventRoutes: Route[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/events',
    handle: (ctx) =>
      pageOf(`${ctx.api}/repos/${ctx.repo.fullName}/events`, ctx.query, ctx.api, [ctx.repo], (repo) => ctx.orgs.get(repo.owner.toLowerCase()), ctx.limits.pollIntervalSeconds),
  },
];

export const orgRoutes: OrgRoute[] = [
  {
    scope: 'org',
    method: 'GET',
    template: '/orgs/{org}/events',
    handle: (ctx) => pageOf(`${ctx.api}/orgs/${ctx.org.login}/events`, ctx.query, ctx.api, ctx.repos, () => ctx.org, ctx.limits.pollIntervalSeconds),
  },
];

/** Whether an `If-None-Match` header names `etag` (weak comparison, as GitHub does for GETs; `*` matches any). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}
