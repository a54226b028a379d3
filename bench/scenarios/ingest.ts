/**
 * Scenario `ingest`: GitHub webhooks end to end on this machine, deployed as in production: three
 * processes. The ingress is a child process `bin/durasync.js serve` (client/ingress.ts, webhook
 * routes with a GitHub secret); it answers signed deliveries sent over HTTP keep-alive with 202 once
 * their `processWebhookEvent` workflow is started. The worker is a child process `bin/durasync.js
 * worker --queues ingestion` (a prebuilt workflow bundle, as `npm run build` gives production); it
 * runs them into a scratch database on DATABASE_URL's Postgres server (default
 * postgres://postgres@127.0.0.1:5432; dropped after), against a fresh headless Temporal dev server.
 * Both run from the TypeScript sources through tsx, as `npm run durasync` does in a checkout
 * (DURASYNC_USE_DIST=1: from dist/), with the product defaults but DURASYNC_SHUTDOWN_GRACE (2s);
 * both are ready (/health/ready) before anything is sent and get SIGTERM at the end. This process
 * only sends and measures. Payloads are realistic push, pull_request, issues and issue_comment
 * deliveries (2 : 1 : 1 : 1). A delivery is "stored" once its events row exists (inserted by the
 * workflow's first step, normalizeAndStore, a local activity).
 *
 * Phases, in this order:
 * - `latency`: 50 deliveries/s for `--seconds` (20), open loop: accept latency = request sent to
 *   202 received -> `accept_p50_ms`, `accept_p99_ms`; accept-to-stored = 202 received (wall clock)
 *   to the row's events.created_at (Postgres now(), same clock) -> `stored_p50_ms`, `stored_p99_ms`;
 *   plus a breakdown of a sample from their Temporal histories (start, worker poll, insert), the
 *   CPU per delivery of each process (this one, ingress, worker, dev server), and probes of the
 *   ingress every 100 ms, GET /health/live (its event loop) and /health/ready (plus a gRPC round
 *   trip to Temporal), alternately;
 * - `max`: steps of `--step-seconds` (5) at `--start-rate` (25) deliveries/s, doubling up to
 *   `--max-rate` (3200), then up to three bisection steps between the last sustained rate and the
 *   first that was not. A step is sustained when every delivery got a 202, every 202 is stored
 *   within max(2 s, a quarter of the step) of the step's end, its accept p99 is under 1 s and the
 *   sender kept the pace -> `max_events_per_sec`.
 * `lost`: deliveries answered 202 with no events row once everything has drained (all phases);
 * `rejected`: answers other than 202.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { freePort } from '../../lib/net';
import { signBody } from '../../lib/webhooks/signature';
import { writeWorkflowBundle } from '../../workers/bundle';
import {
  benchLogger, cleanupOnExit, durasyncChildEnv, intFlag, machineInfo, percentile, printReport, progress, round, scratchDatabase, shownPath, startBenchTemporal, startDurasyncProcess, writeResult,
  type BenchDatabase, type DurasyncProcess, type ScenarioOptions,
} from '../lib';

const TARGETS = { acceptP99Ms: 25, storedP50Ms: 150 } as const;
const LATENCY_RATE = 50;
/**
 * A step is sustained only if its backlog is stored within this long after its end (at least 2 s,
 * a quarter of the step: a longer allowance would pass rates well above what the pipeline stores
 * per second, their backlog draining after the step)...
 */
const drainBoundMs = (stepSeconds: number) => Math.max(2000, stepSeconds * 250);
/** ...and its accept p99 stays under this. */
const STEP_ACCEPT_P99_MS = 1000;
/** Before the next step and at the end: how long to wait for what is still unstored. */
const SETTLE_MS = 60_000;
/** Latency phase deliveries whose history is read for the breakdown. */
const BREAKDOWN_SAMPLE = 200;
/** Warm-up before the latency phase: 10 s at half its rate, not measured. */
const WARMUP_RATE = 25;
const WARMUP_DELIVERIES = 250;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => performance.timeOrigin + performance.now();

// ---- Payloads -------------------------------------------------------------------------------

interface Delivery {
  id: string;
  event: string;
  body: Buffer;
  signature: string;
}

const USERS = ['octocat', 'hubot', 'monalisa', 'mona-dev', 'ada', 'linus-t', 'grace-h', 'tim-bl'];
const WORDS = 'fix add remove refactor cache worker queue retry backoff token sync drive branch delta schema index test docs build release'.split(' ');

function user(n: number) {
  const login = USERS[n % USERS.length]!;
  return { login, id: 1000 + (n % USERS.length), node_id: `MDQ6VXNlcj${n % USERS.length}`, avatar_url: `https://avatars.githubusercontent.com/u/${1000 + (n % USERS.length)}?v=4`, html_url: `https://github.com/${login}`, type: 'User', site_admin: false };
}

function repository(n: number) {
  const name = ['durasync', 'webapp', 'infra'][n % 3]!;
  const full = `acme/${name}`;
  return {
    id: 500_000 + (n % 3), node_id: `R_kgDO${n % 3}`, name, full_name: full, private: n % 3 === 2,
    owner: { login: 'acme', id: 42, type: 'Organization', site_admin: false, html_url: 'https://github.com/acme' },
    html_url: `https://github.com/${full}`, description: 'Background jobs as durable workflows', fork: false, url: `https://api.github.com/repos/${full}`,
    created_at: '2024-03-01T10:00:00Z', updated_at: '2026-11-20T08:30:00Z', pushed_at: '2026-11-22T09:00:00Z',
    git_url: `git://github.com/${full}.git`, ssh_url: `git@github.com:${full}.git`, clone_url: `https://github.com/${full}.git`,
    homepage: null, size: 18_234, stargazers_count: 311, watchers_count: 311, language: 'TypeScript', has_issues: true, has_projects: false,
    has_wiki: false, forks_count: 17, archived: false, disabled: false, open_issues_count: 23, license: { key: 'mit', name: 'MIT License', spdx_id: 'MIT' },
    topics: ['temporal', 'workflows', 'typescript'], visibility: n % 3 === 2 ? 'private' : 'public', default_branch: 'main',
  };
}

function sentence(n: number, words: number): string {
  return Array.from({ length: words }, (_, k) => WORDS[(n * 7 + k * 13) % WORDS.length]).join(' ');
}

/** Delivery `i`: push, push, pull_request, issues, issue_comment, ... with GitHub's shape and size. */
function githubDelivery(i: number, secret: string): Delivery {
  const at = new Date(Date.now() - 60_000).toISOString();
  const sha = (_k: number) => randomBytes(20).toString('hex');
  const repo = repository(i);
  const sender = user(i);
  const issue = (n: number) => ({
    url: `${repo.url}/issues/${n}`, html_url: `${repo.html_url}/issues/${n}`, id: 9_000_000 + n, number: n, title: `${sentence(n, 5)}`,
    user: user(n + 1), labels: [{ id: 77, name: n % 2 ? 'bug' : 'enhancement', color: 'd73a4a' }], state: 'open', locked: false, assignee: null,
    comments: n % 9, created_at: at, updated_at: at, closed_at: null, author_association: 'MEMBER', body: `${sentence(n, 40)}\n\nSteps:\n1. ${sentence(n + 1, 8)}\n2. ${sentence(n + 2, 8)}`,
  });
  let event: string;
  let payload: Record<string, unknown>;
  switch (i % 5) {
    case 2: {
      const n = 100 + (i % 400);
      event = 'pull_request';
      payload = {
        action: i % 2 ? 'synchronize' : 'opened', number: n,
        pull_request: {
          url: `${repo.url}/pulls/${n}`, id: 7_000_000 + n, number: n, state: 'open', locked: false, title: sentence(i, 6), user: user(i + 2), body: sentence(i, 60),
          created_at: at, updated_at: at, closed_at: null, merged_at: null, draft: false, head: { label: `acme:feature-${n}`, ref: `feature-${n}`, sha: sha(0), repo },
          base: { label: 'acme:main', ref: 'main', sha: sha(1) }, author_association: 'MEMBER', commits: 1 + (i % 6), additions: 10 + (i % 300), deletions: i % 90, changed_files: 1 + (i % 12),
        },
        repository: repo, sender,
      };
      break;
    }
    case 3:
      event = 'issues';
      payload = { action: ['opened', 'edited', 'closed', 'labeled'][i % 4], issue: issue(200 + (i % 500)), repository: repo, sender };
      break;
    case 4:
      event = 'issue_comment';
      payload = {
        action: 'created', issue: issue(200 + (i % 500)),
        comment: { url: `${repo.url}/issues/comments/${i}`, id: 3_000_000 + i, user: user(i + 3), created_at: at, updated_at: at, author_association: 'CONTRIBUTOR', body: sentence(i, 30) },
        repository: repo, sender,
      };
      break;
    default: {
      const commits = Array.from({ length: 1 + (i % 3) }, (_, k) => ({
        id: sha(k), tree_id: sha(k + 1), distinct: true, message: `${sentence(i + k, 7)}\n\n${sentence(i + k + 1, 20)}`, timestamp: at,
        url: `${repo.html_url}/commit/${k}`, author: { name: sender.login, email: `${sender.login}@example.com`, username: sender.login },
        committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' }, added: [`src/${WORDS[i % WORDS.length]}.ts`], removed: [], modified: ['README.md', `test/${WORDS[k % WORDS.length]}.test.ts`],
      }));
      event = 'push';
      payload = {
        ref: i % 4 ? 'refs/heads/main' : `refs/heads/feature-${i % 50}`, before: sha(0), after: commits[commits.length - 1]!.id, created: false, deleted: false, forced: false,
        base_ref: null, compare: `${repo.html_url}/compare/a...b`, commits, head_commit: commits[commits.length - 1], repository: repo,
        pusher: { name: sender.login, email: `${sender.login}@example.com` }, sender,
      };
    }
  }
  const body = Buffer.from(JSON.stringify(payload));
  return { id: randomUUID(), event, body, signature: signBody(secret, body) };
}

// ---- Sending --------------------------------------------------------------------------------

interface Sent {
  id: string;
  status: number;
  /** Request sent -> 202 received. */
  acceptMs: number;
  /** Wall clock (ms since the epoch) when the request was sent and when the answer came. */
  sentAt: number;
  answeredAt: number;
  /** Not a 202: the start of the answer's body, or the request's error. */
  error?: string;
}

function post(agent: http.Agent, target: URL, d: Delivery): Promise<Sent> {
  return new Promise((resolve) => {
    const sentAt = wallNow();
    const t0 = performance.now();
    const failed = (err: Error) => resolve({ id: d.id, status: 0, acceptMs: performance.now() - t0, sentAt, answeredAt: wallNow(), error: err.message });
    const req = http.request(
      {
        agent, host: target.hostname, port: target.port, path: '/webhooks/github', method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': d.body.length, 'user-agent': 'GitHub-Hookshot/bench', 'x-github-delivery': d.id, 'x-github-event': d.event, 'x-hub-signature-256': d.signature },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const answered = { acceptMs: performance.now() - t0, answeredAt: wallNow() };
        let body = '';
        res.on('data', (chunk: Buffer) => void (status !== 202 && body.length < 300 && (body += chunk.toString())));
        res.on('end', () => resolve({ id: d.id, status, sentAt, ...answered, ...(status === 202 ? {} : { error: body.slice(0, 300) }) }));
        res.on('error', failed);
      },
    );
    req.on('error', failed);
    req.end(d.body);
  });
}

/** Sends `deliveries` open loop at `rate`/s (on schedule, whatever the answers); resolves with every answer. */
async function paced(deliveries: Delivery[], rate: number, send: (d: Delivery) => Promise<Sent>): Promise<{ results: Sent[]; sendRate: number; maxLagMs: number }> {
  const inFlight: Array<Promise<Sent>> = [];
  const start = performance.now();
  let maxLagMs = 0;
  let i = 0;
  while (i < deliveries.length) {
    const now = performance.now();
    const due = Math.min(deliveries.length, Math.floor(((now - start) * rate) / 1000) + 1);
    if (i < due) maxLagMs = Math.max(maxLagMs, now - (start + (i * 1000) / rate));
    while (i < due) inFlight.push(send(deliveries[i++]!));
    if (i < deliveries.length) await sleep(Math.max(0, start + (i * 1000) / rate - performance.now()));
  }
  const elapsed = performance.now() - start;
  // The last send is due at (n-1)/rate: the achieved rate over that span.
  const sendRate = deliveries.length > 1 ? ((deliveries.length - 1) * 1000) / Math.max(elapsed, 1) : rate;
  return { results: await Promise.all(inFlight), sendRate, maxLagMs };
}

// ---- Stored ---------------------------------------------------------------------------------

/** created_at (ms since the epoch) of the events rows of these delivery ids. */
async function storedAt(pool: Pool, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let k = 0; k < ids.length; k += 5000) {
    const { rows } = await pool.query<{ id: string; ms: number }>(
      `select external_id as id, (extract(epoch from created_at) * 1000)::float8 as ms from events where source = 'github' and external_id = any($1::text[])`,
      [ids.slice(k, k + 5000)],
    );
    for (const r of rows) out.set(r.id, r.ms);
  }
  return out;
}

/** Waits until every id is stored or `ms` have passed; resolves with the rows found and when the last appeared. */
async function drain(pool: Pool, ids: string[], ms: number): Promise<{ stored: Map<string, number>; drainedAfterMs: number | null }> {
  const t0 = performance.now();
  for (;;) {
    const stored = await storedAt(pool, ids);
    if (stored.size >= ids.length) return { stored, drainedAfterMs: performance.now() - t0 };
    if (performance.now() - t0 >= ms) return { stored, drainedAfterMs: null };
    await sleep(200);
  }
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? NaN), n: sorted.length };
}

/** CPU time (ms) a process has used, from /proc (Linux; NaN elsewhere). Assumes 100 clock ticks a second. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

// ---- Probes of the ingress ----------------------------------------------------------------------

/**
 * GET /health/live and /health/ready of the ingress, alternately, every `everyMs` on one keep-alive
 * socket, until stop(): live answers at once (request to answer = the ingress's event loop and
 * HTTP), ready after a getSystemInfo round trip to Temporal on the ingress's own connection.
 */
function probeIngress(base: URL, everyMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = { live: [] as number[], ready: [] as number[] };
  let stopped = false;
  const get = (path: string) =>
    new Promise<number>((resolve) => {
      const t0 = performance.now();
      const req = http.get({ agent, host: base.hostname, port: base.port, path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : NaN));
      });
      req.on('error', () => resolve(NaN));
    });
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      const t0 = performance.now();
      const which = k % 2 ? 'ready' : 'live';
      const ms = await get(`/health/${which}`);
      if (Number.isFinite(ms)) times[which].push(ms);
      await sleep(Math.max(0, everyMs - (performance.now() - t0)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      agent.destroy();
      return { live: stats(times.live), ready: stats(times.ready) };
    },
  };
}

/**
 * The worker's slots (temporal_worker_task_slots_used / _available from its ops /metrics) sampled
 * every `everyMs` until stop(): workflow task slots (a workflow task holds one until its local
 * activities are done) and local activity slots.
 */
function sampleWorkerSlots(opsUrl: string, everyMs: number) {
  const kinds = { workflow_task: 'WorkflowWorker', local_activity: 'LocalActivityWorker' } as const;
  const used = { workflow_task: [] as number[], local_activity: [] as number[] };
  const total = { workflow_task: NaN, local_activity: NaN };
  const sum = (text: string, metric: string, workerType: string) => {
    let value = NaN;
    for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} ([-+.\\deE]+)$`, 'gm'))) {
      if (m[1]!.includes(`worker_type="${workerType}"`)) value = (Number.isNaN(value) ? 0 : value) + Number(m[2]);
    }
    return value;
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      const text = await fetch(`${opsUrl}/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => '');
      for (const [kind, workerType] of Object.entries(kinds) as Array<[keyof typeof kinds, string]>) {
        const u = sum(text, 'temporal_worker_task_slots_used', workerType);
        const a = sum(text, 'temporal_worker_task_slots_available', workerType);
        if (Number.isFinite(u)) used[kind].push(u);
        if (Number.isFinite(u) && Number.isFinite(a)) total[kind] = u + a;
      }
      await sleep(Math.max(0, everyMs - (performance.now() - t0)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const summary = (kind: keyof typeof kinds) => {
        const sorted = [...used[kind]].sort((a, b) => a - b);
        return { slots: total[kind], used_p50: percentile(sorted, 50), used_max: sorted[sorted.length - 1] ?? NaN, samples: sorted.length };
      };
      return { workflow_task: summary('workflow_task'), local_activity: summary('local_activity') };
    },
  };
}

/** Time (ms) a process's main thread (a Node process's event loop) spent runnable, waiting for a CPU, from /proc (Linux; NaN elsewhere). */
function runQueueWaitMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

// ---- Breakdown from histories ---------------------------------------------------------------

/** A protobuf Timestamp (seconds are a Long) as ms since the epoch. */
type Ts = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const tsMs = (ts: Ts) => (ts ? (typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6 : NaN);

/** Where the time of a delivery goes, from its history (server clock = this machine's clock). */
async function breakdown(client: Client, sample: Array<{ sent: Sent; storedMs: number }>) {
  const segments: Record<string, number[]> = {
    sent_to_workflow_started: [], workflow_started_to_202: [], workflow_task_schedule_to_start: [], workflow_task_start_to_complete: [],
    activity_schedule_to_start: [], activity_start_to_row: [], row_to_activity_completed: [],
    workflow_task_start_to_row: [], row_to_workflow_task_completed: [], history_events: [],
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let k = next++; k < sample.length; k = next++) {
        const { sent, storedMs } = sample[k]!;
        const history = await client.workflow.getHandle(`webhook:github:${sent.id}`).fetchHistory();
        const first = (pick: (e: (typeof history.events & object)[number]) => unknown) => (history.events ?? []).find((e) => pick(e) != null);
        const started = tsMs(first((e) => e.workflowExecutionStartedEventAttributes)?.eventTime);
        const wftScheduled = tsMs(first((e) => e.workflowTaskScheduledEventAttributes)?.eventTime);
        const wftStarted = tsMs(first((e) => e.workflowTaskStartedEventAttributes)?.eventTime);
        const wftCompleted = tsMs(first((e) => e.workflowTaskCompletedEventAttributes)?.eventTime);
        const actScheduled = tsMs(first((e) => e.activityTaskScheduledEventAttributes)?.eventTime);
        const actStarted = tsMs(first((e) => e.activityTaskStartedEventAttributes)?.eventTime);
        const actCompleted = tsMs(first((e) => e.activityTaskCompletedEventAttributes)?.eventTime);
        const add = (name: string, ms: number) => Number.isFinite(ms) && segments[name]!.push(ms);
        add('sent_to_workflow_started', started - sent.sentAt);
        add('workflow_started_to_202', sent.answeredAt - started);
        add('workflow_task_schedule_to_start', wftStarted - wftScheduled);
        add('workflow_task_start_to_complete', wftCompleted - wftStarted);
        add('activity_schedule_to_start', actStarted - actScheduled);
        add('activity_start_to_row', storedMs - actStarted);
        add('row_to_activity_completed', actCompleted - storedMs);
        // Local activities (no activity task events): the row is inserted inside the first workflow task.
        if (!Number.isFinite(actScheduled)) {
          add('workflow_task_start_to_row', storedMs - wftStarted);
          add('row_to_workflow_task_completed', wftCompleted - storedMs);
        }
        add('history_events', history.events?.length ?? NaN);
      }
    }),
  );
  return Object.fromEntries(Object.entries(segments).map(([name, values]) => [name, stats(values)]));
}

// ---- The scenario ---------------------------------------------------------------------------

interface Step {
  rate: number;
  sent: number;
  accepted: number;
  rejected: number;
  send_rate: number;
  accept_p50_ms: number;
  accept_p99_ms: number;
  stored_p50_ms: number;
  stored_p99_ms: number;
  drained_after_s: number | null;
  sustained: boolean;
  why_not?: string;
}

export async function runIngest(options: ScenarioOptions, flags: Record<string, string>): Promise<void> {
  const SECONDS = intFlag(flags, 'seconds', 20, 1);
  const STEP_SECONDS = intFlag(flags, 'step-seconds', 5, 1);
  const START_RATE = intFlag(flags, 'start-rate', 25, 1);
  const MAX_RATE = intFlag(flags, 'max-rate', 3200, 1);
  const DRAIN_MS = drainBoundMs(STEP_SECONDS);
  const benchStarted = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const secret = randomBytes(20).toString('hex');
  const bundlePath = path.join(os.tmpdir(), `durasync-bench-ingest-workflows-${process.pid}-${randomBytes(3).toString('hex')}.js`);

  let server: Awaited<ReturnType<typeof startBenchTemporal>> | undefined;
  let db: BenchDatabase | undefined;
  let connection: Connection | undefined;
  let ingress: DurasyncProcess | undefined;
  let worker: DurasyncProcess | undefined;
  const starting: Array<Promise<unknown>> = [];
  let objectsDir: string | undefined;
  let pool: Pool | undefined;
  // Keep-alive connections, fresh for each phase and step: a socket left idle while the backlog
  // drained could be closed by the server just as it is reused (ECONNRESET, not the server's answer).
  let agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const freshAgent = () => {
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  };
  const cleanup = cleanupOnExit(async () => {
    agent.destroy();
    // A child still starting stops itself when it fails; one that became ready is stopped here.
    await Promise.allSettled(starting);
    await Promise.all([ingress?.stop(), worker?.stop()]);
    await pool?.end().catch(() => undefined);
    await connection?.close();
    await sleep(200); // pg's end() resolves before the sockets close: let them, before the database is dropped
    await db?.close();
    await server?.stop();
    if (objectsDir) await rm(objectsDir, { recursive: true, force: true });
    await rm(bundlePath, { force: true });
  });

  try {
    progress(`ingest: latency at ${LATENCY_RATE}/s for ${SECONDS} s; max rate in ${STEP_SECONDS} s steps from ${START_RATE}/s up to ${MAX_RATE}/s`);
    const setup = await Promise.allSettled([
      startBenchTemporal().then((s) => (server = s)),
      scratchDatabase().then((d) => (db = d)),
      mkdtemp(path.join(os.tmpdir(), 'durasync-bench-objects-')).then((d) => (objectsDir = d)),
      writeWorkflowBundle(bundlePath, benchLogger()),
    ]);
    const setupFailed = setup.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (setupFailed) throw setupFailed.reason;
    if (!server || !db || !objectsDir) throw new Error('set-up did not finish');
    progress(`temporal ${server.address}, database ${db.kind}`);

    // The two product processes, as deployed: the same settings but their ports.
    const prefix = `bench-${randomBytes(3).toString('hex')}-`;
    const [ingressPort, ingressOpsPort, workerOpsPort] = [await freePort(), await freePort(), await freePort()];
    const childEnv = (opsPort: number) =>
      durasyncChildEnv({
        TEMPORAL_ADDRESS: server!.address, TEMPORAL_NAMESPACE: 'default', DATABASE_URL: db!.url, GITHUB_WEBHOOK_SECRET: secret, DURASYNC_OBJECTS_DIR: objectsDir!,
        DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_WORKFLOW_BUNDLE: bundlePath, DURASYNC_WORKER_MODE: 'concurrent', DURASYNC_SHUTDOWN_GRACE: '2s',
        DURASYNC_INGRESS_HOST: '127.0.0.1', DURASYNC_INGRESS_PORT: String(ingressPort), DURASYNC_OPS_HOST: '127.0.0.1', DURASYNC_OPS_PORT: String(opsPort),
      });
    const ingressUrl = `http://127.0.0.1:${ingressPort}`;
    const startingIngress = startDurasyncProcess(['serve'], childEnv(ingressOpsPort), `${ingressUrl}/health/ready`).then((p) => (ingress = p));
    const workerOpsUrl = `http://127.0.0.1:${workerOpsPort}`;
    const startingWorker = startDurasyncProcess(['worker', '--queues', 'ingestion'], childEnv(workerOpsPort), `${workerOpsUrl}/health/ready`).then((p) => (worker = p));
    starting.push(startingIngress, startingWorker);
    const children = await Promise.allSettled(starting);
    const childFailed = children.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (childFailed) throw childFailed.reason;
    if (!ingress || !worker) throw new Error('the ingress or the worker did not start');
    progress(`ready: ingress pid ${ingress.pid} on ${ingressUrl}, worker pid ${worker.pid} (queues ingestion, prefix ${prefix})`);
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    pool = new Pool({ connectionString: db.url, max: 2, application_name: 'durasync-bench-ingest' });
    pool.on('error', () => undefined); // an idle client dropped (the database is dropped with force at the end)
    const target = new URL(ingressUrl);
    const send = (d: Delivery) => post(agent, target, d);
    const db_ = pool;
    let counter = 0;
    const build = (n: number) => Array.from({ length: n }, () => githubDelivery(counter++, secret));
    const accepted: string[] = [];
    let rejected = 0;
    const rejections: Record<string, number> = {};
    const noteRejections = (results: Sent[]) => {
      for (const r of results) if (r.status !== 202) rejections[`${r.status} ${r.error ?? ''}`.trim()] = (rejections[`${r.status} ${r.error ?? ''}`.trim()] ?? 0) + 1;
    };
    let bodyBytes = 0;

    // Warm-up (not measured): the first workflow tasks load the bundle, the pools connect, and
    // 10 s at half the latency rate let V8 optimise the hot paths of all three processes.
    {
      progress(`warm-up: ${WARMUP_DELIVERIES} deliveries at ${WARMUP_RATE}/s (not measured)`);
      const warm = await paced(build(WARMUP_DELIVERIES), WARMUP_RATE, send);
      await drain(db_, warm.results.filter((r) => r.status === 202).map((r) => r.id), 30_000);
    }

    // Latency at 50/s.
    progress(`latency: ${LATENCY_RATE * SECONDS} deliveries at ${LATENCY_RATE}/s`);
    const latencyDeliveries = build(LATENCY_RATE * SECONDS);
    bodyBytes += latencyDeliveries.reduce((s, d) => s + d.body.length, 0);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const pids = { bench: process.pid, ingress: ingress.pid, worker: worker.pid, temporal: server.process.pid } as const;
    const cpuBefore = Object.fromEntries(Object.entries(pids).map(([who, pid]) => [who, cpuMs(pid)])) as Record<keyof typeof pids, number>;
    const node = { bench: pids.bench, ingress: pids.ingress, worker: pids.worker };
    const waitBefore = Object.fromEntries(Object.entries(node).map(([who, pid]) => [who, runQueueWaitMs(pid)])) as Record<keyof typeof node, number>;
    const cpuFrom = performance.now();
    freshAgent();
    const probe = probeIngress(target, 100);
    const slots = sampleWorkerSlots(workerOpsUrl, 1000);
    const lat = await paced(latencyDeliveries, LATENCY_RATE, send);
    const ingressProbe = await probe.stop();
    const sendSeconds = (performance.now() - cpuFrom) / 1000;
    const runQueueWait = Object.fromEntries(Object.entries(node).map(([who, pid]) => [who, round((runQueueWaitMs(pid) - waitBefore[who as keyof typeof node]) / sendSeconds)]));
    const latOk = lat.results.filter((r) => r.status === 202);
    accepted.push(...latOk.map((r) => r.id));
    rejected += lat.results.length - latOk.length;
    noteRejections(lat.results);
    // Twice the usual allowance: the max phase must start without this phase's backlog.
    const latDrain = await drain(db_, latOk.map((r) => r.id), 2 * SETTLE_MS);
    const workerSlots = await slots.stop();
    // CPU used from the first delivery until the last was stored, by each process: this one (the
    // sender), the ingress, the worker and the dev server.
    const cpuSeconds = (performance.now() - cpuFrom) / 1000;
    loopDelay.disable();
    const eventLoopDelay = { p50_ms: round(loopDelay.percentile(50) / 1e6), p99_ms: round(loopDelay.percentile(99) / 1e6), max_ms: round(loopDelay.max / 1e6) };
    const cpu = Object.fromEntries(
      (Object.keys(pids) as Array<keyof typeof pids>).flatMap((who) => {
        const used = cpuMs(pids[who]) - cpuBefore[who];
        return [[`${who}_ms_per_event`, round(used / latencyDeliveries.length, 2)], [`${who}_cores`, round(used / 1000 / cpuSeconds, 2)]];
      }),
    );
    const latStored = latOk.filter((r) => latDrain.stored.has(r.id)).map((r) => ({ sent: r, storedMs: latDrain.stored.get(r.id)! }));
    const accept = stats(latOk.map((r) => r.acceptMs));
    const stored = stats(latStored.map(({ sent, storedMs }) => storedMs - sent.answeredAt));
    progress(`latency: accept p50 ${accept.p50} ms, p99 ${accept.p99} ms; accept-to-stored p50 ${stored.p50} ms, p99 ${stored.p99} ms (${latStored.length}/${lat.results.length} stored)`);
    const every = Math.max(1, Math.floor(latStored.length / BREAKDOWN_SAMPLE));
    const parts = await breakdown(client, latStored.filter((_, k) => k % every === 0));
    progress(`cpu: ${JSON.stringify(cpu)} over ${round(cpuSeconds)} s, load average ${round(os.loadavg()[0]!, 2)}; event loop delay ${JSON.stringify(eventLoopDelay)}`);
    progress(`ingress probes (p50/p99 ms): /health/live ${ingressProbe.live.p50}/${ingressProbe.live.p99}, /health/ready ${ingressProbe.ready.p50}/${ingressProbe.ready.p99}; main threads waiting for a CPU (ms per s): ${JSON.stringify(runQueueWait)}`);
    progress(`worker slots (until drained): ${JSON.stringify(workerSlots)}`);
    progress(`breakdown (p50/p99 ms): ${Object.entries(parts).map(([name, s]) => `${name} ${s.p50}/${s.p99}`).join(', ')}`);

    // Max sustained rate: doubling steps, then bisection.
    const steps: Step[] = [];
    const runStep = async (rate: number): Promise<Step> => {
      const deliveries = build(rate * STEP_SECONDS);
      bodyBytes += deliveries.reduce((s, d) => s + d.body.length, 0);
      freshAgent();
      const run = await paced(deliveries, rate, send);
      const ok = run.results.filter((r) => r.status === 202);
      accepted.push(...ok.map((r) => r.id));
      rejected += run.results.length - ok.length;
      noteRejections(run.results);
      const drained = await drain(db_, ok.map((r) => r.id), DRAIN_MS);
      const a = stats(ok.map((r) => r.acceptMs));
      const s = stats(ok.filter((r) => drained.stored.has(r.id)).map((r) => drained.stored.get(r.id)! - r.answeredAt));
      const why = [
        ok.length < run.results.length ? `${run.results.length - ok.length} not answered 202` : '',
        drained.drainedAfterMs === null ? `${ok.length - drained.stored.size} not stored ${DRAIN_MS / 1000} s after the step` : '',
        a.p99 > STEP_ACCEPT_P99_MS ? `accept p99 ${a.p99} ms > ${STEP_ACCEPT_P99_MS} ms` : '',
        run.sendRate < 0.95 * rate ? `sender reached ${round(run.sendRate)}/s` : '',
      ].filter(Boolean);
      const step: Step = {
        rate, sent: run.results.length, accepted: ok.length, rejected: run.results.length - ok.length, send_rate: round(run.sendRate),
        accept_p50_ms: a.p50, accept_p99_ms: a.p99, stored_p50_ms: s.p50, stored_p99_ms: s.p99,
        drained_after_s: drained.drainedAfterMs === null ? null : round(drained.drainedAfterMs / 1000, 2), sustained: why.length === 0, ...(why.length ? { why_not: why.join('; ') } : {}),
      };
      progress(`max: ${rate}/s: ${step.accepted}/${step.sent} accepted, accept p99 ${a.p99} ms, stored p50 ${s.p50} ms, drained ${step.drained_after_s ?? '-'} s: ${step.sustained ? 'sustained' : `NOT sustained (${step.why_not})`}`);
      steps.push(step);
      // The next step starts without this one's backlog.
      if (!step.sustained) await drain(db_, ok.map((r) => r.id), SETTLE_MS);
      return step;
    };
    let best = 0;
    let failed: number | undefined;
    for (let rate = START_RATE; rate <= MAX_RATE; rate *= 2) {
      if ((await runStep(rate)).sustained) best = rate;
      else {
        failed = rate;
        break;
      }
    }
    for (let k = 0; k < 3 && failed !== undefined && failed - best > Math.max(10, best * 0.2); k++) {
      const mid = Math.max(1, Math.round((best + failed) / 2 / 10) * 10);
      if (mid <= best || mid >= failed) break;
      if ((await runStep(mid)).sustained) best = mid;
      else failed = mid;
    }

    const final = await drain(db_, accepted, SETTLE_MS);
    const lost = accepted.length - final.stored.size;
    const report = {
      scenario: 'ingest',
      accept_p50_ms: accept.p50,
      accept_p99_ms: accept.p99,
      stored_p50_ms: stored.p50,
      stored_p99_ms: stored.p99,
      max_events_per_sec: best,
      lost,
      rejected,
      rejections,
      targets: {
        accept_p99_under_25ms: accept.p99 < TARGETS.acceptP99Ms,
        stored_p50_under_150ms: stored.p50 < TARGETS.storedP50Ms,
        nothing_lost: lost === 0,
      },
      latency: { rate: LATENCY_RATE, seconds: SECONDS, sent: lat.results.length, accepted: latOk.length, stored: latStored.length, send_rate: round(lat.sendRate), send_lag_max_ms: round(lat.maxLagMs), accept, accept_to_stored: stored, breakdown: parts, breakdown_sample: Math.ceil(latStored.length / every), cpu, event_loop_delay: eventLoopDelay, ingress_probe: ingressProbe, run_queue_wait_ms_per_s: runQueueWait, worker_slots: workerSlots },
      max: { start_rate: START_RATE, max_rate: MAX_RATE, step_seconds: STEP_SECONDS, drain_bound_s: DRAIN_MS / 1000, accept_p99_bound_ms: STEP_ACCEPT_P99_MS, first_not_sustained: failed ?? null, steps },
      deliveries: accepted.length + rejected,
      payload_bytes_avg: Math.round(bodyBytes / Math.max(1, counter - 20)),
      machine: { ...machineInfo(), load_average_1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) } },
      database: db.kind,
      date: new Date().toISOString(),
      duration_s: round((Date.now() - benchStarted) / 1000),
      notes: [
        `Three processes, as deployed: this one only sends and measures (node:http, keep-alive); the ingress is \`durasync serve\` (webhook routes, GitHub secret, client.workflow.start per delivery) and the worker \`durasync worker --queues ingestion\` (prebuilt workflow bundle), both child processes run from ${process.env.DURASYNC_USE_DIST ? 'dist/ (DURASYNC_USE_DIST=1)' : 'the TypeScript sources through tsx (as `npm run durasync` in a checkout)'} with the product defaults (log level info to a pipe) but DURASYNC_SHUTDOWN_GRACE=2s; both were ready (/health/ready) before the first delivery. The Temporal dev server and Postgres share the machine.`,
        'Deliveries: push, push, pull_request, issues, issue_comment in turn, GitHub-shaped, signed with X-Hub-Signature-256, unique X-GitHub-Delivery; sent open loop on schedule.',
        'accept: request sent -> 202 received. accept-to-stored: 202 received (wall clock) -> events.created_at (Postgres now(): the start of the inserting transaction, same machine clock), so it can be a little under the commit time.',
        `max_events_per_sec: highest step rate where every delivery got a 202, every 202 was stored within ${DRAIN_MS / 1000} s of the step's end, accept p99 stayed under ${STEP_ACCEPT_P99_MS} ms and the sender kept >= 95% of the pace; steps double from start_rate, then up to three bisection steps.`,
        'breakdown: a sample of the latency phase, from each workflow history (event times are the server clock, the same machine clock); the steps run as local activities, so the row is inserted inside the first workflow task: workflow_task_start_to_row and row_to_workflow_task_completed split it (the activity_* segments are empty then). cpu: CPU time (/proc/<pid>/stat) of this process (the sender: bench_*), the ingress, the worker and the dev server from the first latency delivery until the last was stored, per delivery and in cores (Postgres not counted); event_loop_delay: this process\'s main thread (the sender) over the same span.',
        'ingress_probe: during the latency phase, every 100 ms from this process on its own keep-alive socket, GET /health/live (answered at once: the ingress\'s event loop and HTTP) and GET /health/ready (plus a getSystemInfo gRPC round trip to the dev server on the ingress\'s connection), alternately: request to answer, ms. run_queue_wait_ms_per_s: while sending, how long the main thread (the event loop) of this process, the ingress and the worker was runnable but waiting for a CPU (/proc/<pid>/schedstat), ms per second: CPU contention on the machine, not work of its own. worker_slots: the worker\'s workflow task and local activity slots (temporal_worker_task_slots_used/_available on its ops /metrics), sampled every second from the first latency delivery until the last was stored.',
        `lost: deliveries answered 202 with no events row once everything drained (up to ${SETTLE_MS / 1000} s), all phases; rejected: deliveries without a 202 (another status, or status 0: the connection failed), by status and message in rejections. The warm-up deliveries (10 s at 25/s) are not counted.`,
      ],
    };
    const out = shownPath(await writeResult(options.resultsDir, 'ingest.json', report));
    const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const table = [
      `ingest: ${db.kind}`,
      `accept at ${LATENCY_RATE}/s: p50 ${accept.p50} ms, p99 ${accept.p99} ms (target p99 < ${TARGETS.acceptP99Ms} ms: ${met(report.targets.accept_p99_under_25ms)})`,
      `accept-to-stored at ${LATENCY_RATE}/s: p50 ${stored.p50} ms, p99 ${stored.p99} ms (target p50 < ${TARGETS.storedP50Ms} ms: ${met(report.targets.stored_p50_under_150ms)})`,
      `where the time goes (p50/p99 ms): ${Object.entries(parts).map(([name, s]) => `${name} ${s.p50}/${s.p99}`).join(', ')}`,
      `max sustained: ${best} events/s`,
      '  rate/s  sent  202  accept p50/p99 ms  stored p50/p99 ms  drained s  sustained',
      ...steps.map((s) => `  ${String(s.rate).padStart(6)} ${String(s.sent).padStart(5)} ${String(s.accepted).padStart(4)}  ${`${s.accept_p50_ms}/${s.accept_p99_ms}`.padStart(17)}  ${`${s.stored_p50_ms}/${s.stored_p99_ms}`.padStart(17)}  ${String(s.drained_after_s ?? '-').padStart(9)}  ${s.sustained ? 'yes' : `no: ${s.why_not}`}`),
      `lost: ${lost} (${met(report.targets.nothing_lost)}), rejected: ${rejected}${rejected ? ` ${JSON.stringify(rejections)}` : ''}`,
      `wrote ${out} (${report.duration_s} s)`,
    ];
    printReport(options, table, report);
  } finally {
    await cleanup();
  }
}
