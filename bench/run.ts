/**
 * `npm run bench`: measures what a durasync worker adds on top of Temporal, on this machine.
 *
 * Scenario `canary` (the only one until the job families land; issue 8 adds theirs and the report):
 * N canary workflows (one workflow task + one activity that pings the database and the cache),
 * started C at a time against one worker process built exactly as `durasync worker` builds it,
 * on a fresh Temporal dev server (in memory) and the embedded Postgres (or DATABASE_URL).
 * Reports throughput and start-to-close latency percentiles, the median of R runs, to
 * bench/results/latest.json.
 *
 * Knobs: BENCH_WORKFLOWS (default 500), BENCH_CONCURRENCY (50), BENCH_RUNS (3).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { MemoryCache } from '../lib/cache';
import { loadConfig } from '../lib/config';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres';
import { migrate } from '../lib/db/migrate';
import { createStore } from '../lib/db/store';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { freePort } from '../lib/net';
import { startDevServer } from '../workers/temporal-dev-server';
import { loadWorkflowBundle } from '../workers/bundle';
import { createQueueWorker } from '../workers/process';
import { installRuntime } from '../workers/runtime';
import type { canary } from '../workflows/canary';

const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function run(): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  installRuntime({ logger, sdkMetricsAddress: `127.0.0.1:${await freePort()}` });
  const server = await startDevServer({ port: await freePort(), uiPort: false });
  const pg = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const databaseUrl = process.env.DATABASE_URL ?? pg!.url;
  await migrate(databaseUrl);
  const config = loadConfig({ TEMPORAL_ADDRESS: server.address, DATABASE_URL: databaseUrl });
  const store = createStore({ databaseUrl });
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const worker = await createQueueWorker({
      connection: native,
      config,
      queue: 'sync',
      bundle: await loadWorkflowBundle(undefined, logger),
      metrics: createMetrics(),
      deps: { store, cache: new MemoryCache(), logger },
    });
    const runs = await worker.runUntil(async () => {
      const results = [];
      for (let r = 0; r < RUNS; r++) {
        const latencies: number[] = [];
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < WORKFLOWS) {
              const i = next++;
              const t0 = performance.now();
              await client.workflow.execute<typeof canary>('canary', { taskQueue: 'sync', workflowId: `bench:${r}:${i}` });
              latencies.push(performance.now() - t0);
            }
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        latencies.sort((a, b) => a - b);
        const result = {
          workflowsPerSecond: WORKFLOWS / seconds,
          p50Ms: percentile(latencies, 50),
          p95Ms: percentile(latencies, 95),
          p99Ms: percentile(latencies, 99),
        };
        process.stderr.write(`run ${r + 1}/${RUNS}: ${result.workflowsPerSecond.toFixed(1)} workflows/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms\n`);
        results.push(result);
      }
      return results;
    });
    const report = {
      scenario: 'canary',
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      database: pg ? 'embedded PGlite' : 'DATABASE_URL',
      workflows: WORKFLOWS,
      concurrency: CONCURRENCY,
      runs: RUNS,
      median: {
        workflowsPerSecond: median(runs.map((r) => r.workflowsPerSecond)),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p95Ms: median(runs.map((r) => r.p95Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
      },
      perRun: runs,
    };
    const out = path.join(__dirname, 'results', 'latest.json');
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(report.median)}\nwrote ${path.relative(process.cwd(), out)}\n`);
  } finally {
    await connection.close();
    await native.close();
    await store.close();
    await pg?.close();
    await server.stop();
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
