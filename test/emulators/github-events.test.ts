import { Octokit } from '@octokit/rest';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';

// The Events API of the GitHub emulator, through the real Octokit client.
type Client = InstanceType<typeof Octokit>;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TOKEN = 'ghp_events_token';
const REPO = { owner: 'acme', repo: 'notes' };

let emu: GithubEmulator;
let gh: Client;

function client(auth: string = TOKEN): Client {
  return new Octokit({ auth, baseUrl: emu.url, userAgent: 'durasync', log: silent });
}

/** The rejection of a call, as Octokit's RequestError (from another realm: matched by shape). */
async function failure(call: Promise<unknown>): Promise<{ status: number; message: string; response?: { headers: Record<string, string>; data: unknown } }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!err) throw new Error('expected the call to fail');
  return err as { status: number; message: string };
}

function seedIssues(fullName: string, count: number): string[] {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push(emu.seed.event(fullName, { type: 'IssuesEvent', payload: { action: 'opened', issue: { number: i } } }));
  return ids;
}

const issueNumber = (e: { payload: unknown }): unknown => (e.payload as { issue?: { number?: number } }).issue?.number;

beforeEach(async () => {
  emu = await startGithubEmulator();
  emu.seed.token(TOKEN);
  emu.seed.org('acme');
  emu.seed.repo('acme/notes');
  gh = client();
});

afterEach(async () => {
  await emu.close();
});

test('pages 250 events newest first through the link header', async () => {
  const seeded = seedIssues('acme/notes', 250);
  const first = await gh.activity.listRepoEvents({ ...REPO, per_page: 100 });
  expect(first.data).toHaveLength(100);
  expect(first.headers.link).toBe(
    `<${emu.url}/repos/acme/notes/events?per_page=100&page=2>; rel="next", <${emu.url}/repos/acme/notes/events?per_page=100&page=3>; rel="last"`,
  );
  const all = await gh.paginate(gh.activity.listRepoEvents, { ...REPO, per_page: 100 });
  expect(all).toHaveLength(250);
  expect(all.map((e) => e.id)).toEqual([...seeded].reverse());
  expect(all.map(issueNumber).slice(0, 3)).toEqual([250, 249, 248]);
  const ids = all.map((e) => BigInt(e.id));
  expect(ids.every((id, i) => i === 0 || id < (ids[i - 1] as bigint))).toBe(true);
  expect(emu.inspect.calls().filter((c) => c.route === '/repos/{owner}/{repo}/events').map((c) => c.path)).toHaveLength(4);

  const third = await gh.activity.listRepoEvents({ ...REPO, per_page: 100, page: 3 });
  expect(third.data).toHaveLength(50);
  expect(third.headers.link).toMatch(/page=2>; rel="prev", <[^>]*page=1>; rel="first"$/);
  expect((await gh.activity.listRepoEvents(REPO)).data).toHaveLength(30); // per_page defaults to 30
});

test('serves at most 300 events and answers 422 to a page past them', async () => {
  seedIssues('acme/notes', 320);
  const all = await gh.paginate(gh.activity.listRepoEvents, { ...REPO, per_page: 100 });
  expect(all).toHaveLength(300);
  expect(all.map(issueNumber).at(-1)).toBe(21); // the 20 oldest fell off the feed
  const last = await gh.activity.listRepoEvents({ ...REPO, per_page: 100, page: 3 });
  expect(last.headers.link).not.toMatch(/rel="next"/);
  const err = await failure(gh.activity.listRepoEvents({ ...REPO, per_page: 100, page: 4 }));
  expect(err.status).toBe(422);
  expect(err.response?.data).toEqual({
    message: 'In order to keep the API fast for everyone, pagination is limited for this resource.',
    documentation_url: 'https://docs.github.com/v3/#pagination',
    status: '422',
  });
  expect((await failure(gh.activity.listRepoEvents({ ...REPO, per_page: 30, page: 11 }))).status).toBe(422);
  expect((await gh.activity.listRepoEvents({ ...REPO, per_page: 30, page: 10 })).data).toHaveLength(30);
});

test('answers a matching If-None-Match with 304 that does not count against the rate limit', async () => {
  seedIssues('acme/notes', 3);
  const first = await gh.activity.listRepoEvents(REPO);
  const etag = first.headers.etag as string;
  expect(etag).toMatch(/^W\/"[0-9a-f]{32}"$/);
  expect(first.headers['x-poll-interval']).toBe('60');
  const used = Number(first.headers['x-ratelimit-used']);

  const notModified = await failure(gh.activity.listRepoEvents({ ...REPO, headers: { 'if-none-match': etag } }));
  expect(notModified.status).toBe(304);
  expect(notModified.response?.headers['x-ratelimit-used']).toBe(String(used));
  expect(notModified.response?.headers['x-poll-interval']).toBe('60');
  expect(notModified.response?.headers.etag).toBe(etag);
  expect(emu.inspect.calls().at(-1)).toMatchObject({ route: '/repos/{owner}/{repo}/events', status: 304 });

  const again = await gh.activity.listRepoEvents(REPO);
  expect(again.headers.etag).toBe(etag);
  expect(again.headers['x-ratelimit-used']).toBe(String(used + 1));

  // A new event changes the page, so the old etag no longer matches: a charged 200.
  emu.seed.event('acme/notes', { type: 'WatchEvent', payload: { action: 'started' } });
  const changed = await gh.activity.listRepoEvents({ ...REPO, headers: { 'if-none-match': etag } });
  expect(changed.status).toBe(200);
  expect(changed.headers.etag).not.toBe(etag);
  expect(changed.data[0]?.type).toBe('WatchEvent');
  expect(changed.headers['x-ratelimit-used']).toBe(String(used + 2));
});

test('shapes an event as GitHub does, with org only for an organization owner', async () => {
  emu.seed.repo('jane/diary');
  const id = emu.seed.event('acme/notes', {
    type: 'IssuesEvent',
    payload: { action: 'opened', issue: { number: 7 } },
    actor: { login: 'octocat', id: 583231 },
    createdAt: new Date(Date.now() - 3600_000 + 123),
  });
  emu.seed.event('jane/diary', { type: 'WatchEvent', payload: { action: 'started' }, actor: { login: 'octocat' } });
  const { data } = await gh.activity.listRepoEvents(REPO);
  expect(data).toEqual([
    {
      id,
      type: 'IssuesEvent',
      actor: {
        id: 583231,
        login: 'octocat',
        display_login: 'octocat',
        gravatar_id: '',
        url: `${emu.url}/users/octocat`,
        avatar_url: 'https://avatars.githubusercontent.com/u/583231?',
      },
      repo: { id: (await gh.repos.get(REPO)).data.id, name: 'acme/notes', url: `${emu.url}/repos/acme/notes` },
      payload: { action: 'opened', issue: { number: 7 } },
      public: false, // seeded repositories are private by default
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as unknown,
      org: { id: expect.any(Number) as unknown, login: 'acme', gravatar_id: '', url: `${emu.url}/orgs/acme`, avatar_url: expect.stringMatching(/^https:\/\/avatars/) as unknown },
    },
  ]);
  expect(Date.parse(data[0]?.created_at ?? '')).toBeLessThan(Date.now() - 3500_000);
  const { data: diary } = await gh.activity.listRepoEvents({ owner: 'jane', repo: 'diary' });
  expect(diary[0]).not.toHaveProperty('org');
  expect(diary[0]?.actor.id).toBeGreaterThan(0);
  expect(emu.inspect.events('acme/notes')).toEqual(data);
});

test('records a PushEvent for every seeded push, by the author unless an actor is given', async () => {
  const before = emu.inspect.ref('acme/notes', 'main') as string;
  const head = emu.seed.commit('acme/notes', { files: { 'a.md': 'a\n' }, author: { name: 'Jane Doe', email: 'jane@example.com' } });
  const branchHead = emu.seed.commit('acme/notes', { branch: 'draft', files: { 'b.md': 'b\n' }, actor: { login: 'ci-bot', id: 42 } });
  const { data } = await gh.activity.listRepoEvents(REPO);
  expect(data.map((e) => [e.type, e.actor.login])).toEqual([
    ['PushEvent', 'ci-bot'],
    ['PushEvent', 'jane-doe'],
  ]);
  const repoId = (await gh.repos.get(REPO)).data.id;
  expect(data[1]?.payload).toEqual({ repository_id: repoId, push_id: expect.any(Number) as unknown, ref: 'refs/heads/main', head, before });
  expect(data[0]?.payload).toMatchObject({ ref: 'refs/heads/draft', head: branchHead, before: '0'.repeat(40) });
  expect(data[0]?.actor.id).toBe(42);
  const pushIds = data.map((e) => (e.payload as { push_id: number }).push_id);
  expect(pushIds[0]).toBeGreaterThan(pushIds[1] as number);
  expect(emu.inspect.events('acme/notes').map((e) => e.id)).toEqual(data.map((e) => e.id));
});

test('merges the events of every repository of an organization, newest first', async () => {
  emu.seed.repo('ACME/wiki');
  emu.seed.repo('jane/diary');
  const a = emu.seed.event('acme/notes', { type: 'IssuesEvent', payload: { n: 1 } });
  const b = emu.seed.event('acme/wiki', { type: 'IssuesEvent', payload: { n: 2 } });
  emu.seed.event('jane/diary', { type: 'IssuesEvent', payload: { n: 3 } });
  const c = emu.seed.event('acme/notes', { type: 'IssuesEvent', payload: { n: 4 } });
  const old = emu.seed.event('acme/wiki', { type: 'IssuesEvent', payload: { n: 5 }, createdAt: '2020-01-01T00:00:00Z' });
  const recent = emu.seed.event('acme/wiki', { type: 'IssuesEvent', payload: { n: 6 }, createdAt: new Date(Date.now() - 86_400_000) });
  const { data, headers } = await gh.activity.listPublicOrgEvents({ org: 'acme' });
  expect(data.map((e) => e.id)).toEqual([c, b, a, recent]); // the 2020 event is past GitHub's 90 days
  expect(data.map((e) => e.repo.name)).toEqual(['acme/notes', 'ACME/wiki', 'acme/notes', 'ACME/wiki']);
  expect(data.every((e) => e.org?.login === 'acme')).toBe(true);
  expect(headers['x-poll-interval']).toBe('60');
  expect(emu.inspect.events('acme/wiki').map((e) => e.id)).toEqual([b, recent, old]);

  const paged = await gh.activity.listPublicOrgEvents({ org: 'Acme', per_page: 3 });
  expect(paged.headers.link).toContain(`<${emu.url}/orgs/acme/events?per_page=3&page=2>; rel="next"`);
  const etag = paged.headers.etag as string;
  expect((await failure(gh.activity.listPublicOrgEvents({ org: 'acme', per_page: 3, headers: { 'if-none-match': etag } }))).status).toBe(304);
});

test('limits both feeds to the repositories the token sees', async () => {
  emu.seed.repo('acme/secret');
  emu.seed.token('ghp_narrow', { repos: ['acme/notes'] });
  const visible = emu.seed.event('acme/notes', { type: 'IssuesEvent', payload: {} });
  emu.seed.event('acme/secret', { type: 'IssuesEvent', payload: {} });
  const narrow = client('ghp_narrow');
  expect((await narrow.activity.listPublicOrgEvents({ org: 'acme' })).data.map((e) => e.id)).toEqual([visible]);
  expect((await gh.activity.listPublicOrgEvents({ org: 'acme' })).data).toHaveLength(2);
  const err = await failure(narrow.activity.listRepoEvents({ owner: 'acme', repo: 'secret' }));
  expect(err.status).toBe(404);
  expect(err.response?.data).toMatchObject({ message: 'Not Found', status: '404' });
});

test('answers 404 for an unknown repository, an unknown organization and a user', async () => {
  emu.seed.repo('jane/diary');
  emu.seed.org('empty');
  expect((await failure(gh.activity.listRepoEvents({ owner: 'acme', repo: 'missing' }))).status).toBe(404);
  for (const org of ['nobody', 'jane', 'empty']) {
    const err = await failure(gh.activity.listPublicOrgEvents({ org }));
    expect(err.status).toBe(404);
    expect(err.response?.data).toMatchObject({ message: 'Not Found', documentation_url: expect.stringContaining('docs.github.com') as unknown });
  }
  // An organization whose repositories have no events yet has an empty feed.
  expect((await gh.activity.listPublicOrgEvents({ org: 'acme' })).data).toEqual([]);
});
