/**
 * Scenario `floor`: durasync's own overhead as a ratio to Temporal itself. On ONE Temporal dev
 * server, in this process, one after the other:
 * - the floor: W workflows of bench/scenarios/floor-workflow.ts, each running K no-op activities, on
 *   a plain `Worker` (no interceptors, search attributes or codec);
 * - durasync: W canary workflows (workflows/canary.ts: one activity probing Postgres and Redis) on a
 *   worker built as `durasync worker` builds it (createQueueWorker: interceptors, metrics, payload
 *   codec, the `sync` queue's options), against a scratch database and the machine's Redis.
 * Both start C workflows at a time and wait for each result. `floor_ratio` = durasync workflows/s ÷
 * floor workflows/s at K = 1 (target >= 0.8) -> bench/results/floor.json.
 *
 * Knobs: BENCH_WORKFLOWS (W, default 300), BENCH_CONCURRENCY (C, 50), BENCH_ACTIVITIES (K, 1),
 * BENCH_RUNS (1: bench/report.ts repeats the whole scenario), BENCH_FLOOR_ORDER (floor-first or
 * durasync-first: which one runs first in the first run; they alternate after), REDIS_URL
 * (redis://127.0.0.1:6379).
 */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { RedisCache } from '../../lib/cache';
import { loadConfig } from '../../lib/config';
import { createStore } from '../../lib/db/store';
import { createMetrics } from '../../lib/metrics';
import { freePort } from '../../lib/net';
import { loadWorkflowBundle } from '../../workers/bundle';
import { createQueueWorker } from '../../workers/process';
import { installRuntime } from '../../workers/runtime';
import type { canary } from '../../workflows/canary';
import { DurasyncKind } from '../../workflows/search-attributes';
import { benchLogger, cleanupOnExit, envInt, machineInfo, median, percentile, printReport, progress, round, scratchDatabase, shownPath, startBenchTemporal, writeResult, type ScenarioOptions } from '../lib';
import type { FloorActivities, floorWorkflow } from './floor-workflow';

export interface Throughput {
  workflows_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  seconds: number;
}

/** Runs `total` calls of `one(i)`, `concurrency` at a time; throughput and latency percentiles. */
export async function closedLoop(total: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<Throughput> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await one(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { workflows_per_sec: round(total / seconds, 2), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), seconds: round(seconds, 2) };
}

export async function runFloor(options: ScenarioOptions): Promise<void> {
  const WORKFLOWS = envInt('BENCH_WORKFLOWS', 300);
  const CONCURRENCY = envInt('BENCH_CONCURRENCY', 50);
  const ACTIVITIES = envInt('BENCH_ACTIVITIES', 1);
  const RUNS = envInt('BENCH_RUNS', 1);
  const WARMUP = Math.min(10, WORKFLOWS);
  const DURASYNC_FIRST = process.env.BENCH_FLOOR_ORDER === 'durasync-first';
  if (process.env.BENCH_FLOOR_ORDER && !['floor-first', 'durasync-first'].includes(process.env.BENCH_FLOOR_ORDER)) throw new Error(`BENCH_FLOOR_ORDER: expected floor-first or durasync-first, got "${process.env.BENCH_FLOOR_ORDER}"`);
  const began = Date.now();

  const logger = benchLogger();
  installRuntime({ logger, sdkMetricsAddress: `127.0.0.1:${await freePort()}` });
  const server = await startBenchTemporal();
  const opened: Array<() => Promise<unknown>> = [() => server.stop()];
  const cleanup = cleanupOnExit(async () => {
    for (const close of opened.reverse()) await close().catch(() => undefined);
  });
  try {
    const db = await scratchDatabase();
    opened.push(() => db.close());
    const config = loadConfig({ TEMPORAL_ADDRESS: server.address, DATABASE_URL: db.url });
    const store = createStore({ databaseUrl: db.url });
    opened.push(() => store.close());
    const cache = new RedisCache(process.env.REDIS_URL || 'redis://127.0.0.1:6379', `durasync-bench-floor:${process.pid}:`, logger);
    opened.push(() => cache.close());
    const native = await NativeConnection.connect({ address: server.address });
    opened.push(() => native.close());
    const connection = await Connection.connect({ address: server.address });
    opened.push(() => connection.close());
    const client = new Client({ connection });

    const floorBundle: WorkflowBundleWithSourceMap = await bundleWorkflowCode({ workflowsPath: require.resolve('./floor-workflow'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
    const durasyncBundle = await loadWorkflowBundle(undefined, logger);
    const floorActivities: FloorActivities = { noop: async () => undefined };

    const measureFloor = async (r: number): Promise<Throughput> => {
      const taskQueue = `bench-floor-${r}`;
      const worker = await Worker.create({ connection: native, taskQueue, workflowBundle: floorBundle, activities: floorActivities });
      const start = (id: string) => client.workflow.execute<typeof floorWorkflow>('floorWorkflow', { taskQueue, workflowId: id, args: [ACTIVITIES] });
      return worker.runUntil(async () => {
        await closedLoop(WARMUP, CONCURRENCY, (i) => start(`floor-warmup:${r}:${i}`));
        return closedLoop(WORKFLOWS, CONCURRENCY, (i) => start(`floor:${r}:${i}`));
      });
    };
    const measureDurasync = async (r: number): Promise<Throughput> => {
      const worker = await createQueueWorker({ connection: native, config, queue: 'sync', bundle: durasyncBundle, metrics: createMetrics(), deps: { store, cache, logger } });
      const start = (id: string) => client.workflow.execute<typeof canary>('canary', { taskQueue: worker.options.taskQueue, workflowId: id, typedSearchAttributes: [{ key: DurasyncKind, value: 'canary' }] });
      return worker.runUntil(async () => {
        await closedLoop(WARMUP, CONCURRENCY, (i) => start(`canary-warmup:${r}:${i}`));
        return closedLoop(WORKFLOWS, CONCURRENCY, (i) => start(`canary:${r}:${i}`));
      });
    };

    const perRun: Array<{ floor: Throughput; durasync: Throughput; floor_ratio: number }> = [];
    for (let r = 0; r < RUNS; r++) {
      // Whichever goes second finds the server holding the first one's histories: alternate.
      const floorFirst = (r % 2 === 0) === !DURASYNC_FIRST;
      const first = floorFirst ? await measureFloor(r) : await measureDurasync(r);
      const second = floorFirst ? await measureDurasync(r) : await measureFloor(r);
      const [floor, durasync] = floorFirst ? [first, second] : [second, first];
      progress(`floor: ${floor.workflows_per_sec} workflows/s (${ACTIVITIES} no-op activit${ACTIVITIES === 1 ? 'y' : 'ies'} each), p50 ${floor.p50_ms} ms, p99 ${floor.p99_ms} ms${floorFirst ? ', ran first' : ''}`);
      progress(`durasync canary: ${durasync.workflows_per_sec} workflows/s, p50 ${durasync.p50_ms} ms, p99 ${durasync.p99_ms} ms${floorFirst ? '' : ', ran first'}`);
      perRun.push({ floor, durasync, floor_ratio: round(durasync.workflows_per_sec / floor.workflows_per_sec, 3) });
    }
    const pick = (side: 'floor' | 'durasync'): Throughput => ({
      workflows_per_sec: median(perRun.map((p) => p[side].workflows_per_sec)),
      p50_ms: median(perRun.map((p) => p[side].p50_ms)),
      p99_ms: median(perRun.map((p) => p[side].p99_ms)),
      seconds: median(perRun.map((p) => p[side].seconds)),
    });
    const floor_ratio = median(perRun.map((p) => p.floor_ratio));
    const report = {
      scenario: 'floor',
      floor_ratio,
      floor: pick('floor'),
      durasync: pick('durasync'),
      targets: { floor_ratio_at_least_0_8: floor_ratio >= 0.8 },
      workflows: WORKFLOWS,
      concurrency: CONCURRENCY,
      activities: ACTIVITIES,
      runs: RUNS,
      per_run: perRun,
      machine: machineInfo(),
      database: db.kind,
      date: new Date().toISOString(),
      duration_s: round((Date.now() - began) / 1000),
      notes: [
        `One Temporal dev server, one process: the floor (a plain Worker, floorWorkflow with ${ACTIVITIES} no-op activit${ACTIVITIES === 1 ? 'y' : 'ies'}) and durasync (the canary on a worker built as \`durasync worker\` builds it: interceptors, metrics, codec, search attributes, a Postgres + Redis probe), each ${WORKFLOWS} workflows ${CONCURRENCY} at a time after ${WARMUP} warm-up workflows, on its own task queue; ${DURASYNC_FIRST ? 'durasync' : 'the floor'} first in the first run, then alternating.`,
        'floor_ratio = durasync workflows/s ÷ floor workflows/s; target >= 0.8.',
      ],
    };
    const out = shownPath(await writeResult(options.resultsDir, 'floor.json', report));
    printReport(options, [`floor_ratio: ${floor_ratio} (durasync ${report.durasync.workflows_per_sec} / floor ${report.floor.workflows_per_sec} workflows/s)`, `wrote ${out}`], report);
  } finally {
    await cleanup();
  }
}
