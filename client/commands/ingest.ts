import { Option, type Command } from 'commander';
import type { IngestCursor, TrackedKeyword } from '../../lib/db/store';
import { InvalidSourceConfigError } from '../../lib/ingest/source-plugin';
import { SOURCE_IDS, sourcePlugin } from '../../lib/ingest/sources';
import { normalizeKeyword, type IngestSourceResult } from '../ingest';
import { command, print, UsageError, withClient, type CommandContext } from './context';
import { withIngestionStore } from './events';
import { printList } from './print-list';
import { waitOrExit } from './wait';

/**
 * `durasync ingest sources|run|cursors`: pulls of a source's events (ingestSource on the
 * `ingestion` queue, pages on the source's API queue), and `durasync keywords list|add|disable`:
 * the keywords enrichment counts. A bad source, config or date exits 2; with --wait, a failed pull
 * exits 4.
 */

/** The source flags every pull command shares (`schedule create ingest` too). */
export interface SourceFlags {
  source?: string;
  repo?: string;
  org?: string;
  user?: string;
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--source <source>', `the source to pull: ${SOURCE_IDS.join(', ')}`))
    .option('--repo <owner/name>', 'github: a repository\'s events')
    .option('--org <org>', 'github: an organisation\'s public events')
    .option('--user <userId>', 'pull with this user\'s stored token (default: GITHUB_TOKEN)');
}

/** The source id, its config and scope from the flags; a UsageError naming what is wrong. */
export function sourceFromFlags(opts: SourceFlags): { source: string; config: Record<string, unknown>; scope: string } {
  if (opts.source === undefined) throw new UsageError(`--source is required: one of ${SOURCE_IDS.join(', ')}`);
  const plugin = sourcePlugin(opts.source);
  if (!plugin) throw new UsageError(`--source: unknown source "${opts.source}", expected one of ${SOURCE_IDS.join(', ')}`);
  const config: Record<string, unknown> = {};
  if (opts.repo !== undefined) config.repo = opts.repo;
  if (opts.org !== undefined) config.org = opts.org;
  if (opts.user !== undefined) config.user = opts.user;
  try {
    return { source: plugin.id, config, scope: plugin.scope(plugin.parseConfig(config)) };
  } catch (err) {
    if (err instanceof InvalidSourceConfigError) throw new UsageError(err.message.replace(/\b(repo|org|user) must\b/, '--$1 must'));
    throw err;
  }
}

const pullSummary = (r: IngestSourceResult) =>
  r.notModified && r.fetched === 0
    ? `nothing new in ${r.source} ${r.scope}${r.pollIntervalSeconds ? ` (poll interval ${r.pollIntervalSeconds}s)` : ''}`
    : `pulled ${r.source} ${r.scope}: ${r.created} new, ${r.duplicates} already stored, ${r.pages} page(s)`;

const cursorLine = (c: IngestCursor) =>
  `${`${c.source} ${c.scope}`.padEnd(40)}  ${c.runs} run(s)  last ${c.lastRunAt?.toISOString() ?? 'never'}  ${c.lastCreated} new  cursor ${JSON.stringify(c.cursor).slice(0, 80)}`;

function usageKeyword(raw: string): string {
  try {
    return normalizeKeyword(raw);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

const keywordLine = (k: TrackedKeyword) => `${k.keyword.padEnd(24)}  ${k.enabled ? 'enabled' : 'disabled'}`;

function parseSince(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw new UsageError(`--since: expected an ISO date such as 2026-01-01T00:00:00Z, got "${value}"`);
  return date;
}

async function runPull(ctx: CommandContext, opts: SourceFlags & { since?: string; wait?: boolean }): Promise<void> {
  const { source, config } = sourceFromFlags(opts);
  const since = parseSince(opts.since);
  await withClient(ctx, async (client) => {
    const handle = await client.ingest.start(source, config, since ? { since } : {});
    if (!opts.wait) {
      print(ctx, { workflowId: handle.workflowId, scope: handle.scope, attached: handle.attached }, () => [`${handle.attached ? 'already running' : 'started'} ${handle.workflowId}`]);
      return;
    }
    if (handle.attached) process.stderr.write(`${handle.workflowId} is already running: waiting for it\n`);
    const result = await waitOrExit<IngestSourceResult>(ctx, client, handle.workflowId);
    print(ctx, result, () => [pullSummary(result)]);
  });
}

export function registerIngestCommands(program: Command): void {
  const ingest = program.command('ingest').description('pull events from provider APIs (ingestSource): sources, run, cursors');

  ingest
    .command('sources')
    .description('the built-in sources of pulled events')
    .action(
      command('ingest sources', async (ctx) => {
        const sources = SOURCE_IDS.map((id) => sourcePlugin(id)!).map((p) => ({ id: p.id, about: p.about, queue: p.queue }));
        print(ctx, { sources }, () => sources.map((s) => `${s.id.padEnd(10)}  ${s.about}`));
      }),
    );

  addSourceOptions(ingest.command('run').description('pull a source\'s new events now (a pull of the same scope in progress is attached to)'))
    .option('--since <date>', 'only events at or after this ISO time, whatever the saved cursor says')
    .option('--wait', 'wait for the pull, show its progress and print a one-line summary')
    .action(command('ingest run', runPull));

  ingest
    .command('cursors')
    .description('where each pulled feed stopped')
    .option('--source <source>', 'only this source')
    .action(
      command('ingest cursors', async (ctx, opts: { source?: string }) => {
        const cursors = await withIngestionStore(ctx, (store) => store.listIngestCursors(opts.source));
        printList(ctx, 'cursors', cursors, cursorLine, 'no pulls completed yet');
      }),
    );

  const keywords = program.command('keywords').description('tracked keywords, counted in every event\'s title and body: list, add, disable');

  keywords
    .command('list')
    .description('every tracked keyword')
    .action(
      command('keywords list', async (ctx) => {
        const list = await withIngestionStore(ctx, (store) => store.listTrackedKeywords());
        printList(ctx, 'keywords', list, keywordLine, 'no keywords tracked');
      }),
    );

  keywords
    .command('add')
    .description('track keywords (whole words, any case) in events stored from now on, or enable them again')
    .argument('<keyword...>')
    .action(
      command('keywords add', async (ctx, words: string[]) => {
        const checked = words.map(usageKeyword);
        const added = await withIngestionStore(ctx, async (store) => {
          const out: TrackedKeyword[] = [];
          for (const k of checked) out.push(await store.setTrackedKeyword(k, true));
          return out;
        });
        print(ctx, { keywords: added }, () => added.map((k) => `tracking ${k.keyword}`));
      }),
    );

  keywords
    .command('disable')
    .description('stop counting a keyword (its past hits stay)')
    .argument('<keyword>')
    .action(
      command('keywords disable', async (ctx, word: string) => {
        const k = await withIngestionStore(ctx, (store) => store.setTrackedKeyword(usageKeyword(word), false));
        print(ctx, { keyword: k }, () => [`disabled ${k.keyword}`]);
      }),
    );
}
