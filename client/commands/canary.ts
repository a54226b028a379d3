import { Option, type Command } from 'commander';
import { parseDuration } from '../../lib/duration';
import { QUEUES, type QueueName } from '../../lib/queues';
import type { CanaryResult } from '../index';
import { command, EXIT, print, UsageError, withClient } from './context';

/** `durasync canary`: runs the canary workflow on a queue through the client SDK; exit 1 when degraded. */

function lines(result: CanaryResult, queue: QueueName): string[] {
  const check = (name: string, c: CanaryResult['database']) => `  ${name} (${c.kind}): ${c.ok ? `ok, ${c.ms} ms` : `FAILED, ${c.error ?? 'no answer'}`}`;
  return [
    `canary ${result.status} on queue ${queue} (task queue ${result.workflowTaskQueue}, worker ${result.worker.pid}@${result.worker.hostname})`,
    check('database', result.database),
    check('cache', result.cache),
  ];
}

export function registerCanaryCommand(program: Command): void {
  program
    .command('canary')
    .description('run the canary workflow on a queue: proves its workers poll and reach the database and cache (exit 1 when degraded)')
    .addOption(new Option('--queue <queue>', 'queue to probe').choices(QUEUES).default('sync'))
    .option('--timeout <seconds>', 'give up waiting after this many seconds', '30')
    .option('--hold <duration>', 'keep the probe activity running this long (e.g. 30s), to watch drains and failover')
    .action(
      command('canary', async (ctx, opts: { queue: QueueName; timeout: string; hold?: string }) => {
        const holdMs = opts.hold === undefined ? 0 : parseDuration(opts.hold);
        if (holdMs === undefined) throw new UsageError(`--hold: expected a duration such as 30s, got "${opts.hold}"`);
        if (!/^\d+(\.\d+)?$/.test(opts.timeout)) throw new UsageError(`--timeout: expected a number of seconds, got "${opts.timeout}"`);
        await withClient(ctx, async (client) => {
          const result = await client.canary.run({ queue: opts.queue, holdMs, timeoutMs: Number(opts.timeout) * 1000 });
          print(ctx, result, () => lines(result, opts.queue));
          if (result.status !== 'ok') process.exitCode = EXIT.FAILURE;
        });
      }),
    );
}
