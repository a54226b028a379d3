import { createHash } from 'node:crypto';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator, GithubEmulatorOptions } from '../../emulators/github/server';
import { providerFailure } from '../../lib/providers/failures';
import { createGithubClient } from '../../lib/providers/github';
import { downloadGithubBlob, listGithubChanges } from '../../lib/sync/github-read';
import type { GithubReadApi, KnownGithubFile, ListGithubChangesInput } from '../../lib/sync/github-read';
import type { GithubListing } from '../../workflows/sync/types';

const TOKEN = 'ghs_read_test';
const FULL = 'acme/notes';
const REPO = { owner: 'acme', repo: 'notes' };

let emu: GithubEmulator;
// The real Octokit, passed where the narrow GithubReadApi is expected.
let github: ReturnType<typeof createGithubClient>;

/** The blob sha git gives these bytes (`git hash-object`). */
const blobSha = (content: string | Buffer): string => {
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${String(data.length)}\0`), data]))
    .digest('hex');
};

const known = (files: Record<string, string | Buffer>): KnownGithubFile[] => Object.entries(files).map(([path, content]) => ({ path, sha: blobSha(content) }));

function input(overrides: Partial<ListGithubChangesInput> = {}): ListGithubChangesInput {
  return { ...REPO, branch: 'main', basePath: 'notes', cursor: null, known: [], limit: 1000, ...overrides };
}

/** The changes as compact lines: `upsert path [<- previous]` / `delete path`. */
const lines = (listing: GithubListing): string[] =>
  listing.changes.map((c) => `${c.kind} ${c.path}${c.previousPath !== undefined ? ` <- ${c.previousPath}` : ''}`);

const routes = () => emu.inspect.calls().map((c) => `${c.method} ${c.route} ${String(c.status)}`);
const head = (): string => emu.inspect.ref(FULL, 'main') as string;

const SEED = {
  'README.md': '# Repo\n',
  'notes/a.md': 'a\n',
  'notes/2024/jan.md': '# January\n',
  'notes/2024/q1/deep.md': 'deep\n',
  'notesbook/not-below.md': 'a sibling folder whose name starts with the base path\n',
  'other/x.md': 'x\n',
};

async function start(options: GithubEmulatorOptions = {}): Promise<void> {
  emu = await startGithubEmulator(options);
  emu.seed.token(TOKEN, { repos: [FULL] });
  emu.seed.repo(FULL, { defaultBranch: 'main', files: SEED });
  github = createGithubClient(TOKEN, { baseUrl: emu.url });
  const narrow: GithubReadApi = github; // compile-time check: Octokit satisfies the narrow interface
  expect(narrow).toBe(github);
  emu.inspect.clearCalls();
}

beforeEach(async () => {
  await start();
});

afterEach(async () => {
  await emu.close();
});

test('lists every file under the base path on the initial sync, nested folders included, with blob shas', async () => {
  const listing = await listGithubChanges(github, input());

  expect(listing.head).toBe(head());
  expect(listing.changes).toEqual([
    { kind: 'upsert', path: '2024/jan.md', sha: blobSha('# January\n') },
    { kind: 'upsert', path: '2024/q1/deep.md', sha: blobSha('deep\n') },
    { kind: 'upsert', path: 'a.md', sha: blobSha('a\n') },
  ]);
  expect(listing.truncated).toBe(false);
  expect(routes()).toEqual([
    'GET /repos/{owner}/{repo}/git/ref/{ref} 200',
    'GET /repos/{owner}/{repo}/git/commits/{commit_sha} 200',
    'GET /repos/{owner}/{repo}/git/trees/{tree_sha} 200',
  ]);
  expect(listing.apiCalls).toBe(3);
});

test('lists the whole repository for an empty base path', async () => {
  const listing = await listGithubChanges(github, input({ basePath: '' }));
  expect(listing.changes.map((c) => c.path)).toEqual(['README.md', 'notes/2024/jan.md', 'notes/2024/q1/deep.md', 'notes/a.md', 'notesbook/not-below.md', 'other/x.md']);
});

test('skips symlinks and submodules in the full tree', async () => {
  const { data: parent } = await github.rest.git.getCommit({ ...REPO, commit_sha: head() });
  const { data: tree } = await github.rest.git.createTree({
    ...REPO,
    base_tree: parent.tree.sha,
    tree: [
      { path: 'notes/link.md', mode: '120000', type: 'blob', content: 'a.md' },
      { path: 'notes/vendor', mode: '160000', type: 'commit', sha: parent.sha },
      { path: 'notes/run.sh', mode: '100755', type: 'blob', content: '#!/bin/sh\n' },
    ],
  });
  const { data: commit } = await github.rest.git.createCommit({ ...REPO, message: 'links', tree: tree.sha, parents: [parent.sha] });
  await github.rest.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha });

  const listing = await listGithubChanges(github, input());

  expect(listing.changes.map((c) => c.path)).toEqual(['2024/jan.md', '2024/q1/deep.md', 'a.md', 'run.sh']);
});

test('downloads a binary blob byte for byte', async () => {
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 256));
  binary[0] = 0;
  emu.seed.commit(FULL, { files: { 'notes/img/logo.png': binary }, message: 'Add a logo' });
  const listing = await listGithubChanges(github, input({ known: known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n' }) }));
  expect(lines(listing)).toEqual(['upsert img/logo.png']);

  const bytes = await downloadGithubBlob(github, { ...REPO, sha: listing.changes[0]?.sha as string });

  expect(Buffer.isBuffer(bytes)).toBe(true);
  expect(bytes.equals(binary)).toBe(true);
  expect(await downloadGithubBlob(github, { ...REPO, sha: blobSha('') }).catch((e: unknown) => e)).toMatchObject({ status: 404 });
});

test('lists an incremental add, edit, delete and rename in two calls', async () => {
  const cursor = head();
  emu.seed.commit(FULL, {
    files: { 'notes/new.md': 'new\n', 'notes/a.md': 'a, edited\n', 'notes/2024/jan.md': null, 'notes/2024/q1/deep.md': null, 'notes/2025/deep.md': 'deep\n', 'other/x.md': 'x2\n' },
    message: 'User edits',
  });
  const before = known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n' });

  const listing = await listGithubChanges(github, input({ cursor, known: before }));

  expect(listing.head).toBe(head());
  expect(listing.changes).toEqual([
    { kind: 'delete', path: '2024/jan.md' },
    { kind: 'upsert', path: '2025/deep.md', sha: blobSha('deep\n'), previousPath: '2024/q1/deep.md' },
    { kind: 'upsert', path: 'a.md', sha: blobSha('a, edited\n') },
    { kind: 'upsert', path: 'new.md', sha: blobSha('new\n') },
  ]);
  expect(routes()).toEqual(['GET /repos/{owner}/{repo}/git/ref/{ref} 200', 'GET /repos/{owner}/{repo}/compare/{basehead} 200']);
  expect(listing.apiCalls).toBe(2);
});

test('treats a rename into the base path as an add and a rename out of it as a delete', async () => {
  const cursor = head();
  emu.seed.commit(FULL, { files: { 'other/x.md': null, 'notes/from-other.md': 'x\n', 'notes/a.md': null, 'archive/a.md': 'a\n' }, message: 'Moves' });

  const listing = await listGithubChanges(github, input({ cursor, known: known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n' }) }));

  expect(listing.changes).toEqual([
    { kind: 'delete', path: 'a.md' },
    { kind: 'upsert', path: 'from-other.md', sha: blobSha('x\n') },
  ]);
  expect(listing.apiCalls).toBe(2);
});

test('does not echo back files the map already has at the same sha, nor deletes of paths it does not have', async () => {
  const cursor = head();
  // durasync's own commit: the map was updated with what it wrote before the listing.
  emu.seed.commit(FULL, { files: { 'notes/from-drive.md': 'from drive\n', 'notes/a.md': 'a from drive\n', 'notes/2024/jan.md': null }, message: 'Sync from Drive' });
  emu.seed.commit(FULL, { files: { 'notes/user.md': 'user\n' }, message: 'A user edit' });
  const map = known({ 'from-drive.md': 'from drive\n', 'a.md': 'a from drive\n', '2024/q1/deep.md': 'deep\n' });

  const incremental = await listGithubChanges(github, input({ cursor, known: map }));
  expect(lines(incremental)).toEqual(['upsert user.md']);

  const full = await listGithubChanges(github, input({ cursor: null, known: map }));
  expect(lines(full)).toEqual(['upsert user.md']);
});

test('costs one call when the cursor is the branch head', async () => {
  const listing = await listGithubChanges(github, input({ cursor: head(), known: known({ 'a.md': 'a\n' }) }));

  expect(listing).toEqual({ head: head(), changes: [], truncated: false, apiCalls: 1 });
  expect(routes()).toEqual(['GET /repos/{owner}/{repo}/git/ref/{ref} 200']);
});

test('falls back to a full diff against the map when the branch was force-pushed', async () => {
  const root = head();
  const cursor = emu.seed.commit(FULL, { files: { 'notes/lost.md': 'only in the old history\n' }, message: 'Later rewritten' });
  const map = known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n', 'lost.md': 'only in the old history\n' });
  // The user rewrites history: a new commit on the root, the branch forced onto it.
  emu.seed.commit(FULL, { parent: root, files: { 'notes/a.md': 'a, rewritten\n', 'notes/fresh.md': 'fresh\n' }, message: 'Rewritten' });

  const listing = await listGithubChanges(github, input({ cursor, known: map }));

  expect(lines(listing)).toEqual(['upsert a.md', 'upsert fresh.md', 'delete lost.md']);
  expect(routes()).toEqual([
    'GET /repos/{owner}/{repo}/git/ref/{ref} 200',
    'GET /repos/{owner}/{repo}/compare/{basehead} 200',
    'GET /repos/{owner}/{repo}/git/commits/{commit_sha} 200',
    'GET /repos/{owner}/{repo}/git/trees/{tree_sha} 200',
  ]);
  expect(listing.apiCalls).toBe(4);
});

test('falls back to a full diff when the branch moved back behind the cursor', async () => {
  const root = head();
  const cursor = emu.seed.commit(FULL, { files: { 'notes/reverted.md': 'soon gone\n' }, message: 'Reverted by a reset' });
  // Reset the branch to the root itself: the cursor is now ahead of the head.
  await github.rest.git.updateRef({ ...REPO, ref: 'heads/main', sha: root, force: true });
  emu.inspect.clearCalls();

  const listing = await listGithubChanges(github, input({ cursor, known: known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n', 'reverted.md': 'soon gone\n' }) }));

  expect(lines(listing)).toEqual(['delete reverted.md']);
  expect(listing.apiCalls).toBe(4);
});

test('falls back to a full diff when the cursor commit no longer exists', async () => {
  const listing = await listGithubChanges(github, input({ cursor: 'f'.repeat(40), known: known({ 'a.md': 'a\n', 'ghost.md': 'ghost\n' }) }));

  expect(lines(listing)).toEqual(['upsert 2024/jan.md', 'upsert 2024/q1/deep.md', 'delete ghost.md']);
  expect(routes()).toEqual([
    'GET /repos/{owner}/{repo}/git/ref/{ref} 200',
    'GET /repos/{owner}/{repo}/compare/{basehead} 404',
    'GET /repos/{owner}/{repo}/git/commits/{commit_sha} 200',
    'GET /repos/{owner}/{repo}/git/trees/{tree_sha} 200',
  ]);
});

test('falls back to the full tree when a compare lists 300 or more files, as GitHub caps the list there', async () => {
  const cursor = head();
  const files: Record<string, string> = {};
  for (let i = 0; i < 350; i++) files[`notes/bulk/f-${String(i).padStart(3, '0')}.md`] = `bulk ${String(i)}\n`;
  emu.seed.commit(FULL, { files, message: 'Bulk import' });
  const map = known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n' });

  const { data: compare } = await github.rest.repos.compareCommitsWithBasehead({ ...REPO, basehead: `${cursor}...${head()}` });
  expect(compare.files).toHaveLength(300); // the emulator caps the list as GitHub does
  emu.inspect.clearCalls();

  const listing = await listGithubChanges(github, input({ cursor, known: map }));

  expect(listing.changes).toHaveLength(350);
  expect(listing.changes.every((c) => c.kind === 'upsert' && c.path.startsWith('bulk/'))).toBe(true);
  expect(listing.changes.at(-1)).toEqual({ kind: 'upsert', path: 'bulk/f-349.md', sha: blobSha('bulk 349\n') });
  expect(routes().slice(1)).toEqual([
    'GET /repos/{owner}/{repo}/compare/{basehead} 200',
    'GET /repos/{owner}/{repo}/git/commits/{commit_sha} 200',
    'GET /repos/{owner}/{repo}/git/trees/{tree_sha} 200',
  ]);
});

test('walks subtrees one at a time when GitHub truncates the recursive tree, without deleting what it left out', async () => {
  await emu.close();
  await start({ maxTreeEntries: 4 });
  const files: Record<string, string> = {};
  for (let i = 0; i < 6; i++) files[`notes/2024/q${String(i % 3)}/m-${String(i)}.md`] = `m${String(i)}\n`;
  emu.seed.commit(FULL, { files, message: 'More' });
  emu.inspect.clearCalls();
  const map = known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n', 'gone.md': 'gone\n' });

  const listing = await listGithubChanges(github, input({ known: map }));

  expect(lines(listing)).toEqual([
    'upsert 2024/q0/m-0.md',
    'upsert 2024/q0/m-3.md',
    'upsert 2024/q1/m-1.md',
    'upsert 2024/q1/m-4.md',
    'upsert 2024/q2/m-2.md',
    'upsert 2024/q2/m-5.md',
    'delete gone.md',
  ]);
  // getRef, getCommit, the truncated recursive read (README.md, notes, notes/2024, notes/2024/jan.md),
  // then notes/ (its sha found in the partial answer), 2024/, q0/, q1/, q2/ one at a time.
  expect(listing.apiCalls).toBe(8);
  expect(emu.inspect.calls()).toHaveLength(8);
  expect(emu.inspect.calls().filter((c) => c.route.endsWith('/git/trees/{tree_sha}'))).toHaveLength(6);

  // A base path beyond the partial answer is found by reading the root, then walked.
  emu.inspect.clearCalls();
  const other = await listGithubChanges(github, input({ basePath: 'other' }));
  expect(other.changes).toEqual([{ kind: 'upsert', path: 'x.md', sha: blobSha('x\n') }]);
  expect(other.apiCalls).toBe(5); // getRef, getCommit, recursive (truncated), root, other/
});

test('cuts the listing after limit changes by path, and a second listing from the same cursor continues', async () => {
  const cursor = head();
  emu.seed.commit(FULL, { files: { 'notes/c.md': 'c\n', 'notes/b.md': 'b\n', 'notes/a.md': null, 'notes/d.md': 'd\n' }, message: 'Four changes' });
  const map = new Map(known({ 'a.md': 'a\n', '2024/jan.md': '# January\n', '2024/q1/deep.md': 'deep\n' }).map((f) => [f.path, f.sha]));

  const first = await listGithubChanges(github, input({ cursor, known: [...map].map(([path, sha]) => ({ path, sha })), limit: 2 }));
  expect(lines(first)).toEqual(['delete a.md', 'upsert b.md']);
  expect(first.truncated).toBe(true);

  // The caller syncs these, updates the map, and lists again from the same cursor.
  for (const c of first.changes) {
    if (c.kind === 'delete') map.delete(c.path);
    else map.set(c.path, c.sha as string);
  }
  const second = await listGithubChanges(github, input({ cursor, known: [...map].map(([path, sha]) => ({ path, sha })), limit: 2 }));
  expect(lines(second)).toEqual(['upsert c.md', 'upsert d.md']);
  expect(second.truncated).toBe(false);

  const initial = await listGithubChanges(github, input({ limit: 3 }));
  expect(initial.changes.map((c) => c.path)).toEqual(['2024/jan.md', '2024/q1/deep.md', 'b.md']);
  expect(initial.truncated).toBe(true);
});

test('propagates other failures unchanged for the caller to map', async () => {
  const cursor = head();
  emu.seed.commit(FULL, { files: { 'notes/z.md': 'z\n' } });
  emu.faults.set({ failOn: { method: 'GET', route: '/repos/{owner}/{repo}/compare/{basehead}', status: 502, count: 1 } });

  const err = await listGithubChanges(github, input({ cursor })).catch((e: unknown) => e);

  expect(err).toMatchObject({ status: 502 });
  expect(providerFailure('github', 'repos.compareCommitsWithBasehead', err)).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  expect(await listGithubChanges(github, input({ branch: 'missing' })).catch((e: unknown) => e)).toMatchObject({ status: 404 });
  await expect(listGithubChanges(github, input({ limit: 0 }))).rejects.toThrow(/limit/);
});
