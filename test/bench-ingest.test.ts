import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBenchJson } from './helpers/bench';

/**
 * `npm run bench -- ingest --json` at a tiny size, as a real child process (its own Temporal dev
 * server and scratch database on the test Postgres, `durasync serve` and `durasync worker --queues
 * ingestion` as its own child processes). The figures mean nothing at this size; what must hold at
 * any size: every figure is a number, every delivery answered 202 is stored, the CPU of each
 * process is measured, the report is written and no child process is left behind.
 */
const FIELDS = ['accept_p50_ms', 'accept_p99_ms', 'stored_p50_ms', 'stored_p99_ms', 'max_events_per_sec', 'lost'] as const;

/** Whether a process runs (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bench ingest scenario', () => {
  const resultsDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-bench-ingest-test-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

  it('reports accept and stored latency, the max sustained rate and nothing lost', async () => {
    const args = ['ingest', '--seconds', '2', '--step-seconds', '1', '--start-rate', '20', '--max-rate', '40'];
    const { report, stderr } = await runBenchJson<Record<string, unknown> & {
      targets: Record<string, unknown>;
      latency: {
        sent: number; accepted: number; stored: number; cpu: Record<string, number>;
        ingress_probe: { live: { n: number }; ready: { n: number } };
        worker_slots: { workflow_task: { slots: number; samples: number } };
      };
      max: { steps: Array<{ rate: number; sent: number; sustained: boolean }> };
    }>(args, { env: { BENCH_RESULTS_DIR: resultsDir }, timeoutMs: 80_000 });
    expect(report.scenario).toBe('ingest');
    for (const field of FIELDS) expect(typeof report[field]).toBe('number');
    for (const field of ['accept_p50_ms', 'accept_p99_ms', 'stored_p99_ms'] as const) expect(report[field]).toBeGreaterThan(0);
    expect(report.accept_p99_ms).toBeGreaterThanOrEqual(report.accept_p50_ms as number);
    expect(report).toMatchObject({ lost: 0, rejected: 0 });
    // Every delivery of the latency phase was answered 202 and stored.
    expect(report.latency).toMatchObject({ sent: 100, accepted: 100, stored: 100 });
    expect(report.max.steps[0]).toMatchObject({ rate: 20, sent: 20 });
    // The ingress and the worker are separate processes, each measured; the sender only sends.
    for (const who of ['bench', 'ingress', 'worker', 'temporal']) expect(report.latency.cpu[`${who}_ms_per_event`]).toBeGreaterThan(0);
    expect(report.latency.ingress_probe.live.n).toBeGreaterThan(0);
    expect(report.latency.ingress_probe.ready.n).toBeGreaterThan(0);
    expect(report.latency.worker_slots.workflow_task.slots).toBeGreaterThan(0);
    expect(report.latency.worker_slots.workflow_task.samples).toBeGreaterThan(0);
    const pids = /ready: ingress pid (\d+) .* worker pid (\d+)/.exec(stderr);
    expect(pids).not.toBeNull();
    for (const pid of pids!.slice(1)) expect(alive(Number(pid))).toBe(false);
    expect(Object.keys(report.targets).sort()).toEqual(['accept_p99_under_25ms', 'nothing_lost', 'stored_p50_under_150ms']);
    expect(report.targets.nothing_lost).toBe(true);
    for (const met of Object.values(report.targets)) expect(typeof met).toBe('boolean');
    expect(JSON.parse(readFileSync(path.join(resultsDir, 'ingest.json'), 'utf8'))).toEqual(report);
    expect(stderr).toContain('latency: accept p50');
  }, 90_000);
});
