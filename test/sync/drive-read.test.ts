import { createHash } from 'node:crypto';
import type { drive_v3 } from 'googleapis/build/src/apis/drive';
import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { createDriveClient, uploadOptions } from '../../lib/providers/google';
import {
  downloadDriveFile, ensureDriveFolder, listDriveChanges, renameDriveFile, trashDriveFile,
  type DriveListCheckpoint, type KnownDriveFile, type ListDriveChangesInput,
} from '../../lib/sync/drive-read';
import { writeDriveFile } from '../../lib/sync/drive-write';
import type { DriveChange, DriveListing } from '../../workflows/sync/types';

const md5 = (content: string | Buffer) => createHash('md5').update(content).digest('hex');
const SHEET = 'application/vnd.google-apps.spreadsheet';

/** The file map after syncing `changes`, as the sync workflow keeps it. */
function applied(known: KnownDriveFile[], changes: DriveChange[]): KnownDriveFile[] {
  const byId = new Map(known.map((k) => [k.fileId, k]));
  for (const c of changes) {
    if (c.kind === 'delete') byId.delete(c.fileId);
    else byId.set(c.fileId, { path: c.path, fileId: c.fileId, md5: c.md5 ?? null, revision: c.revision ?? null });
  }
  return [...byId.values()];
}

const summary = (listing: DriveListing) => listing.changes.map((c) => `${c.kind} ${c.path}${c.previousPath ? ` (was ${c.previousPath})` : ''}`);

/** Reading a link's Drive folder through the real googleapis client against the emulator. */
describe('Drive reads for a sync run', () => {
  let emulator: DriveEmulator;
  let client: drive_v3.Drive;
  let folderId: string;

  beforeEach(async () => {
    emulator = await startDriveEmulator();
    client = createDriveClient(emulator.seed.token({ refreshToken: 'r' }).accessToken, { rootUrl: emulator.url });
    folderId = emulator.seed.folder('Notes').id;
  });

  afterEach(async () => {
    await emulator?.close();
  });

  const list = (input: Partial<ListDriveChangesInput>) => listDriveChanges(client, { folderId, cursor: null, known: [], limit: 1000, ...input });
  const driveCalls = (path: string) => emulator.inspect.calls().filter((c) => c.path.endsWith(path));

  /** Notes/{readme.md, a|b.txt, plan (Doc), budget (Sheet), work/{logo.bin, old.md (trashed), deep/{todo.md}}} */
  function seedTree() {
    const readme = emulator.seed.file({ name: 'readme.md', parentId: folderId, content: '# hello\n' });
    const slashed = emulator.seed.file({ name: 'a/b.txt', parentId: folderId, content: 'slash' });
    const plan = emulator.seed.doc({ name: 'plan', parentId: folderId, markdown: '# Plan\n\n- one\n' });
    emulator.seed.file({ name: 'budget', parentId: folderId, content: '', mimeType: SHEET });
    const work = emulator.seed.folder('work', folderId);
    const logo = emulator.seed.file({ name: 'logo.bin', parentId: work.id, content: Buffer.from([0, 255, 1, 254]) });
    const old = emulator.seed.file({ name: 'old.md', parentId: work.id, content: 'gone' });
    emulator.seed.update(old.id, { trashed: true });
    const deep = emulator.seed.folder('deep', work.id);
    const todo = emulator.seed.file({ name: 'todo.md', parentId: deep.id, content: '- [ ] x\n' });
    emulator.seed.file({ name: 'elsewhere.md', content: 'not in the link' });
    return { readme, slashed, plan, work, logo, deep, todo };
  }

  it('scans the whole tree on an initial sync: nested paths, Docs as markdown, binaries, Google sheets skipped', async () => {
    const { readme, plan, logo, todo } = seedTree();
    const listing = await list({});
    expect(listing.changes.map((c) => c.path)).toEqual(['a_b.txt', 'plan.md', 'readme.md', 'work/deep/todo.md', 'work/logo.bin']);
    expect(listing.changes.every((c) => c.kind === 'upsert' && !c.previousPath)).toBe(true);
    expect(listing.changes.find((c) => c.path === 'plan.md')).toMatchObject({ fileId: plan.id, isDoc: true, md5: null, revision: plan.version });
    expect(listing.changes.find((c) => c.path === 'readme.md')).toMatchObject({ fileId: readme.id, isDoc: false, md5: md5('# hello\n'), revision: readme.headRevisionId });
    expect(listing.changes.find((c) => c.path === 'work/logo.bin')).toMatchObject({ fileId: logo.id, md5: md5(Buffer.from([0, 255, 1, 254])) });
    expect(listing.changes.find((c) => c.path === 'work/deep/todo.md')?.fileId).toBe(todo.id);
    expect(listing.truncated).toBe(false);
    // The start token comes first, then one files.list per folder (Notes, work, deep).
    const calls = emulator.inspect.calls();
    expect(calls[0]?.path).toBe('/drive/v3/changes/startPageToken');
    expect(calls.slice(1).map((c) => c.path)).toEqual(Array(3).fill('/drive/v3/files'));
    expect(listing.apiCalls).toBe(4);
    // The cursor is taken before the scan: a change made now shows up from it.
    emulator.seed.update(readme.id, { content: '# hello again\n' });
    const next = await list({ cursor: listing.nextCursor, known: applied([], listing.changes) });
    expect(summary(next)).toEqual(['upsert readme.md']);
  });

  it('reports an edit, a trash, a rename, a move between subfolders and a move out of the tree from the changes feed', async () => {
    const { readme, slashed, plan, work, logo, deep, todo } = seedTree();
    const initial = await list({});
    const known = applied([], initial.changes);
    emulator.seed.update(readme.id, { content: '# edited\n' });
    emulator.seed.update(plan.id, { content: '# Plan\n\n- two\n' });
    emulator.seed.update(slashed.id, { trashed: true });
    emulator.seed.update(logo.id, { name: 'logo-v2.bin' });
    emulator.seed.update(todo.id, { removeParents: [deep.id], addParents: [work.id] });
    const created = emulator.seed.file({ name: 'new.md', parentId: deep.id, content: 'new' });
    const outside = emulator.seed.file({ name: 'moving.md', parentId: folderId, content: 'm' });
    emulator.seed.update(outside.id, { removeParents: [folderId], addParents: [emulator.inspect.rootId()] });
    emulator.seed.file({ name: 'unrelated.md', content: 'elsewhere in My Drive' });
    emulator.inspect.clearCalls();

    const listing = await list({ cursor: initial.nextCursor, known });
    expect(summary(listing)).toEqual([
      'delete a_b.txt',
      'upsert plan.md',
      'upsert readme.md',
      'upsert work/deep/new.md',
      'upsert work/logo-v2.bin (was work/logo.bin)',
      'upsert work/todo.md (was work/deep/todo.md)',
    ]);
    expect(listing.changes.find((c) => c.path === 'plan.md')).toMatchObject({ isDoc: true, revision: '2' });
    expect(listing.changes.find((c) => c.path === 'work/deep/new.md')?.fileId).toBe(created.id);
    // No scan: one feed page, then files.get of the folders on the way up (work and deep, cached), no files.list.
    expect(driveCalls('/drive/v3/files')).toHaveLength(0);
    expect(driveCalls('/drive/v3/changes')).toHaveLength(1);
    expect(listing.apiCalls).toBe(emulator.inspect.calls().length);
    // Read to the end: nothing more from the new cursor.
    const after = await list({ cursor: listing.nextCursor, known: applied(known, listing.changes) });
    expect(after.changes).toEqual([]);
  });

  it('deletes a known file that moved out of the tree, and a permanently deleted one', async () => {
    const { readme, logo } = seedTree();
    const initial = await list({});
    emulator.seed.update(readme.id, { removeParents: [folderId], addParents: [emulator.inspect.rootId()] });
    emulator.seed.remove(logo.id);
    const listing = await list({ cursor: initial.nextCursor, known: applied([], initial.changes) });
    expect(listing.changes).toEqual([
      { kind: 'delete', path: 'readme.md', fileId: readme.id },
      { kind: 'delete', path: 'work/logo.bin', fileId: logo.id },
    ]);
  });

  it('does not echo back what durasync wrote itself: a known md5 at the same path is no change', async () => {
    seedTree();
    const initial = await list({});
    let known = applied([], initial.changes);
    const written = await writeDriveFile(client, {
      linkId: 'link-1', folderId, path: 'from-github.md', name: 'from-github.md', content: Buffer.from('# from GitHub\n'),
      mimeType: 'text/markdown', sourceSha: 'sha-1', uploadOptions: uploadOptions({ rootUrl: emulator.url }),
    });
    // The sync records what it wrote in the file map.
    known = [...known, { path: 'from-github.md', fileId: written.fileId, md5: written.md5, revision: null }];
    const listing = await list({ cursor: initial.nextCursor, known });
    expect(listing.changes).toEqual([]);
    // The feed did hold the write.
    const feed = await client.changes.list({ pageToken: initial.nextCursor, fields: 'changes(fileId)' });
    expect(feed.data.changes?.map((c) => c.fileId)).toContain(written.fileId);
  });

  it('rescans the tree when a folder inside it is renamed, reporting every file below with its previous path', async () => {
    const { work } = seedTree();
    const initial = await list({});
    const known = applied([], initial.changes);
    emulator.seed.update(work.id, { name: 'job' });
    emulator.inspect.clearCalls();
    const listing = await list({ cursor: initial.nextCursor, known });
    expect(summary(listing)).toEqual(['upsert job/deep/todo.md (was work/deep/todo.md)', 'upsert job/logo.bin (was work/logo.bin)']);
    // A full scan (three folders) after the feed page; the cursor is the feed's newStartPageToken.
    expect(driveCalls('/drive/v3/files')).toHaveLength(3);
    expect(driveCalls('/changes/startPageToken')).toHaveLength(0);
    const token = await client.changes.getStartPageToken({});
    expect(listing.nextCursor).toBe(token.data.startPageToken);
  });

  it('deletes the files of a folder moved out of the tree, and ignores folder activity elsewhere in My Drive', async () => {
    const { deep, todo } = seedTree();
    const initial = await list({});
    const known = applied([], initial.changes);
    const elsewhere = emulator.seed.folder('Elsewhere');
    emulator.seed.folder('Inbox', elsewhere.id);
    const quiet = await list({ cursor: initial.nextCursor, known });
    expect(quiet.changes).toEqual([]);
    expect(quiet.apiCalls).toBeLessThan(8);

    emulator.seed.update(deep.id, { removeParents: [deep.parents[0] ?? ''], addParents: [elsewhere.id] });
    const listing = await list({ cursor: quiet.nextCursor, known });
    expect(listing.changes).toEqual([{ kind: 'delete', path: 'work/deep/todo.md', fileId: todo.id }]);
  });

  it('deletes every file below a folder trashed inside the tree', async () => {
    const { work, logo, todo } = seedTree();
    const initial = await list({});
    emulator.seed.update(work.id, { trashed: true });
    const listing = await list({ cursor: initial.nextCursor, known: applied([], initial.changes) });
    expect(listing.changes).toEqual([
      { kind: 'delete', path: 'work/deep/todo.md', fileId: todo.id },
      { kind: 'delete', path: 'work/logo.bin', fileId: logo.id },
    ]);
  });

  it('returns at most limit changes, the first by path, and the rest once those are in the file map', async () => {
    for (const name of ['e.md', 'c.md', 'a.md', 'd.md', 'b.md']) emulator.seed.file({ name, parentId: folderId, content: name });
    const first = await list({ limit: 2 });
    expect(first).toMatchObject({ truncated: true });
    expect(first.changes.map((c) => c.path)).toEqual(['a.md', 'b.md']);
    // A truncated listing's cursor is not stored: the next run lists from the same place.
    const second = await list({ limit: 2, known: applied([], first.changes) });
    expect(second.changes.map((c) => c.path)).toEqual(['c.md', 'd.md']);
    const third = await list({ limit: 2, known: applied(applied([], first.changes), second.changes) });
    expect(third.changes.map((c) => c.path)).toEqual(['e.md']);
    expect(third.truncated).toBe(false);
  });

  it('resumes an interrupted scan from its last checkpoint instead of starting over', async () => {
    const folders = ['x', 'y', 'z'].map((name) => emulator.seed.folder(name, folderId));
    for (const folder of folders) {
      for (let i = 0; i < 5; i += 1) emulator.seed.file({ name: `${i}.txt`, parentId: folder.id, content: `${folder.name}/${i}` });
    }
    const whole = await list({ pageSize: 2 });
    expect(whole.changes).toHaveLength(15);
    const wholeCalls = whole.apiCalls;

    // The first attempt dies after its fifth page.
    const checkpoints: DriveListCheckpoint[] = [];
    const crash = new Error('worker lost');
    await expect(
      list({
        pageSize: 2,
        onCheckpoint: (checkpoint) => {
          checkpoints.push(JSON.parse(JSON.stringify(checkpoint)) as DriveListCheckpoint);
          if (checkpoints.length === 6) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    const last = checkpoints.at(-1);
    expect(last).toMatchObject({ mode: 'scan', nextCursor: whole.nextCursor });
    expect(JSON.stringify(last).length).toBeLessThan(2000);

    emulator.inspect.clearCalls();
    const resumed = await list({ pageSize: 2, resume: last });
    expect(resumed).toEqual({ ...whole, apiCalls: wholeCalls - 6 });
    expect(emulator.inspect.calls()).toHaveLength(wholeCalls - 6);
    expect(driveCalls('/changes/startPageToken')).toHaveLength(0);
  });

  it('resumes an interrupted changes feed from its last checkpoint', async () => {
    const start = await list({});
    const files = Array.from({ length: 6 }, (_, i) => emulator.seed.file({ name: `${i}.md`, parentId: folderId, content: `${i}` }));
    emulator.seed.update(files[0]?.id ?? '', { trashed: true });
    const checkpoints: DriveListCheckpoint[] = [];
    await expect(
      list({
        cursor: start.nextCursor,
        pageSize: 2,
        onCheckpoint: (checkpoint) => {
          checkpoints.push(structuredClone(checkpoint));
          if (checkpoints.length === 2) throw new Error('worker lost');
        },
      }),
    ).rejects.toThrow('worker lost');
    emulator.inspect.clearCalls();
    const resumed = await list({ cursor: start.nextCursor, pageSize: 2, resume: checkpoints.at(-1) });
    expect(resumed.changes.map((c) => c.path)).toEqual(['1.md', '2.md', '3.md', '4.md', '5.md']);
    // 7 entries, 2 a page: 4 pages, 2 of them read before the crash.
    expect(driveCalls('/drive/v3/changes')).toHaveLength(2);
  });

  it('pages through folders and feeds of more than 1000 files', async () => {
    const start = await list({});
    for (let i = 0; i < 1005; i += 1) emulator.seed.file({ name: `f${String(i).padStart(4, '0')}.txt`, parentId: folderId, content: `${i}` });
    emulator.inspect.clearCalls();
    const scan = await list({ limit: 5000 });
    expect(scan.changes).toHaveLength(1005);
    expect(scan.changes[1004]?.path).toBe('f1004.txt');
    expect(driveCalls('/drive/v3/files')).toHaveLength(2);

    emulator.inspect.clearCalls();
    const feed = await list({ cursor: start.nextCursor, limit: 5000 });
    expect(feed.changes).toHaveLength(1005);
    expect(driveCalls('/drive/v3/changes')).toHaveLength(2);
    expect(feed.nextCursor).toBe(scan.nextCursor);
  });

  it('downloads a Google Doc as markdown and a binary file byte for byte', async () => {
    const { plan, logo } = seedTree();
    const markdown = await downloadDriveFile(client, { fileId: plan.id, isDoc: true });
    expect(markdown.toString()).toBe('# Plan\n\n- one\n');
    const bytes = await downloadDriveFile(client, { fileId: logo.id, isDoc: false });
    expect(bytes).toEqual(Buffer.from([0, 255, 1, 254]));
    expect(emulator.inspect.calls().map((c) => c.path)).toEqual([`/drive/v3/files/${plan.id}/export`, `/drive/v3/files/${logo.id}`]);
  });

  it('creates missing folders level by level once: a retry with an empty cache finds them', async () => {
    const existing = emulator.seed.folder('docs', folderId);
    const cache = new Map<string, string>();
    const id = await ensureDriveFolder(client, { linkId: 'link-1', rootFolderId: folderId, dirPath: 'docs/api/v2', cache });
    expect(cache.get('docs')).toBe(existing.id);
    const folders = () => emulator.inspect.files().filter((f) => f.mimeType === 'application/vnd.google-apps.folder');
    expect(folders().find((f) => f.id === id)).toMatchObject({ name: 'v2', appProperties: { durasyncLink: 'link-1', durasyncPath: 'docs/api/v2' } });
    const count = folders().length;
    // A retried activity (its cache lost) finds the same folders and creates none.
    emulator.inspect.clearCalls();
    expect(await ensureDriveFolder(client, { linkId: 'link-1', rootFolderId: folderId, dirPath: 'docs/api/v2', cache: new Map() })).toBe(id);
    expect(folders()).toHaveLength(count);
    expect(emulator.inspect.calls().every((c) => c.method === 'GET')).toBe(true);
    // The cache spares the lookups; the root is the link's folder.
    emulator.inspect.clearCalls();
    expect(await ensureDriveFolder(client, { linkId: 'link-1', rootFolderId: folderId, dirPath: 'docs/api/v2', cache })).toBe(id);
    expect(await ensureDriveFolder(client, { linkId: 'link-1', rootFolderId: folderId, dirPath: '', cache })).toBe(folderId);
    expect(emulator.inspect.calls()).toHaveLength(0);
  });

  it('trashes a file, and takes an already trashed or deleted file as done', async () => {
    const { readme, logo } = seedTree();
    await trashDriveFile(client, readme.id);
    await trashDriveFile(client, readme.id);
    expect(emulator.inspect.files().find((f) => f.id === readme.id)?.trashed).toBe(true);
    emulator.seed.remove(logo.id);
    await expect(trashDriveFile(client, logo.id)).resolves.toBeUndefined();
  });

  it('renames a file for a conflict copy, recording its new path, and the next listing reports the rename', async () => {
    const { readme } = seedTree();
    const initial = await list({});
    await renameDriveFile(client, { fileId: readme.id, linkId: 'link-1', name: 'readme (Drive).md', path: 'readme (Drive).md' });
    expect(emulator.inspect.files().find((f) => f.id === readme.id)).toMatchObject({
      name: 'readme (Drive).md',
      appProperties: { durasyncLink: 'link-1', durasyncPath: 'readme (Drive).md' },
    });
    const listing = await list({ cursor: initial.nextCursor, known: applied([], initial.changes) });
    expect(summary(listing)).toEqual(['upsert readme (Drive).md (was readme.md)']);
  });
});
