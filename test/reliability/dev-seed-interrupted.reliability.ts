import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { devEnvironment } from '../helpers/dev';
import { spawnDurasync, waitForHttp, type Spawned } from '../helpers/process';

/**
 * Ctrl-C while `npm run dev` seeds its demo workspace: the next start completes the seeding, and
 * nothing is made twice (one Drive folder, one webhook, one issue). The Ctrl-C lands as seeding
 * starts (when the ingress listens), or just before or after it: each is a start the next one must
 * complete without duplicates.
 */
describe('npm run dev interrupted while it seeds the demo', () => {
  const started: Spawned[] = [];
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop('SIGINT')));
  });

  it('completes a seeding cut short by Ctrl-C at the next start, making nothing twice', async () => {
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'durasync-dev-seed-'));
    try {
      const { env, ports } = await devEnvironment(fresh);
      const cut = spawnDurasync(['dev'], env);
      started.push(cut);
      // Seeding starts as soon as the ingress listens: Ctrl-C then lands in it (or just before or after it).
      await waitForOutput(cut, '"msg":"ingress listening"', 90_000);
      expect([0, 130]).toContain(await cut.stop('SIGINT'));
      const again = spawnDurasync(['dev'], env);
      started.push(again);
      await waitForHttp(`http://127.0.0.1:${ports.ops}/health/ready`, 90_000, 200, () => again.child.exitCode === null);
      expect(again.output()).toContain('"msg":"demo workspace seeded"');
      const code = await again.stop('SIGINT');
      if (code !== 0) process.stderr.write(again.output().split('\n').filter((l) => !l.includes('"level":30')).slice(-15).join('\n'));
      expect(code).toBe(0);
      const drive = JSON.parse(await readFile(path.join(fresh, 'emulators', 'drive.json'), 'utf8')) as { parts: { files: { files: Array<{ appProperties: Record<string, string>; trashed: boolean }> } } };
      expect(drive.parts.files.files.filter((f) => f.appProperties.durasyncDemo === 'folder' && !f.trashed)).toHaveLength(1);
      const github = JSON.parse(await readFile(path.join(fresh, 'emulators', 'github.json'), 'utf8')) as { parts: { repos: Array<{ fullName: string; hooks: unknown[]; issues: unknown[] }> } };
      expect(github.parts.repos.map((r) => ({ repo: r.fullName, hooks: r.hooks.length, issues: r.issues.length }))).toEqual([{ repo: 'demo/notes', hooks: 1, issues: 1 }]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 300_000);

});

async function waitForOutput(spawned: Spawned, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!spawned.output().includes(text)) {
    if (Date.now() > deadline || spawned.child.exitCode !== null) throw new Error(`no ${text} in the output of durasync dev`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
