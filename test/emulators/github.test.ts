import { Octokit } from '@octokit/rest';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';

// @octokit/rest is ESM-only; jest's require refuses ESM without --experimental-vm-modules, so it is
// loaded with Node's own require (see emulators/github/octokit.ts).
type Client = InstanceType<typeof Octokit>;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TOKEN = 'ghp_test_token';
const REPO = { owner: 'acme', repo: 'notes' };

let emu: GithubEmulator;
let gh: Client;

function client(auth: string | null = TOKEN): Client {
  return new Octokit({ ...(auth === null ? {} : { auth }), baseUrl: emu.url, log: silent });
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

beforeEach(async () => {
  emu = await startGithubEmulator();
  emu.seed.token(TOKEN, { repos: ['acme/notes'] });
  emu.seed.repo('acme/notes', { defaultBranch: 'main', files: { 'README.md': 'hello\n', 'docs/a.md': 'a\n', 'docs/old.md': 'old\n' } });
  gh = client();
});

afterEach(async () => {
  await emu.close();
});

test('answers repos.get with the repository and its default branch', async () => {
  const { data, status } = await gh.repos.get(REPO);
  expect(status).toBe(200);
  expect(data).toMatchObject({ name: 'notes', full_name: 'acme/notes', default_branch: 'main', private: true });
  expect(typeof data.id).toBe('number');
});

test('hashes blobs and trees exactly as git does', async () => {
  const { data: blob } = await gh.git.createBlob({ ...REPO, content: 'hello\n', encoding: 'utf-8' });
  expect(blob.sha).toBe('ce013625030ba8dba906f756967f9e9ca394464a'); // `echo hello | git hash-object --stdin`
  const { data: empty } = await gh.git.createTree({ ...REPO, tree: [{ path: 'x', mode: '100644', type: 'blob', sha: null }] });
  expect(empty.sha).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904'); // git's empty tree
  const { data: again } = await gh.git.createBlob({ ...REPO, content: Buffer.from('hello\n').toString('base64'), encoding: 'base64' });
  expect(again.sha).toBe(blob.sha);
});

test('commits a binary blob, nested paths and a deletion, then moves the branch', async () => {
  const { data: ref } = await gh.git.getRef({ ...REPO, ref: 'heads/main' });
  const { data: parent } = await gh.git.getCommit({ ...REPO, commit_sha: ref.object.sha });
  const binary = Buffer.from([0, 1, 2, 255, 254, 10]);
  const { data: blob } = await gh.git.createBlob({ ...REPO, content: binary.toString('base64'), encoding: 'base64' });
  const { data: tree } = await gh.git.createTree({
    ...REPO,
    base_tree: parent.tree.sha,
    tree: [
      { path: 'assets/img/logo.bin', mode: '100644', type: 'blob', sha: blob.sha },
      { path: 'notes/2024/jan.md', mode: '100644', type: 'blob', content: '# January\n' },
      { path: 'docs/old.md', mode: '100644', type: 'blob', sha: null },
      { path: 'run.sh', mode: '100755', type: 'blob', content: '#!/bin/sh\n' },
    ],
  });
  const { data: commit } = await gh.git.createCommit({ ...REPO, message: 'Sync from Drive\n\nDrive-Change: 42', tree: tree.sha, parents: [parent.sha] });
  expect(commit.sha).toMatch(/^[0-9a-f]{40}$/);
  const { data: moved } = await gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha });
  expect(moved.object.sha).toBe(commit.sha);

  const { data: full } = await gh.git.getTree({ ...REPO, tree_sha: commit.tree.sha, recursive: '1' });
  expect(full.truncated).toBe(false);
  const paths = full.tree.map((e) => `${e.type}:${e.path}:${e.mode}`);
  expect(paths).toEqual(
    expect.arrayContaining(['tree:assets/img:040000', 'blob:assets/img/logo.bin:100644', 'blob:notes/2024/jan.md:100644', 'blob:run.sh:100755', 'blob:docs/a.md:100644']),
  );
  expect(paths.some((p) => p.includes('docs/old.md'))).toBe(false);

  const { data: file } = await gh.repos.getContent({ ...REPO, path: 'assets/img/logo.bin', ref: 'main' });
  if (Array.isArray(file) || file.type !== 'file') throw new Error('expected a file');
  expect(Buffer.from(file.content, 'base64')).toEqual(binary);
  expect(file.sha).toBe(blob.sha);
  const { data: dir } = await gh.repos.getContent({ ...REPO, path: 'notes' });
  expect(Array.isArray(dir) && dir.map((e) => [e.type, e.path])).toEqual([['dir', 'notes/2024']]);
  expect((await failure(gh.repos.getContent({ ...REPO, path: 'docs/old.md' }))).status).toBe(404);
  expect(emu.inspect.tree('acme/notes', 'main')['notes/2024/jan.md']?.toString()).toBe('# January\n');
  expect(emu.inspect.commits('acme/notes', 'main')[0]?.message).toBe('Sync from Drive\n\nDrive-Change: 42');
});

test('refuses a non-fast-forward ref update with 422 unless forced', async () => {
  const base = emu.inspect.ref('acme/notes', 'main') as string;
  emu.seed.commit('acme/notes', { branch: 'main', files: { 'README.md': 'pushed by a user\n' }, message: 'User edit' });
  const { data: tree } = await gh.git.createTree({ ...REPO, tree: [{ path: 'x.md', mode: '100644', type: 'blob', content: 'x' }] });
  const { data: stale } = await gh.git.createCommit({ ...REPO, message: 'stale', tree: tree.sha, parents: [base] });
  const err = await failure(gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: stale.sha }));
  expect(err.status).toBe(422);
  expect(err.response?.data).toMatchObject({ message: 'Update is not a fast forward', status: '422' });
  await gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: stale.sha, force: true });
  expect(emu.inspect.ref('acme/notes', 'main')).toBe(stale.sha);
});

test('creates a branch ref and answers 422 when it already exists', async () => {
  const sha = emu.inspect.ref('acme/notes', 'main') as string;
  const { status } = await gh.git.createRef({ ...REPO, ref: 'refs/heads/sync', sha });
  expect(status).toBe(201);
  expect((await gh.git.getRef({ ...REPO, ref: 'heads/sync' })).data.object.sha).toBe(sha);
  expect(await failure(gh.git.createRef({ ...REPO, ref: 'refs/heads/sync', sha }))).toMatchObject({ status: 422 });
  expect((await failure(gh.git.getRef({ ...REPO, ref: 'heads/missing' }))).status).toBe(404);
});

test('compares two commits listing added, modified, removed and renamed files', async () => {
  const base = emu.inspect.ref('acme/notes', 'main') as string;
  emu.seed.commit('acme/notes', {
    files: { 'README.md': 'hello\nworld\n', 'new.md': 'new\n', 'docs/a.md': null, 'docs/old.md': null, 'docs/renamed.md': 'old\n' },
    message: 'change',
  });
  const { data } = await gh.repos.compareCommits({ ...REPO, base, head: 'main' });
  expect(data).toMatchObject({ status: 'ahead', ahead_by: 1, behind_by: 0, total_commits: 1 });
  expect(data.commits.map((c) => c.commit.message)).toEqual(['change']);
  const files = Object.fromEntries((data.files ?? []).map((f) => [f.filename, [f.status, f.previous_filename]]));
  expect(files).toEqual({
    'README.md': ['modified', undefined],
    'new.md': ['added', undefined],
    'docs/a.md': ['removed', undefined],
    'docs/renamed.md': ['renamed', 'docs/old.md'],
  });
});

test('pages listCommits through the link header and filters by path', async () => {
  for (let i = 1; i <= 6; i++) emu.seed.commit('acme/notes', { files: { [`f${i % 2}.md`]: `v${i}\n` }, message: `commit ${i}\n\nDrive-Change: ${i}` });
  const first = await gh.repos.listCommits({ ...REPO, sha: 'main', per_page: 3 });
  expect(first.headers.link).toMatch(/rel="next".*rel="last"/);
  const all = await gh.paginate(gh.repos.listCommits, { ...REPO, sha: 'main', per_page: 3 });
  expect(all.map((c) => c.commit.message.split('\n')[0])).toEqual(['commit 6', 'commit 5', 'commit 4', 'commit 3', 'commit 2', 'commit 1', 'Initial commit']);
  const onF1 = await gh.paginate(gh.repos.listCommits, { ...REPO, path: 'f1.md', per_page: 2 });
  expect(onF1.map((c) => c.commit.message.split('\n')[0])).toEqual(['commit 5', 'commit 3', 'commit 1']);
  expect(all.find((c) => c.commit.message.includes('Drive-Change: 4'))?.sha).toMatch(/^[0-9a-f]{40}$/);
});

test('answers 401 Bad credentials to a missing or unknown token', async () => {
  for (const auth of ['nope', null]) {
    const err = await failure(client(auth).repos.get(REPO));
    expect(err.status).toBe(401);
    expect(err.response?.data).toMatchObject({ message: 'Bad credentials', documentation_url: expect.stringContaining('docs.github.com') as unknown });
  }
});

test('answers 404 for an unknown repository and one the token cannot see', async () => {
  emu.seed.repo('acme/secret');
  expect((await failure(gh.repos.get({ owner: 'acme', repo: 'missing' }))).response?.data).toMatchObject({ message: 'Not Found', status: '404' });
  expect((await failure(gh.repos.get({ owner: 'acme', repo: 'secret' }))).status).toBe(404);
});

test('sends rate-limit headers that count down per token and answers 403 when exhausted', async () => {
  await emu.close();
  emu = await startGithubEmulator({ rateLimit: 3 });
  emu.seed.token(TOKEN);
  emu.seed.repo('acme/notes');
  gh = client();
  const a = await gh.repos.get(REPO);
  const b = await gh.repos.get(REPO);
  expect(a.headers['x-ratelimit-limit']).toBe('3');
  expect([a.headers['x-ratelimit-remaining'], b.headers['x-ratelimit-remaining']]).toEqual(['2', '1']);
  expect(b.headers['x-ratelimit-used']).toBe('2');
  expect(b.headers['x-ratelimit-resource']).toBe('core');
  expect(Number(b.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
  expect(b.headers['x-github-request-id']).toBeTruthy();
  await gh.repos.get(REPO);
  const err = await failure(gh.repos.get(REPO));
  expect(err.status).toBe(403);
  expect(err.response?.headers['x-ratelimit-remaining']).toBe('0');
  expect(err.message).toMatch(/^API rate limit exceeded for user ID \d+/);
});

describe('fault knobs (Octokit core has no retry or throttling plugin: each fault surfaces once)', () => {
  test('a secondary rate limit answers 403 with retry-after for the next N calls', async () => {
    emu.faults.set({ secondaryLimit: { count: 2, retryAfterSec: 7 } });
    for (let i = 0; i < 2; i++) {
      const err = await failure(gh.repos.get(REPO));
      expect(err.status).toBe(403);
      expect(err.response?.headers['retry-after']).toBe('7');
      expect(err.message).toMatch(/^You have exceeded a secondary rate limit/);
    }
    expect((await gh.repos.get(REPO)).status).toBe(200);
    expect(emu.inspect.calls().map((c) => c.status)).toEqual([403, 403, 200]);
  });

  test('status5xx answers 502 then 503, and Octokit does not retry them', async () => {
    emu.faults.set({ status5xx: 2 });
    expect((await failure(gh.repos.get(REPO))).status).toBe(502);
    expect((await failure(gh.repos.get(REPO))).status).toBe(503);
    expect((await gh.repos.get(REPO)).status).toBe(200);
    expect(emu.inspect.calls()).toHaveLength(3);
  });

  test('dropConnections destroys the socket and Octokit reports a network error', async () => {
    emu.faults.set({ dropConnections: 1 });
    const err = await failure(gh.repos.get(REPO));
    // Octokit wraps fetch failures as RequestError status 500 (message "fetch failed", or "Unknown
    // Error" under jest's realms); the emulator's log shows the call got no answer at all.
    expect(err.status).toBe(500);
    expect(emu.inspect.calls().at(-1)?.status).toBe(0);
    expect((await gh.repos.get(REPO)).status).toBe(200);
  });

  test('failOn fails only the targeted route, and latency delays every answer', async () => {
    emu.faults.set({ failOn: { method: 'POST', route: '/repos/{owner}/{repo}/git/trees', status: 500, count: 1 }, latencyMs: 60 });
    const started = Date.now();
    await gh.git.createBlob({ ...REPO, content: 'x' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect((await failure(gh.git.createTree({ ...REPO, tree: [{ path: 'a', mode: '100644', type: 'blob', content: 'a' }] }))).status).toBe(500);
    expect((await gh.git.createTree({ ...REPO, tree: [{ path: 'a', mode: '100644', type: 'blob', content: 'a' }] })).status).toBe(201);
    expect(emu.inspect.calls().map((c) => `${c.method} ${c.route} ${c.status}`)).toEqual([
      'POST /repos/{owner}/{repo}/git/blobs 201',
      'POST /repos/{owner}/{repo}/git/trees 500',
      'POST /repos/{owner}/{repo}/git/trees 201',
    ]);
  });

  test('moveRefBeforeNextUpdate lands a concurrent push so the next ref update gets 422', async () => {
    const head = emu.inspect.ref('acme/notes', 'main') as string;
    const { data: parent } = await gh.git.getCommit({ ...REPO, commit_sha: head });
    const { data: tree } = await gh.git.createTree({ ...REPO, base_tree: parent.tree.sha, tree: [{ path: 'b.md', mode: '100644', type: 'blob', content: 'b' }] });
    const { data: commit } = await gh.git.createCommit({ ...REPO, message: 'sync', tree: tree.sha, parents: [head] });
    emu.faults.set({ moveRefBeforeNextUpdate: 'acme/notes' });
    expect((await failure(gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha }))).status).toBe(422);
    expect(emu.inspect.commits('acme/notes', 'main')[0]?.message).toBe('Concurrent push 1');
    emu.faults.reset();
  });
});
