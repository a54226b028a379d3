import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../lib/net';
import { startCanary } from '../client/canary';
import { spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

/**
 * `npm run dev` (= `durasync dev`) on embedded defaults: its own Temporal dev server with the Web
 * UI, an embedded Postgres, migrations, every queue's workers, the ops and ingress servers. Ports
 * are moved off the defaults so the test can run beside a developer's own `npm run dev`.
 */
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

  it('runs the product on embedded defaults, keeps history across a restart, and stops cleanly on Ctrl-C', async () => {
    const [temporalPort, uiPort, opsPort, ingressPort, pgPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const env = {
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      DURASYNC_DEV_TEMPORAL: 'embedded',
      DURASYNC_DEV_UI_PORT: String(uiPort),
      DURASYNC_OPS_PORT: String(opsPort),
      DURASYNC_INGRESS_PORT: String(ingressPort),
      DURASYNC_EMBEDDED_PG_PORT: String(pgPort),
      DURASYNC_DATA_DIR: dataDir,
      DATABASE_URL: '',
      REDIS_URL: '',
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
    };
    const start = async () => {
      const dev = spawnDurasync(['dev'], env);
      started.push(dev);
      const alive = () => dev.child.exitCode === null;
      const ready = (await waitForHttp(`http://127.0.0.1:${opsPort}/health/ready`, 60_000, 200, alive)) as { checks: Record<string, unknown> };
      return { dev, ready };
    };

    const first = await start();
    let workflowId: string;
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      expect(Object.keys(first.ready.checks).sort()).toEqual(['database', 'temporal', 'workers']);
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      expect(ui.status).toBe(200);
      await waitForHttp(`http://127.0.0.1:${ingressPort}/health/ready`, 10_000);
      expect(first.dev.output()).toContain('durasync dev is running');
      expect(first.dev.output()).toContain('(embedded PGlite)');

      const client = new Client({ connection });
      const result = await startCanary(client, 'sync', 30_000);
      expect(result).toMatchObject({ status: 'ok', database: { ok: true, kind: 'pg' }, cache: { kind: 'memory' } });
      const [canaryRun] = await collect(client.workflow.list({ query: 'DurasyncKind = "canary"' }));
      expect(canaryRun).toBeDefined();
      workflowId = canaryRun!.workflowId;
    } finally {
      await connection.close();
    }
    expect(await first.dev.stop('SIGINT')).toBe(0);
    expect(first.dev.output()).toContain('"msg":"durasync dev stopped"');
    // Everything it started is gone: the Temporal port is free again.
    await expect(fetch(`http://127.0.0.1:${uiPort}/`)).rejects.toThrow();

    const second = await start();
    const again = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    try {
      const description = await new Client({ connection: again }).workflow.getHandle(workflowId).describe();
      expect(description.status.name).toBe('COMPLETED');
    } finally {
      await again.close();
    }
    expect(second.dev.output()).toMatch(/"applied":\[\],"alreadyApplied":\d+,"msg":"migrations applied"/);
    expect(await second.dev.stop('SIGINT')).toBe(0);
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
