import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import type * as Pg from 'pg';
import type * as ChangeSourceModule from '../../lib/branches/change-source';
import type { PostgresBatchSink } from '../../lib/branches/change-source';
import type * as IntakeModule from '../../lib/branches/intake';
import type * as TailerModule from '../../lib/branches/pg-tailer';
import type { PgChangeTailer } from '../../lib/branches/pg-tailer';
import type { DurasyncConfig } from '../../lib/config';
import type * as StoreModule from '../../lib/db/store';
import { ConfigError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { connectClient } from '../../lib/temporal-client';
import { command, EXIT, ExitError, print, UsageError } from './context';

/* Loaded in the actions (as client/cli.ts does), so that registering these commands costs nothing. */
/* eslint-disable @typescript-eslint/no-require-imports */
const load = {
  pg: () => require('pg') as typeof Pg,
  changeSource: () => require('../../lib/branches/change-source') as typeof ChangeSourceModule,
  intake: () => require('../../lib/branches/intake') as typeof IntakeModule,
  tailer: () => require('../../lib/branches/pg-tailer') as typeof TailerModule,
  store: () => require('../../lib/db/store') as typeof StoreModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * `durasync tail`: forwards rows of change_log (written by the triggers of watched tables) as
 * batches of their branches, exactly once, and has their workflows signalled; `durasync
 * watch-table` / `unwatch-table` install and remove those triggers. `durasync serve` runs the same
 * tailer when DURASYNC_TAIL=on.
 */

export interface RunningTailer {
  tailer: PgChangeTailer;
  sink: PostgresBatchSink;
  /** Stops reading, signals what was forwarded, closes the connections. */
  stop(): Promise<void>;
}

function databaseUrl(config: DurasyncConfig, command: string): string {
  if (!config.database.url) throw new ConfigError('DATABASE_URL', `required by ${command} (the tailer reads change_log over a direct Postgres connection; on Supabase, its direct connection string)`);
  return config.database.url;
}

/** Starts the configured tailer (DURASYNC_TAIL_*) on DATABASE_URL, signalling through `client`. */
export async function startConfiguredTailer(options: { config: DurasyncConfig; logger: Logger; client: Client; consumer?: string }): Promise<RunningTailer> {
  const { config, logger } = options;
  const url = databaseUrl(config, 'the tailer');
  const { Pool } = load.pg();
  const { PostgresBatchSink } = load.changeSource();
  const { PgChangeTailer } = load.tailer();
  const { createChangeIntake } = load.intake();
  const { createStore } = load.store();
  const pool = new Pool({ connectionString: url, max: 2, application_name: 'durasync-tailer' });
  pool.on('error', (err) => logger.warn({ err: { message: err.message } }, 'tailer database connection lost'));
  const store = createStore({ databaseUrl: url, poolMax: 2, logger });
  const intake = createChangeIntake({ store, client: options.client, config, logger });
  const sink = new PostgresBatchSink({ pool, consumer: options.consumer ?? config.tail.consumer, onStored: (batches) => intake.noteAppended(batches) });
  const tailer = new PgChangeTailer({ pool, databaseUrl: url, logger, pageSize: config.tail.pageSize, pollIntervalMs: config.tail.pollIntervalMs });
  try {
    await intake.start();
    await tailer.start(sink);
  } catch (err) {
    await tailer.stop().catch(() => undefined);
    await intake.close().catch(() => undefined);
    await store.close();
    await pool.end();
    throw err;
  }
  logger.info({ consumer: options.consumer ?? config.tail.consumer, pageSize: config.tail.pageSize }, 'change_log tailer started');
  let stopped: Promise<void> | undefined;
  return {
    tailer,
    sink,
    stop: () =>
      (stopped ??= (async () => {
        await tailer.stop();
        await intake.close().catch((err: unknown) => logger.warn({ err }, 'tailer: final signals failed; the batches are durable and will be signalled on the next start'));
        await store.close();
        await pool.end();
      })()),
  };
}

/** Runs `work` with one plain connection to DATABASE_URL; database errors DS404/DS422 become exit codes. */
async function withDatabase<T>(config: DurasyncConfig, name: string, work: (db: Pg.Client) => Promise<T>): Promise<T> {
  const db = new (load.pg().Client)({ connectionString: databaseUrl(config, name), application_name: 'durasync-cli' });
  db.on('error', () => undefined);
  await db.connect();
  try {
    return await work(db);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'DS404') throw new ExitError((err as Error).message, EXIT.NOT_FOUND);
    if (code === 'DS422' || code === '42P01' || code === '22P02') throw new UsageError((err as Error).message);
    throw err;
  } finally {
    await db.end();
  }
}

export function registerTailCommands(program: Command): void {
  program
    .command('tail')
    .description('forward rows of change_log (changes of watched tables) to their branches exactly once, and signal their workflows; runs until SIGINT/SIGTERM')
    .option('--consumer <name>', 'name the position is kept under [DURASYNC_TAIL_CONSUMER]')
    .option('--once', 'forward what is waiting, then exit')
    .action(
      command(
        'tail',
        async (ctx, opts: { consumer?: string; once?: boolean }) => {
          const { config, logger } = ctx;
          const { client, connection } = await connectClient(config);
          try {
            const running = await startConfiguredTailer({ config, logger, client, consumer: opts.consumer });
            if (opts.once) {
              try {
                await running.tailer.drain();
              } finally {
                await running.stop();
              }
              // The background loop may have forwarded pages too: count both.
              const forwarded = running.tailer.stats.changes;
              print(ctx, { forwarded, skipped: running.sink.skipped }, () => [`forwarded ${forwarded} change(s)${running.sink.skipped ? `, skipped ${running.sink.skipped} of archived or deleted branches` : ''}`]);
              return;
            }
            await new Promise<void>((resolve) => {
              process.once('SIGINT', resolve);
              process.once('SIGTERM', resolve);
            });
            await running.stop();
            logger.info({ ...running.tailer.stats, skipped: running.sink.skipped }, 'change_log tailer stopped');
          } finally {
            await connection.close();
          }
        },
        // Logs stay on stderr, so that `tail --once --json` prints one document on stdout.
      ),
    );

  program
    .command('watch-table <table>')
    .description("record the changes of a table (inserts, updates, deletes) in change_log for a branch: installs a row trigger; `durasync tail` forwards them")
    .requiredOption('--branch <id>', 'the branch (uuid) its changes go to')
    .option('--id-column <column>', 'the column whose value is the document id', 'id')
    .action(
      command('watch-table', async (ctx, table: string, opts: { branch: string; idColumn: string }) => {
        await withDatabase(ctx.config, 'watch-table', (db) => db.query('select durasync_watch_table($1::regclass, $2::uuid, $3)', [table, opts.branch, opts.idColumn]));
        print(ctx, { table, branchId: opts.branch, idColumn: opts.idColumn, watched: true }, () => [`watching ${table} for branch ${opts.branch} (document id: ${opts.idColumn})`]);
      }),
    );

  program
    .command('unwatch-table <table>')
    .description('stop recording the changes of a table (removes its change_log trigger)')
    .action(
      command('unwatch-table', async (ctx, table: string) => {
        const removed = await withDatabase(ctx.config, 'unwatch-table', async (db) => {
          const { rows } = await db.query<{ removed: boolean }>('select durasync_unwatch_table($1::regclass) as removed', [table]);
          return rows[0]?.removed ?? false;
        });
        print(ctx, { table, removed }, () => [removed ? `no longer watching ${table}` : `${table} was not watched`]);
      }),
    );
}
