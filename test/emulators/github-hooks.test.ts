import { createHmac } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { normalizeEvent } from '../../activities/ingestion-github';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';
import { verifySignature } from '../../lib/webhooks/signature';
import { startHookReceiver } from '../helpers/hook-receiver';
import type { HookReceiver, ReceivedHook } from '../helpers/hook-receiver';

// Repository webhooks of the GitHub emulator, through the real Octokit client, delivered to a local receiver.
type Client = InstanceType<typeof Octokit>;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TOKEN = 'ghp_hooks_token';
const SECRET = 'hook-secret';
const REPO = { owner: 'acme', repo: 'notes' };

let emu: GithubEmulator;
let gh: Client;
let receiver: HookReceiver;

async function failure(call: Promise<unknown>): Promise<{ status: number; response?: { data: unknown } }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!err) throw new Error('expected the call to fail');
  return err as { status: number; response?: { data: unknown } };
}

interface PushCommit {
  id: string;
  message: string;
}
/** The fields of a delivered payload the tests read. */
interface Delivered extends Record<string, unknown> {
  ref: string;
  created: boolean;
  forced: boolean;
  commits: PushCommit[];
  head_commit: PushCommit | null;
  repository: { created_at: unknown; pushed_at: unknown };
}
const payload = (r: ReceivedHook | undefined): Delivered => JSON.parse(r?.body.toString('utf8') ?? 'null') as Delivered;
const events = () => receiver.received.map((r) => r.headers['x-github-event']);

/** A commit on main through the git data API (blob, tree, commit, ref update), as durasync's sync commits. */
async function commitThroughApi(files: Record<string, string>, message: string): Promise<string> {
  const { data: ref } = await gh.git.getRef({ ...REPO, ref: 'heads/main' });
  const { data: parent } = await gh.git.getCommit({ ...REPO, commit_sha: ref.object.sha });
  const tree = Object.entries(files).map(([path, content]) => ({ path, mode: '100644' as const, type: 'blob' as const, content }));
  const { data: newTree } = await gh.git.createTree({ ...REPO, base_tree: parent.tree.sha, tree });
  const { data: commit } = await gh.git.createCommit({ ...REPO, message, tree: newTree.sha, parents: [parent.sha] });
  await gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha });
  return commit.sha;
}

beforeEach(async () => {
  receiver = await startHookReceiver();
  emu = await startGithubEmulator();
  emu.seed.token(TOKEN, { login: 'octo-dev' });
  emu.seed.repo('acme/notes', { files: { 'README.md': '# Notes\n' } });
  gh = new Octokit({ auth: TOKEN, baseUrl: emu.url, userAgent: 'durasync', log: silent });
});

afterEach(async () => {
  await emu.close();
  await receiver.close();
});

test('creates a hook as GitHub shows it, never echoing its secret, and pings it signed', async () => {
  const { status, data } = await gh.repos.createWebhook({ ...REPO, config: { url: receiver.url, content_type: 'json', secret: SECRET }, events: ['push', 'issues'] });
  expect(status).toBe(201);
  expect(data).toMatchObject({
    type: 'Repository',
    name: 'web',
    active: true,
    events: ['push', 'issues'],
    config: { url: receiver.url, content_type: 'json', insecure_ssl: '0', secret: '********' },
    url: `${emu.url}/repos/acme/notes/hooks/${data.id}`,
    ping_url: `${emu.url}/repos/acme/notes/hooks/${data.id}/pings`,
    last_response: { code: null, status: 'unused', message: null },
  });
  expect((await gh.repos.getWebhook({ ...REPO, hook_id: data.id })).data.config).toEqual(data.config);
  expect((await gh.repos.listWebhooks(REPO)).data.map((h) => h.id)).toEqual([data.id]);

  await emu.inspect.deliveriesSettled();
  const [ping] = receiver.received;
  expect(ping?.headers).toMatchObject({
    'x-github-event': 'ping',
    'x-github-hook-id': String(data.id),
    'x-github-hook-installation-target-type': 'repository',
    'content-type': 'application/json',
  });
  expect(ping?.headers['x-github-delivery']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(ping?.headers['user-agent']).toMatch(/^GitHub-Hookshot\/[0-9a-f]+$/);
  expect(verifySignature(SECRET, ping?.body ?? Buffer.alloc(0), ping?.headers['x-hub-signature-256'])).toBe(true);
  expect(ping?.headers['x-hub-signature']).toBe(`sha1=${createHmac('sha1', SECRET).update(ping?.body ?? '').digest('hex')}`);
  const repoId = (await gh.repos.get(REPO)).data.id;
  expect(ping?.headers['x-github-hook-installation-target-id']).toBe(String(repoId));
  expect(payload(ping)).toMatchObject({ hook_id: data.id, hook: { id: data.id, config: { secret: '********' } }, repository: { full_name: 'acme/notes' }, sender: { login: 'octo-dev' } });
  expect(typeof payload(ping).zen).toBe('string');
  expect((await gh.repos.getWebhook({ ...REPO, hook_id: data.id })).data.last_response).toEqual({ code: 200, status: 'active', message: 'OK' });
});

test.each([
  ['no url', { config: { content_type: 'json' } }, 'Config must contain URL for webhooks'],
  ['a url that is not http(s)', { config: { url: 'ftp://example.com/hook' } }, "The URL you've entered is not valid. Please make sure that you encode all special characters first"],
  ['a content type other than json or form', { config: { url: 'http://127.0.0.1:9/h', content_type: 'xml' } }, 'content_type must be json or form'],
  ['an unknown event', { config: { url: 'http://127.0.0.1:9/h' }, events: ['push', 'pushed'] }, 'Invalid event: "pushed"'],
])('refuses a hook with %s with 422', async (_name, body, message) => {
  const err = await failure(gh.request('POST /repos/{owner}/{repo}/hooks', { ...REPO, ...body } as never));
  expect(err.status).toBe(422);
  expect(err.response?.data).toMatchObject({ message: 'Validation Failed', errors: [expect.objectContaining({ resource: 'Hook', message })] });
});

test('refuses a second hook with the same url and events, and a name other than web', async () => {
  await gh.repos.createWebhook({ ...REPO, config: { url: receiver.url } });
  const again = await failure(gh.repos.createWebhook({ ...REPO, config: { url: receiver.url }, events: ['push'] }));
  expect(again.response?.data).toMatchObject({ errors: [{ resource: 'Hook', code: 'custom', message: 'Hook already exists on this repository' }] });
  const named = await failure(gh.request('POST /repos/{owner}/{repo}/hooks', { ...REPO, name: 'jenkins', config: { url: 'http://127.0.0.1:9/x' } }));
  expect(named.status).toBe(422);
  expect(named.response?.data).toMatchObject({ errors: [{ resource: 'Hook', field: 'name', code: 'invalid' }] });
});

test('delivers a push for a commit made through the git data API, as GitHub shapes it, and records a PushEvent', async () => {
  const before = emu.inspect.ref('acme/notes', 'main');
  emu.seed.hook('acme/notes', { url: receiver.url, secret: SECRET });
  const sha = await commitThroughApi({ 'notes/a.md': 'A\n', 'README.md': '# Notes v2\n' }, 'Sync from Drive');
  await emu.inspect.deliveriesSettled();
  expect(events()).toEqual(['push']);
  const [push] = receiver.received;
  expect(verifySignature(SECRET, push?.body ?? Buffer.alloc(0), push?.headers['x-hub-signature-256'])).toBe(true);
  const body = payload(push);
  expect(body).toMatchObject({
    ref: 'refs/heads/main',
    before,
    after: sha,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/acme/notes/compare/${before?.slice(0, 12)}...${sha.slice(0, 12)}`,
    pusher: { name: 'octo-dev', email: 'octo-dev@users.noreply.github.com' },
    sender: { login: 'octo-dev', type: 'User' },
    repository: { full_name: 'acme/notes', name: 'notes', owner: { login: 'acme' }, html_url: 'https://github.com/acme/notes', default_branch: 'main', master_branch: 'main' },
  });
  expect(body.commits).toEqual([
    expect.objectContaining({ id: sha, message: 'Sync from Drive', url: `https://github.com/acme/notes/commit/${sha}`, added: ['notes/a.md'], removed: [], modified: ['README.md'], distinct: true }),
  ]);
  expect(body.head_commit).toEqual(body.commits[0]);
  expect(typeof body.repository.created_at).toBe('number');
  expect((await gh.repos.get(REPO)).data.pushed_at).toBe(new Date(Number(body.repository.pushed_at) * 1000).toISOString().replace('.000Z', 'Z'));

  const normalized = normalizeEvent('github', 'push', body);
  expect(normalized).toMatchObject({ kind: 'push', repository: 'acme/notes', title: '1 commit pushed to main', occurrenceKey: `push:acme/notes:refs/heads/main:${sha}` });

  const [event] = (await gh.activity.listRepoEvents(REPO)).data;
  expect(event).toMatchObject({ type: 'PushEvent', actor: { login: 'octo-dev' }, payload: { ref: 'refs/heads/main', head: sha, before } });
});

test('delivers a push for every ref update: a seeded commit, a new branch, a force push', async () => {
  emu.seed.hook('acme/notes', { url: receiver.url, secret: SECRET });
  const main = emu.seed.commit('acme/notes', { files: { 'b.md': 'b\n' }, message: 'User edit', author: { name: 'Ada Lovelace', email: 'ada@example.com' } });
  await gh.git.createRef({ ...REPO, ref: 'refs/heads/sync', sha: main });
  const side = emu.seed.commit('acme/notes', { branch: 'sync', files: { 'c.md': 'c\n' }, message: 'side' });
  const rewritten = emu.seed.commit('acme/notes', { branch: 'sync', files: { 'd.md': 'd\n' }, message: 'rewrite', parent: main });
  await emu.inspect.deliveriesSettled();
  const pushes = receiver.received.map(payload);
  expect(pushes.map((p) => [p.ref, p.created, p.forced, p.commits.length])).toEqual([
    ['refs/heads/main', false, false, 1],
    ['refs/heads/sync', true, false, 0],
    ['refs/heads/sync', false, false, 1],
    ['refs/heads/sync', false, true, 1],
  ]);
  expect(pushes[0]).toMatchObject({ pusher: { name: 'Ada Lovelace', email: 'ada@example.com' }, sender: { login: 'ada-lovelace' }, after: main });
  expect(pushes[1]).toMatchObject({ base_ref: 'refs/heads/main', after: main, head_commit: { id: main } });
  expect(pushes[3]).toMatchObject({ before: side, after: rewritten });
  expect(emu.inspect.events('acme/notes').filter((e) => e.type === 'PushEvent')).toHaveLength(4);
});

test('opens an issue through the API: GitHub\'s issue shape, an IssuesEvent and an issues delivery', async () => {
  emu.seed.hook('acme/notes', { url: receiver.url, secret: SECRET, events: ['issues'] });
  const { status, data } = await gh.issues.create({ ...REPO, title: 'Sync stalls', body: 'Since Monday' });
  expect(status).toBe(201);
  expect(data).toMatchObject({ number: 1, state: 'open', title: 'Sync stalls', body: 'Since Monday', user: { login: 'octo-dev' }, html_url: 'https://github.com/acme/notes/issues/1', comments: 0 });
  expect((await gh.issues.get({ ...REPO, issue_number: 1 })).data.id).toBe(data.id);
  expect(emu.seed.issue('acme/notes', { title: 'Second', actor: { login: 'ada' } })).toBe(2);
  expect((await failure(gh.request('POST /repos/{owner}/{repo}/issues', { ...REPO, body: 'no title' } as never))).response?.data).toMatchObject({
    message: 'Validation Failed',
    errors: [{ resource: 'Issue', field: 'title', code: 'missing_field' }],
  });
  emu.seed.commit('acme/notes', { files: { 'x.md': 'x' } }); // not delivered: the hook takes issues only
  await emu.inspect.deliveriesSettled();
  expect(events()).toEqual(['issues', 'issues']);
  const opened = payload(receiver.received[0]);
  expect(opened).toMatchObject({ action: 'opened', issue: { id: data.id, number: 1, title: 'Sync stalls' }, repository: { full_name: 'acme/notes' }, sender: { login: 'octo-dev' } });
  expect(normalizeEvent('github', 'issues', opened)).toMatchObject({ kind: 'issues.opened', title: 'Issue #1: Sync stalls', body: 'Since Monday' });
  const feed = (await gh.activity.listRepoEvents(REPO)).data.filter((e) => e.type === 'IssuesEvent');
  expect(feed.map((e) => (e.payload as { issue: { number: number } }).issue.number)).toEqual([2, 1]);
  expect(normalizeEvent('github', 'issues', { ...feed[1]?.payload, repository: { full_name: 'acme/notes' } }).occurrenceKey).toBe(normalizeEvent('github', 'issues', opened).occurrenceKey);
});

test('records a failed delivery without retrying it, and redelivers it on request with the same guid', async () => {
  receiver.answer.status = 500;
  const hookId = emu.seed.hook('acme/notes', { url: receiver.url, secret: SECRET });
  emu.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
  await emu.inspect.deliveriesSettled();
  await new Promise((r) => setTimeout(r, 100));
  expect(receiver.received).toHaveLength(1);
  const { data: list } = await gh.repos.listWebhookDeliveries({ ...REPO, hook_id: hookId });
  expect(list).toEqual([
    expect.objectContaining({ guid: receiver.received[0]?.headers['x-github-delivery'], redelivery: false, status: 'Invalid HTTP Response: 500', status_code: 500, event: 'push', action: null, repository_id: expect.any(Number) as number }),
  ]);
  expect(Number.isNaN(Date.parse(String(list[0]?.delivered_at)))).toBe(false);

  receiver.answer.status = 200;
  const first = list[0]?.id as number;
  expect((await gh.repos.redeliverWebhookDelivery({ ...REPO, hook_id: hookId, delivery_id: first })).status).toBe(202);
  await emu.inspect.deliveriesSettled();
  expect(receiver.received).toHaveLength(2);
  expect(receiver.received[1]?.headers['x-github-delivery']).toBe(receiver.received[0]?.headers['x-github-delivery']);
  expect(receiver.received[1]?.body).toEqual(receiver.received[0]?.body);
  const { data: after } = await gh.repos.listWebhookDeliveries({ ...REPO, hook_id: hookId });
  expect(after.map((d) => [d.redelivery, d.status_code])).toEqual([[true, 200], [false, 500]]);
  const { data: one } = await gh.repos.getWebhookDelivery({ ...REPO, hook_id: hookId, delivery_id: first });
  expect(one.request.headers).toMatchObject({ 'x-github-event': 'push' });
  expect(one.request.payload).toMatchObject({ ref: 'refs/heads/main' });
  expect(one.response.payload).toBe('thanks');
  expect((await failure(gh.repos.redeliverWebhookDelivery({ ...REPO, hook_id: hookId, delivery_id: 1 }))).status).toBe(404);
});

test('records an unreachable hook as failed to connect', async () => {
  const dead = await startHookReceiver();
  await dead.close();
  const hookId = emu.seed.hook('acme/notes', { url: dead.url });
  emu.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
  await emu.inspect.deliveriesSettled();
  const { data } = await gh.repos.listWebhookDeliveries({ ...REPO, hook_id: hookId });
  expect(data).toEqual([expect.objectContaining({ status: 'failed to connect to host', status_code: 0 })]);
});

test('delivers after the API call has answered, in order per hook', async () => {
  receiver.answer.delayMs = 150;
  emu.seed.hook('acme/notes', { url: receiver.url });
  const started = Date.now();
  for (let i = 1; i <= 3; i++) await commitThroughApi({ [`n${i}.md`]: `${i}` }, `commit ${i}`);
  expect(Date.now() - started).toBeLessThan(300);
  await emu.inspect.deliveriesSettled();
  expect(receiver.received.map((r) => payload(r).head_commit?.message)).toEqual(['commit 1', 'commit 2', 'commit 3']);
  expect(receiver.received[0]?.headers['x-hub-signature-256']).toBeUndefined();
});

test('updates a hook\'s events and active flag, and deletes it with 204', async () => {
  const { data: hook } = await gh.repos.createWebhook({ ...REPO, config: { url: receiver.url, secret: SECRET } });
  const { data: updated } = await gh.repos.updateWebhook({ ...REPO, hook_id: hook.id, add_events: ['issues'], remove_events: ['push'] });
  expect(updated.events).toEqual(['issues']);
  expect(updated.config).toMatchObject({ url: receiver.url, secret: '********' });
  emu.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
  emu.seed.issue('acme/notes', { title: 'one' });
  await gh.repos.updateWebhook({ ...REPO, hook_id: hook.id, active: false });
  emu.seed.issue('acme/notes', { title: 'two' });
  await emu.inspect.deliveriesSettled();
  expect(events()).toEqual(['ping', 'issues']);
  expect((await gh.repos.deleteWebhook({ ...REPO, hook_id: hook.id })).status).toBe(204);
  expect((await failure(gh.repos.getWebhook({ ...REPO, hook_id: hook.id }))).status).toBe(404);
  expect((await gh.repos.listWebhooks(REPO)).data).toEqual([]);
});

test('records a receiver slower than the timeout as timed out', async () => {
  const quick = await startGithubEmulator({ webhookTimeoutMs: 100 });
  try {
    quick.seed.repo('acme/notes');
    quick.seed.hook('acme/notes', { url: receiver.url });
    receiver.answer.delayMs = 500;
    quick.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
    await quick.inspect.deliveriesSettled();
    expect(quick.inspect.deliveries('acme/notes')).toEqual([expect.objectContaining({ event: 'push', status: 'timed out', status_code: 0 })]);
  } finally {
    await quick.close();
  }
});

test('delivers a form-encoded payload to a hook of content type form, signed over the form body', async () => {
  emu.seed.hook('acme/notes', { url: receiver.url, secret: SECRET, contentType: 'form' });
  emu.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
  await emu.inspect.deliveriesSettled();
  const [form] = receiver.received;
  expect(form?.headers['content-type']).toBe('application/x-www-form-urlencoded');
  expect(verifySignature(SECRET, form?.body ?? Buffer.alloc(0), form?.headers['x-hub-signature-256'])).toBe(true);
  const fields = new URLSearchParams(form?.body.toString() ?? '');
  expect(JSON.parse(fields.get('payload') ?? '{}')).toMatchObject({ ref: 'refs/heads/main' });
});

test('sends no ping to a hook created inactive', async () => {
  const { data } = await gh.repos.createWebhook({ ...REPO, config: { url: receiver.url }, active: false });
  expect(data.active).toBe(false);
  emu.seed.commit('acme/notes', { files: { 'a.md': 'a' } });
  await emu.inspect.deliveriesSettled();
  expect(receiver.received).toEqual([]);
});

test('pings a hook on request with 204', async () => {
  const hookId = emu.seed.hook('acme/notes', { url: receiver.url });
  expect((await gh.repos.pingWebhook({ ...REPO, hook_id: hookId })).status).toBe(204);
  await emu.inspect.deliveriesSettled();
  expect(events()).toEqual(['ping']);
});
