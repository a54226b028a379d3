import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startCanary } from '../client/canary';
import { devEnvironment } from './helpers/dev';
import { runDurasync, spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

/**
 * `npm run dev` (= `durasync dev`) on embedded defaults with no provider credentials: its own
 * Temporal dev server with the Web UI, an embedded Postgres, the Drive and GitHub emulators with
 * the seeded demo workspace, every queue's workers, the ops and ingress servers. Ports are moved
 * off the defaults so the test can run beside a developer's own `npm run dev`. CLI commands run as
 * in another terminal: with no Temporal or database variables, finding the workspace by its folder.
 */
const SYNC_WITHIN_MS = 60_000;

describe('durasync dev', () => {
  let dataDir: string;
  const started: Spawned[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-dev-'));
  });

  afterAll(async () => {
    // A failed assertion must not leave a dev process (and its Temporal server) behind.
    await Promise.all(started.map((p) => p.stop('SIGINT')));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the demo jobs within a minute, serves the CLI beside it, refuses a taken port, and keeps the workspace across a restart', async () => {
    const { env, ports } = await devEnvironment(dataDir);
    const { temporal: temporalPort, ui: uiPort, ops: opsPort, drive: drivePort } = ports;
    // Another terminal of the same checkout: nothing set but where the workspace is.
    const beside = { DURASYNC_DATA_DIR: dataDir, TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined, DATABASE_URL: undefined, REDIS_URL: undefined };
    const start = async () => {
      const dev = spawnDurasync(['dev'], env);
      started.push(dev);
      const alive = () => dev.child.exitCode === null;
      const ready = (await waitForHttp(`http://127.0.0.1:${opsPort}/health/ready`, 90_000, 200, alive)) as { checks: Record<string, unknown> };
      return { dev, ready, readyAt: Date.now() };
    };

    const first = await start();
    let canaryId: string;
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      expect(Object.keys(first.ready.checks).sort()).toEqual(['database', 'drive-emulator', 'github-emulator', 'temporal', 'workers']);
      expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);
      const banner = first.dev.output();
      expect(banner).toContain('durasync dev is running');
      expect(banner).toContain('(embedded PGlite)');
      expect(banner).toContain(`Google Drive    http://127.0.0.1:${drivePort}  (emulator, demo workspace)`);
      expect(banner).toContain('npx durasync demo edit');

      // With no command typed: a completed syncLink each way, webhook runs for the sync's pushes, a
      // branch with committed deltas, and the schedules.
      const client = new Client({ connection });
      const seen = await waitFor(SYNC_WITHIN_MS, async () => {
        const syncs = await collect(client.workflow.list({ query: `WorkflowType = "syncLink" AND ExecutionStatus = "Completed"` }));
        const directions = await Promise.all(syncs.map(async (s) => ((await client.workflow.getHandle(s.workflowId, s.runId).result()) as { direction: string }).direction));
        const webhooks = await collect(client.workflow.list({ query: `WorkflowType = "processWebhookEvent" AND ExecutionStatus = "Completed"` }));
        const branchRuns = await collect(client.workflow.list({ query: `WorkflowType = "branchDeltas"` }));
        const listed = await runDurasync(['--json', 'branches', 'list'], beside);
        const demoBranch = (JSON.parse(listed.output.slice(listed.output.indexOf('{'))) as { branches: Array<{ name: string; headSeq: number }> }).branches.find((b) => b.name === 'demo');
        const ok = directions.includes('drive_to_github') && directions.includes('github_to_drive') && webhooks.length >= 2 && branchRuns.length >= 1 && (demoBranch?.headSeq ?? 0) > 0;
        return ok ? { directions, webhooks: webhooks.length, headSeq: demoBranch!.headSeq } : undefined;
      });
      expect(seen.directions).toEqual(expect.arrayContaining(['drive_to_github', 'github_to_drive']));
      expect(seen.headSeq).toBeGreaterThan(0);
      const schedules = await collect(client.schedule.list());
      expect(schedules.map((s) => s.scheduleId).sort()).toEqual(['demo-daily-analytics', 'demo-ingest-github', 'demo-sync']);

      const links = await runDurasync(['links', 'list'], beside);
      expect(links.code).toBe(0);
      expect(links.output).toMatch(/github:demo\/notes@main/);
      const count = await runDurasync(['events', 'count'], beside);
      expect(count.code).toBe(0);

      const edit = await runDurasync(['demo', 'edit'], beside);
      expect(edit.output).toMatch(/^edited "Project plan" \(/m);
      const push = await runDurasync(['demo', 'push'], beside);
      expect(push.output).toMatch(/^pushed [0-9a-f]{7} to demo\/notes/m);
      const changes = await runDurasync(['demo', 'changes', '--count', '100'], beside);
      expect(changes.output).toMatch(/^wrote 100 changes to branch demo/m);
      const reset = await runDurasync(['demo', 'reset'], beside);
      expect(reset.code).toBe(2);
      expect(reset.output.trim()).toMatch(/^durasync demo reset: npm run dev is running on .* \(pid \d+\): stop it first/);

      // A second dev on the same ports: one line naming the port and its variable, nothing started.
      const second = await runDurasync(['dev'], env);
      expect(second.code).toBe(1);
      expect(second.output.trim().split('\n').filter((l) => !l.startsWith('{'))).toEqual([
        `durasync dev: TEMPORAL_ADDRESS: port ${temporalPort} (the Temporal dev server) is already in use on 127.0.0.1; stop what holds it, or set TEMPORAL_ADDRESS to another port`,
      ]);

      const result = await startCanary(client, 'sync', 30_000);
      expect(result).toMatchObject({ status: 'ok', database: { ok: true, kind: 'pg' }, cache: { kind: 'memory' } });
      canaryId = (await collect(client.workflow.list({ query: 'DurasyncKind = "canary"' })))[0]!.workflowId;
    } finally {
      await connection.close();
    }
    expect(await first.dev.stop('SIGINT')).toBe(0);
    expect(first.dev.output()).toContain('"msg":"durasync dev stopped"');
    await expect(fetch(`http://127.0.0.1:${uiPort}/`)).rejects.toThrow();
    await expect(readFile(path.join(dataDir, 'dev.json'))).rejects.toThrow(/ENOENT/);
    // Without a running dev, demo commands say so in one line.
    const stopped = await runDurasync(['demo', 'edit'], beside);
    expect({ code: stopped.code, line: stopped.output.trim() }).toEqual({ code: 2, line: `durasync demo edit: no npm run dev is running on ${dataDir}: start it first (npm run dev)` });

    // Restarted: history, links, Drive folder and hook are the ones of the first run, not doubled.
    const again = await start();
    const reconnected = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const description = await new Client({ connection: reconnected }).workflow.getHandle(canaryId).describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(again.dev.output()).toMatch(/"applied":\[\],"alreadyApplied":\d+,"msg":"migrations applied"/);
      const links = await runDurasync(['--json', 'links', 'list'], beside);
      expect((JSON.parse(links.output.slice(links.output.indexOf('{'))) as { links: unknown[] }).links).toHaveLength(1);
      const drive = JSON.parse(await readFile(path.join(dataDir, 'emulators', 'drive.json'), 'utf8')) as { parts: { files: { files: Array<{ appProperties: Record<string, string>; trashed: boolean }> } } };
      expect(drive.parts.files.files.filter((f) => f.appProperties.durasyncDemo === 'folder' && !f.trashed)).toHaveLength(1);
    } finally {
      await reconnected.close();
    }
    expect(await again.dev.stop('SIGINT')).toBe(0);
  }, 300_000);

  it('refuses demo commands against a workspace that is not the demo', async () => {
    const other = await mkdtemp(path.join(os.tmpdir(), 'durasync-notdemo-'));
    try {
      // What a dev started with DURASYNC_DEMO=off leaves: this process stands in for it.
      await writeFile(path.join(other, 'dev.json'), JSON.stringify({ pid: process.pid, demo: false, env: {}, urls: {} }));
      const { code, output } = await runDurasync(['demo', 'push'], { DURASYNC_DATA_DIR: other });
      expect({ code, line: output.trim() }).toEqual({
        code: 2,
        line: 'durasync demo push: the running dev workspace is not the demo (real provider credentials, or DURASYNC_DEMO=off): nothing changed',
      });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

async function waitFor<T>(timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
