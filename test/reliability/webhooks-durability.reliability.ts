import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { startIngressServer } from '../../client/ingress';
import type { Store } from '../../lib/db/store';
import type { RunningServer } from '../../lib/http';
import { createLogger } from '../../lib/logger';
import { signBody } from '../../lib/webhooks/signature';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres';
import { startScenarioWorker } from '../helpers/queue-worker';
import { connectTestEnv } from '../helpers/temporal';

/**
 * Webhook ingestion end to end with Postgres stopped under load (the 10,000-delivery burst with the
 * Temporal server restarted is webhooks-temporal-restart): GitHub deliveries signed and posted to the ingress,
 * one processWebhookEvent workflow each on the run's Temporal dev server, an `ingestion` worker in
 * this process storing events in a Postgres of the suite's own (test/helpers/private-postgres.ts),
 * which one test stops and starts again mid-burst. Every test has its own task queue, worker and
 * ingress; rows are told apart by the delivery ids' prefix.
 */
const OUTAGE_MS = 8_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('webhook ingestion durability', () => {
  const secret = 'gh-secret-' + randomUUID();
  const run = randomBytes(3).toString('hex');
  const logger = createLogger({ level: 'silent' });
  let pg: PrivatePostgres;
  let env: TestWorkflowEnvironment;
  let objectsDir: string;
  const pipelines: Pipeline[] = [];

  interface Pipeline {
    taskQueue: string;
    ingress: RunningServer;
    store: Store;
    /** Set if the worker stopped with an error. */
    failure: () => unknown;
    stop(): Promise<void>;
  }

  beforeAll(async () => {
    [pg, env] = await Promise.all([startPrivatePostgres(), connectTestEnv()]);
    objectsDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-durability-'));
  }, 120_000);

  afterAll(async () => {
    for (const pipeline of pipelines) await pipeline.stop().catch(() => undefined);
    await env?.teardown();
    await pg?.close();
    if (objectsDir) await rm(objectsDir, { recursive: true, force: true });
  }, 120_000);

  /** An ingestion worker over the private Postgres and an ingress starting workflows on its task queue. */
  async function startPipeline(): Promise<Pipeline> {
    const worker = await startScenarioWorker({ connection: env.nativeConnection, queue: 'ingestion', databaseUrl: pg.url, objectsDir, taskQueuePrefix: `dur${randomBytes(4).toString('hex')}-`, logger });
    const { taskQueue, objects } = worker;
    const ingress = await startIngressServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      connection: env.connection,
      webhooks: { client: env.client, taskQueue, objects, logger, githubSecret: secret, maxBodyBytes: 1024 * 1024, sources: [] },
    });
    let stopped: Promise<void> | undefined;
    const pipeline: Pipeline = {
      taskQueue,
      ingress,
      store: worker.store,
      failure: worker.failure,
      stop: () =>
        (stopped ??= (async () => {
          await ingress.close();
          await worker.stop();
        })()),
    };
    pipelines.push(pipeline);
    return pipeline;
  }

  /** Posts delivery `id` (its event type and payload follow from `n`); the HTTP status, or 0 when the request failed. */
  async function deliver(ingress: RunningServer, id: string, n: number): Promise<number> {
    const { event, payload } = githubDelivery(n);
    const body = JSON.stringify(payload);
    try {
      const res = await fetch(`${ingress.url}/webhooks/github`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-github-delivery': id, 'x-github-event': event, 'x-hub-signature-256': signBody(secret, body) },
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** Stored rows per delivery id, of the deliveries whose id starts with `idPrefix` (on a connection of its own). */
  async function rowsByDelivery(idPrefix: string): Promise<Map<string, number>> {
    const db = new PgClient({ connectionString: pg.url });
    db.on('error', () => undefined);
    await db.connect();
    try {
      const { rows } = await db.query<{ external_id: string; n: number }>(
        `select external_id, count(*)::int as n from events where source = 'github' and starts_with(external_id, $1) group by external_id`,
        [idPrefix],
      );
      return new Map(rows.map((row) => [row.external_id, row.n]));
    } finally {
      await db.end();
    }
  }

  /**
   * Resolves once visibility lists `expected` workflows on the task queue and none still running;
   * fails if it is not so within `timeoutMs`, or the worker died.
   */
  async function waitForWorkflowsClosed(pipeline: Pipeline, expected: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let reportedAt = Date.now();
    for (;;) {
      if (pipeline.failure()) throw new Error(`the ingestion worker stopped: ${String(pipeline.failure())}`);
      const total = (await env.client.workflow.count(`TaskQueue = "${pipeline.taskQueue}"`)).count;
      const open = (await env.client.workflow.count(`TaskQueue = "${pipeline.taskQueue}" AND ExecutionStatus = "Running"`)).count;
      last = `${total} workflows listed (${expected} expected), ${open} running`;
      if (total >= expected && open === 0) return;
      if (Date.now() - reportedAt > 30_000) {
        reportedAt = Date.now();
        process.stderr.write(`[durability] waiting: ${last}\n`);
      }
      if (Date.now() > deadline) throw new Error(`workflows not closed after ${timeoutMs} ms: ${last}`);
      await sleep(1000);
    }
  }

  async function closedNotCompleted(pipeline: Pipeline): Promise<number> {
    return (await env.client.workflow.count(`TaskQueue = "${pipeline.taskQueue}" AND ExecutionStatus != "Completed"`)).count;
  }

  it('stores every accepted event exactly once when Postgres is stopped for a while mid-burst and started again', async () => {
    const pipeline = await startPipeline();
    const idPrefix = `dur-a-${run}-`;
    const series = 1_000_000; // payloads of this test: numbers 1,000,000 + i
    const total = 2_000;
    const intervalMs = 8; // ~125 deliveries a second: the burst spans the outage with room either side
    const stopAfterAccepted = 400;
    const accepted = new Set<string>();
    const refused = new Map<string, number>();
    const redeliveries: Array<{ id: string; status: number }> = [];
    const started = Date.now();

    let outage: { stoppedAt: number; startedAt: number } | undefined;
    let sentDuringOutage = 0;
    let outageRunning = false;
    let sendingDone = false;
    const outageDone = (async () => {
      while (accepted.size < stopAfterAccepted) {
        if (sendingDone) throw new Error(`only ${accepted.size} of ${total} deliveries accepted; refused: ${JSON.stringify([...refused].slice(0, 5))}`);
        await sleep(20);
      }
      const beforeStop = Date.now();
      outageRunning = true;
      await pg.stop();
      const stoppedAt = Date.now();
      // Redeliveries of ids already accepted, spread over the outage.
      const already = [...accepted].slice(0, 20);
      const redelivered = already.map(async (id, k) => {
        await sleep((k * (OUTAGE_MS - 1000)) / already.length);
        redeliveries.push({ id, status: await deliver(pipeline.ingress, id, series + Number(id.slice(idPrefix.length))) });
      });
      await Promise.all([sleep(OUTAGE_MS - (stoppedAt - beforeStop)), ...redelivered]);
      outageRunning = false;
      await pg.start();
      outage = { stoppedAt, startedAt: Date.now() };
    })();
    // Awaited after the burst; until then a failure must not count as unhandled.
    outageDone.catch(() => undefined);

    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < total; i++) {
      const due = started + i * intervalMs;
      if (due > Date.now()) await sleep(due - Date.now());
      while (inFlight.size >= 50) await Promise.race(inFlight);
      const id = `${idPrefix}${i}`;
      if (outageRunning) sentDuringOutage++;
      const sending = deliver(pipeline.ingress, id, series + i).then((status) => {
        if (status === 202) accepted.add(id);
        else refused.set(id, status);
        inFlight.delete(sending);
      });
      inFlight.add(sending);
    }
    await Promise.all(inFlight);
    sendingDone = true;
    const sentMs = Date.now() - started;
    await outageDone;

    await waitForWorkflowsClosed(pipeline, accepted.size, 10 * 60_000);
    const closedMs = Date.now() - started;
    const rows = await rowsByDelivery(idPrefix);
    process.stderr.write(
      `[durability] outage: ${accepted.size}/${total} accepted (${refused.size} refused), ${sentDuringOutage} sent while Postgres was down ` +
        `(${outage ? outage.startedAt - outage.stoppedAt : 0} ms), sent in ${sentMs} ms, all workflows closed after ${closedMs} ms\n`,
    );

    expect(outage).toBeDefined();
    expect(sentDuringOutage).toBeGreaterThan(100);
    // The ingress needs Temporal only: the outage refuses nothing.
    expect(refused).toEqual(new Map());
    expect(redeliveries).toHaveLength(20);
    expect(redeliveries.every((r) => r.status === 202)).toBe(true);
    expect(accepted.size).toBe(total);
    // Every accepted delivery once, nothing else.
    expect([...rows.values()].filter((n) => n !== 1)).toEqual([]);
    expect([...accepted].filter((id) => !rows.has(id))).toEqual([]);
    expect([...rows.keys()].filter((id) => !accepted.has(id))).toEqual([]);
    expect(rows.size).toBe(accepted.size);
    // Retries rode out the outage: nothing failed, nothing dead-lettered.
    expect(await closedNotCompleted(pipeline)).toBe(0);
    const letters = await pipeline.store.listDeadLetters({ includeResolved: true, limit: 1000 });
    expect(letters.filter((letter) => letter.ref.startsWith(idPrefix))).toEqual([]);
    expect(pipeline.failure()).toBeUndefined();
    await pipeline.stop();
  }, 12 * 60_000);
});

const USERS = Array.from({ length: 12 }, (_, k) => ({ login: `dev${k}`, id: 5_000 + k, type: 'User' }));
const REPOS = ['acme/app', 'acme/api', 'acme/docs'].map((fullName, k) => {
  const [owner, name] = fullName.split('/') as [string, string];
  return { id: 90_000 + k, name, full_name: fullName, private: false, owner: { login: owner, id: 4_000, type: 'Organization' }, default_branch: 'main' };
});

/**
 * A realistic GitHub delivery: push, issues, issue_comment or pull_request, by `n`. Every `n` is a
 * distinct occurrence (object ids, commits and updated_at differ): two deliveries of one
 * occurrence would be stored once (events.occurrence_key), which is not what these tests count.
 */
function githubDelivery(n: number): { event: string; payload: Record<string, unknown> } {
  const sender = USERS[n % USERS.length]!;
  const repository = REPOS[n % REPOS.length]!;
  const at = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
  const issue = { id: 30_000_000 + n, number: 100 + (n % 50), title: `Sync drops file ${n % 50}`, body: 'Steps to reproduce: push, wait, look.', state: 'open', user: sender, created_at: at, updated_at: at };
  switch (n % 4) {
    case 0: {
      const commit = { id: randomBytes(20).toString('hex'), message: `Fix parser edge case ${n}`, timestamp: at, author: { name: sender.login, email: `${sender.login}@example.com` } };
      return {
        event: 'push',
        payload: {
          ref: 'refs/heads/main',
          before: randomBytes(20).toString('hex'),
          after: commit.id,
          created: false,
          deleted: false,
          forced: false,
          repository,
          pusher: { name: sender.login, email: `${sender.login}@example.com` },
          sender,
          commits: [commit],
          head_commit: commit,
        },
      };
    }
    case 1:
      return { event: 'issues', payload: { action: n % 8 === 1 ? 'opened' : 'edited', issue, repository, sender } };
    case 2:
      return {
        event: 'issue_comment',
        payload: { action: 'created', issue, comment: { id: 70_000_000 + n, body: `Seen again on build ${n}.`, user: sender, created_at: at, updated_at: at }, repository, sender },
      };
    default:
      return {
        event: 'pull_request',
        payload: {
          action: 'opened',
          number: 200 + (n % 40),
          pull_request: {
            id: 50_000_000 + n,
            number: 200 + (n % 40),
            title: `Handle empty folders (${n})`,
            body: 'Closes the sync bug.',
            state: 'open',
            user: sender,
            updated_at: at,
            head: { ref: 'fix' },
            base: { ref: 'main' },
          },
          repository,
          sender,
        },
      };
  }
}
