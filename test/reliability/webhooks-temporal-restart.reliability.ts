import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { startIngressServer } from '../../client/ingress';
import { createLogger } from '../../lib/logger';
import { freePort } from '../../lib/net';
import { signBody } from '../../lib/webhooks/signature';
import { startDevServer, type DevServer } from '../../workers/temporal-dev-server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startScenarioWorker } from '../helpers/queue-worker';
import { recordScenario, sized, sleep } from './results';

/**
 * Scenario `webhooks-temporal-restart`: signed GitHub deliveries posted by concurrent senders to
 * the ingress (one processWebhookEvent workflow each, an `ingestion` worker in this process) while
 * the Temporal dev server, a private one on a SQLite file, is stopped mid-burst and started again
 * on the same file. A delivery refused while it is down (non-202) is redelivered afterwards, as
 * GitHub does. Then: every 202 is stored exactly once, nothing is stored that was not accepted,
 * every workflow completed. Size: RELIABILITY_WEBHOOKS (10,000; ci 1,000).
 */
const TOTAL = sized('RELIABILITY_WEBHOOKS', { full: 10_000, ci: 1_000 });
const SENDERS = 20;
const OUTAGE_MS = 5_000;

describe('reliability: webhooks while the Temporal dev server restarts on its database file', () => {
  const secret = 'gh-secret-' + randomUUID();
  const logger = createLogger({ level: 'silent' });
  let dir: string;
  let db: TestDatabase;
  let server: DevServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'durasync-rel-webhooks-'));
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`accepts ${TOTAL} deliveries across a dev server restart: every 202 stored once, refusals redelivered`, async () => {
    const started = Date.now();
    const port = await freePort();
    const dbFilename = path.join(dir, 'temporal.db');
    server = await startDevServer({ port, uiPort: false, dbFilename });
    const address = server.address;
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const native = await NativeConnection.connect({ address });
    const prefix = `rel${randomBytes(3).toString('hex')}-`;
    const worker = await startScenarioWorker({
      connection: native,
      queue: 'ingestion',
      databaseUrl: db.url,
      objectsDir: path.join(dir, 'objects'),
      taskQueuePrefix: prefix,
      logger,
      env: { TEMPORAL_ADDRESS: address },
    });
    const { objects, taskQueue } = worker;
    const ingress = await startIngressServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      connection,
      webhooks: { client, taskQueue, objects, logger, githubSecret: secret, maxBodyBytes: 1024 * 1024, sources: [] },
    });

    const idPrefix = `rel-wh-${randomBytes(3).toString('hex')}-`;
    const deliver = async (n: number): Promise<number> => {
      const body = JSON.stringify(issueEvent(n));
      try {
        const res = await fetch(`${ingress.url}/webhooks/github`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-github-delivery': `${idPrefix}${n}`, 'x-github-event': 'issues', 'x-hub-signature-256': signBody(secret, body) },
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    };

    const accepted = new Set<number>();
    const refusedFirst = new Map<number, number>();
    let sentWhileDown = 0;
    let heldThenAccepted = 0;
    let down = false;
    let outageMs = 0;
    const outage = (async () => {
      while (accepted.size < TOTAL / 3) await sleep(20);
      down = true;
      const stoppedAt = Date.now();
      await server.stop();
      await sleep(OUTAGE_MS);
      server = await startDevServer({ port, uiPort: false, dbFilename });
      outageMs = Date.now() - stoppedAt;
      down = false;
    })();
    outage.catch(() => undefined);

    // Paced so the burst spans the outage: about TOTAL/3 before it, the rest during and after.
    const pacing = Math.max(1, Math.floor(12_000 / TOTAL));
    let next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        for (let n = next++; n < TOTAL; n = next++) {
          const whileDown = down;
          if (whileDown) sentWhileDown++;
          const status = await deliver(n);
          if (whileDown && status === 202) heldThenAccepted++;
          if (status === 202) accepted.add(n);
          else refusedFirst.set(n, status);
          await sleep(pacing * SENDERS);
        }
      }),
    );
    await outage;
    const acceptedFirst = accepted.size;

    // Redelivery of every refusal, as the sender does, once the server is back.
    const redeliveryStatuses = new Map<number, number>();
    for (let round = 0; round < 10 && accepted.size < TOTAL; round++) {
      const pending = [...refusedFirst.keys()].filter((n) => !accepted.has(n));
      for (const n of pending) {
        const status = await deliver(n);
        redeliveryStatuses.set(n, status);
        if (status === 202) accepted.add(n);
      }
      if (accepted.size < TOTAL) await sleep(2_000);
    }

    // Every workflow closed.
    const deadline = Date.now() + 20 * 60_000;
    let open = -1;
    let listed = 0;
    while (Date.now() < deadline) {
      const workerFailure = worker.failure();
      if (workerFailure) throw new Error(`the ingestion worker stopped: ${workerFailure instanceof Error ? workerFailure.message : 'unknown error'}`);
      listed = (await client.workflow.count(`TaskQueue = "${taskQueue}"`)).count;
      open = (await client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`)).count;
      if (listed >= accepted.size && open === 0) break;
      await sleep(1000);
    }
    const notCompleted = (await client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus != "Completed"`)).count;

    const pg = new PgClient({ connectionString: db.url });
    await pg.connect();
    const { rows } = await pg.query<{ external_id: string; n: number }>(
      `select external_id, count(*)::int as n from events where source = 'github' and starts_with(external_id, $1) group by external_id`,
      [idPrefix],
    );
    await pg.end();
    const stored = new Map(rows.map((r) => [Number(r.external_id.slice(idPrefix.length)), r.n]));

    await ingress.close();
    await worker.stop();
    await native.close();
    await connection.close();

    const duplicates = [...stored.values()].filter((n) => n !== 1).length;
    const lost = [...accepted].filter((n) => !stored.has(n)).length;
    const storedNotAccepted = [...stored.keys()].filter((n) => !accepted.has(n)).length;
    const refusedStatuses = [...new Set(refusedFirst.values())].sort().join(',');
    recordScenario(started, {
      scenario: 'webhooks-temporal-restart',
      title: 'Webhooks while the Temporal dev server is stopped and restarted on its database file',
      injected: [
        `${TOTAL} signed GitHub deliveries from ${SENDERS} concurrent senders to the ingress, an ingestion worker in the test process`,
        `the Temporal dev server (its own, on a SQLite file) stopped (SIGTERM) once a third were accepted, down ${outageMs} ms, started again on the same file and port`,
        'every delivery refused (non-202 or no answer) redelivered afterwards with the same delivery id',
      ],
      checked: [
        'no delivery was answered 202 and then lost: every accepted delivery id has exactly one stored event',
        'nothing stored that was never accepted; no event stored twice',
        'a delivery sent while the server was down was either held until it was back (the ingress retries the start) and then answered 202, or refused with a non-202 status: never a 202 for a workflow that was not started',
        'every processWebhookEvent workflow completed (none running, failed or timed out)',
      ],
      counts: {
        deliveries: TOTAL,
        accepted_first_try: acceptedFirst,
        refused_first_try: refusedFirst.size,
        refused_statuses: refusedStatuses || 'none',
        sent_while_down: sentWhileDown,
        sent_while_down_held_then_202: heldThenAccepted,
        redelivered: redeliveryStatuses.size,
        accepted_total: accepted.size,
        stored: stored.size,
        duplicates,
        lost,
        stored_not_accepted: storedNotAccepted,
        workflows_listed: listed,
        workflows_not_completed: notCompleted,
        outage_ms: outageMs,
      },
    });

    expect(outageMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(sentWhileDown).toBeGreaterThan(0);
    expect([...refusedFirst.values()].filter((s) => s === 202)).toEqual([]);
    expect(accepted.size).toBe(TOTAL);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);
    expect(storedNotAccepted).toBe(0);
    expect(stored.size).toBe(accepted.size);
    expect(open).toBe(0);
    expect(notCompleted).toBe(0);
  }, 45 * 60_000);
});

/** A distinct `issues` delivery per n (its own occurrence: ids and updated_at differ). */
function issueEvent(n: number): Record<string, unknown> {
  const at = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
  const sender = { login: `dev${n % 7}`, id: 5_000 + (n % 7), type: 'User' };
  return {
    action: 'edited',
    issue: { id: 40_000_000 + n, number: 1 + (n % 90), title: `Reliability ${n}`, body: 'Load under faults.', state: 'open', user: sender, created_at: at, updated_at: at },
    repository: { id: 91_000, name: 'app', full_name: 'acme/app', private: false, owner: { login: 'acme', id: 4_000, type: 'Organization' }, default_branch: 'main' },
    sender,
  };
}
