import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
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
    // Every activity carries a summary for the Web UI.
    const events = (await h.client.workflow.getHandle(`sync:${link.id}`).fetchHistory()).events ?? [];
    const summaries = events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => (e.userMetadata?.summary?.data ? (JSON.parse(Buffer.from(e.userMetadata.summary.data).toString('utf8')) as string) : null));
    expect(summaries.length).toBeGreaterThan(5);
    expect(summaries).not.toContain(null);
    expect(summaries).toEqual(expect.arrayContaining(['list Drive changes since the last sync', 'download 3 changed Drive files', 'commit 3 files, 0 deletions']));
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

describe('syncLink at scale and with special files', () => {
  let h: SyncHarness;

  beforeAll(async () => {
    h = await startSyncHarness();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('syncs 1,000 Drive files in one commit, and past maxFilesPerRun continues as new with one commit per run', async () => {
    const { link, folderId, repo } = await h.createLink();
    const folders = Array.from({ length: 10 }, (_, i) => h.drive.seed.folder(`dir${i}`, folderId).id);
    for (let i = 0; i < 1000; i++) h.drive.seed.file({ name: `note-${i}.md`, parentId: folders[i % 10], content: `# note ${i}\n${'x'.repeat(200)}\n` });
    const before = h.github.inspect.commits(repo).length;

    const result = await h.sync(link.id, { direction: 'drive_to_github' });

    expect(result).toMatchObject({ status: 'synced', runs: 1, toGithub: { written: 1000 } });
    expect(h.github.inspect.commits(repo)).toHaveLength(before + 1);
    const tree = h.repoTexts(repo);
    expect(Object.keys(tree)).toHaveLength(1000);
    expect(tree['dir7/note-537.md']).toBe(`# note 537\n${'x'.repeat(200)}\n`);

    // 250 more, 100 per run: three runs chained by continue-as-new, one commit each.
    for (let i = 1000; i < 1250; i++) h.drive.seed.file({ name: `note-${i}.md`, parentId: folders[i % 10], content: `late ${i}\n` });
    const chained = await h.sync(link.id, { direction: 'drive_to_github', maxFilesPerRun: 100 });
    expect(chained).toMatchObject({ status: 'synced', runs: 3, toGithub: { written: 250 } });
    expect(chained.toGithub.commits).toHaveLength(3);
    expect(Object.keys(h.repoTexts(repo))).toHaveLength(1250);
    const handle = h.client.workflow.getHandle(`sync:${link.id}`);
    const history = await handle.fetchHistory();
    // The last run's history only: each run keeps its own small history.
    expect(history.events?.length ?? 0).toBeLessThan(120);
  }, 120_000);

  it('exports Google Docs as markdown and carries binary files byte for byte both ways', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'img/from-github.bin': Buffer.from([0, 1, 2, 254, 255, 0, 10]) } });
    h.drive.seed.doc({ name: 'Meeting notes', parentId: folderId, markdown: '# Meeting\n\n* decided\n' });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0xff, 0x00]);
    h.drive.seed.file({ name: 'logo.png', parentId: folderId, content: png, mimeType: 'image/png' });

    await h.sync(link.id);

    const tree = h.github.inspect.tree(repo);
    expect(tree['Meeting notes.md']?.toString('utf8')).toContain('# Meeting');
    expect(tree['logo.png']?.equals(png)).toBe(true);
    const bin = h.driveFileAt(folderId, 'img/from-github.bin');
    expect(bin && h.drive.inspect.content(bin)?.equals(Buffer.from([0, 1, 2, 254, 255, 0, 10]))).toBe(true);

    // A Doc edited in GitHub is updated in place: still one Google Doc, no second file beside it.
    h.github.seed.commit(repo, { files: { 'Meeting notes.md': '# Meeting\n\n* decided\n* shipped\n' } });
    await h.sync(link.id);
    const docs = h.drive.inspect.files().filter((f) => f.name?.startsWith('Meeting notes') && !f.trashed);
    expect(docs.map((f) => [f.name, f.mimeType])).toEqual([['Meeting notes', 'application/vnd.google-apps.document']]);
    expect(h.drive.inspect.content(docs[0]!.id)?.toString('utf8')).toContain('* shipped');
    // And that write does not come back as a Drive change.
    const echo = await h.sync(link.id);
    expect(echo).toMatchObject({ toGithub: { written: 0, commits: [] }, toDrive: { written: 0 } });
  });

  it('moves the Drive file of a path renamed in GitHub instead of creating a new one', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'drafts/idea.md': 'an idea\n' } });
    await h.sync(link.id);
    const before = h.driveFileAt(folderId, 'drafts/idea.md');
    h.github.seed.commit(repo, { files: { 'drafts/idea.md': null, 'published/idea.md': 'an idea\n' } });

    await h.sync(link.id);

    expect(h.driveFileAt(folderId, 'drafts/idea.md')).toBeUndefined();
    expect(h.driveFileAt(folderId, 'published/idea.md')).toBe(before);
  });

  it('stops at a safe point on the cancel signal, leaving the cursors where they were', async () => {
    const { link, folderId, repo } = await h.createLink();
    for (let i = 0; i < 30; i++) h.drive.seed.file({ name: `c${i}.md`, parentId: folderId, content: `c${i}\n` });
    h.drive.faults.set({ latencyMs: 150 });
    try {
      const handle = await h.client.workflow.start('syncLink', {
        taskQueue: `${h.config.temporal.taskQueuePrefix}sync`,
        workflowId: `sync:${link.id}`,
        args: [{ linkId: link.id }],
      });
      await handle.signal('cancel', { reason: 'test' });
      const result = (await handle.result()) as { status: string; reason?: string };
      expect(result).toMatchObject({ status: 'cancelled', reason: 'cancelled: test' });
    } finally {
      h.drive.faults.reset();
    }
    const stored = await h.deps.store.getSyncLink(link.id);
    expect(stored).toMatchObject({ driveCursor: null, githubCursor: null });
    expect(h.github.inspect.commits(repo)).toHaveLength(1);
    expect(await h.deps.store.clearStagedContent({ olderThan: new Date(Date.now() + 60_000) })).toBe(0);
    // The next run syncs everything.
    const next = await h.sync(link.id);
    expect(next.toGithub.written).toBe(30);
  });

  it('failing for good after staging (a 422 on the commit), it clears its staging and leaves the cursors alone', async () => {
    const { link, folderId } = await h.createLink();
    for (let i = 0; i < 5; i++) h.drive.seed.file({ name: `f${i}.md`, parentId: folderId, content: `f${i}\n` });
    h.github.faults.set({ failOn: { method: 'POST', route: '/repos/{owner}/{repo}/git/commits', status: 422, count: 1 } });
    const handle = await h.client.workflow.start('syncLink', { taskQueue: `${h.config.temporal.taskQueuePrefix}sync`, workflowId: `sync:${link.id}`, args: [{ linkId: link.id }] });
    const failure: unknown = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    h.github.faults.reset();
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause?.cause;
    expect(cause).toMatchObject({ type: 'Unprocessable', nonRetryable: true });
    expect(await h.deps.store.getStagedContent(`${handle.firstExecutionRunId}/drive`)).toEqual([]);
    expect(await h.deps.store.getSyncLink(link.id)).toMatchObject({ driveCursor: null, githubCursor: null });
    // Nothing was lost: the next run syncs the five files.
    expect((await h.sync(link.id)).toGithub.written).toBe(5);
  });

  it('cancelled from outside (durasync cancel, the Web UI), it clears its staging and leaves the cursors alone', async () => {
    const { link, folderId } = await h.createLink();
    for (let i = 0; i < 40; i++) h.drive.seed.file({ name: `k${i}.md`, parentId: folderId, content: `k${i}\n` });
    h.drive.faults.set({ latencyMs: 300 });
    try {
      const handle = await h.client.workflow.start('syncLink', {
        taskQueue: `${h.config.temporal.taskQueuePrefix}sync`,
        workflowId: `sync:${link.id}`,
        args: [{ linkId: link.id }],
      });
      // Wait until some content is staged, then cancel the workflow itself.
      for (let i = 0; i < 100 && (await h.deps.store.getStagedContent(`${handle.firstExecutionRunId}/drive`)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      await handle.cancel();
      const failure: unknown = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(await h.deps.store.getStagedContent(`${handle.firstExecutionRunId}/drive`)).toEqual([]);
    } finally {
      h.drive.faults.reset();
    }
    expect(await h.deps.store.getSyncLink(link.id)).toMatchObject({ driveCursor: null, githubCursor: null });
  });
});
