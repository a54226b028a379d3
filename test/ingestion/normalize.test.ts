import { InvalidEventError, normalizeEvent } from '../../activities/ingestion-github';

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
    });
    expect(normalizeEvent('stripe', 'invoice.paid', 'not even an object')).toMatchObject({ kind: 'invoice.paid', repository: null, actor: null });
  });

  it('refuses a known type whose payload lacks what it reads', () => {
    expect(() => normalizeEvent('github', 'push', { ref: 5 })).toThrow(InvalidEventError);
    expect(() => normalizeEvent('github', 'pull_request', { action: 'opened', pull_request: { title: 'no number' } })).toThrow('"number" must be a number');
    expect(() => normalizeEvent('github', 'issues', { issue: { number: 1, title: 't' }, repository: 'acme/app' })).toThrow('"repository" must be an object');
    expect(() => normalizeEvent('github', 'release', [])).toThrow('must be a JSON object');
  });
});
