import { InvalidArgumentError, Option, type Command } from 'commander';
import { createStore } from '../../lib/db/store';
import type { SyncLink } from '../../lib/db/types';
import type { DurasyncClient, SyncDirection, SyncRunHandle, SyncRunResult } from '../index';
import { DurasyncWorkflowFailedError, SyncAlreadyRunningError, SyncNotRunningError, WorkflowNotFoundError } from '../errors';
import { command, EXIT, ExitError, print, requireId, UsageError, withClient, type CommandContext } from './context';
import { failureLine, formatProgress, tryProgress, waitWithProgress } from './wait';

/**
 * `durasync sync [run] <linkId>`, `durasync sync status <linkId>`, `durasync sync cancel <linkId>`:
 * sync runs of a link through the client SDK's `sync` namespace (client/sync.ts). `run` is the
 * default subcommand, so `durasync sync <linkId> --wait` is `durasync sync run <linkId> --wait`.
 *
 * Exit codes: 3 for an unknown link (checked in the store first, when DATABASE_URL or SUPABASE_URL
 * is set) or, for status and cancel, a link with no run; 1 when a run of the link is already in
 * progress (`run` without --wait); 4 when the run failed, or (`run --wait`) ended cancelled.
 */


/** How often --wait asks for progress. */
const PROGRESS_MS = 1000;

/** The --direction values, as written on the command line. */
export const DIRECTION_CHOICES = ['drive-to-github', 'github-to-drive', 'both'] as const;

/** Commander parser of --direction: `drive-to-github` (or `drive_to_github`) -> `drive_to_github`. */
export function parseDirection(value: string): SyncDirection {
  const normalised = value.trim().toLowerCase().replace(/_/g, '-');
  if (!(DIRECTION_CHOICES as readonly string[]).includes(normalised)) throw new InvalidArgumentError(`Allowed choices are ${DIRECTION_CHOICES.join(', ')}.`);
  return normalised.replace(/-/g, '_') as SyncDirection;
}

const spaced = (direction: string) => direction.replace(/[_-]/g, ' ');

/** Commander parser of --priority: a whole number from 1 (most urgent) to 5. */
export function parsePriority(value: string): number {
  if (!/^[1-5]$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number from 1 (most urgent) to 5.');
  return Number(value.trim());
}

/**
 * The link, read from the store: a UsageError (exit 2) for an id that is not a UUID, exit 3 when
 * there is no such link, a UsageError when `direction` is one the link does not allow. Without a
 * configured database, undefined (the workflow checks the link itself).
 */
export async function requireLink(ctx: CommandContext, linkId: string, direction?: SyncDirection): Promise<SyncLink | undefined> {
  requireId('linkId', 'link', linkId);
  const { database } = ctx.config;
  if (!database.url && !database.supabase) return undefined;
  const store = createStore({ databaseUrl: database.url, supabase: database.supabase, logger: ctx.logger, poolMax: 1 });
  let link: SyncLink | null;
  try {
    link = await store.getSyncLink(linkId);
  } finally {
    await store.close();
  }
  if (!link) throw new ExitError(`no link ${linkId}`, EXIT.NOT_FOUND);
  if (direction && link.direction !== 'both' && direction !== link.direction) {
    throw new UsageError(`--direction: link ${linkId} syncs ${spaced(link.direction)} only, not ${spaced(direction)}`);
  }
  return link;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The result as readable lines: what went to GitHub and to Drive, and every conflict. */
export function resultLines(r: SyncRunResult): string[] {
  const way = r.direction === 'both' ? 'both ways' : spaced(r.direction);
  const head =
    r.status === 'synced'
      ? `link ${r.linkId} synced (${way}, ${plural(r.runs, 'run')})`
      : r.status === 'skipped'
        ? `link ${r.linkId} skipped: ${r.reason ?? 'nothing to do'}`
        : `link ${r.linkId} stopped at a safe point (${r.reason ?? 'cancelled'}); cursors unchanged by the unfinished part`;
  const commits = r.toGithub.commits;
  const lines = [
    head,
    `  to GitHub  ${plural(r.toGithub.written, 'file')} written, ${r.toGithub.deleted} deleted, ${plural(commits.length, 'commit')}${commits.length ? `: ${commits.map((c) => c.slice(0, 7)).join(', ')}` : ''}`,
    `  to Drive   ${plural(r.toDrive.written, 'file')} written (${r.toDrive.created} new), ${r.toDrive.trashed} trashed`,
    `  conflicts  ${r.conflicts.length}`,
  ];
  for (const c of r.conflicts) {
    const what = `Drive ${c.drive}, GitHub ${c.github}`;
    lines.push(`    ${c.path} (${what}): ${c.keptAs ? `kept both, the Drive version as ${c.keptAs}` : c.policy === 'drive-wins' ? 'Drive version kept' : 'GitHub version kept'}`);
  }
  return lines;
}

/** Waits for the run's result, showing its progress (see waitWithProgress), refreshed every second. */
function waitShowingProgress(ctx: CommandContext, client: DurasyncClient, handle: SyncRunHandle): Promise<SyncRunResult> {
  return waitWithProgress(ctx, client, handle.workflowId, { result: handle.result(), label: `sync ${handle.linkId}`, pollMs: PROGRESS_MS });
}

/**
 * The result of the link's run, or exit 4 with one line naming the innermost cause (e.g. the
 * provider's error), and with --json the error document with the whole cause chain.
 */
async function resultOrExit(ctx: CommandContext, linkId: string, wait: () => Promise<SyncRunResult>): Promise<SyncRunResult> {
  try {
    return await wait();
  } catch (err) {
    if (!(err instanceof DurasyncWorkflowFailedError)) throw err;
    const line = failureLine(err, `sync of link ${linkId}`);
    if (ctx.json) {
      const error = {
        name: err.name,
        message: line,
        exitCode: EXIT.WORKFLOW_FAILED,
        linkId,
        workflowId: err.workflowId,
        status: err.status,
        failureType: err.failureType,
        ...(err.applicationFailureType ? { applicationFailureType: err.applicationFailureType } : {}),
        causes: err.causes,
      };
      process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    }
    throw new ExitError(line, EXIT.WORKFLOW_FAILED, true);
  }
}

interface RunFlags {
  direction?: SyncDirection;
  wait?: boolean;
  priority?: number;
}

async function runAction(ctx: CommandContext, linkId: string, opts: RunFlags): Promise<void> {
  await requireLink(ctx, linkId, opts.direction);
  await withClient(ctx, async (client) => {
    let handle: SyncRunHandle;
    try {
      handle = await client.sync.start(linkId, {
        ...(opts.direction ? { direction: opts.direction } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        attach: opts.wait === true,
      });
    } catch (err) {
      if (!(err instanceof SyncAlreadyRunningError)) throw err;
      if (ctx.json) {
        const error = { name: err.name, message: err.message, exitCode: EXIT.FAILURE, linkId, workflowId: err.workflowId, runId: err.runId };
        process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
      }
      throw new ExitError(err.message, EXIT.FAILURE, true);
    }
    const started = { linkId, workflowId: handle.workflowId, runId: handle.runId, attached: handle.attached };
    if (handle.attached) process.stderr.write(`link ${linkId} is already syncing (run ${handle.runId}): waiting for that run\n`);
    else if (opts.wait) process.stderr.write(`started ${handle.workflowId} (run ${handle.runId})\n`);
    if (!opts.wait) {
      print(ctx, started, () => [`started ${handle.workflowId} (run ${handle.runId}); follow it with: durasync sync status ${linkId}`]);
      return;
    }
    const result = await resultOrExit(ctx, linkId, () => waitShowingProgress(ctx, client, handle));
    print(ctx, { ...started, result }, () => resultLines(result));
    if (result.status === 'cancelled') throw new ExitError(`sync of link ${linkId} was ${result.reason ?? 'cancelled'}`, EXIT.WORKFLOW_FAILED, true);
  });
}

export function registerSyncCommands(program: Command): void {
  const sync = program
    .command('sync')
    .description('sync a link between Google Drive and GitHub: `sync <linkId>` (= `sync run <linkId>`), `sync status <linkId>`, `sync cancel <linkId>`');

  const directionOption = () =>
    new Option('--direction <direction>', `which way this run goes (default: the link's own): ${DIRECTION_CHOICES.join(', ')}`).argParser(parseDirection);

  sync
    .command('run', { isDefault: true })
    .description('start a sync run of a link (workflow sync:<linkId>); with --wait, show its progress and print what it did')
    .argument('<linkId>')
    .addOption(directionOption())
    .option('--wait', 'wait for the result, showing progress on stderr (attaches to a run already in progress)')
    .addOption(new Option('--priority <1-5>', 'Temporal task priority of the run, 1 most urgent (default: DURASYNC_PRIORITY_URGENT, 1)').argParser(parsePriority))
    .action(command('sync', async (ctx, linkId: string, opts: RunFlags) => runAction(ctx, linkId, opts)));

  sync
    .command('status')
    .description("show the link's latest sync run: status, run id and progress (exit 3 if it never synced)")
    .argument('<linkId>')
    .action(
      command('sync status', async (ctx, linkId: string) => {
        await requireLink(ctx, linkId);
        await withClient(ctx, async (client) => {
          let d;
          try {
            d = await client.workflows.describe(`sync:${linkId}`);
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) throw new ExitError(`link ${linkId} has no sync run`, EXIT.NOT_FOUND);
            throw err;
          }
          const progress = await tryProgress(client, d.workflowId);
          // Temporal's default when none was set at start (runs from before priorities existed).
          const priority = d.priorityKey ?? 3;
          print(ctx, { linkId, workflowId: d.workflowId, runId: d.runId, type: d.type, status: d.status, startTime: d.startTime, closeTime: d.closeTime, priority, progress }, () => [
            `${d.workflowId}  ${d.status}  run ${d.runId}  priority ${priority}  started ${d.startTime.toISOString()}${d.closeTime ? `  closed ${d.closeTime.toISOString()}` : ''}`,
            ...(progress ? [`  ${formatProgress(progress)}`] : []),
          ]);
        });
      }),
    );

  sync
    .command('cancel')
    .description('ask the running sync of a link to stop at its next safe point (cursors stay consistent); exit 3 if none runs')
    .argument('<linkId>')
    .option('--reason <text>', 'why (recorded in the result)')
    .option('--wait', 'wait for the run to stop and print its result')
    .action(
      command('sync cancel', async (ctx, linkId: string, opts: { reason?: string; wait?: boolean }) => {
        await requireLink(ctx, linkId);
        await withClient(ctx, async (client) => {
          const current = await client.sync.running(linkId);
          if (!current) throw new ExitError(`link ${linkId} is not syncing`, EXIT.NOT_FOUND);
          try {
            await client.sync.cancel(linkId, opts.reason);
          } catch (err) {
            if (err instanceof SyncNotRunningError) throw new ExitError(`link ${linkId} is not syncing`, EXIT.NOT_FOUND);
            throw err;
          }
          const asked = { linkId, workflowId: current.workflowId, runId: current.runId, cancelRequested: true };
          if (!opts.wait) {
            print(ctx, asked, () => [`asked ${current.workflowId} (run ${current.runId}) to stop at its next safe point`]);
            return;
          }
          if (!ctx.json) process.stderr.write(`asked ${current.workflowId} (run ${current.runId}) to stop at its next safe point: waiting\n`);
          const result = await resultOrExit(ctx, linkId, () => client.sync.result(linkId));
          print(ctx, { ...asked, result }, () => [
            ...(result.status === 'cancelled' ? [] : [`the run reached no safe point before it finished (${result.status})`]),
            ...resultLines(result),
          ]);
        });
      }),
    );
}
