import type { Command } from 'commander';
import { analyticsWorkflowId, splitRange, type DailyAnalyticsResult } from '../../workflows/ingestion/daily-analytics';
import { DurasyncWorkflowFailedError, WorkflowAlreadyRunningError } from '../errors';
import { command, EXIT, ExitError, print, UsageError, withClient } from './context';
import { waitWithProgress } from './wait';

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
        const workflowId = analyticsWorkflowId(opts.from, opts.to);
        await withClient(ctx, async (client) => {
          let attached = false;
          try {
            await client.workflows.start('dailyAnalytics', { args: [{ from: opts.from, to: opts.to }], workflowId, taskQueue: 'ingestion' });
          } catch (err) {
            if (!(err instanceof WorkflowAlreadyRunningError)) throw err;
            attached = true;
          }
          if (!opts.wait) {
            print(ctx, { workflowId, attached }, () => [`${attached ? 'already running' : 'started'} ${workflowId} (${chunks.length} chunk(s))`]);
            return;
          }
          if (attached) process.stderr.write(`${workflowId} is already running: waiting for it\n`);
          let result: DailyAnalyticsResult;
          try {
            result = await waitWithProgress<DailyAnalyticsResult>(ctx, client, workflowId, { label: workflowId });
          } catch (err) {
            if (!(err instanceof DurasyncWorkflowFailedError)) throw err;
            const inner = [...err.causes].reverse().find((c) => c.message)?.message ?? err.message;
            throw new ExitError(`${workflowId} ${err.status.toLowerCase().replace('_', ' ')}: ${inner.replace(/\s+/g, ' ').trim()}`, EXIT.WORKFLOW_FAILED);
          }
          print(ctx, result, () => [summary(result)]);
        });
      }),
    );
}
