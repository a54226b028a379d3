import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { EXIT } from './context';

/**
 * `durasync bench [scenario] [--json]`: runs bench/run.ts (no scenario: the whole report, see
 * bench/report.ts; or one of floor, canary, workers, sync, deltas, ingest) in a child process of this Node with tsx's loader (`--import tsx`: bench/run.ts imports
 * its scenarios with import(), which tsx's CommonJS hook alone does not resolve), streaming its
 * output, and exits with its exit code (2 for an unknown scenario).
 */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run the benchmark report (no scenario: bench/results/latest.json, docs/BENCHMARKS.md) or one scenario; results in bench/results (needs a checkout: bench/ and tsx)')
    .argument('[scenario]', 'floor, canary, workers, sync, deltas or ingest (default: the whole report)')
    .action(async (scenario: string | undefined, _opts: unknown, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      // client/commands in source, dist/client/commands when built
      const root = [path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..', '..', '..')].find((dir) => existsSync(path.join(dir, 'bench', 'run.ts')));
      if (!root) {
        process.stderr.write('durasync bench: bench/run.ts not found (run it from a checkout)\n');
        process.exit(EXIT.NOT_FOUND);
      }
      const args = ['--import', pathToFileURL(require.resolve('tsx', { paths: [root] })).href, path.join(root, 'bench', 'run.ts'), ...(scenario ? [scenario] : []), ...(json ? ['--json'] : [])];
      const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
      process.on('SIGINT', forward('SIGINT')).on('SIGTERM', forward('SIGTERM'));
      const code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 + (os.constants.signals[signal] ?? 15) : EXIT.FAILURE))));
      process.exit(code);
    });
}
