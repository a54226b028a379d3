import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';
import { createGithubClient } from '../../lib/providers/github';
import { providerFailure } from '../../lib/providers/failures';
import { commitChanges, hasRunTrailer, isBinary, messageWithTrailer } from '../../lib/sync/github-commit';
import type { CommitChangesInput, FileChange, GithubCommitApi } from '../../lib/sync/github-commit';

const TOKEN = 'ghs_commit_test';
const FULL = 'acme/notes';

let emu: GithubEmulator;
// The real Octokit, passed where the narrow GithubCommitApi is expected.
let github: ReturnType<typeof createGithubClient>;

function input(runId: string, changes: FileChange[], message = 'Sync from Drive'): CommitChangesInput {
  return { owner: 'acme', repo: 'notes', branch: 'main', runId, message, changes };
}

const text = (s: string) => Buffer.from(s, 'utf8');
const routes = () => emu.inspect.calls().map((c) => `${c.method} ${c.route} ${c.status}`);

beforeEach(async () => {
  emu = await startGithubEmulator();
  emu.seed.token(TOKEN, { repos: [FULL] });
  emu.seed.repo(FULL, { defaultBranch: 'main', files: { 'README.md': 'hello\n', 'docs/a.md': 'a\n', 'docs/old.md': 'old\n' } });
  github = createGithubClient(TOKEN, { baseUrl: emu.url });
  const narrow: GithubCommitApi = github; // compile-time check: Octokit satisfies the narrow interface
  expect(narrow).toBe(github);
  emu.inspect.clearCalls();
});

afterEach(async () => {
  await emu.close();
});

test('commits 1,000 text files as one commit in 4 calls, with inline content and no blob calls', async () => {
  const changes = Array.from({ length: 1000 }, (_, i) => ({ path: `notes/${String(i % 10)}/file-${String(i)}.md`, content: text(`# File ${String(i)}\n\nDrive content ✓ ${String(i)}\n`) }));
  const before = emu.inspect.commits(FULL, 'main').length;

  const result = await commitChanges(github, input('run-1000', changes));

  expect(result.created).toBe(true);
  expect(result.apiCalls).toBe(4); // listCommits, createTree, createCommit, updateRef
  expect(emu.inspect.calls()).toHaveLength(result.apiCalls);
  expect(routes().some((r) => r.includes('/git/blobs'))).toBe(false);
  const log = emu.inspect.commits(FULL, 'main');
  expect(log).toHaveLength(before + 1);
  expect(log[0]?.sha).toBe(result.commitSha);
  expect(log[0]?.message).toBe('Sync from Drive\n\nDurasync-Run: run-1000');
  const files = emu.inspect.tree(FULL, 'main');
  expect(Object.keys(files)).toHaveLength(1003);
  for (const change of changes) expect(files[change.path]?.equals(change.content)).toBe(true);
  expect(files['README.md']?.toString()).toBe('hello\n');
  expect(result.apiCalls / changes.length).toBeLessThanOrEqual(0.05);
});

test('applies updates, deletions, nested paths, an executable bit and a binary file, creating a blob only for the binary', async () => {
  const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x0a]);
  const result = await commitChanges(
    github,
    input('run-mixed', [
      { path: 'README.md', content: text('hello, world\n') },
      { path: 'docs/old.md', content: null },
      { path: 'a/b/c/deep.md', content: text('deep\n') },
      { path: 'bin/run.sh', content: text('#!/bin/sh\necho hi\n'), executable: true },
      { path: 'assets/logo.png', content: binary },
    ]),
  );

  expect(result).toMatchObject({ created: true, commitSha: expect.stringMatching(/^[0-9a-f]{40}$/) as unknown });
  expect(routes()).toEqual([
    'GET /repos/{owner}/{repo}/commits 200',
    'POST /repos/{owner}/{repo}/git/blobs 201',
    'POST /repos/{owner}/{repo}/git/trees 201',
    'POST /repos/{owner}/{repo}/git/commits 201',
    'PATCH /repos/{owner}/{repo}/git/refs/{ref} 200',
  ]);
  expect(result.apiCalls).toBe(5);
  const files = emu.inspect.tree(FULL, 'main');
  expect(Object.keys(files).sort()).toEqual(['README.md', 'a/b/c/deep.md', 'assets/logo.png', 'bin/run.sh', 'docs/a.md']);
  expect(files['README.md']?.toString()).toBe('hello, world\n');
  expect(files['a/b/c/deep.md']?.toString()).toBe('deep\n');
  expect(files['assets/logo.png']?.equals(binary)).toBe(true);

  const { data: tree } = await github.rest.git.getTree({ owner: 'acme', repo: 'notes', tree_sha: 'main', recursive: '1' });
  const modes = Object.fromEntries(tree.tree.map((e) => [e.path, e.mode]));
  expect(modes['bin/run.sh']).toBe('100755');
  expect(modes['README.md']).toBe('100644');
  expect(modes['assets/logo.png']).toBe('100644');
});

test('splits very large inline content over chained createTree calls, still one commit', async () => {
  const changes = Array.from({ length: 5 }, (_, i) => ({ path: `big/${String(i)}.txt`, content: text(`${String(i)}`.repeat(1000)) }));
  const result = await commitChanges(github, input('run-big', changes), { maxTreeRequestBytes: 2500 });

  expect(routes().filter((r) => r.startsWith('POST /repos/{owner}/{repo}/git/trees'))).toHaveLength(3);
  expect(result.apiCalls).toBe(6);
  expect(emu.inspect.commits(FULL, 'main')[0]?.sha).toBe(result.commitSha);
  const files = emu.inspect.tree(FULL, 'main');
  for (const change of changes) expect(files[change.path]?.equals(change.content)).toBe(true);
});

test('a retried run makes one commit: the second call finds the trailer and returns the same sha without writing', async () => {
  const changes = [{ path: 'retry.md', content: text('once\n') }];
  const first = await commitChanges(github, input('run-retry', changes));
  emu.inspect.clearCalls();
  const second = await commitChanges(github, input('run-retry', changes));

  expect(first.created).toBe(true);
  expect(second).toEqual({ commitSha: first.commitSha, created: false, apiCalls: 1 });
  expect(routes()).toEqual(['GET /repos/{owner}/{repo}/commits 200']);
  expect(emu.inspect.commits(FULL, 'main').filter((c) => c.message.includes('Durasync-Run: run-retry'))).toHaveLength(1);
});

test('a retried run is still found after other commits landed on top of it', async () => {
  const first = await commitChanges(github, input('run-7', [{ path: 'x.md', content: text('x\n') }]));
  emu.seed.commit(FULL, { branch: 'main', files: { 'user.md': 'user\n' }, message: 'User edit' });
  await commitChanges(github, input('run-70', [{ path: 'y.md', content: text('y\n') }]));

  const again = await commitChanges(github, input('run-7', [{ path: 'x.md', content: text('x\n') }]));
  expect(again).toMatchObject({ commitSha: first.commitSha, created: false });
});

test('a change set that changes nothing makes no commit', async () => {
  const head = emu.inspect.ref(FULL, 'main');
  const result = await commitChanges(
    github,
    input('run-noop', [
      { path: 'README.md', content: text('hello\n') },
      { path: 'docs/missing.md', content: null },
    ]),
  );

  expect(result).toEqual({ commitSha: null, created: false, apiCalls: 2 });
  expect(emu.inspect.ref(FULL, 'main')).toBe(head);
  expect(routes()).toEqual(['GET /repos/{owner}/{repo}/commits 200', 'POST /repos/{owner}/{repo}/git/trees 201']);
  expect(await commitChanges(github, input('run-empty', []))).toEqual({ commitSha: null, created: false, apiCalls: 0 });
});

test('a branch moved by a concurrent push gets the commit rebuilt on its new head, without forcing', async () => {
  emu.faults.set({ moveRefBeforeNextUpdate: FULL });
  const binary = Buffer.from([0, 1, 2, 3]);
  const result = await commitChanges(
    github,
    input('run-moved', [
      { path: 'docs/a.md', content: text('a, edited in Drive\n') },
      { path: 'data.bin', content: binary },
    ]),
  );

  expect(result.created).toBe(true);
  const log = emu.inspect.commits(FULL, 'main');
  expect(log[0]?.sha).toBe(result.commitSha);
  expect(log[1]?.message).toBe('Concurrent push 1');
  expect(log[0]?.parents).toEqual([log[1]?.sha]);
  const files = emu.inspect.tree(FULL, 'main');
  expect(files['.concurrent-push-1']?.toString()).toBe('concurrent push 1\n');
  expect(files['docs/a.md']?.toString()).toBe('a, edited in Drive\n');
  expect(files['data.bin']?.equals(binary)).toBe(true);
  expect(routes()).toEqual([
    'GET /repos/{owner}/{repo}/commits 200',
    'POST /repos/{owner}/{repo}/git/blobs 201',
    'POST /repos/{owner}/{repo}/git/trees 201',
    'POST /repos/{owner}/{repo}/git/commits 201',
    'PATCH /repos/{owner}/{repo}/git/refs/{ref} 422',
    'GET /repos/{owner}/{repo}/commits 200',
    // The binary blob is reused: no second createBlob.
    'POST /repos/{owner}/{repo}/git/trees 201',
    'POST /repos/{owner}/{repo}/git/commits 201',
    'PATCH /repos/{owner}/{repo}/git/refs/{ref} 200',
  ]);
  expect(result.apiCalls).toBe(9);
});

test('a branch that keeps moving fails after the allowed rounds, leaving it untouched by the run', async () => {
  emu.faults.set({ moveRefBeforeNextUpdate: FULL });
  const attempt = commitChanges(github, input('run-busy', [{ path: 'b.md', content: text('b\n') }]), { maxRounds: 1 });
  await expect(attempt).rejects.toMatchObject({ name: 'BranchMovedError', cause: { status: 422 } });
  expect(emu.inspect.commits(FULL, 'main').some((c) => hasRunTrailer(c.message, 'run-busy'))).toBe(false);
});

test('a 422 from a ref update on a branch that did not move propagates unchanged', async () => {
  emu.faults.set({ failOn: { method: 'PATCH', route: '/repos/{owner}/{repo}/git/refs/{ref}', status: 422, count: 1 } });
  const err = await commitChanges(github, input('run-422', [{ path: 'c.md', content: text('c\n') }])).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ status: 422 });
});

test('a secondary rate limit on createTree propagates as the Octokit error for the caller to map', async () => {
  const client = createGithubClient(TOKEN, { baseUrl: emu.url });
  // The emulator's secondary limit hits whatever call comes next: arm it just before createTree.
  client.hook.before('request', (options) => {
    if (options.method === 'POST' && options.url === '/repos/{owner}/{repo}/git/trees') emu.faults.set({ secondaryLimit: { count: 1, retryAfterSec: 30 } });
  });
  const head = emu.inspect.ref(FULL, 'main');

  const err = await commitChanges(client, input('run-403', [{ path: 'd.md', content: text('d\n') }])).then(
    () => undefined,
    (e: unknown) => e,
  );

  expect(err).toMatchObject({ status: 403, response: { headers: { 'retry-after': '30' } } });
  expect(providerFailure('github', 'git.createTree', err)).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 30_000 });
  expect(emu.inspect.ref(FULL, 'main')).toBe(head);
  expect(routes()).toEqual(['GET /repos/{owner}/{repo}/commits 200', 'POST /repos/{owner}/{repo}/git/trees 403']);
});

test('tells binary from text and appends the run trailer as the last line', () => {
  expect(isBinary(text('plain ✓ text\n'))).toBe(false);
  expect(isBinary(Buffer.from([0x61, 0x00, 0x62]))).toBe(true);
  expect(isBinary(Buffer.from([0xc3, 0x28]))).toBe(true);
  expect(isBinary(Buffer.from([0xef, 0xbb, 0xbf, 0x61]))).toBe(false);
  expect(messageWithTrailer('Sync from Drive\n', 'r1')).toBe('Sync from Drive\n\nDurasync-Run: r1');
  expect(hasRunTrailer('x\n\nDurasync-Run: r10', 'r1')).toBe(false);
  expect(hasRunTrailer('x\n\nDurasync-Run: r1\n', 'r1')).toBe(true);
});
