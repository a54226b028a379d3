import { InvalidArgumentError, type Command } from 'commander';
import { createStore, type Store, type StoredEvent } from '../../lib/db/store';
import { command, EXIT, ExitError, print, UsageError, type CommandContext } from './context';

/**
 * `durasync events count|show|search`: the webhook events stored by processWebhookEvent, read from
 * the store (Postgres or Supabase). Exit codes: 3 for `show` of an event that is not stored.
 */

export async function withIngestionStore<T>(ctx: CommandContext, work: (store: Store) => Promise<T>): Promise<T> {
  const { database } = ctx.config;
  if (!database.url && !database.supabase) throw new UsageError('events and dead letters need the database: set DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY)');
  const store = createStore({ databaseUrl: database.url, supabase: database.supabase, logger: ctx.logger, poolMax: 2 });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

const eventLine = (e: StoredEvent) => `${e.occurredAt.toISOString()}  ${e.source}:${e.externalId}  ${e.kind}${e.repository ? `  ${e.repository}` : ''}  ${e.title ?? ''}`.trimEnd();

export function registerEventCommands(program: Command): void {
  const events = program.command('events').description('webhook events stored once per delivery: count, show, search');

  events
    .command('count')
    .description('how many events are stored')
    .option('--source <source>', 'only this source (e.g. github)')
    .action(
      command('events count', async (ctx, opts: { source?: string }) => {
        const count = await withIngestionStore(ctx, (store) => store.countEvents(opts.source));
        print(ctx, { count, ...(opts.source ? { source: opts.source } : {}) }, () => [String(count)]);
      }),
    );

  events
    .command('show')
    .description('show one stored event, with its payload')
    .argument('<source>')
    .argument('<externalId>', 'the delivery id')
    .action(
      command('events show', async (ctx, source: string, externalId: string) => {
        const event = await withIngestionStore(ctx, (store) => store.getEvent(source, externalId));
        if (!event) throw new ExitError(`no event ${source}:${externalId}`, EXIT.NOT_FOUND);
        print(ctx, { event }, () => [
          eventLine(event),
          ...(event.body ? [`  ${event.body.split('\n')[0]}`] : []),
          `  payload ${event.payloadRef ? `in object ${event.payloadRef}` : JSON.stringify(event.payload).slice(0, 200)}`,
        ]);
      }),
    );

  events
    .command('search')
    .description('full-text (web search syntax) or substring search of titles and bodies, best first')
    .argument('<text>')
    .option('--limit <n>', 'most results (1-1000)', positive, 20)
    .option('--source <source>', 'only this source')
    .action(
      command('events search', async (ctx, text: string, opts: { limit: number; source?: string }) => {
        if (text.trim() === '') throw new UsageError('text: expected something to search for');
        const hits = await withIngestionStore(ctx, (store) => store.searchEvents(text, { limit: opts.limit, source: opts.source }));
        print(ctx, { hits }, () => (hits.length ? hits.map((h) => eventLine(h.event)) : ['no events found']));
      }),
    );
}
