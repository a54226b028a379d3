/**
 * `npm run bench [-- <scenario>] [--json]`: measures durasync on this machine.
 *
 * With no scenario: the report (bench/report.ts): `floor`, sync, ingest, deltas and workers, each
 * `--runs N` times (3) in child processes, the median of every figure -> bench/results/latest.json,
 * docs/BENCHMARKS.md and docs/benchmarks/*.png. `--quick`: tiny sizes (a few minutes, figures
 * meaningless); `--docs-dir DIR` (or BENCH_DOCS_DIR) moves the docs; `--docs-only` regenerates the docs
 * from the latest.json already there.
 *
 * Scenarios (bench/scenarios/):
 * - `floor`: durasync's canary vs bare Temporal workflows with no-op activities on one dev server:
 *   `floor_ratio` -> bench/results/floor.json;
 * - `canary`: canary throughput and latency against one in-process worker
 *   -> bench/results/canary.json;
 * - `workers`: idle memory of `durasync worker` processes (1 queue, 3 queues, an isolated-mode
 *   child) and canary throughput with 1, 2 and 4 worker processes -> bench/results/workers.json;
 * - `sync`: syncLink runs against the Drive and GitHub emulators (initial and incremental, both
 *   ways), files/s and provider calls per file -> bench/results/sync.json. Flags: `--files N`,
 *   `--changed N`, `--latency-ms N`.
 * - `deltas`: branch deltas end to end (accept -> durable delta and metadata): changes/s, compression on
 *   repeated updates, flush p99 at 1,000 changes/s, and BullMQ one job per change on the same Redis
 *   -> bench/results/deltas.json. Flags: see bench/scenarios/deltas.ts.
 * - `ingest`: GitHub webhooks through the real ingress and an ingestion worker: accept and
 *   accept-to-stored p50/p99 at 50 events/s, the highest sustained events/s with nothing lost
 *   -> bench/results/ingest.json. Flags: `--seconds N`, `--step-seconds N`, `--start-rate N`, `--max-rate N`.
 *
 * `--json` prints exactly one JSON object (the report) as the last line of stdout; progress always
 * goes to stderr. Knobs are environment variables (BENCH_WORKFLOWS, BENCH_CONCURRENCY, BENCH_RUNS,
 * ...; see each scenario); BENCH_RESULTS_DIR moves the result files (default bench/results).
 */
import path from 'node:path';
import type { ScenarioOptions } from './lib';
import type { BenchReport } from './report';

interface Scenario {
  about: string;
  /** Value flags the scenario takes (`--name N` or `--name=N`), without the dashes. */
  flags?: readonly string[];
  run: (options: ScenarioOptions, flags: Record<string, string>) => Promise<void>;
}

const SCENARIOS: Record<string, Scenario> = {
  floor: {
    about: 'durasync canary vs bare Temporal workflows with no-op activities, same server: floor_ratio (bench/results/floor.json)',
    run: async (options) => (await import('./scenarios/floor')).runFloor(options),
  },
  canary: {
    about: 'canary throughput and latency against one in-process worker (bench/results/canary.json)',
    run: async (options) => (await import('./scenarios/canary')).runCanary(options),
  },
  workers: {
    about: 'idle RSS of worker processes and throughput with 1, 2 and 4 of them (bench/results/workers.json)',
    run: async (options) => (await import('./scenarios/workers')).runWorkers(options),
  },
  sync: {
    about: 'syncLink against the Drive/GitHub emulators: files/s, API calls per file (bench/results/sync.json)',
    flags: ['files', 'changed', 'latency-ms'],
    run: async (options, flags) => (await import('./scenarios/sync')).runSync(options, flags),
  },
  deltas: {
    about: 'branch deltas end to end: changes/s, compression, flush p99, vs BullMQ one job per change (bench/results/deltas.json)',
    flags: ['changes', 'batch', 'producers', 'branches', 'rate', 'latency-seconds', 'docs', 'repeat', 'bullmq-changes', 'bullmq-concurrency'],
    run: async (options, flags) => (await import('./scenarios/deltas')).runDeltas(options, flags),
  },
  ingest: {
    about: 'webhooks through the ingress to stored events: accept and stored p50/p99 at 50/s, max events/s (bench/results/ingest.json)',
    flags: ['seconds', 'step-seconds', 'start-rate', 'max-rate'],
    run: async (options, flags) => (await import('./scenarios/ingest')).runIngest(options, flags),
  },
};

/** Flags of the report (no scenario named). */
const REPORT_FLAGS = ['runs', 'docs-dir'] as const;

const USAGE = `usage: bench/run.ts [--runs N] [--quick] [--docs-dir DIR] [--docs-only]   the report: every scenario N times (3), medians
       bench/run.ts <scenario> [--json] [scenario flags]\n${Object.entries(SCENARIOS)
  .map(([name, { about }]) => `  ${name.padEnd(8)} ${about}`)
  .join('\n')}\n  --json   print the report as one JSON object on the last line of stdout\n  sync: --files N (1000), --changed N (100), --latency-ms N (30)\n  deltas: --changes N (200000), --batch N (1000), --producers N (4), --branches N (4), --rate N (1000), --latency-seconds N (20),\n          --docs N (50), --repeat N (20000), --bullmq-changes N (min(changes, 50000)), --bullmq-concurrency N (50)\n  ingest: --seconds N (20), --step-seconds N (5), --start-rate N (25), --max-rate N (3200)\n`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The scenario is the first word that is neither a flag nor a flag's value.
  const name = argv.find((a, i) => !a.startsWith('-') && !(i > 0 && /^--[\w-]+$/.test(argv[i - 1]!) && !['--json', '--quick'].includes(argv[i - 1]!)));
  const resultsDir = path.resolve(process.env.BENCH_RESULTS_DIR || path.join(__dirname, 'results'));
  if (name === undefined) return runReportCommand(argv, resultsDir);
  const scenario = SCENARIOS[name];
  let json = false;
  let error: string | undefined;
  const values: Record<string, string> = {};
  let seenName = false;
  for (let i = 0; i < argv.length && !error; i++) {
    const arg = argv[i]!;
    if (arg === '--json') json = true;
    else if (arg.startsWith('--') && scenario?.flags?.includes(arg.slice(2).split('=')[0]!)) {
      const [flag, inline] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined];
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('-')) error = `option --${flag} needs a value`;
      else values[flag] = value;
    } else if (arg.startsWith('-')) error = `unknown option ${arg}`;
    else if (!seenName) seenName = true;
    else error = 'one scenario at a time';
  }
  if (!scenario) error ??= `unknown scenario "${name}"`;
  if (error || !scenario) {
    process.stderr.write(`bench: ${error}\n${USAGE}`);
    return 2;
  }
  await scenario.run({ json, resultsDir }, values);
  return 0;
}

async function runReportCommand(argv: string[], resultsDir: string): Promise<number> {
  const values: Record<string, string> = {};
  let quick = false;
  let docsOnly = false;
  let error: string | undefined;
  for (let i = 0; i < argv.length && !error; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.replace(/^--/, '').split(/=(.*)/s) as [string, string | undefined];
    if (arg === '--quick') quick = true;
    else if (arg === '--docs-only') docsOnly = true;
    else if (arg.startsWith('--') && (REPORT_FLAGS as readonly string[]).includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('-')) error = `option --${flag} needs a value`;
      else values[flag] = value;
    } else error = arg === '--json' ? '--json needs a scenario (the report is bench/results/latest.json)' : `unknown option ${arg}`;
  }
  const runs = values.runs ?? '3';
  if (!error && (!/^\d+$/.test(runs) || Number(runs) < 1)) error = `--runs: expected a whole number >= 1, got "${runs}"`;
  if (error) {
    process.stderr.write(`bench: ${error}\n${USAGE}`);
    return 2;
  }
  const docsDir = path.resolve(values['docs-dir'] ?? (process.env.BENCH_DOCS_DIR || path.join(__dirname, '..', 'docs')));
  if (docsOnly) {
    // Regenerates BENCHMARKS.md and the charts from the report already in latest.json.
    const { readFile } = await import('node:fs/promises');
    const { writeDocs } = await import('./report-docs');
    const file = path.join(resultsDir, 'latest.json');
    const report = JSON.parse(await readFile(file, 'utf8')) as BenchReport;
    if (!report.scenarios) throw new Error(`${file} is not a report of \`npm run bench\` (no scenarios)`);
    process.stdout.write(`wrote ${(await writeDocs(report, docsDir)).join(', ')}\n`);
    return 0;
  }
  const { runReport } = await import('./report');
  const report = await runReport({ runs: Number(runs), quick, resultsDir, docsDir });
  process.stdout.write(`floor_ratio ${report.floor_ratio}; wrote ${path.join(resultsDir, 'latest.json')} and ${path.join(docsDir, 'BENCHMARKS.md')}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
