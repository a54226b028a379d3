import { Option, type Command } from 'commander';
import { QUEUES, type QueueName } from '../../lib/queues';
import type { ScheduleInfo, ScheduleSummaryInfo } from '../index';
import { isCronExpression, parseEvery, SCHEDULE_OVERLAP_POLICIES, type ScheduleOverlap } from '../schedules';
import type { SyncDirection } from '../sync';
import { collect, command, parseJsonValues, print, UsageError, withClient, type CommandContext } from './context';
import { sourceFromFlags, type SourceFlags } from './ingest';
import { DIRECTION_CHOICES, parseDirection, requireLink } from './sync';

/**
 * `durasync schedule create|list|describe|pause|unpause|trigger|delete|backfill`: durasync jobs on
 * a timetable through the client SDK's `schedules` namespace (client/schedules.ts). A missing
 * schedule exits 3; a bad --every, --cron, --input, --from or --to exits 2.
 */

const OVERLAP_CHOICES = SCHEDULE_OVERLAP_POLICIES.map((p) => p.toLowerCase().replace(/_/g, '-'));

/** Opens the client and runs `work`, turning the schedule errors into their exit code and JSON document. */
const iso = (d: Date) => d.toISOString();

function summaryLine(s: ScheduleSummaryInfo): string {
  return [
    s.scheduleId.padEnd(24),
    (s.workflowType ?? '?').padEnd(14),
    s.spec.padEnd(18),
    s.paused ? 'paused ' : 'active ',
    s.nextRunTimes[0] ? `next ${iso(s.nextRunTimes[0])}` : 'no next run',
  ].join('  ');
}

function describeLines(s: ScheduleInfo): string[] {
  return [
    `schedule   ${s.scheduleId}`,
    `workflow   ${s.workflowType}`,
    `queue      ${s.taskQueue}`,
    `spec       ${s.spec}`,
    `overlap    ${s.overlap}`,
    `state      ${s.paused ? 'paused' : 'active'}${s.note ? ` (${s.note})` : ''}`,
    `args       ${JSON.stringify(s.args)}`,
    `actions    ${s.numActions} taken, ${s.running.length} running`,
    ...s.nextRunTimes.slice(0, 3).map((t) => `next       ${iso(t)}`),
    ...s.recentActions.map((a) => `ran        ${iso(a.takenAt)}  ${a.workflowId}`),
  ];
}

function parseDate(flag: string, value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw new UsageError(`${flag}: expected an ISO date such as 2026-01-01T00:00:00Z, got "${value}"`);
  return date;
}

interface CreateFlags extends SourceFlags {
  days?: string;
  workflow?: string;
  queue?: QueueName;
  link?: string;
  direction?: SyncDirection;
  id?: string;
  every?: string;
  cron?: string;
  input?: string[];
  overlap: string;
  paused?: boolean;
  note?: string;
}

/** `schedule create sync --link <linkId> --every 5m [--direction ...] [--id ...]`: a schedule of scheduledSync (client.sync.schedule). */
async function createSyncSchedule(ctx: CommandContext, kind: string, opts: CreateFlags): Promise<void> {
  if (kind !== 'sync') throw new UsageError(`with --link, the first argument is the kind of schedule: sync, got "${kind}"`);
  if (opts.link === undefined) throw new UsageError("`schedule create sync` needs --link <linkId>");
  if (opts.workflow !== undefined || opts.queue !== undefined || opts.input !== undefined) throw new UsageError('a sync schedule takes --link (and --direction), not --workflow, --queue or --input');
  if (opts.overlap !== 'skip') throw new UsageError('a sync schedule always skips a run that is due while the link syncs (--overlap skip)');
  const linkId = opts.link;
  await requireLink(ctx, linkId, opts.direction);
  await withClient(ctx, async (client) => {
    const created = await client.sync.schedule(linkId, {
      ...(opts.id ? { scheduleId: opts.id } : {}),
      ...(opts.every !== undefined ? { every: opts.every } : { cron: opts.cron! }),
      ...(opts.direction ? { direction: opts.direction } : {}),
      paused: opts.paused === true,
      ...(opts.note ? { note: opts.note } : {}),
    });
    print(ctx, created, () => [`created schedule ${created.scheduleId}: syncs link ${linkId}${opts.direction ? ` (${opts.direction.replace(/_/g, ' ')})` : ''} on ${created.taskQueue}, ${created.spec}${created.paused ? ' (paused)' : ''}; a run due while the link syncs is skipped`]);
  });
}

/** `schedule create ingest --source github --repo owner/name --every 1m`: a schedule of ingestSource (client.ingest.schedule). */
async function createIngestSchedule(ctx: CommandContext, opts: CreateFlags): Promise<void> {
  if (opts.workflow !== undefined || opts.queue !== undefined || opts.input !== undefined || opts.link !== undefined) throw new UsageError('an ingest schedule takes --source and its flags (--repo, --org, --user), not --workflow, --queue, --input or --link');
  if (opts.overlap !== 'skip') throw new UsageError('an ingest schedule always skips a run that is due while the last pull still runs (--overlap skip)');
  const { source, config, scope } = sourceFromFlags(opts);
  await withClient(ctx, async (client) => {
    const created = await client.ingest.schedule(source, config, {
      ...(opts.id ? { scheduleId: opts.id } : {}),
      ...(opts.every !== undefined ? { every: opts.every } : { cron: opts.cron! }),
      paused: opts.paused === true,
      ...(opts.note ? { note: opts.note } : {}),
    });
    print(ctx, created, () => [`created schedule ${created.scheduleId}: pulls ${source} ${scope} on ${created.taskQueue}, ${created.spec}${created.paused ? ' (paused)' : ''}`]);
  });
}

/** `schedule create analytics [--days N] [--cron ...]`: a schedule of dailyAnalytics over the last N days (client.analytics.schedule). */
async function createAnalyticsSchedule(ctx: CommandContext, opts: CreateFlags): Promise<void> {
  if (opts.workflow !== undefined || opts.queue !== undefined || opts.input !== undefined || opts.link !== undefined || opts.source !== undefined) throw new UsageError('an analytics schedule takes --days (and --every or --cron), not --workflow, --queue, --input, --link or --source');
  const lastDays = opts.days === undefined ? 1 : Number(opts.days);
  if (!Number.isInteger(lastDays) || lastDays < 1 || lastDays > 366) throw new UsageError(`--days: expected a whole number from 1 to 366, got "${opts.days}"`);
  await withClient(ctx, async (client) => {
    const created = await client.analytics.schedule({
      lastDays,
      ...(opts.id ? { scheduleId: opts.id } : {}),
      ...(opts.every !== undefined ? { every: opts.every } : {}),
      ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
      paused: opts.paused === true,
      ...(opts.note ? { note: opts.note } : {}),
    });
    print(ctx, created, () => [`created schedule ${created.scheduleId}: daily metrics of the last ${lastDays} day(s) on ${created.taskQueue}, ${created.spec}${created.paused ? ' (paused)' : ''}`]);
  });
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('durasync jobs on a timetable (Temporal Schedules): create, list, describe, pause, unpause, trigger, delete, backfill');

  schedule
    .command('create')
    .description('create a schedule that starts a workflow on a queue every interval or on a cron expression; `create sync --link <id>` syncs a link')
    .argument('<scheduleId>', 'the schedule id; or a kind: `sync --link <id>` (id sync-<linkId>), `ingest --source ...` (id ingest-<source>-<scope>), `analytics` (id daily-analytics)')
    .option('--workflow <type>', 'workflow type to start, e.g. canary (required without --link)')
    .addOption(new Option('--queue <queue>', 'queue to run it on (required without --link)').choices(QUEUES))
    .option('--link <linkId>', 'with `create sync`: the link to sync (runs skip while one of the link is in progress)')
    .addOption(new Option('--direction <direction>', `with --link: which way the runs go (default: the link's own): ${DIRECTION_CHOICES.join(', ')}`).argParser(parseDirection))
    .option('--id <scheduleId>', 'with a kind (sync, ingest, analytics): the schedule id instead of the default')
    .option('--source <source>', 'with `create ingest`: the source to pull (github)')
    .option('--repo <owner/name>', 'with `create ingest --source github`: a repository\'s events')
    .option('--org <org>', 'with `create ingest --source github`: an organisation\'s public events')
    .option('--user <userId>', 'with `create ingest`: pull with this user\'s stored token (default: GITHUB_TOKEN)')
    .option('--days <n>', 'with `create analytics`: the whole days before each run to recompute (default 1)')
    .addOption(new Option('--every <duration>', 'interval such as 30s, 5m, 1h').conflicts('cron'))
    .option('--cron <expression>', 'cron expression in UTC, e.g. "0 * * * *"')
    .option('--input <json|@file>', 'an argument as JSON, or @file holding JSON; repeat for more arguments', collect)
    .addOption(new Option('--overlap <policy>', 'when a run is due while the last one still runs').choices(OVERLAP_CHOICES).default('skip'))
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note on its state')
    .action(
      command('schedule create', async (ctx, scheduleId: string, opts: CreateFlags) => {
        if (scheduleId === 'analytics' && opts.workflow === undefined && opts.every === undefined && opts.cron === undefined) opts.cron = '10 0 * * *';
        if (opts.every === undefined && opts.cron === undefined) throw new UsageError('one of --every and --cron is required');
        if (opts.every !== undefined && parseEvery(opts.every) === undefined) throw new UsageError(`--every: expected a duration of 1s or more such as 30s, 5m or 1h, got "${opts.every}"`);
        if (opts.cron !== undefined && !isCronExpression(opts.cron)) throw new UsageError(`--cron: expected a cron expression such as "0 * * * *", got "${opts.cron}"`);
        if (opts.link !== undefined || (scheduleId === 'sync' && opts.workflow === undefined)) return createSyncSchedule(ctx, scheduleId, opts);
        if (scheduleId === 'ingest' && opts.workflow === undefined) return createIngestSchedule(ctx, opts);
        if (scheduleId === 'analytics' && opts.workflow === undefined) return createAnalyticsSchedule(ctx, opts);
        if (opts.direction !== undefined || opts.id !== undefined) throw new UsageError('--direction and --id go with a kind of schedule: `schedule create sync --link <linkId>`, `ingest`, `analytics`');
        if ([opts.source, opts.repo, opts.org, opts.user, opts.days].some((v) => v !== undefined)) throw new UsageError('--source, --repo, --org and --user go with `schedule create ingest`; --days with `schedule create analytics`');
        if (opts.workflow === undefined) throw new UsageError("required option '--workflow <type>' not specified");
        if (opts.queue === undefined) throw new UsageError("required option '--queue <queue>' not specified");
        const workflow = opts.workflow;
        const queue = opts.queue;
        const args = await parseJsonValues('--input', opts.input);
        await withClient(ctx, async (client) => {
          const created = await client.schedules.create({
            scheduleId,
            workflowType: workflow,
            args,
            queue,
            ...(opts.every !== undefined ? { every: opts.every } : { cron: opts.cron! }),
            overlap: opts.overlap.toUpperCase().replace(/-/g, '_') as ScheduleOverlap,
            paused: opts.paused === true,
            ...(opts.note ? { note: opts.note } : {}),
          });
          print(ctx, created, () => [`created schedule ${scheduleId}: ${created.workflowType} on ${created.taskQueue}, ${created.spec}${created.paused ? ' (paused)' : ''}`]);
        });
      }),
    );

  schedule
    .command('list')
    .description('list schedules: id, workflow type, spec, paused, next run')
    .action(
      command('schedule list', async (ctx) => {
        await withClient(ctx, async (client) => {
          const schedules = await client.schedules.list();
          print(ctx, { schedules }, () => (schedules.length ? schedules.map(summaryLine) : ['no schedules']));
        });
      }),
    );

  schedule
    .command('describe')
    .description('describe a schedule: workflow, queue, spec, state, next runs, recent runs (exit 3 if missing)')
    .argument('<scheduleId>')
    .action(
      command('schedule describe', async (ctx, scheduleId: string) => {
        await withClient(ctx, async (client) => {
          const d = await client.schedules.describe(scheduleId);
          print(ctx, d, () => describeLines(d));
        });
      }),
    );

  for (const [name, about] of [
    ['pause', 'pause a schedule (no runs until unpaused)'],
    ['unpause', 'unpause a schedule'],
  ] as const) {
    schedule
      .command(name)
      .description(about)
      .argument('<scheduleId>')
      .option('--note <text>', 'why (recorded on the schedule)')
      .action(
        command(`schedule ${name}`, async (ctx, scheduleId: string, opts: { note?: string }) => {
          await withClient(ctx, async (client) => {
            await client.schedules[name](scheduleId, opts.note);
            print(ctx, { scheduleId, paused: name === 'pause' }, () => [`${name}d schedule ${scheduleId}`]);
          });
        }),
      );
  }

  schedule
    .command('trigger')
    .description("start the schedule's workflow now")
    .argument('<scheduleId>')
    .action(
      command('schedule trigger', async (ctx, scheduleId: string) => {
        await withClient(ctx, async (client) => {
          await client.schedules.trigger(scheduleId);
          print(ctx, { scheduleId, triggered: true }, () => [`triggered schedule ${scheduleId}`]);
        });
      }),
    );

  schedule
    .command('delete')
    .description('delete a schedule (workflows it started keep running)')
    .argument('<scheduleId>')
    .action(
      command('schedule delete', async (ctx, scheduleId: string) => {
        await withClient(ctx, async (client) => {
          await client.schedules.delete(scheduleId);
          print(ctx, { scheduleId, deleted: true }, () => [`deleted schedule ${scheduleId}`]);
        });
      }),
    );

  schedule
    .command('backfill')
    .description('take now the runs that were due between --from and --to')
    .argument('<scheduleId>')
    .requiredOption('--from <date>', 'ISO date, e.g. 2026-01-01T00:00:00Z')
    .requiredOption('--to <date>', 'ISO date')
    .action(
      command('schedule backfill', async (ctx, scheduleId: string, opts: { from: string; to: string }) => {
        const from = parseDate('--from', opts.from);
        const to = parseDate('--to', opts.to);
        if (from > to) throw new UsageError('--from: must not be after --to');
        await withClient(ctx, async (client) => {
          await client.schedules.backfill(scheduleId, { from, to });
          print(ctx, { scheduleId, from, to }, () => [`backfilled schedule ${scheduleId} from ${iso(from)} to ${iso(to)}`]);
        });
      }),
    );
}
