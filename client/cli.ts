import pino from 'pino';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../lib/errors';
import { loadConfig, parseQueueList, type DurasyncConfig } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { connectClient } from '../lib/temporal-client';
import { QUEUES, taskQueueName, type QueueName } from '../lib/queues';
import { migrate } from '../lib/db/migrate';
import { runDev } from '../workers/dev';
import { writeWorkflowBundle } from '../workers/bundle';
import { runWorkerProcess } from '../workers/process';
import { startCanary } from './canary';
import { startIngressServer } from './ingress';

/**
 * The `durasync` command line. Exit codes: 0 success, 1 failure (including a bad configuration
 * value, reported as one line naming the variable), 2 bad usage.
 */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

interface CommandContext {
  config: DurasyncConfig;
  logger: Logger;
}

/** Loads the configuration and a logger, runs `action`, and turns any failure into one line + exit code. */
function command<A extends unknown[]>(
  name: string,
  action: (ctx: CommandContext, ...args: A) => Promise<void>,
  options: { logTo?: 'stdout' | 'stderr' } = {},
) {
  return async (...args: A): Promise<void> => {
    let config: DurasyncConfig;
    try {
      config = loadConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`durasync ${name}: ${err.message}\n`);
        process.exit(EXIT_FAILURE);
      }
      throw err;
    }
    const logger = createLogger({
      level: config.logLevel,
      base: { service: `durasync-${name}` },
      destination: options.logTo === 'stdout' ? undefined : pino.destination({ fd: 2, sync: true }),
    });
    try {
      await action({ config, logger }, ...args);
    } catch (err) {
      logger.error({ err }, `${name} failed`);
      process.stderr.write(`durasync ${name}: ${(err as Error).message}\n`);
      process.exit(EXIT_FAILURE);
    }
  };
}

function queuesOption(value: string): QueueName[] {
  try {
    return parseQueueList(value, '--queues');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--queues: /, ''));
  }
}

export function buildProgram(): Command {
  const program = new Command('durasync')
    .description('durasync: Drive <-> GitHub sync, ingestion and branch deltas as Temporal workflows')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('dev')
    .description('run everything locally: Temporal dev server + Web UI, database (embedded unless DATABASE_URL), migrations, workers of every queue, ops and ingress servers')
    .action(
      command('dev', async ({ config, logger }) => {
        await runDev({ config, logger });
      }, { logTo: 'stdout' }),
    );

  program
    .command('worker')
    .description('run Temporal workers, one per queue in this process (concurrent mode)')
    .addOption(new Option('--queues <list>', `comma-separated queues (${QUEUES.join(', ')})`).argParser(queuesOption))
    .action(
      command('worker', async ({ config, logger }, opts: { queues?: QueueName[] }) => {
        await runWorkerProcess({ config, logger, queues: opts.queues });
      }, { logTo: 'stdout' }),
    );

  program
    .command('serve')
    .description('run the ingress HTTP server (webhooks, change feeds) on DURASYNC_INGRESS_PORT')
    .action(
      command('serve', async ({ config, logger }) => {
        const { connection } = await connectClient(config);
        try {
          const server = await startIngressServer({ host: config.ingress.host, port: config.ingress.port, logger, connection });
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          await server.close();
        } finally {
          await connection.close();
        }
      }, { logTo: 'stdout' }),
    );

  const db = program.command('db').description('database operations');
  db.command('migrate')
    .description('apply supabase/migrations/*.sql in order to DATABASE_URL (safe to run twice)')
    .option('--dir <path>', 'folder of .sql files (default: supabase/migrations)')
    .action(
      command('db migrate', async ({ config, logger }, opts: { dir?: string }) => {
        if (!config.database.url) throw new ConfigError('DATABASE_URL', 'required by db migrate (a postgres:// URL; on Supabase, its direct connection string)');
        const result = await migrate(config.database.url, { dir: opts.dir, logger });
        process.stdout.write(
          result.applied.length
            ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')} (${result.alreadyApplied.length} already applied)\n`
            : `database is up to date (${result.alreadyApplied.length} migration(s) already applied)\n`,
        );
      }),
    );

  program
    .command('canary')
    .description("run the canary workflow on a queue: proves its workers poll and reach the database and cache")
    .addOption(new Option('--queue <queue>', 'queue to probe').choices(QUEUES).default('sync'))
    .option('--timeout <seconds>', 'give up waiting after this many seconds', '30')
    .option('--hold <duration>', 'keep the probe activity running this long (e.g. 30s), to watch drains and failover')
    .action(
      command('canary', async ({ config }, opts: { queue: QueueName; timeout: string; hold?: string }) => {
        const holdMs = opts.hold === undefined ? 0 : parseDuration(opts.hold);
        if (holdMs === undefined) throw new UsageError(`--hold: expected a duration such as 30s, got "${opts.hold}"`);
        const { client, connection } = await connectClient(config);
        try {
          const result = await startCanary(client, taskQueueName(opts.queue, config.temporal.taskQueuePrefix), Number(opts.timeout) * 1000 + holdMs, holdMs ? { holdMs } : {});
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          if (result.status !== 'ok') process.exitCode = EXIT_FAILURE;
        } finally {
          await connection.close();
        }
      }),
    );

  program
    .command('build-workflows')
    .description('bundle the workflow code for production workers (DURASYNC_WORKFLOW_BUNDLE)')
    .option('--out <file>', 'output file', 'dist/workflow-bundle.js')
    .action(
      command('build-workflows', async ({ logger }, opts: { out: string }) => {
        const bytes = await writeWorkflowBundle(opts.out, logger);
        process.stdout.write(`wrote ${opts.out} (${bytes} bytes)\n`);
      }),
    );

  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    process.stderr.write(`durasync: ${(err as Error).message}\n`);
    process.exit(EXIT_FAILURE);
  }
}

if (require.main === module || process.argv[1]?.endsWith('durasync.js')) {
  void main(process.argv);
}
