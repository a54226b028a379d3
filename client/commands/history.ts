import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { dataConverter } from '../../lib/temporal-client';
import type { Logger } from '../../lib/logger';
import type * as WorkerPackage from '@temporalio/worker';
import type * as WorkflowPackage from '@temporalio/workflow';
import type * as MetricsModule from '../../lib/metrics';
import type * as BundleModule from '../../workers/bundle';
import type * as InterceptorsModule from '../../workers/interceptors';
import { command, EXIT, ExitError, print, withClient } from './context';

/**
 * `history export` writes a workflow's history as `temporal workflow show -o json` does;
 * `replay` replays history files against the current workflow code, the check that a change is
 * deterministic. A history file names its workflow by its file name: `<url-encoded workflow id>.json`
 * (what `history export <id> -o <dir>` writes).
 */

/** `<dir>/<url-encoded id>.json`: the file name `replay` reads the workflow id back from. */
export function historyFileName(workflowId: string): string {
  return `${encodeURIComponent(workflowId)}.json`;
}

/** The workflow id a history file stands for: its name without `.json`, URL-decoded. */
export function workflowIdOfFile(file: string): string {
  const base = path.basename(file).replace(/\.json$/i, '');
  try {
    return decodeURIComponent(base);
  } catch {
    return base;
  }
}

/** The JSON files named: files as they are, directories' *.json (not recursive), sorted. A missing path: exit 3. */
async function historyFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info) throw new ExitError(`${p}: no such file or directory`, EXIT.NOT_FOUND);
    if (info.isDirectory()) {
      files.push(...(await readdir(p)).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(p, f)));
    } else {
      files.push(p);
    }
  }
  return files;
}

/**
 * The replay worker and what it needs, imported when `replay` runs (the worker package is heavy).
 * The Runtime routes the SDK's and the Rust core's logs (warnings and up) to our logger, on stderr,
 * so that stdout holds only the command's output.
 */
function replayTools(logger: Logger) {
  // require(), not import(): tsx runs this source as CommonJS and its import() does not resolve extensionless .ts paths.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { DefaultLogger, Runtime, Worker, makeTelemetryFilterString } = require('@temporalio/worker') as typeof WorkerPackage;
  const { DeterminismViolationError } = require('@temporalio/workflow') as typeof WorkflowPackage;
  const { createMetrics } = require('../../lib/metrics') as typeof MetricsModule;
  const { loadWorkflowBundle } = require('../../workers/bundle') as typeof BundleModule;
  const { jobMetricsSinks } = require('../../workers/interceptors') as typeof InterceptorsModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = logger.child({ component: 'temporal-sdk' });
  const method = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', ({ level, message, meta }) => sdk[method[level]]({ ...meta }, message)),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
    });
  } catch {
    // Already installed: keep it.
  }
  return { Worker, DeterminismViolationError, createMetrics, loadWorkflowBundle, jobMetricsSinks };
}

interface ReplayOutcome {
  file: string;
  workflowId: string;
  ok: boolean;
  /** The replay found the code's commands differ from the history's (DeterminismViolationError). */
  determinismError?: boolean;
  error?: { name: string; message: string };
}

export function registerHistoryCommands(program: Command): void {
  const history = program.command('history').description('workflow histories');
  history
    .command('export')
    .description('write a workflow\'s history as `temporal workflow show -o json` does (stdout, a file, or <dir>/<id>.json)')
    .argument('<workflowId>')
    .option('-o, --out <file|dir>', 'output file, or a directory to write <url-encoded id>.json in (default: stdout)')
    .option('--run-id <runId>', 'a run other than the latest')
    .action(
      command('history export', async (ctx, workflowId: string, opts: { out?: string; runId?: string }) => {
        const json = await withClient(ctx, (client) => client.workflows.history(workflowId, opts.runId));
        const text = `${JSON.stringify(json, null, 2)}\n`;
        if (!opts.out) {
          process.stdout.write(text);
          return;
        }
        const isDir = (await stat(opts.out).catch(() => undefined))?.isDirectory() ?? false;
        const file = isDir ? path.join(opts.out, historyFileName(workflowId)) : opts.out;
        await writeFile(file, text);
        print(ctx, { workflowId, file, events: json.events.length }, () => [`wrote ${json.events.length} events of ${workflowId} to ${file}`]);
      }),
    );

  program
    .command('replay')
    .description('replay history files (and directories of them) against the current workflow code; exit 4 on a determinism error')
    .argument('<paths...>', 'history JSON files or directories (e.g. test/histories)')
    .action(
      command('replay', async (ctx, paths: string[]) => {
        const files = await historyFiles(paths);
        const outcomes: ReplayOutcome[] = [];
        const histories: Array<{ workflowId: string; history: unknown }> = [];
        for (const file of files) {
          const workflowId = workflowIdOfFile(file);
          try {
            histories.push({ workflowId, history: JSON.parse(await readFile(file, 'utf8')) as unknown });
          } catch (err) {
            outcomes.push({ file, workflowId, ok: false, error: { name: 'InvalidHistoryFile', message: (err as Error).message } });
          }
        }
        if (histories.length) {
          const { Worker, DeterminismViolationError, createMetrics, loadWorkflowBundle, jobMetricsSinks } = replayTools(ctx.logger);
          const workflowBundle = await loadWorkflowBundle(ctx.config.worker.workflowBundlePath, ctx.logger);
          // Results come back as replays finish; map them back to their files (several files may name one workflow).
          const filesOf = new Map<string, string[]>();
          for (const f of files) filesOf.set(workflowIdOfFile(f), [...(filesOf.get(workflowIdOfFile(f)) ?? []), f]);
          // The workers' sinks, so that the workflow interceptor finds them (they are not called during replay).
          const sinks = jobMetricsSinks(createMetrics(), 'replay');
          const options = { workflowBundle, sinks, dataConverter: dataConverter(ctx.config), replayName: 'durasync-replay' };
          for await (const result of Worker.runReplayHistories(options, histories)) {
            const file = filesOf.get(result.workflowId)?.shift() ?? result.workflowId;
            const error = result.error;
            outcomes.push({
              file,
              workflowId: result.workflowId,
              ok: !error,
              ...(error ? { determinismError: error instanceof DeterminismViolationError, error: { name: error.name, message: error.message } } : {}),
            });
          }
        }
        outcomes.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file));
        const ok = outcomes.every((o) => o.ok);
        print(ctx, { ok, histories: outcomes }, () =>
          outcomes.map((o) => (o.ok ? `ok    ${o.workflowId}  (${o.file})` : `FAIL  ${o.workflowId}  (${o.file}): ${o.error?.name}: ${o.error?.message}`)),
        );
        const first = outcomes.find((o) => o.determinismError);
        if (first) throw new ExitError(`${first.workflowId}: determinism error: ${first.error?.message}`, EXIT.WORKFLOW_FAILED, true);
        if (!ok) throw new ExitError(`${outcomes.filter((o) => !o.ok).length} of ${outcomes.length} histories failed to replay`, EXIT.FAILURE, true);
      }),
    );
}
