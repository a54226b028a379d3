import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `npm run bench -- workers --json` in a tiny configuration, as a real child process: it starts its
 * own Temporal dev server, a scratch database on the test Postgres, and real worker processes.
 * The figures are meaningless at this size; the test checks the contract of the report.
 */
const ROOT = path.resolve(__dirname, '..');
const FIGURES = ['rss_idle_mb_1q', 'rss_idle_mb_3q', 'rss_isolated_mb', 'throughput_1', 'throughput_2', 'throughput_4'] as const;

describe('bench workers scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('prints one JSON report as the last line of stdout with every figure and the targets', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), 'workers', '--json'], {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_WORKFLOWS: '20',
        BENCH_CONCURRENCY: '10',
        BENCH_RUNS: '1',
        BENCH_SETTLE_MS: '1000',
        BENCH_RESULTS_DIR: resultsDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGTERM lets the bench stop its workers, its dev server and drop its database.
    const timer = setTimeout(() => child.kill('SIGTERM'), 75_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);

    if (code !== 0) throw new Error(`bench exited ${code}:\n${stderr.slice(-3000)}`);
    const lines = stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
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
