import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `npm run bench -- ingest --json` at a tiny size, as a real child process (its own Temporal dev
 * server and scratch database on the test Postgres, the ingress server, an ingestion worker). The
 * figures mean nothing at this size; what must hold at any size: every figure is a number, every
 * delivery answered 202 is stored, and the report is written.
 */
const ROOT = path.resolve(__dirname, '..');
const FIELDS = ['accept_p50_ms', 'accept_p99_ms', 'stored_p50_ms', 'stored_p99_ms', 'max_events_per_sec', 'lost'] as const;

describe('bench ingest scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-ingest-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('reports accept and stored latency, the max sustained rate and nothing lost', async () => {
    const args = ['ingest', '--seconds', '2', '--step-seconds', '1', '--start-rate', '20', '--max-rate', '40', '--json'];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGTERM lets the bench stop its worker and dev server and drop its database.
    const timer = setTimeout(() => child.kill('SIGTERM'), 80_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);

    if (code !== 0) throw new Error(`bench exited ${code}:\n${stderr.slice(-3000)}`);
    const lines = stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> & {
      targets: Record<string, unknown>;
      latency: { sent: number; accepted: number; stored: number };
      max: { steps: Array<{ rate: number; sent: number; sustained: boolean }> };
    };
    expect(report.scenario).toBe('ingest');
    for (const field of FIELDS) expect(typeof report[field]).toBe('number');
    for (const field of ['accept_p50_ms', 'accept_p99_ms', 'stored_p99_ms'] as const) expect(report[field]).toBeGreaterThan(0);
    expect(report.accept_p99_ms).toBeGreaterThanOrEqual(report.accept_p50_ms as number);
    expect(report).toMatchObject({ lost: 0, rejected: 0 });
    // Every delivery of the latency phase was answered 202 and stored.
    expect(report.latency).toMatchObject({ sent: 100, accepted: 100, stored: 100 });
    expect(report.max.steps[0]).toMatchObject({ rate: 20, sent: 20 });
    expect(Object.keys(report.targets).sort()).toEqual(['accept_p99_under_25ms', 'nothing_lost', 'stored_p50_under_150ms']);
    expect(report.targets.nothing_lost).toBe(true);
    for (const met of Object.values(report.targets)) expect(typeof met).toBe('boolean');
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'ingest.json'), 'utf8'))).toEqual(report);
    expect(stderr).toContain('latency: accept p50');
  }, 90_000);
});
