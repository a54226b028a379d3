import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assembleReport, REPORT_SCENARIOS, runReport, summarize, writeReport, type BenchReport } from '../bench/report';

/**
 * The benchmark report (`npm run bench` with no scenario). The whole report at quick size takes
 * several minutes on this machine, so the test runs its real pipeline for the `floor` scenario
 * (2 runs, each a child process with its own dev server) and feeds the report generator fabricated
 * runs of the other scenarios, shaped like their result files. The full quick report is run by hand
 * (`npm run bench -- --quick --runs 2`).
 */

/** The width/height in a PNG's IHDR chunk, after checking the signature. */
function pngSize(file: string): { width: number; height: number } {
  const buf = readFileSync(file);
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(buf.toString('ascii', 12, 16)).toBe('IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** Two runs of a scenario's result, the second one's figures `k` times the first's. */
function fabricated(): Record<string, Array<Record<string, unknown>>> {
  const sync = (k: number) => ({
    scenario: 'sync', files: 50, changed: 5, latency_ms: 0,
    cases: Object.fromEntries(['drive_initial', 'drive_incremental', 'github_initial', 'github_incremental'].map((c) => [c, { files_per_sec: 100 * k, github_calls_per_file: 0.02 * k, seconds: 0.5 }])),
    targets: { github_calls_per_file_initial_at_most_0_05: true },
    notes: ['fabricated'],
  });
  const ingest = (k: number) => ({ scenario: 'ingest', accept_p50_ms: 20 * k, accept_p99_ms: 40 * k, stored_p50_ms: 200 * k, stored_p99_ms: 900 * k, max_events_per_sec: 70 * k, lost: 0, targets: { accept_p99_under_25ms: k < 1, nothing_lost: true } });
  const deltas = (k: number) => ({ scenario: 'deltas', changes_per_sec: 30000 * k, bullmq_changes_per_sec: 2700 * k, compression_ratio: 90, flush_p99_ms: 220 * k, flush: { p50_ms: 95 * k }, lost: 0, bullmq_lost: 0, targets: { at_least_2x_bullmq: true } });
  const workers = (k: number) => ({ scenario: 'workers', rss_idle_mb_1q: 160 * k, rss_idle_mb_3q: 240 * k, rss_isolated_mb: 160, queue_cost_mb: 40 * k, throughput_1: 28, throughput_2: 21, throughput_4: 17, per_run: [{}], targets: { rss_3q_under_200mb: false } });
  return { sync: [sync(1), sync(1.5)], ingest: [ingest(1), ingest(1.5)], deltas: [deltas(1), deltas(1.5)], workers: [workers(1), workers(1.5)] };
}

describe('bench report', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-report-'));
  const resultsDir = path.join(dir, 'results');
  const docsDir = path.join(dir, 'docs');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the floor twice in child processes and reports floor_ratio as the median of both', async () => {
    const report = await runReport({ runs: 2, quick: true, resultsDir, docsDir, scenarios: ['floor'] });
    const floor = report.scenarios.floor!;
    expect(floor.runs).toBe(2);
    const perRun = [1, 2].map((n) => JSON.parse(readFileSync(path.join(resultsDir, 'runs', String(n), 'floor.json'), 'utf8')) as { floor_ratio: number; notes: string[] });
    // The side that runs second on the shared dev server alternates from run to run.
    expect(perRun[0]!.notes[0]).toContain('the floor first');
    expect(perRun[1]!.notes[0]).toContain('durasync first');
    expect(report.floor_ratio).toBeCloseTo((perRun[0]!.floor_ratio + perRun[1]!.floor_ratio) / 2, 2);
    expect(report.floor_ratio).toBeGreaterThan(0);
    expect(floor.median).toMatchObject({ workflows: 30, concurrency: 10, activities: 1 });
    expect(floor.median.floor).toMatchObject({ workflows_per_sec: expect.any(Number) as number });
    expect(floor.median.durasync).toMatchObject({ workflows_per_sec: expect.any(Number) as number });
    expect(floor.targets_met_in.floor_ratio_at_least_0_8).toMatch(/^[012]\/2$/);
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'latest.json'), 'utf8'))).toMatchObject({ floor_ratio: report.floor_ratio, runs: 2, quick: true });
  }, 120_000);

  it('writes latest.json, BENCHMARKS.md and PNG charts covering every scenario and the machine', async () => {
    const floor = (JSON.parse(readFileSync(path.join(resultsDir, 'latest.json'), 'utf8')) as BenchReport).scenarios.floor!;
    const runs = fabricated();
    const scenarios: BenchReport['scenarios'] = { floor };
    for (const name of ['sync', 'ingest', 'deltas', 'workers'] as const) scenarios[name] = summarize(runs[name] as never, { args: [], env: {} });
    const report = await assembleReport(scenarios, { quick: true, runs: 2 }, { start: 1, end: 2 }, 60);
    await writeReport(report, { resultsDir, docsDir });

    const latest = JSON.parse(readFileSync(path.join(resultsDir, 'latest.json'), 'utf8')) as BenchReport;
    expect(typeof latest.floor_ratio).toBe('number');
    expect(latest.floor_ratio).toBeGreaterThan(0);
    expect(Object.keys(latest.scenarios).sort()).toEqual([...REPORT_SCENARIOS].sort());
    for (const summary of Object.values(latest.scenarios)) {
      expect(summary.runs).toBeGreaterThanOrEqual(2);
      expect(Object.keys(summary.median).length).toBeGreaterThan(0);
    }
    // Medians of two runs are their means; a target holds when met in more than half the runs.
    expect(latest.scenarios.ingest!.median).toMatchObject({ max_events_per_sec: 87.5, accept_p99_ms: 50 });
    expect(latest.scenarios.sync!.median).toMatchObject({ cases: { drive_initial: { files_per_sec: 125 } } });
    expect(latest.scenarios.deltas!.median).toMatchObject({ flush: { p50_ms: 118.75 } });
    expect(latest.scenarios.workers!.median).not.toHaveProperty('per_run');
    expect(latest.scenarios.ingest!.targets).toEqual({ accept_p99_under_25ms: false, nothing_lost: true });
    expect(latest.scenarios.ingest!.targets_met_in).toEqual({ accept_p99_under_25ms: '0/2', nothing_lost: '2/2' });
    expect(latest.versions).toMatchObject({ node: process.version, '@temporalio/client': expect.stringMatching(/^\d+\.\d+\.\d+/) as string });
    expect(latest.versions.temporal_cli).toMatch(/temporal version/);
    expect(latest.versions.postgres).toMatch(/^PostgreSQL \d+/);
    expect(latest.versions.redis).toMatch(/^Redis \d+/);

    const md = readFileSync(path.join(docsDir, 'BENCHMARKS.md'), 'utf8');
    for (const name of REPORT_SCENARIOS) expect(md).toContain(`(\`${name}\`)`);
    expect(md).toContain(latest.machine.cpuModel!);
    expect(md).toContain('Median of 2 runs.');
    expect(md).toContain('Quick run');
    expect(md).toContain('| `accept_p99_under_25ms` | **missed** | 0/2 runs |');
    expect(md).toContain('87.5');

    expect(readdirSync(path.join(docsDir, 'benchmarks')).sort()).toEqual(['latency.png', 'throughput.png']);
    for (const png of ['latency.png', 'throughput.png']) {
      const { width, height } = pngSize(path.join(docsDir, 'benchmarks', png));
      expect(width).toBe(960);
      expect(height).toBeGreaterThan(400);
      expect(height).toBeLessThan(1200);
    }
  }, 30_000);
});
