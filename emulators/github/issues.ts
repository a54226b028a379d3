import { DOCS, notFound, validationFailed } from './errors';
import { nodeId, nowIso, repoApi } from './shapes';
import type { Route, RouteContext } from './shapes';
import { userJson } from './payloads';
import type { Who } from './payloads';

/** Issues: `POST /repos/{owner}/{repo}/issues` and `GET .../issues/{issue_number}`; opening one records an `IssuesEvent` and delivers `issues`. */

export interface IssueState {
  id: number;
  number: number;
  title: string;
  body: string | null;
  user: Who;
  createdAt: string;
  updatedAt: string;
}

export function issueJson(ctx: Pick<RouteContext, 'api' | 'repo'>, issue: IssueState): Record<string, unknown> {
  const url = `${repoApi(ctx)}/issues/${issue.number}`;
  return {
    id: issue.id,
    node_id: nodeId('Issue', String(issue.id)),
    url,
    repository_url: repoApi(ctx),
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: `https://github.com/${ctx.repo.fullName}/issues/${issue.number}`,
    number: issue.number,
    state: 'open',
    state_reason: null,
    title: issue.title,
    body: issue.body,
    user: userJson(ctx.api, issue.user),
    labels: [],
    assignee: null,
    assignees: [],
    milestone: null,
    locked: false,
    active_lock_reason: null,
    comments: 0,
    closed_at: null,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_by: null,
    author_association: issue.user.login.toLowerCase() === ctx.repo.owner.toLowerCase() ? 'OWNER' : 'COLLABORATOR',
  };
}

/** A new issue from `title` (a string or number, as GitHub takes) and `body`; GitHub's 422 without a title. */
export function newIssue(ctx: Pick<RouteContext, 'repo' | 'world'>, input: { title: unknown; body?: unknown }, user: Who): IssueState {
  const { title, body } = input;
  if (title === undefined || title === null || title === '') throw validationFailed(DOCS.issues, { resource: 'Issue', field: 'title', code: 'missing_field' });
  if (typeof title !== 'string' && typeof title !== 'number') throw validationFailed(DOCS.issues, { resource: 'Issue', field: 'title', code: 'invalid' });
  if (body !== undefined && body !== null && typeof body !== 'string') throw validationFailed(DOCS.issues, { resource: 'Issue', field: 'body', code: 'invalid' });
  const now = nowIso();
  const issue: IssueState = { id: ctx.world.next('issue'), number: ctx.repo.issues.length + 1, title: String(title), body: body ?? null, user, createdAt: now, updatedAt: now };
  ctx.repo.issues.push(issue);
  return issue;
}

export const issueRoutes: Route[] = [
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/issues',
    handle(ctx) {
      const issue = newIssue(ctx, { title: ctx.body.title, body: ctx.body.body }, ctx.user);
      ctx.activity.issueOpened(ctx.repo, issue);
      const json = issueJson(ctx, issue);
      return { status: 201, body: json, headers: { location: String(json.url) } };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/issues/{issue_number}',
    handle(ctx) {
      const issue = ctx.repo.issues[Number(ctx.params.issue_number) - 1];
      if (!issue) throw notFound(`${DOCS.issues}#get-an-issue`);
      return { status: 200, body: issueJson(ctx, issue) };
    },
  },
];
