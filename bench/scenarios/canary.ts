/**
 * Scenario `canary`: N canary workflows (one workflow task + one activity that pings
 * the database and the cache), started C at a time against one worker built exactly as
 * `durasync worker` builds it (in this process), on a fresh Temporal dev server (in memory) and the
 * embedded Postgres (or DATABASE_URL). Reports throughput and start-to-close latency percentiles,
 * the median of R runs, to bench/results/canary.json (latest.json is the whole report: bench/report.ts).
 *
 * Knobs: BENCH_WORKFLOWS (default 500), BENCH_CONCURRENCY (50), BENCH_RUNS (3).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { MemoryCache } from '../../lib/cache';
import { loadConfig } from '../../lib/config';
import { createStore } from '../../lib/db/store';
import { createMetrics } from '../../lib/metrics';
import { freePort } from '../../lib/net';
import { loadWorkflowBundle } from '../../workers/bundle';
import { createQueueWorker } from '../../workers/process';
import { installRuntime } from '../../workers/runtime';
import type { canary } from '../../workflows/canary';
import { benchLogger, envInt, machineInfo, median, percentile, progress, shownPath, startBenchTemporal, urlOrEmbeddedDatabase, writeResult, type ScenarioOptions } from '../lib';

export async function runCanary(options: ScenarioOptions): Promise<void> {
  const WORKFLOWS = envInt('BENCH_WORKFLOWS', 500);
  const CONCURRENCY = envInt('BENCH_CONCURRENCY', 50);
  const RUNS = envInt('BENCH_RUNS', 3);

  const logger = benchLogger();
  installRuntime({ logger, sdkMetricsAddress: `127.0.0.1:${await freePort()}` });
  const server = await startBenchTemporal();
  const db = await urlOrEmbeddedDatabase().catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  const config = loadConfig({ TEMPORAL_ADDRESS: server.address, DATABASE_URL: db.url });
  const store = createStore({ databaseUrl: db.url });
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
        progress(`run ${r + 1}/${RUNS}: ${result.workflowsPerSecond.toFixed(1)} workflows/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`);
        results.push(result);
      }
      return results;
    });
    const report = {
      scenario: 'canary',
      date: new Date().toISOString(),
      machine: machineInfo(),
      database: db.kind,
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
    const out = shownPath(await writeResult(options.resultsDir, 'canary.json', report));
    if (options.json) {
      progress(`wrote ${out}`);
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(`${JSON.stringify(report.median)}\nwrote ${out}\n`);
    }
  } finally {
    await connection.close();
    await native.close();
    await store.close();
    await db.close();
    await server.stop();
  }
}
