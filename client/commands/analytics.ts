import type { Command } from 'commander';
import { splitRange, type DailyAnalyticsResult } from '../../workflows/ingestion/daily-analytics';
import { command, print, UsageError, withClient } from './context';
import { waitOrExit } from './wait';

/**
 * `durasync analytics backfill --from <date> --to <date> [--wait]`: starts dailyAnalytics on the
 * `ingestion` queue (workflow `analytics:<from>:<to>`), which recomputes the daily event metrics of
 * those days. A range already being computed is waited on rather than started twice. A bad --from
 * or --to exits 2; with --wait, a failed run exits 4.
 */

interface BackfillFlags {
  from: string;
  to: string;
  wait?: boolean;
}

const summary = (r: DailyAnalyticsResult) => `aggregated ${r.from}..${r.to}: ${r.days} day(s), ${r.chunks} chunk(s), ${r.rows} metric row(s)`;

export function registerAnalyticsCommands(program: Command): void {
  const analytics = program.command('analytics').description('daily event metrics (daily_metrics) computed by the dailyAnalytics workflow');

  analytics
    .command('backfill')
    .description('recompute the daily metrics of a range of days (UTC, both included) on the ingestion queue; re-running a range changes nothing')
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <date>', 'last day, YYYY-MM-DD')
    .option('--wait', 'wait for the run, show its progress and print a one-line summary')
    .action(
      command('analytics backfill', async (ctx, opts: BackfillFlags) => {
        const chunks = splitRange(opts.from, opts.to);
        if (typeof chunks === 'string') throw new UsageError(`invalid range: ${chunks}`);
        await withClient(ctx, async (client) => {
          const { workflowId, attached } = await client.analytics.backfill({ from: opts.from, to: opts.to });
          if (!opts.wait) {
            print(ctx, { workflowId, attached }, () => [`${attached ? 'already running' : 'started'} ${workflowId} (${chunks.length} chunk(s))`]);
            return;
          }
          if (attached) process.stderr.write(`${workflowId} is already running: waiting for it\n`);
          const result = await waitOrExit<DailyAnalyticsResult>(ctx, client, workflowId);
          print(ctx, result, () => [summary(result)]);
        });
      }),
    );
}
