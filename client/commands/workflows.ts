import { Option, type Command } from 'commander';
import { QUEUES, type QueueName } from '../../lib/queues';
import type { WorkflowSummary } from '../index';
import { collect, command, parseJsonValues, print, UsageError, withClient } from './context';
import { formatProgress, tryProgress, waitWithProgress } from './wait';

/**
 * Generic workflow commands: start, status, result, signal, query, cancel, terminate, list. Each
 * works on any durasync workflow through the client SDK (client/index.ts).
 */

const INPUT_HELP = 'an argument as JSON, or @file holding JSON; repeat for more arguments';

/** Pretty JSON for humans, indented under a heading when it spans lines. */
const pretty = (value: unknown): string => (value === undefined ? '(no value)' : JSON.stringify(value, null, 2));

function summaryLine(w: WorkflowSummary): string {
  const attrs = Object.entries(w.searchAttributes).map(([k, v]) => `${k}=${v}`).join(' ');
  return [w.status.padEnd(10), w.type.padEnd(14), w.workflowId, w.startTime.toISOString(), w.taskQueue, attrs].filter(Boolean).join('  ');
}

export function registerWorkflowCommands(program: Command): void {
  program
    .command('start')
    .description('start a workflow on a queue; --wait for its result, with live progress on stderr')
    .argument('<workflowType>', 'workflow type, e.g. canary')
    .option('--input <json|@file>', INPUT_HELP, collect)
    .option('--id <workflowId>', 'workflow id (default: <workflowType>:<uuid>)')
    .addOption(new Option('--queue <queue>', 'queue to run it on').choices(QUEUES).default('sync'))
    .option('--wait', 'wait for the result (exit 4 if the workflow fails)')
    .action(
      command('start', async (ctx, type: string, opts: { input?: string[]; id?: string; queue: QueueName; wait?: boolean }) => {
        const args = await parseJsonValues('--input', opts.input);
        await withClient(ctx, async (client) => {
          const started = await client.workflows.start(type, { args, taskQueue: opts.queue, ...(opts.id ? { workflowId: opts.id } : {}) });
          if (!ctx.json) process.stderr.write(`started ${type} ${started.workflowId} (run ${started.runId}) on queue ${opts.queue}\n`);
          if (!opts.wait) return print(ctx, started, () => [started.workflowId]);
          const result = await waitWithProgress(ctx, client, started.workflowId);
          print(ctx, { ...started, result }, () => [pretty(result)]);
        });
      }),
    );

  program
    .command('status')
    .description('describe a workflow: type, status, queue, times, search attributes, progress')
    .argument('<workflowId>')
    .action(
      command('status', async (ctx, workflowId: string) => {
        await withClient(ctx, async (client) => {
          const d = await client.workflows.describe(workflowId);
          const progress = d.status === 'RUNNING' ? await tryProgress(client, workflowId) : undefined;
          print(ctx, { ...d, ...(progress ? { progress } : {}) }, () => [
            `workflow   ${d.workflowId} (run ${d.runId})`,
            `type       ${d.type}`,
            `status     ${d.status}`,
            `queue      ${d.taskQueue}`,
            `started    ${d.startTime.toISOString()}`,
            ...(d.closeTime ? [`closed     ${d.closeTime.toISOString()}`] : []),
            `history    ${d.historyLength} events`,
            ...Object.entries(d.searchAttributes).map(([k, v]) => `${k.padEnd(10)} ${v}`),
            ...(d.staticSummary ? [`summary    ${d.staticSummary}`] : []),
            ...d.pendingActivities.map((a) => `activity   ${a.activityType} ${a.state.toLowerCase()} (attempt ${a.attempt})`),
            ...(progress ? [`progress   ${formatProgress(progress)}`] : []),
          ]);
        });
      }),
    );

  program
    .command('result')
    .description('wait for a workflow and print its result, with live progress on stderr (exit 4 if it failed)')
    .argument('<workflowId>')
    .action(
      command('result', async (ctx, workflowId: string) => {
        await withClient(ctx, async (client) => {
          const result = await waitWithProgress(ctx, client, workflowId);
          print(ctx, { workflowId, result }, () => [pretty(result)]);
        });
      }),
    );

  program
    .command('signal')
    .description('send a signal to a workflow')
    .argument('<workflowId>')
    .argument('<name>', 'signal name')
    .option('--input <json|@file>', INPUT_HELP, collect)
    .action(
      command('signal', async (ctx, workflowId: string, name: string, opts: { input?: string[] }) => {
        const args = await parseJsonValues('--input', opts.input);
        await withClient(ctx, async (client) => {
          await client.workflows.signal(workflowId, name, ...args);
          print(ctx, { workflowId, signal: name }, () => [`signalled ${workflowId}: ${name}`]);
        });
      }),
    );

  program
    .command('query')
    .description('query a workflow and print the answer (e.g. `query <id> progress`)')
    .argument('<workflowId>')
    .argument('<name>', 'query name')
    .option('--input <json|@file>', INPUT_HELP, collect)
    .action(
      command('query', async (ctx, workflowId: string, name: string, opts: { input?: string[] }) => {
        const args = await parseJsonValues('--input', opts.input);
        await withClient(ctx, async (client) => {
          const result = await client.workflows.query(workflowId, name, ...args);
          print(ctx, { workflowId, query: name, result }, () => [pretty(result)]);
        });
      }),
    );

  program
    .command('cancel')
    .description('request cancellation of a workflow (it decides how to stop)')
    .argument('<workflowId>')
    .action(
      command('cancel', async (ctx, workflowId: string) => {
        await withClient(ctx, async (client) => {
          await client.workflows.cancel(workflowId);
          print(ctx, { workflowId, cancelRequested: true }, () => [`cancellation requested: ${workflowId}`]);
        });
      }),
    );

  program
    .command('terminate')
    .description('terminate a workflow at once')
    .argument('<workflowId>')
    .option('--reason <text>', 'recorded in its history', 'terminated with durasync terminate')
    .action(
      command('terminate', async (ctx, workflowId: string, opts: { reason: string }) => {
        await withClient(ctx, async (client) => {
          await client.workflows.terminate(workflowId, opts.reason);
          print(ctx, { workflowId, terminated: true, reason: opts.reason }, () => [`terminated: ${workflowId}`]);
        });
      }),
    );

  program
    .command('list')
    .description('list workflows, newest first, e.g. --query \'DurasyncKind = "canary" AND ExecutionStatus = "Running"\'')
    .option('--query <visibility query>', 'Temporal visibility query (default: all)')
    .option('--limit <n>', 'at most this many', '50')
    .action(
      command('list', async (ctx, opts: { query?: string; limit: string }) => {
        if (!/^\d+$/.test(opts.limit) || Number(opts.limit) < 1) throw new UsageError(`--limit: expected a whole number of 1 or more, got "${opts.limit}"`);
        await withClient(ctx, async (client) => {
          const workflows = await client.workflows.list(opts.query, { limit: Number(opts.limit) }).toArray();
          print(ctx, { workflows }, () => (workflows.length ? workflows.map(summaryLine) : ['no workflows']));
        });
      }),
    );
}
