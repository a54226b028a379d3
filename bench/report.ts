/**
 * `npm run bench` with no scenario: the benchmark report. Runs `floor` and each of sync, ingest,
 * deltas and workers `runs` times (default 3), each run a child process (`bench/run.ts <scenario>
 * --json`, so memory, dev servers and databases never carry over), rounds interleaved (floor, sync,
 * ingest, deltas, workers, then again). Every numeric figure of the report is the median over the
 * runs; a target counts as met when it was met in more than half of them. Writes
 * `<resultsDir>/latest.json` and, from it, `<docsDir>/BENCHMARKS.md` with PNG charts in
 * `<docsDir>/benchmarks/`. `--quick` runs every scenario at a tiny size (a test of the pipeline,
 * not a measurement).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Client as PgClient } from 'pg';
import { findTemporalBinary } from '../lib/tools';
import { machineInfo, median, PROJECT_ROOT, progress, round, shownPath, writeResult } from './lib';
import { writeDocs } from './report-docs';

export const REPORT_SCENARIOS = ['floor', 'sync', 'ingest', 'deltas', 'workers'] as const;
export type ReportScenario = (typeof REPORT_SCENARIOS)[number];

/** How each scenario is run in the report: flags and environment, full size and `--quick`. */
const PLANS: Record<ReportScenario, { full: { args: string[]; env: Record<string, string> }; quick: { args: string[]; env: Record<string, string> } }> = {
  floor: { full: { args: [], env: {} }, quick: { args: [], env: { BENCH_WORKFLOWS: '30', BENCH_CONCURRENCY: '10' } } },
  sync: { full: { args: [], env: {} }, quick: { args: ['--files', '50', '--changed', '5', '--latency-ms', '0'], env: {} } },
  ingest: { full: { args: [], env: {} }, quick: { args: ['--seconds', '2', '--step-seconds', '1', '--start-rate', '20', '--max-rate', '40'], env: {} } },
  deltas: { full: { args: [], env: {} }, quick: { args: ['--changes', '4000', '--latency-seconds', '2', '--repeat', '1000', '--bullmq-changes', '500'], env: {} } },
  workers: {
    full: { args: [], env: { BENCH_RUNS: '1' } },
    quick: { args: [], env: { BENCH_RUNS: '1', BENCH_WORKFLOWS: '20', BENCH_CONCURRENCY: '10', BENCH_SETTLE_MS: '1000' } },
  },
};

export interface ReportOptions {
  /** Runs of every scenario (>= 1; default 3). */
  runs: number;
  /** Tiny sizes: checks the pipeline in a few minutes; figures mean nothing. */
  quick: boolean;
  /** latest.json goes here, each run's own result file under runs/<n>/. */
  resultsDir: string;
  /** BENCHMARKS.md and benchmarks/*.png go here (BENCH_DOCS_DIR or --docs-dir; default docs/). */
  docsDir: string;
  /** Only these scenarios (default: all). */
  scenarios?: readonly ReportScenario[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ScenarioSummary {
  runs: number;
  /** Every numeric figure of the scenario's report, the median over the runs (nested as there). */
  median: { [key: string]: Json };
  /** Target name -> met in more than half of the runs. */
  targets: Record<string, boolean>;
  /** Target name -> "met in k/N runs". */
  targets_met_in: Record<string, string>;
  /** How the scenario was run. */
  args: string[];
  env: Record<string, string>;
  notes: string[];
  /** Runs whose child process failed after printing its report (its figures are kept). */
  exit_warnings?: string[];
}

export interface BenchReport {
  date: string;
  quick: boolean;
  runs: number;
  machine: ReturnType<typeof machineInfo> & { load_average_1m: { start: number; end: number } };
  versions: Record<string, string>;
  floor_ratio: number;
  duration_s: number;
  scenarios: Partial<Record<ReportScenario, ScenarioSummary>>;
}

/** Medians of every numeric leaf over `reports` (same shape); strings from the first; arrays dropped. */
export function medianOfReports(reports: Json[]): Json {
  const first = reports[0];
  if (typeof first === 'number') return round(median(reports.filter((r): r is number => typeof r === 'number')), 3);
  if (first && typeof first === 'object' && !Array.isArray(first)) {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(first)) {
      if (key === 'targets' || key === 'notes' || key === 'exit_warning' || key === 'machine' || key === 'per_run' || key === 'perRun') continue;
      const values = reports.map((r) => (r && typeof r === 'object' && !Array.isArray(r) ? r[key] : undefined)).filter((v): v is Json => v !== undefined);
      if (Array.isArray(values[0])) continue;
      out[key] = medianOfReports(values);
    }
    return out;
  }
  return first ?? null;
}

/** Folds the runs of one scenario into its summary. */
export function summarize(reports: Array<{ [key: string]: Json }>, plan: { args: string[]; env: Record<string, string> }): ScenarioSummary {
  const targets: Record<string, boolean> = {};
  const targets_met_in: Record<string, string> = {};
  for (const name of Object.keys((reports[0]?.targets as Record<string, boolean> | undefined) ?? {})) {
    const met = reports.filter((r) => (r.targets as Record<string, boolean> | undefined)?.[name] === true).length;
    targets[name] = met * 2 > reports.length;
    targets_met_in[name] = `${met}/${reports.length}`;
  }
  const notes = Array.isArray(reports[0]?.notes) ? reports[0].notes.filter((n): n is string => typeof n === 'string') : [];
  const exit_warnings = reports.flatMap((r, i) => (typeof r.exit_warning === 'string' ? [`run ${i + 1}: ${r.exit_warning}`] : []));
  return { runs: reports.length, median: medianOfReports(reports) as { [key: string]: Json }, targets, targets_met_in, args: plan.args, env: plan.env, notes, ...(exit_warnings.length ? { exit_warnings } : {}) };
}

/** Runs `bench/run.ts <scenario> --json` as a child process; the JSON on the last line of stdout. */
async function runChild(scenario: ReportScenario, args: string[], env: Record<string, string>): Promise<{ [key: string]: Json }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'run.ts'), scenario, ...args, '--json'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    for (const line of d.toString().split('\n').filter(Boolean)) progress(`  [${scenario}] ${line}`);
  });
  const stop = () => child.kill('SIGTERM');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  process.off('SIGINT', stop).off('SIGTERM', stop);
  const lines = stdout.trim().split('\n');
  let report: { [key: string]: Json } | undefined;
  try {
    const parsed = JSON.parse(lines[lines.length - 1]!) as { [key: string]: Json };
    if (parsed.scenario === scenario) report = parsed;
  } catch {
    // no report on stdout
  }
  if (!report) throw new Error(`bench ${scenario} exited ${code} without a report:\n${stderr.slice(-2000)}`);
  // A scenario that printed its report and then failed while tearing down still measured: keep the
  // figures, and say so in the report.
  if (code !== 0) {
    const line = stderr.split('\n').find((l) => /^\w*error:|Error:/.test(l.trim()))?.trim() ?? '';
    progress(`report: ${scenario} exited ${code} after printing its report (${line}); keeping its figures`);
    report.exit_warning = `exited ${code} after printing its report: ${line}`.slice(0, 300);
  }
  return report;
}

const exec = promisify(execFile);

/** Node, the @temporalio packages, the Temporal CLI (its dev server), Postgres and Redis. */
export async function collectVersions(): Promise<Record<string, string>> {
  const versions: Record<string, string> = { node: process.version };
  for (const pkg of ['client', 'worker', 'workflow', 'activity', 'common']) {
    const file = path.join(PROJECT_ROOT, 'node_modules', '@temporalio', pkg, 'package.json');
    versions[`@temporalio/${pkg}`] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  versions.temporal_cli = await exec(findTemporalBinary('temporal'), ['--version']).then((r) => r.stdout.trim(), (err: Error) => `unknown (${err.message.split('\n')[0]})`);
  const pg = new PgClient({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', application_name: 'durasync-bench' });
  pg.on('error', () => undefined);
  versions.postgres = await pg.connect().then(
    async () => (await pg.query<{ version: string }>('select version()')).rows[0]!.version,
    (err: Error) => `unknown (${err.message})`,
  );
  await pg.end().catch(() => undefined);
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  versions.redis = await redis.connect().then(
    async () => {
      const info = await redis.info('server');
      const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
      return `Redis ${field('redis_version') ?? '?'} (${field('os') ?? '?'})`;
    },
    (err: Error) => `unknown (${err.message})`,
  );
  redis.disconnect();
  return versions;
}

/** Runs the scenarios, writes latest.json and the docs; returns the report. */
export async function runReport(options: ReportOptions): Promise<BenchReport> {
  const began = Date.now();
  const scenarios = options.scenarios ?? REPORT_SCENARIOS;
  const load = { start: round(os.loadavg()[0]!, 2), end: 0 };
  const results: Partial<Record<ReportScenario, Array<{ [key: string]: Json }>>> = {};
  for (let r = 0; r < options.runs; r++) {
    for (const scenario of scenarios) {
      const plan = PLANS[scenario][options.quick ? 'quick' : 'full'];
      progress(`report: ${scenario}, run ${r + 1}/${options.runs}`);
      // The floor alternates which side runs first on its dev server, run by run.
      const order: Record<string, string> = scenario === 'floor' ? { BENCH_FLOOR_ORDER: r % 2 ? 'durasync-first' : 'floor-first' } : {};
      const report = await runChild(scenario, plan.args, { ...plan.env, ...order, BENCH_RESULTS_DIR: path.join(options.resultsDir, 'runs', String(r + 1)) });
      (results[scenario] ??= []).push(report);
    }
  }
  load.end = round(os.loadavg()[0]!, 2);
  const summaries: BenchReport['scenarios'] = {};
  for (const scenario of scenarios) summaries[scenario] = summarize(results[scenario]!, PLANS[scenario][options.quick ? 'quick' : 'full']);
  const report = await assembleReport(summaries, options, load, (Date.now() - began) / 1000);
  await writeReport(report, options);
  return report;
}

export async function assembleReport(scenarios: BenchReport['scenarios'], options: Pick<ReportOptions, 'quick' | 'runs'>, load: { start: number; end: number }, seconds: number): Promise<BenchReport> {
  return {
    date: new Date().toISOString(),
    quick: options.quick,
    runs: options.runs,
    machine: { ...machineInfo(), load_average_1m: load },
    versions: await collectVersions(),
    floor_ratio: typeof scenarios.floor?.median.floor_ratio === 'number' ? scenarios.floor.median.floor_ratio : NaN,
    duration_s: round(seconds),
    scenarios,
  };
}

/** latest.json, BENCHMARKS.md and the charts. */
export async function writeReport(report: BenchReport, options: Pick<ReportOptions, 'resultsDir' | 'docsDir'>): Promise<void> {
  const json = await writeResult(options.resultsDir, 'latest.json', report);
  const docs = await writeDocs(report, options.docsDir);
  progress(`wrote ${shownPath(json)}, ${docs.map(shownPath).join(', ')}`);
}
