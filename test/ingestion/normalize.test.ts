import { InvalidEventError, normalizeEvent } from '../../activities/ingestion-github';
import { githubSource, toPulledEvent, webhookEventName } from '../../lib/ingest/sources/github';

const repository = { full_name: 'acme/app' };
const sender = { id: 42, login: 'ann' };

describe('GitHub webhook normalisers', () => {
  it('turns a push into its commits, branch, repository and pusher', () => {
    const e = normalizeEvent('github', 'push', {
      ref: 'refs/heads/main',
      repository,
      sender,
      pusher: { name: 'Ann', email: 'ann@example.com' },
      head_commit: { timestamp: '2026-11-20T10:00:00Z' },
      commits: [{ message: 'Fix the parser' }, { message: 'Add tests' }],
    });
    expect(e).toEqual({
      kind: 'push', type: 'push', action: null, repository: 'acme/app', title: '2 commits pushed to main', body: 'Fix the parser\nAdd tests',
      occurredAt: new Date('2026-11-20T10:00:00Z'), actor: { provider: 'github', externalId: '42', login: 'ann', email: 'ann@example.com', name: 'Ann' },
      // No `after`: nothing pins the push down across delivery paths.
      occurrenceKey: null,
    });
  });

  it('reads pull requests, issues and issue comments with their action', () => {
    const pr = normalizeEvent('github', 'pull_request', { action: 'opened', repository, sender, pull_request: { number: 7, title: 'Speed up sync', body: 'Faster', updated_at: '2026-11-20T11:00:00Z' } });
    expect(pr).toMatchObject({ kind: 'pull_request.opened', action: 'opened', title: 'PR #7: Speed up sync', body: 'Faster', actor: { externalId: '42', login: 'ann' } });
    expect(pr.occurredAt?.toISOString()).toBe('2026-11-20T11:00:00.000Z');
    expect(normalizeEvent('github', 'issues', { action: 'closed', repository, issue: { number: 3, title: 'Crash', body: null } })).toMatchObject({ kind: 'issues.closed', title: 'Issue #3: Crash', body: null, actor: null });
    expect(normalizeEvent('github', 'issue_comment', { action: 'created', repository, sender, issue: { number: 3, title: 'Crash' }, comment: { body: 'Still there', created_at: '2026-11-20T12:00:00Z' } })).toMatchObject({
      kind: 'issue_comment.created', title: 'Comment on #3: Crash', body: 'Still there',
    });
  });

  it('reads releases, stars, watches, ref creation and deletion, and workflow runs', () => {
    expect(normalizeEvent('github', 'release', { action: 'published', repository, release: { tag_name: 'v1.2.0', name: 'Spring', body: 'Notes', published_at: '2026-11-01T00:00:00Z' } })).toMatchObject({ kind: 'release.published', title: 'Release v1.2.0: Spring', body: 'Notes' });
    expect(normalizeEvent('github', 'star', { action: 'created', repository, sender })).toMatchObject({ kind: 'star.created', title: 'ann starred acme/app' });
    expect(normalizeEvent('github', 'star', { action: 'deleted', repository, sender })).toMatchObject({ title: 'ann unstarred acme/app' });
    expect(normalizeEvent('github', 'watch', { action: 'started', repository, sender })).toMatchObject({ kind: 'watch.started', title: 'ann starred acme/app' });
    expect(normalizeEvent('github', 'create', { ref: 'feature/x', ref_type: 'branch', repository })).toMatchObject({ kind: 'create', title: 'branch feature/x created' });
    expect(normalizeEvent('github', 'delete', { ref: 'v0.1', ref_type: 'tag', repository })).toMatchObject({ kind: 'delete', title: 'tag v0.1 deleted' });
    expect(
      normalizeEvent('github', 'workflow_run', { action: 'completed', repository, workflow_run: { name: 'CI', run_number: 12, status: 'completed', conclusion: 'failure', head_branch: 'main', updated_at: '2026-11-02T00:00:00Z' } }),
    ).toMatchObject({ kind: 'workflow_run.completed', title: 'Workflow CI #12 failure on main' });
  });

  it('stores unknown event types and other sources generically, never refusing them', () => {
    expect(normalizeEvent('github', 'deployment_status', { action: 'created', repository, sender, anything: [1] })).toEqual({
      kind: 'deployment_status.created', type: 'deployment_status', action: 'created', repository: 'acme/app', title: 'deployment_status created in acme/app', body: null, occurredAt: null,
      actor: { provider: 'github', externalId: '42', login: 'ann' },
      occurrenceKey: null,
    });
    expect(normalizeEvent('stripe', 'invoice.paid', 'not even an object')).toMatchObject({ kind: 'invoice.paid', repository: null, actor: null });
  });

  it('refuses a known type whose payload lacks what it reads', () => {
    expect(() => normalizeEvent('github', 'push', { ref: 5 })).toThrow(InvalidEventError);
    expect(() => normalizeEvent('github', 'pull_request', { action: 'opened', pull_request: { title: 'no number' } })).toThrow('"number" must be a number');
    expect(() => normalizeEvent('github', 'issues', { issue: { number: 1, title: 't' }, repository: 'acme/app' })).toThrow('"repository" must be an object');
    expect(() => normalizeEvent('github', 'release', [])).toThrow('must be a JSON object');
  });

  it('gives a webhook and the Events API copy of one occurrence the same key, and different occurrences different keys', () => {
    const issue = { id: 900, number: 3, title: 'Crash', body: null, updated_at: '2026-11-20T12:00:00Z' };
    const webhook = normalizeEvent('github', 'issues', { action: 'closed', repository: { id: 5, full_name: 'Acme/App' }, sender, issue });
    const pulled = toPulledEvent({ id: '123', type: 'IssuesEvent', actor: { id: 42, login: 'ann' }, repo: { id: 5, name: 'acme/app' }, payload: { action: 'closed', issue }, created_at: '2026-11-20T12:00:01Z' });
    expect(pulled).toMatchObject({ externalId: '123', type: 'issues', occurredAt: new Date('2026-11-20T12:00:01Z') });
    const fromApi = normalizeEvent('github', pulled.type, pulled.payload);
    expect(webhook.occurrenceKey).toBe('issues:acme/app:900:closed:2026-11-20T12:00:00Z');
    expect(fromApi.occurrenceKey).toBe(webhook.occurrenceKey);
    expect(fromApi).toMatchObject({ kind: 'issues.closed', repository: 'acme/app', actor: { externalId: '42', login: 'ann' } });
    // Reopened later: another occurrence.
    expect(normalizeEvent('github', 'issues', { action: 'closed', repository, issue: { ...issue, updated_at: '2026-11-21T00:00:00Z' } }).occurrenceKey).not.toBe(
      normalizeEvent('github', 'issues', { action: 'closed', repository, issue }).occurrenceKey,
    );
    const push = toPulledEvent({ id: '124', type: 'PushEvent', actor: { id: 42, login: 'ann' }, repo: { id: 5, name: 'acme/app' }, payload: { ref: 'refs/heads/main', head: 'abc', before: 'def', push_id: 1 }, created_at: null });
    expect(push.payload.after).toBe('abc');
    expect(normalizeEvent('github', 'push', push.payload).occurrenceKey).toBe('push:acme/app:refs/heads/main:abc');
    expect(normalizeEvent('github', 'push', { ref: 'refs/heads/main', after: 'abc', repository, sender, commits: [] }).occurrenceKey).toBe('push:acme/app:refs/heads/main:abc');
    expect(normalizeEvent('github', 'watch', { action: 'started', repository, sender }).occurrenceKey).toBeNull();
  });

  it("names Events API types as GitHub's webhooks do, and checks the github source's config", () => {
    expect(['PushEvent', 'IssueCommentEvent', 'PullRequestReviewCommentEvent', 'WatchEvent', 'GollumEvent'].map(webhookEventName)).toEqual(['push', 'issue_comment', 'pull_request_review_comment', 'watch', 'gollum']);
    expect(githubSource.scope(githubSource.parseConfig({ repo: 'Acme/App' }))).toBe('repo:acme/app');
    expect(githubSource.scope(githubSource.parseConfig({ org: 'acme', user: '00000000-0000-4000-8000-000000000001' }))).toBe('org:acme');
    expect(() => githubSource.parseConfig({ repo: 'a/b', org: 'c' })).toThrow('github source: give exactly one of repo (owner/name) and org');
    expect(() => githubSource.parseConfig({ repo: 'a/b', branch: 'main' })).toThrow('github source: unknown field branch (expected repo or org, and user)');
    expect(() => githubSource.parseConfig({ org: 'acme', user: 'bob' })).toThrow('github source: user must be a user id (UUID), got "bob"');
    expect(() => githubSource.parseConfig('acme/app')).toThrow('github source: the config must be an object with repo or org');
  });
});
