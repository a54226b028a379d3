/**
 * Scenario `workers`: what `durasync worker` processes cost and give, measured on real processes
 * (`bin/durasync.js worker`), a fresh headless Temporal dev server and a scratch database on a
 * real Postgres (DATABASE_URL's server, else postgres://postgres@127.0.0.1:5432).
 *
 * - Idle memory: a worker process is started, becomes ready (/health/ready), is left alone for
 *   BENCH_SETTLE_MS, then its VmRSS is read from /proc/<pid>/status, for the pid that its own ops
 *   server reports (the process that runs the workers, whatever launched it); the processes of
 *   all runs side by side, before the throughput measurements:
 *   `rss_idle_mb_1q` (--queues ingestion), `rss_idle_mb_3q` (all three queues) and
 *   `rss_isolated_mb` (one child as the manager starts it in isolated mode: a single-queue process
 *   with an IPC channel; measured separately from the 1-queue figure, which it should match).
 * - Throughput: BENCH_WORKFLOWS canaries (one workflow task + one activity that pings Postgres),
 *   BENCH_CONCURRENCY at a time, on the `ingestion` queue served by 1, 2 and 4 worker processes
 *   (`--queues ingestion`, each with its own database pool), a new task queue prefix for each
 *   measurement: `throughput_1`, `throughput_2`, `throughput_4` in workflows/s.
 *
 * Every figure is the median of BENCH_RUNS runs. Report: bench/results/workers.json.
 * Knobs: BENCH_WORKFLOWS (300), BENCH_CONCURRENCY (50), BENCH_RUNS (3), BENCH_SETTLE_MS (30000:
 * V8 frees the start-up garbage, 50-110 MiB, only some 6-20 s after a worker goes idle).
 * The workers run from source through tsx, as `npx durasync worker` does in a checkout; with
 * DURASYNC_USE_DIST=1 in the environment they run the compiled dist/ (`npm run build`) instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../lib/net';
import { writeWorkflowBundle } from '../../workers/bundle';
import type { canary } from '../../workflows/canary';
import { PROJECT_ROOT, benchLogger, cleanupOnExit, envInt, machineInfo, median, progress, round, shownPath, scratchDatabase, startBenchTemporal, writeResult, type BenchDatabase, type ScenarioOptions, printReport } from '../lib';

const DURASYNC_BIN = path.join(PROJECT_ROOT, 'bin', 'durasync.js');
const ALL_QUEUES = ['sync', 'ingestion', 'branch-delta'];
const PROCESS_COUNTS = [1, 2, 4] as const;
/** Targets of the worker design: 3 queues in one process under 200 MB, each extra queue under 40 MB. */
const TARGET_RSS_3Q_MB = 200;
const TARGET_QUEUE_COST_MB = 40;
const READY_TIMEOUT_MS = 90_000;
/** Canaries each throughput measurement runs first, per worker process, untimed: fresh processes start cold. */
const WARMUP_PER_PROCESS = 5;

/** The Node that runs the workers: this one when it is 22 or newer (Node 24 under scripts/run.sh), else .tools/node. */
function workerNode(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const tools = path.join(PROJECT_ROOT, '.tools', 'node', 'bin', 'node');
  if (!existsSync(tools)) throw new Error(`workers need Node 22 or newer (this is ${process.version}); run 'npm run setup' first`);
  return tools;
}

interface WorkerProcess {
  /** The pid of the process that runs the workers, as its ops server reports it. */
  pid: number;
  opsUrl: string;
  stop(): Promise<void>;
}

interface Env {
  temporalAddress: string;
  databaseUrl: string;
  bundlePath: string;
}

/** The child's environment: ours, minus what would point it elsewhere, plus the bench's settings. */
function workerEnv(env: Env, prefix: string, opsPort: number): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Another Temporal (address, TLS, API key, profile), Supabase or Redis would change what is measured.
    if (/^TEMPORAL_/.test(key) && !/_PATH$/.test(key)) continue;
    if (/^(SUPABASE_|REDIS_URL$|DURASYNC_QUEUES$|DURASYNC_WORKER_MODE$)/.test(key)) continue;
    base[key] = value;
  }
  return {
    ...base,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: env.databaseUrl,
    DURASYNC_WORKFLOW_BUNDLE: env.bundlePath,
    DURASYNC_TASK_QUEUE_PREFIX: prefix,
    DURASYNC_OPS_HOST: '127.0.0.1',
    DURASYNC_OPS_PORT: String(opsPort),
    DURASYNC_LOG_LEVEL: 'warn',
    DURASYNC_SHUTDOWN_GRACE: '5s',
    DURASYNC_WORKER_MODE: 'concurrent',
  };
}

const live = new Set<ChildProcess>();

/**
 * Starts `bin/durasync.js worker --queues <queues>` and resolves once /health/ready answers 200.
 * `isolated`: spawned as the manager spawns its children (with an IPC channel) and also waits for
 * the child's `durasync:ready` message.
 */
async function startWorker(env: Env, queues: string[], prefix: string, isolated = false): Promise<WorkerProcess> {
  const opsPort = await freePort();
  const child = spawn(workerNode(), [DURASYNC_BIN, 'worker', '--queues', queues.join(',')], {
    cwd: PROJECT_ROOT,
    env: workerEnv(env, prefix, opsPort),
    stdio: isolated ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  const ipcReady = isolated
    ? new Promise<void>((resolve) => child.on('message', (m: { type?: string }) => m?.type === 'durasync:ready' && resolve()))
    : Promise.resolve();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.signalCode ?? `code ${child.exitCode}`})`);
      if (Date.now() > deadline) throw new Error(`not ready after ${READY_TIMEOUT_MS} ms`);
      const status = await fetch(`${opsUrl}/health/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Sent right after the ops server listens; a child that exits first never sends it.
    await Promise.race([ipcReady, exited.then(() => Promise.reject(new Error('exited before its IPC ready message')))]);
    const health = (await (await fetch(`${opsUrl}/health`)).json()) as { pid?: number };
    if (typeof health.pid !== 'number') throw new Error('/health did not report a pid');
    return { pid: health.pid, opsUrl, stop };
  } catch (err) {
    await stop();
    throw new Error(`worker --queues ${queues.join(',')}: ${(err as Error).message}\n${output}`);
  }
}

/** Resident memory of `pid` in MiB: VmRSS from /proc on Linux, else the worker's own rss gauge. */
async function rssMb(worker: WorkerProcess): Promise<{ mb: number; source: string }> {
  try {
    const status = await readFile(`/proc/${worker.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    if (kb) return { mb: Number(kb) / 1024, source: '/proc/<pid>/status VmRSS' };
  } catch {
    // not Linux: fall through
  }
  const metrics = await (await fetch(`${worker.opsUrl}/metrics`)).text();
  const bytes = /^durasync_memory_usage_bytes\{type="rss"\} ([\d.e+]+)$/m.exec(metrics)?.[1];
  if (!bytes) throw new Error(`no RSS for pid ${worker.pid}`);
  return { mb: Number(bytes) / 2 ** 20, source: 'durasync_memory_usage_bytes{type="rss"}' };
}

let rssSource = '';

interface IdleRss {
  /** Right after /health/ready: start-up garbage still on the heap. */
  atReady: number;
  /** After the settle time: what the process keeps at rest. */
  settled: number;
}

async function idleRss(env: Env, queues: string[], prefix: string, settleMs: number, isolated = false): Promise<IdleRss> {
  const worker = await startWorker(env, queues, prefix, isolated);
  try {
    const atReady = await rssMb(worker);
    await new Promise((r) => setTimeout(r, settleMs));
    const { mb, source } = await rssMb(worker);
    rssSource = source;
    return { atReady: atReady.mb, settled: mb };
  } finally {
    await worker.stop();
  }
}

interface ThroughputResult {
  workflowsPerSecond: number;
  /** Worker processes that ran at least one canary activity (shows the load was spread). */
  processesUsed: number;
}

/** Runs `count` canaries on `taskQueue`, `concurrency` at a time; returns the pids of the workers that ran them. */
async function canaries(client: Client, taskQueue: string, idPrefix: string, count: number, concurrency: number): Promise<Set<number>> {
  const pids = new Set<number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const id = `${idPrefix}${next++}`;
        const result = await client.workflow.execute<typeof canary>('canary', { taskQueue, workflowId: id, args: [{}] });
        if (result.status !== 'ok') throw new Error(`canary ${id} was ${result.status}: ${JSON.stringify(result.database)}`);
        pids.add(result.worker.pid);
      }
    }),
  );
  return pids;
}

/**
 * `workflows` canaries, `concurrency` at a time, on `ingestion` served by `n` fresh worker
 * processes, after a warm-up of WARMUP_PER_PROCESS canaries per process (not timed).
 */
async function throughput(env: Env, client: Client, n: number, prefix: string, workflows: number, concurrency: number): Promise<ThroughputResult> {
  const workers = await Promise.allSettled(Array.from({ length: n }, () => startWorker(env, ['ingestion'], prefix)));
  const started = workers.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
  try {
    const failed = workers.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) throw failed.reason;
    const taskQueue = `${prefix}ingestion`;
    await canaries(client, taskQueue, `${prefix}warmup-`, WARMUP_PER_PROCESS * n, concurrency);
    const t0 = performance.now();
    const pids = await canaries(client, taskQueue, prefix, workflows, concurrency);
    return { workflowsPerSecond: workflows / ((performance.now() - t0) / 1000), processesUsed: pids.size };
  } finally {
    await Promise.all(started.map((w) => w.stop()));
  }
}

type Figure = 'rss_idle_mb_1q' | 'rss_idle_mb_3q' | 'rss_isolated_mb' | 'throughput_1' | 'throughput_2' | 'throughput_4';
type RunFigures = Record<Figure, number> & {
  rss_at_ready_mb: { '1q': number; '3q': number; isolated: number };
  processes_used: Record<'throughput_1' | 'throughput_2' | 'throughput_4', number>;
};

export async function runWorkers(options: ScenarioOptions): Promise<void> {
  const WORKFLOWS = envInt('BENCH_WORKFLOWS', 300);
  const CONCURRENCY = envInt('BENCH_CONCURRENCY', 50);
  const RUNS = envInt('BENCH_RUNS', 3);
  const SETTLE_MS = envInt('BENCH_SETTLE_MS', 30_000, 0);
  const benchStarted = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const tag = Math.random().toString(36).slice(2, 7);
  const bundlePath = path.join(os.tmpdir(), `durasync-bench-workflows-${process.pid}-${tag}.js`);

  let server: Awaited<ReturnType<typeof startBenchTemporal>> | undefined;
  let db: BenchDatabase | undefined;
  let connection: Connection | undefined;
  const cleanup = cleanupOnExit(async () => {
    for (const child of live) child.kill('SIGKILL');
    await connection?.close();
    await db?.close();
    await server?.stop();
    await rm(bundlePath, { force: true });
  });

  try {
    progress(`workers: ${RUNS} run(s); idle RSS ${SETTLE_MS} ms after ready; ${WORKFLOWS} canaries, ${CONCURRENCY} at a time`);
    const setup = await Promise.allSettled([
      startBenchTemporal().then((s) => (server = s)),
      scratchDatabase().then((d) => (db = d)),
      writeWorkflowBundle(bundlePath, benchLogger()),
    ]);
    const setupFailed = setup.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (setupFailed) throw setupFailed.reason;
    if (!server || !db) throw new Error('set-up did not finish');
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const env: Env = { temporalAddress: server.address, databaseUrl: db.url, bundlePath };
    progress(`temporal ${server.address}, database ${db.kind}, workflow bundle ${bundlePath}`);

    // Idle memory first: the three processes of every run side by side, with nothing else running.
    // Memory at rest does not depend on it, and the long settle time is spent once, not per run.
    progress(`idle memory: ${3 * RUNS} worker processes, ${SETTLE_MS} ms after each is ready`);
    const idle = await Promise.all(
      Array.from({ length: RUNS }, (_, i) => {
        const prefix = (what: string) => `bench-${tag}-r${i + 1}-${what}-`;
        return Promise.all([
          idleRss(env, ['ingestion'], prefix('rss1q'), SETTLE_MS),
          idleRss(env, ALL_QUEUES, prefix('rss3q'), SETTLE_MS),
          idleRss(env, ['ingestion'], prefix('rssiso'), SETTLE_MS, true),
        ]);
      }),
    );
    idle.forEach(([rss1, rss3, iso], i) =>
      progress(
        `run ${i + 1}/${RUNS}: idle RSS ${rss1.settled.toFixed(1)} MiB (1 queue), ${rss3.settled.toFixed(1)} MiB (3 queues), ${iso.settled.toFixed(1)} MiB (isolated child); at ready ${rss1.atReady.toFixed(1)} / ${rss3.atReady.toFixed(1)} / ${iso.atReady.toFixed(1)}`,
      ),
    );

    const perRun: RunFigures[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const tput: Record<number, ThroughputResult> = {};
      for (const n of PROCESS_COUNTS) {
        const result = await throughput(env, client, n, `bench-${tag}-r${r}-t${n}-`, WORKFLOWS, CONCURRENCY);
        tput[n] = result;
        progress(`run ${r}/${RUNS}: ${n} process(es): ${result.workflowsPerSecond.toFixed(1)} workflows/s (${result.processesUsed} ran activities)`);
      }
      const [rss1, rss3, iso] = idle[r - 1]!;
      perRun.push({
        rss_idle_mb_1q: round(rss1.settled),
        rss_idle_mb_3q: round(rss3.settled),
        rss_isolated_mb: round(iso.settled),
        throughput_1: round(tput[1]!.workflowsPerSecond),
        throughput_2: round(tput[2]!.workflowsPerSecond),
        throughput_4: round(tput[4]!.workflowsPerSecond),
        rss_at_ready_mb: { '1q': round(rss1.atReady), '3q': round(rss3.atReady), isolated: round(iso.atReady) },
        processes_used: { throughput_1: tput[1]!.processesUsed, throughput_2: tput[2]!.processesUsed, throughput_4: tput[4]!.processesUsed },
      });
    }

    const med = (key: Figure) => round(median(perRun.map((run) => run[key])));
    const rss1q = med('rss_idle_mb_1q');
    const rss3q = med('rss_idle_mb_3q');
    const queueCost = round((rss3q - rss1q) / 2);
    const workerBuild = process.env.DURASYNC_USE_DIST ? 'dist/ (DURASYNC_USE_DIST=1)' : 'TypeScript source through tsx (as `npx durasync worker` in a checkout)';
    const report = {
      scenario: 'workers',
      rss_idle_mb_1q: rss1q,
      rss_idle_mb_3q: rss3q,
      rss_isolated_mb: med('rss_isolated_mb'),
      throughput_1: med('throughput_1'),
      throughput_2: med('throughput_2'),
      throughput_4: med('throughput_4'),
      queue_cost_mb: queueCost,
      targets: {
        rss_3q_under_200mb: rss3q < TARGET_RSS_3Q_MB,
        queue_cost_under_40mb: queueCost < TARGET_QUEUE_COST_MB,
      },
      machine: { ...machineInfo(), load_average_1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) } },
      runs: RUNS,
      workflows: WORKFLOWS,
      concurrency: CONCURRENCY,
      settle_ms: SETTLE_MS,
      database: db.kind,
      worker_build: workerBuild,
      date: new Date().toISOString(),
      duration_s: round((Date.now() - benchStarted) / 1000),
      notes: [
        `Every figure is the median of ${RUNS} run(s); per_run has each run.`,
        `RSS in MiB (VmRSS kB / 1024), read from ${rssSource} of the process that runs the workers (the pid its ops server reports), ${SETTLE_MS} ms after /health/ready, with no work done. The idle processes of all runs ran side by side, before the throughput measurements.`,
        'Why wait that long: right after start-up a worker holds some 50-110 MiB of start-up garbage (module loading, tsx transpiling, bundle loading) that V8 releases only when its memory reducer runs, some 6-20 s after the process goes idle; a 5 s settle measures that garbage, not the footprint. per_run[].rss_at_ready_mb shows RSS at /health/ready.',
        'rss_idle_mb_1q: `durasync worker --queues ingestion`; rss_idle_mb_3q: `--queues sync,ingestion,branch-delta`.',
        'rss_isolated_mb: what one isolated-mode worker costs: a single-queue process spawned as the manager spawns its children (`worker --queues ingestion` with an IPC channel), i.e. the same process as rss_idle_mb_1q, measured separately. The manager process itself is not included.',
        `queue_cost_mb = (rss_idle_mb_3q - rss_idle_mb_1q) / 2, the memory of each queue added to a process; targets: rss_idle_mb_3q < ${TARGET_RSS_3Q_MB}, queue_cost_mb < ${TARGET_QUEUE_COST_MB}.`,
        `throughput_N: ${WORKFLOWS} canary workflows (workflow task + one activity that pings Postgres; in-process cache), ${CONCURRENCY} at a time from this process, on the ingestion queue served by N fresh \`worker --queues ingestion\` processes (each with its own database pool), a new task queue prefix per measurement, after an untimed warm-up of ${WARMUP_PER_PROCESS} canaries per process; workflows/s from the first start to the last result. Everything, the Temporal dev server and Postgres included, shares this machine's ${os.cpus().length} CPU(s).`,
        `Workers ran from ${workerBuild}.`,
        'machine.load_average_1m: other work on the machine during the run (above the CPU count, the throughput figures are noisy).',
      ],
      per_run: perRun,
    };
    const out = shownPath(await writeResult(options.resultsDir, 'workers.json', report));
    const summary = [
      `idle RSS: ${report.rss_idle_mb_1q} MiB (1 queue), ${report.rss_idle_mb_3q} MiB (3 queues), ${report.rss_isolated_mb} MiB (isolated child); ${queueCost} MiB per extra queue`,
      `targets: 3 queues under ${TARGET_RSS_3Q_MB} MB: ${report.targets.rss_3q_under_200mb ? 'yes' : 'NO'}; per queue under ${TARGET_QUEUE_COST_MB} MB: ${report.targets.queue_cost_under_40mb ? 'yes' : 'NO'}`,
      `throughput: ${report.throughput_1} / ${report.throughput_2} / ${report.throughput_4} workflows/s with 1 / 2 / 4 processes (median of ${RUNS})`,
      `wrote ${out} (${report.duration_s} s)`,
    ];
    printReport(options, summary, report);
  } finally {
    await cleanup();
  }
}
