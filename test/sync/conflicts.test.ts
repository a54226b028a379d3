import type { ConflictPolicy } from '../../lib/db/store';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';

/** A path changed on both sides between two syncs, under each policy of the link. */
describe('sync conflicts', () => {
  let h: SyncHarness;

  beforeAll(async () => {
    h = await startSyncHarness();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  /** A link whose first sync put a.md and b.md on both sides. */
  async function syncedLink(policy: ConflictPolicy) {
    const created = await h.createLink({ files: { 'a.md': 'base a\n', 'b.md': 'base b\n' }, conflictPolicy: policy });
    await h.sync(created.link.id);
    const fileOf = (path: string) => {
      const id = h.driveFileAt(created.folderId, path);
      if (!id) throw new Error(`${path} is not in Drive`);
      return id;
    };
    return { ...created, fileOf };
  }

  it('keep-both keeps GitHub\'s version at the path and Drive\'s beside it, on both sides, and records the conflict', async () => {
    const { link, folderId, repo, fileOf } = await syncedLink('keep-both');
    h.drive.seed.update(fileOf('a.md'), { content: 'drive edit\n' });
    h.github.seed.commit(repo, { files: { 'a.md': 'github edit\n' } });

    const result = await h.sync(link.id);

    const conflict = { path: 'a.md', policy: 'keep-both', keptAs: 'a (conflict from Drive).md', drive: 'edit', github: 'edit' };
    expect(result.conflicts).toEqual([conflict]);
    expect(h.repoTexts(repo)).toEqual({ 'a.md': 'github edit\n', 'a (conflict from Drive).md': 'drive edit\n', 'b.md': 'base b\n' });
    expect(h.driveTexts(folderId)).toEqual({ 'a.md': 'github edit\n', 'a (conflict from Drive).md': 'drive edit\n', 'b.md': 'base b\n' });
    expect(await h.deps.store.listSyncConflicts(link.id)).toEqual([
      expect.objectContaining({ path: 'a.md', policy: 'keep-both', keptAs: 'a (conflict from Drive).md', driveChange: 'edit', githubChange: 'edit' }),
    ]);
    // Settled: the next run finds nothing to do on either side.
    const next = await h.sync(link.id);
    expect(next).toMatchObject({ conflicts: [], toGithub: { written: 0, deleted: 0, commits: [] }, toDrive: { written: 0, trashed: 0 } });
  });

  it('drive-wins puts Drive\'s version on both sides', async () => {
    const { link, folderId, repo, fileOf } = await syncedLink('drive-wins');
    h.drive.seed.update(fileOf('a.md'), { content: 'drive edit\n' });
    h.github.seed.commit(repo, { files: { 'a.md': 'github edit\n', 'b.md': 'github only\n' } });

    const result = await h.sync(link.id);

    expect(result.conflicts).toEqual([{ path: 'a.md', policy: 'drive-wins', drive: 'edit', github: 'edit' }]);
    expect(h.repoTexts(repo)).toEqual({ 'a.md': 'drive edit\n', 'b.md': 'github only\n' });
    expect(h.driveTexts(folderId)).toEqual({ 'a.md': 'drive edit\n', 'b.md': 'github only\n' });
  });

  it('github-wins puts GitHub\'s version on both sides, a deletion included', async () => {
    const { link, folderId, repo, fileOf } = await syncedLink('github-wins');
    h.drive.seed.update(fileOf('a.md'), { content: 'drive edit\n' });
    h.drive.seed.update(fileOf('b.md'), { content: 'drive edit of b\n' });
    h.github.seed.commit(repo, { files: { 'a.md': 'github edit\n', 'b.md': null } });

    const result = await h.sync(link.id);

    expect(result.conflicts).toEqual([
      { path: 'a.md', policy: 'github-wins', drive: 'edit', github: 'edit' },
      { path: 'b.md', policy: 'github-wins', drive: 'edit', github: 'delete' },
    ]);
    expect(h.repoTexts(repo)).toEqual({ 'a.md': 'github edit\n' });
    expect(h.driveTexts(folderId)).toEqual({ 'a.md': 'github edit\n' });
  });

  it('keep-both keeps an edit over a deletion, whichever side deleted, and identical edits are no conflict', async () => {
    const { link, folderId, repo, fileOf } = await syncedLink('keep-both');
    h.drive.seed.update(fileOf('a.md'), { content: 'drive kept editing\n' });
    h.drive.seed.update(fileOf('b.md'), { trashed: true });
    h.drive.seed.file({ name: 'same.md', parentId: folderId, content: 'same on both\n' });
    h.github.seed.commit(repo, { files: { 'a.md': null, 'b.md': 'github kept editing\n', 'same.md': 'same on both\n' } });

    const result = await h.sync(link.id);

    expect(result.conflicts).toEqual([
      { path: 'a.md', policy: 'keep-both', drive: 'edit', github: 'delete' },
      { path: 'b.md', policy: 'keep-both', drive: 'delete', github: 'edit' },
    ]);
    expect(h.repoTexts(repo)).toEqual({ 'a.md': 'drive kept editing\n', 'b.md': 'github kept editing\n', 'same.md': 'same on both\n' });
    expect(h.driveTexts(folderId)).toEqual({ 'a.md': 'drive kept editing\n', 'b.md': 'github kept editing\n', 'same.md': 'same on both\n' });
    const next = await h.sync(link.id);
    expect(next).toMatchObject({ conflicts: [], toGithub: { written: 0, commits: [] }, toDrive: { written: 0, trashed: 0 } });
  });
});
