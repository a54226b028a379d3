import { startSyncHarness, type SyncHarness } from '../helpers/sync';

/** syncLink end to end: real Temporal, Postgres and Redis; Drive and GitHub emulated. */
describe('syncLink', () => {
  let h: SyncHarness;

  beforeAll(async () => {
    h = await startSyncHarness();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  const driveTexts = (folderId: string) => h.driveTexts(folderId);
  const repoTexts = (repo: string, prefix = '') => h.repoTexts(repo, prefix);

  it('syncs both ways on the first run: Drive files become one commit, repository files appear in Drive', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'docs/readme.md': '# from github\n', 'other/skip.md': 'outside the link' }, path: 'docs' });
    const sub = h.drive.seed.folder('journal', folderId);
    h.drive.seed.file({ name: 'a.md', parentId: folderId, content: '# a\n' });
    h.drive.seed.file({ name: 'day1.md', parentId: sub.id, content: 'day one\n' });
    h.drive.seed.doc({ name: 'Plan', parentId: folderId, markdown: '# Plan\n\n- ship\n' });
    const before = h.github.inspect.commits(repo).length;

    const result = await h.sync(link.id);

    expect(result).toMatchObject({ status: 'synced', direction: 'both', runs: 1, conflicts: [] });
    expect(result.toGithub).toMatchObject({ written: 3, deleted: 0 });
    expect(result.toGithub.commits).toHaveLength(1);
    expect(h.github.inspect.commits(repo)).toHaveLength(before + 1);
    const tree = repoTexts(repo, 'docs/');
    expect(tree).toMatchObject({ 'a.md': '# a\n', 'journal/day1.md': 'day one\n', 'readme.md': '# from github\n' });
    expect(tree['Plan.md']).toContain('# Plan');
    expect(repoTexts(repo)['other/skip.md']).toBe('outside the link');
    expect(driveTexts(folderId)).toMatchObject({ 'readme.md': '# from github\n', 'a.md': '# a\n', 'journal/day1.md': 'day one\n' });
    expect(Object.keys(driveTexts(folderId))).not.toContain('skip.md');

    const stored = await h.deps.store.getSyncLink(link.id);
    expect(stored?.driveCursor).toBeTruthy();
    expect(stored?.githubCursor).toBeTruthy();
    // The run cleared its staging: nothing is left for the age sweep.
    expect(await h.deps.store.clearStagedContent({ olderThan: new Date(Date.now() + 60_000) })).toBe(0);
  });

  it('then syncs only what changed, and a run with nothing to do commits nothing and uploads nothing', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'keep.md': 'keep\n', 'gone.md': 'bye\n' } });
    const edit = h.drive.seed.file({ name: 'edit.md', parentId: folderId, content: 'v1\n' });
    const drop = h.drive.seed.file({ name: 'drop.md', parentId: folderId, content: 'drop me\n' });
    const move = h.drive.seed.file({ name: 'move.md', parentId: folderId, content: 'moving\n' });
    await h.sync(link.id);
    const commitsAfterFirst = h.github.inspect.commits(repo).length;

    h.drive.inspect.clearCalls();
    h.github.inspect.clearCalls();
    const idle = await h.sync(link.id);
    expect(idle).toMatchObject({ status: 'synced', toGithub: { written: 0, deleted: 0, commits: [] }, toDrive: { written: 0, trashed: 0 } });
    expect(h.github.inspect.commits(repo)).toHaveLength(commitsAfterFirst);
    expect(h.drive.inspect.calls().filter((c) => c.method !== 'GET')).toEqual([]);

    // Drive: an edit, a trash, a rename into a new subfolder. GitHub: an edit and a delete.
    h.drive.seed.update(edit.id, { content: 'v2\n' });
    h.drive.seed.update(drop.id, { trashed: true });
    const archive = h.drive.seed.folder('archive', folderId);
    h.drive.seed.update(move.id, { name: 'moved.md', addParents: [archive.id], removeParents: [folderId] });
    h.github.seed.commit(repo, { files: { 'keep.md': 'kept and edited\n', 'gone.md': null } });

    const second = await h.sync(link.id);
    expect(second.status).toBe('synced');
    expect(second.toGithub.commits).toHaveLength(1);
    const tree = repoTexts(repo);
    expect(tree['edit.md']).toBe('v2\n');
    expect(tree['drop.md']).toBeUndefined();
    expect(tree['move.md']).toBeUndefined();
    expect(tree['archive/moved.md']).toBe('moving\n');
    const files = driveTexts(folderId);
    expect(files['keep.md']).toBe('kept and edited\n');
    expect(files['gone.md']).toBeUndefined();

    // And the echo of this run's own writes is nothing.
    const third = await h.sync(link.id);
    expect(third).toMatchObject({ toGithub: { written: 0, deleted: 0, commits: [] }, toDrive: { written: 0, trashed: 0 } });
  });
});
