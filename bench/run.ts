/**
 * `npm run bench [-- <scenario>] [--json]`: measures durasync on this machine.
 *
 * Scenarios (bench/scenarios/):
 * - `canary` (default): canary throughput and latency against one in-process worker
 *   -> bench/results/latest.json;
 * - `workers`: idle memory of `durasync worker` processes (1 queue, 3 queues, an isolated-mode
 *   child) and canary throughput with 1, 2 and 4 worker processes -> bench/results/workers.json.
 *
 * `--json` prints exactly one JSON object (the report) as the last line of stdout; progress always
 * goes to stderr. Knobs are environment variables (BENCH_WORKFLOWS, BENCH_CONCURRENCY, BENCH_RUNS,
 * ...; see each scenario); BENCH_RESULTS_DIR moves the result files (default bench/results).
 */
import path from 'node:path';
import type { ScenarioOptions } from './lib';

const SCENARIOS: Record<string, { about: string; run: (options: ScenarioOptions) => Promise<void> }> = {
  canary: {
    about: 'canary throughput and latency against one in-process worker (bench/results/latest.json)',
    run: async (options) => (await import('./scenarios/canary')).runCanary(options),
  },
  workers: {
    about: 'idle RSS of worker processes and throughput with 1, 2 and 4 of them (bench/results/workers.json)',
    run: async (options) => (await import('./scenarios/workers')).runWorkers(options),
  },
};

const USAGE = `usage: bench/run.ts [scenario] [--json]\n${Object.entries(SCENARIOS)
  .map(([name, { about }]) => `  ${name.padEnd(8)} ${about}`)
  .join('\n')}\n  --json   print the report as one JSON object on the last line of stdout\n`;

async function main(argv: string[]): Promise<number> {
  const flags = argv.filter((a) => a.startsWith('-'));
  const positional = argv.filter((a) => !a.startsWith('-'));
  if (flags.includes('--help') || flags.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknownFlag = flags.find((f) => f !== '--json');
  const name = positional[0] ?? 'canary';
  const scenario = SCENARIOS[name];
  if (unknownFlag || !scenario || positional.length > 1) {
    process.stderr.write(`bench: ${unknownFlag ? `unknown option ${unknownFlag}` : !scenario ? `unknown scenario "${name}"` : 'one scenario at a time'}\n${USAGE}`);
    return 2;
  }
  await scenario.run({
    json: flags.includes('--json'),
    resultsDir: path.resolve(process.env.BENCH_RESULTS_DIR || path.join(__dirname, 'results')),
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
