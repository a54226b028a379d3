import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/net';
import { runDurasync, spawnDurasync, waitForHttp } from '../helpers/process';
import { change, startBranchHarness, type BranchHarness } from '../helpers/branches';

jest.setTimeout(120_000);

describe('durasync branches and changes push', () => {
  let h: BranchHarness;
  let dir: string;
  beforeAll(async () => {
    [h, dir] = await Promise.all([startBranchHarness(), mkdtemp(path.join(os.tmpdir(), 'durasync-cli-branches-'))]);
  });
  afterAll(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => runDurasync(args, h.cliEnv());

  it('creates, pushes, flushes, shows and materializes a branch', async () => {
    const created = await cli('--json', 'branches', 'create', 'cli-main');
    expect(created.code).toBe(0);
    const branchId = (JSON.parse(created.output) as { branch: { id: string } }).branch.id;

    const file = path.join(dir, 'changes.ndjson');
    const lines = [change('a', 'insert', { v: 1 }), change('b', 'insert', { v: 1 }), change('a', 'update', { v: 2 })].map((c) => JSON.stringify(c));
    await writeFile(file, `${lines.join('\n')}\n`);
    const pushed = await cli('changes', 'push', '--branch', branchId, file);
    expect(pushed.code).toBe(0);
    expect(pushed.output).toMatch(new RegExp(`^pushed 3 changes in 1 batches to branch ${branchId}$`, 'm'));

    const flushed = await cli('branches', 'flush', branchId);
    expect(flushed.code).toBe(0);
    expect(flushed.output).toContain(`branch ${branchId} flushed: head seq 1`);

    const shown = await cli('branches', 'show', branchId);
    expect(shown.code).toBe(0);
    expect(shown.output).toMatch(/head +seq 1/);
    expect(shown.output).toMatch(/deltas +1, 3 changes/);

    const listed = await cli('branches', 'list');
    expect(listed.output).toContain(`${branchId}  cli-main  head 1`);

    const out = path.join(dir, 'docs.ndjson');
    const materialized = await cli('branches', 'materialize', branchId, '-o', out);
    expect(materialized.code).toBe(0);
    const state = await h.materialize(branchId);
    expect(materialized.output).toContain(`seq 1  documents 2  checksum ${state.checksum}`);
    const docs = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(docs).toEqual([{ key: 'notes/a', document: { v: 2 } }, { key: 'notes/b', document: { v: 1 } }]);

    const child = await cli('branches', 'create', 'cli-child', '--parent', branchId, '--at', '0');
    expect(child.code).toBe(0);
    expect(child.output).toMatch(new RegExp(`created branch cli-child [0-9a-f-]+ from ${branchId} at seq 0`));
  });

  it('archives a branch (flushing first, ending its workflow), then cleans it up: objects and rows gone', async () => {
    const branchId = await h.createBranch();
    await h.intake.accept(branchId, [change('x', 'insert', { v: 1 }), change('y', 'insert', { v: 2 })]);
    const refused = await cli('branches', 'cleanup', branchId);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`branch ${branchId} is not archived`);

    const archived = await cli('branches', 'archive', branchId);
    expect(archived.code).toBe(0);
    expect(archived.output).toContain(`branch ${branchId} archived at head seq 1`);
    expect((await h.store.getBranch(branchId))?.archivedAt).toBeInstanceOf(Date);
    // The cancel request is answered before the workflow processes it: wait for it to close.
    const workflow = h.env.client.workflow.getHandle(`branch:${branchId}`);
    await workflow.result().catch(() => undefined);
    const described = await workflow.describe();
    expect(described.status.name).toBe('CANCELLED');
    expect(await h.objects.list(`branches/${branchId}/`)).toHaveLength(1);

    const cleaned = await cli('branches', 'cleanup', branchId);
    expect(cleaned.code).toBe(0);
    expect(cleaned.output).toContain(`branch ${branchId} deleted: 1 objects`);
    expect(await h.store.getBranch(branchId)).toBeNull();
    expect(await h.objects.list(`branches/${branchId}/`)).toEqual([]);
    expect((await cli('branches', 'archive', branchId)).code).toBe(3);
  });

  it('stops a push at a malformed line, naming it, with nothing of its chunk taken', async () => {
    const branchId = await h.createBranch();
    const file = path.join(dir, 'bad.ndjson');
    const good = JSON.stringify(change('a', 'insert', { v: 1 }));
    const lines = Array.from({ length: 5003 }, () => good);
    lines[5001] = '{"collection":"notes","documentId":"a","op":"insert","after":{},"ts":"yesterday"}';
    await writeFile(file, lines.join('\n'));
    const pushed = await cli('changes', 'push', '--branch', branchId, file);
    expect(pushed.code).toBe(1);
    expect(pushed.output).toMatch(/line 5002: ts must be an ISO 8601 string or epoch milliseconds.*nothing of lines 5001-5003 was taken \(5000 changes of earlier lines were\)/);
    const pending = await h.store.pendingBranchBatches({ branchId, maxChanges: 100_000, maxBytes: 1 << 30 });
    expect(pending.map((b) => b.changeCount)).toEqual([5000]);
  });

  it('documents in --help that a malformed line stops the push', async () => {
    const help = await runDurasync(['changes', 'push', '--help']);
    expect(help.code).toBe(0);
    expect(help.output).toContain('nothing of the chunk holding it is');
  });

  it('serves POST /branches/:branchId/changes from durasync serve, and the changes reach a delta', async () => {
    const branchId = await h.createBranch();
    const port = await freePort();
    const serve = spawnDurasync(['serve'], { ...h.cliEnv(), DURASYNC_INGRESS_HOST: '127.0.0.1', DURASYNC_INGRESS_PORT: String(port), DURASYNC_BRANCH_FLUSH_INTERVAL: '100ms' });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/live`, 30_000, 200, () => serve.child.exitCode === null);
      const res = await fetch(`http://127.0.0.1:${port}/branches/${branchId}/changes`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: [change('s', 'insert', { v: 1 }), change('s', 'update', { v: 2 })].map((c) => JSON.stringify(c)).join('\n'),
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ branchId, accepted: 2 });
      // The serve process's intake signals the branch's workflow (100 ms interval here): a delta follows.
      const deadline = Date.now() + 20_000;
      while ((await h.store.getBranch(branchId))!.headSeq < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await h.store.getBranch(branchId))!.headSeq).toBe(1);
      expect(Object.fromEntries((await h.materialize(branchId)).documents)).toEqual({ 'notes/s': { v: 2 } });
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it('answers exit 3 for an unknown branch and exit 2 for an id that is not a UUID', async () => {
    expect((await cli('branches', 'show', '00000000-0000-4000-8000-000000000000')).code).toBe(3);
    expect((await cli('branches', 'show', 'nope')).code).toBe(2);
  });
});
