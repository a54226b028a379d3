import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBenchJson } from './helpers/bench';

/**
 * `npm run bench -- workers --json` in a tiny configuration, as a real child process: it starts its
 * own Temporal dev server, a scratch database on the test Postgres, and real worker processes.
 * The figures are meaningless at this size; the test checks the contract of the report.
 */
const FIGURES = ['rss_idle_mb_1q', 'rss_idle_mb_3q', 'rss_isolated_mb', 'throughput_1', 'throughput_2', 'throughput_4'] as const;

describe('bench workers scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('prints one JSON report as the last line of stdout with every figure and the targets', async () => {
    const { report, stderr } = await runBenchJson<Record<string, unknown>>(['workers'], { env: {
        BENCH_WORKFLOWS: '20',
        BENCH_CONCURRENCY: '10',
        BENCH_RUNS: '1',
        BENCH_SETTLE_MS: '1000',
        BENCH_RESULTS_DIR: resultsDir,
      }, timeoutMs: 75_000 });
    expect(report.scenario).toBe('workers');
    for (const figure of FIGURES) {
      expect(typeof report[figure]).toBe('number');
      expect(report[figure]).toBeGreaterThan(0);
    }
    const targets = report.targets as Record<string, unknown>;
    expect(Object.keys(targets).sort()).toEqual(['queue_cost_under_40mb', 'rss_3q_under_200mb']);
    for (const met of Object.values(targets)) expect(typeof met).toBe('boolean');
    expect(report).toMatchObject({ runs: 1, workflows: 20 });
    expect(Array.isArray(report.notes)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'workers.json'), 'utf8'))).toEqual(report);
    expect(stderr).toContain('throughput:');
  }, 90_000);
});

/**
 * `npm run bench -- sync --files 50 --changed 5 --latency-ms 0 --json`, as a real child process (its
 * own Temporal dev server, a scratch database on the test Postgres, the Drive and GitHub emulators).
 * Checks the report's shape and what must hold at any size: one commit for the initial Drive ->
 * GitHub sync, a handful of GitHub calls for it, every file on the other side after each run.
 */
describe('bench sync scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-sync-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  const FIELDS = ['files', 'seconds', 'files_per_sec', 'github_calls_per_file', 'drive_calls_per_file', 'commits', 'present', 'missing'] as const;
  type Case = Record<(typeof FIELDS)[number], number> & { to_github: { written: number }; to_drive: { written: number } };

  it('syncs 50 files both ways and reports files/s, calls per file and commits per case', async () => {
    const { report, stderr } = await runBenchJson<{ cases: Record<string, Case>; targets: Record<string, unknown> } & Record<string, unknown>>(['sync', '--files', '50', '--changed', '5', '--latency-ms', '0'], { env: { BENCH_RESULTS_DIR: resultsDir }, timeoutMs: 50_000 });
    expect(report).toMatchObject({ scenario: 'sync', files: 50, changed: 5, latency_ms: 0, direction: 'both' });
    expect(Object.keys(report.cases).sort()).toEqual(['drive_incremental', 'drive_initial', 'github_incremental', 'github_initial']);
    for (const c of Object.values(report.cases)) {
      for (const field of FIELDS) expect(typeof c[field]).toBe('number');
      expect(c.seconds).toBeGreaterThan(0);
      expect(c.files_per_sec).toBeGreaterThan(0);
      // Every file of the source side is on the other side, with its content, after every run.
      expect(c).toMatchObject({ present: 50, missing: 0 });
    }
    const { drive_initial: initial, drive_incremental: incremental, github_initial: fromGithub, github_incremental: fromGithubAgain } = report.cases;
    expect(initial).toMatchObject({ files: 50, commits: 1, to_github: { written: 50 } });
    expect(initial!.github_calls_per_file).toBeLessThan(0.5);
    expect(initial!.drive_calls_per_file).toBeGreaterThanOrEqual(1); // each file is downloaded
    expect(incremental).toMatchObject({ files: 5, commits: 1, to_github: { written: 5 } });
    expect(fromGithub).toMatchObject({ files: 50, commits: 0, to_drive: { written: 50 } });
    expect(fromGithubAgain).toMatchObject({ files: 5, commits: 0, to_drive: { written: 5 } });
    expect(Object.keys(report.targets)).toEqual(['github_calls_per_file_initial_at_most_0_05']);
    expect(typeof report.targets.github_calls_per_file_initial_at_most_0_05).toBe('boolean');
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'sync.json'), 'utf8'))).toEqual(report);
    expect(stderr).toContain('drive_initial: 50 files');
  }, 60_000);
});

/**
 * `npm run bench -- deltas --json` at a tiny size, as a real child process (its own Temporal dev
 * server and scratch database, a branch-delta worker, a BullMQ queue on the test Redis). The
 * figures mean nothing at this size; what must hold at any size: nothing lost on either side,
 * every change in a committed delta, compression on repeated updates, a latency per batch.
 */
describe('bench deltas scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-deltas-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('reports changes/s, BullMQ changes/s, compression, flush p99 and nothing lost', async () => {
    const args = ['deltas', '--changes', '4000', '--latency-seconds', '2', '--repeat', '1000', '--bullmq-changes', '500'];
    const { report, stderr } = await runBenchJson<Record<string, unknown> & {
      targets: Record<string, unknown>;
      flush: { batches: number; batches_committed: number; p50_ms: number };
      compression: { changes: number; rawBytes: number; storedBytes: number };
    }>(args, { env: { BENCH_RESULTS_DIR: resultsDir }, timeoutMs: 75_000 });
    expect(report.scenario).toBe('deltas');
    for (const field of ['changes_per_sec', 'bullmq_changes_per_sec', 'compression_ratio', 'flush_p99_ms']) {
      expect(typeof report[field]).toBe('number');
      expect(report[field]).toBeGreaterThan(0);
    }
    expect(report).toMatchObject({ lost: 0, bullmq_lost: 0, sent: 4000 + 1000 + 2000, committed: 4000 + 1000 + 2000 });
    expect(report.compression_ratio).toBeGreaterThan(1);
    expect(report.compression.changes).toBe(1000);
    expect(report.compression.rawBytes).toBeGreaterThan(report.compression.storedBytes);
    // Every paced batch was committed, and its latency is a real duration.
    expect(report.flush.batches_committed).toBe(report.flush.batches);
    expect(report.flush_p99_ms).toBeGreaterThanOrEqual(report.flush.p50_ms);
    expect(Object.keys(report.targets).sort()).toEqual(['at_least_2x_bullmq', 'changes_per_sec_at_least_10000', 'compression_at_least_20x', 'nothing_lost']);
    expect(report.targets.nothing_lost).toBe(true);
    for (const met of Object.values(report.targets)) expect(typeof met).toBe('boolean');
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'deltas.json'), 'utf8'))).toEqual(report);
    expect(stderr).toContain('throughput:');
  }, 90_000);
});
