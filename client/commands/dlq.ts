import type { Command } from 'commander';
import type { DeadLetter } from '../../lib/db/store';
import { DeadLetterNotFoundError, DeadLetterNotRetryableError } from '../ingestion';
import { command, EXIT, ExitError, print, UsageError, withClient } from './context';
import { withIngestionStore } from './events';

/**
 * `durasync dlq list [--all]`, `durasync dlq retry <id>`, `durasync dlq retry --all`: deliveries
 * given up on, and their re-run (client SDK `dlq`). Exit codes: 3 for an unknown dead letter, 2 for
 * one that cannot be re-run, 4 when the re-run failed (for --all: when any did).
 */

const letterLines = (d: DeadLetter) => [
  `${d.id}  ${d.source}  ${d.ref}  ${d.resolvedAt ? `resolved ${d.resolvedAt.toISOString()}` : 'unresolved'}`,
  `  ${d.errorType}: ${d.errorMessage}  (${d.occurrences}x, last ${d.lastFailedAt.toISOString()}${d.workflowId ? `, ${d.workflowId}` : ''})`,
];

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('dead letters: work given up on after its retries, and re-running it');

  dlq
    .command('list')
    .description('list unresolved dead letters, newest first')
    .option('--all', 'resolved ones too')
    .action(
      command('dlq list', async (ctx, opts: { all?: boolean }) => {
        const letters = await withIngestionStore(ctx, (store) => store.listDeadLetters({ includeResolved: opts.all === true }));
        print(ctx, { deadLetters: letters }, () => (letters.length ? letters.flatMap(letterLines) : ['no dead letters']));
      }),
    );

  dlq
    .command('retry')
    .description('re-run a webhook delivery of the dead letter queue (webhook:<source>:<deliveryId>); resolved once it succeeds')
    .argument('[id]', 'the dead letter id')
    .option('--all', 'every unresolved webhook dead letter')
    .action(
      command('dlq retry', async (ctx, id: string | undefined, opts: { all?: boolean }) => {
        if ((id === undefined) === (opts.all !== true)) throw new UsageError('give a dead letter id or --all (not both)');
        if (opts.all) {
          const outcomes = await withClient(ctx, (client) => client.dlq.retryAll());
          const failed = outcomes.filter((o) => !o.ok);
          print(ctx, { outcomes }, () => [
            `${outcomes.length - failed.length} of ${outcomes.length} re-run and resolved`,
            ...failed.map((o) => `  ${o.deadLetterId} failed: ${o.error ?? ''}`),
          ]);
          if (failed.length > 0) throw new ExitError(`${failed.length} re-run(s) failed`, EXIT.WORKFLOW_FAILED, true);
          return;
        }
        const retryId = id ?? '';
        try {
          const { deadLetter, result } = await withClient(ctx, (client) => client.dlq.retry(retryId));
          print(ctx, { deadLetter, result }, () => [`resolved ${deadLetter.id}: ${result.workflowId} stored ${result.kind} (event ${result.eventId})`]);
        } catch (err) {
          if (err instanceof DeadLetterNotFoundError) throw new ExitError(err.message, EXIT.NOT_FOUND);
          if (err instanceof DeadLetterNotRetryableError) throw new UsageError(err.message);
          throw err;
        }
      }),
    );
}
