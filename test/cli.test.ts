import { createTestDatabase } from './helpers/db';
import { runDurasync, spawnDurasync } from './helpers/process';

describe('durasync CLI', () => {
  // The workflow commands (start, status, list, history, replay, ...) are tested in cli-workflows.test.ts.
  it('lists every command it has in --help', async () => {
    const { code, output } = await runDurasync(['--help']);
    expect(code).toBe(0);
    const commands = output.slice(output.indexOf('Commands:')).match(/^ {2}[a-z][\w-]*/gm)?.map((c) => c.trim());
    expect(commands).toEqual([
      'dev', 'demo', 'worker', 'manager', 'serve', 'db', 'canary', 'build-workflows',
      'start', 'status', 'result', 'signal', 'query', 'cancel', 'terminate', 'list', 'history', 'replay', 'schedule', 'links', 'connect', 'sync', 'tail', 'watch-table', 'unwatch-table', 'branches', 'changes', 'events', 'dlq', 'analytics', 'ingest', 'keywords', 'settings', 'notifications', 'export', 'bench', 'help',
    ]);
  });

  it('documents the --json switch and every exit code in --help', async () => {
    const { code, output } = await runDurasync(['--help']);
    expect(code).toBe(0);
    expect(output).toMatch(/^ {2}--json +print one JSON document on stdout/m);
    const exitCodes = output.slice(output.indexOf('Exit codes:')).match(/^ {2}(\d) {2}/gm)?.map((c) => Number(c.trim()));
    expect(exitCodes).toEqual([0, 1, 2, 3, 4]);
  });

  it('applies migrations with db migrate and changes nothing when run a second time', async () => {
    const db = await createTestDatabase({ empty: true });
    try {
      const first = await runDurasync(['db', 'migrate'], { DATABASE_URL: db.url });
      expect(first.code).toBe(0);
      expect(first.output).toMatch(/^applied \d+ migration\(s\): 0001_/m);
      const second = await runDurasync(['db', 'migrate'], { DATABASE_URL: db.url });
      expect(second.code).toBe(0);
      expect(second.output).toMatch(/^database is up to date \(\d+ migration\(s\) already applied\)$/m);
      const scripted = spawnDurasync(['--json', 'db', 'migrate'], { DATABASE_URL: db.url, DURASYNC_LOG_LEVEL: 'warn' });
      let stdout = '';
      scripted.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const closed = new Promise((resolve) => scripted.child.once('close', resolve));
      expect(await scripted.exited).toBe(0);
      await closed;
      const document = JSON.parse(stdout) as { applied: string[]; alreadyApplied: string[] };
      expect(document.applied).toEqual([]);
      expect(document.alreadyApplied[0]).toMatch(/^0001_/);
    } finally {
      await db.drop();
    }
  });

  it('refuses db migrate without DATABASE_URL in one line, exit code 1', async () => {
    const { code, output } = await runDurasync(['db', 'migrate'], { DATABASE_URL: '' });
    expect(code).toBe(1);
    expect(output.trim().split('\n').at(-1)).toMatch(/^durasync db migrate: DATABASE_URL: required by db migrate/);
  });

  it('treats an unknown command as bad usage (exit code 2)', async () => {
    const { code, output } = await runDurasync(['frobnicate']);
    expect(code).toBe(2);
    expect(output).toContain("unknown command 'frobnicate'");
  });
});
