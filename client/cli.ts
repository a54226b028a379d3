import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../lib/errors';
import { parseDuration } from '../lib/duration';
import { buildInfo } from '../lib/build-info';
import { loadConfig, type DurasyncConfig } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { connectClient } from '../lib/temporal-client';
import { QUEUES, taskQueueName, type QueueName } from '../lib/queues';
import { migrate } from '../lib/db/migrate';
import { runDev } from '../workers/dev';
import { writeWorkflowBundle } from '../workers/bundle';
import { runWorkerProcess } from '../workers/process';
import { runManager } from '../workers/manager';
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

/** Bad usage: printed as one line, exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Flags that stand for configuration variables: `durasync worker --max-activities 50` is
 * `DURASYNC_MAX_CONCURRENT_ACTIVITIES=50 durasync worker`. They are validated by lib/config.ts like
 * the variables, and exported to the environment, so that processes the command starts (the
 * manager's workers) inherit them.
 */
const FLAG_VARIABLES: Record<string, string> = {
  queues: 'DURASYNC_QUEUES',
  mode: 'DURASYNC_WORKER_MODE',
  maxActivities: 'DURASYNC_MAX_CONCURRENT_ACTIVITIES',
  maxWorkflowTasks: 'DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS',
  tuner: 'DURASYNC_TUNER',
  targetMem: 'DURASYNC_TUNER_TARGET_MEM',
  targetCpu: 'DURASYNC_TUNER_TARGET_CPU',
  rate: 'DURASYNC_QUEUE_RATES',
  processes: 'DURASYNC_MANAGER_PROCESSES',
};

const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Loads the configuration and a logger, runs `action`, and turns any failure into one line + exit code. */
function command<A extends unknown[]>(
  name: string,
  action: (ctx: CommandContext, ...args: A) => Promise<void>,
  options: { logTo?: 'stdout' | 'stderr' } = {},
) {
  return async (...args: A): Promise<void> => {
    const flags = (args.find((a) => typeof a === 'object' && a !== null && !(a instanceof Command)) ?? {}) as Record<string, unknown>;
    const fromFlags: Record<string, string> = {};
    for (const [key, value] of Object.entries(flags)) {
      const variable = FLAG_VARIABLES[key];
      if (variable && (typeof value === 'string' || Array.isArray(value))) fromFlags[variable] = Array.isArray(value) ? value.join(',') : value;
    }
    let config: DurasyncConfig;
    try {
      Object.assign(process.env, fromFlags);
      config = loadConfig();
    } catch (err) {
      if (err instanceof ConfigError) {
        const flag = Object.keys(FLAG_VARIABLES).find((k) => FLAG_VARIABLES[k] === err.variable && err.variable in fromFlags);
        process.stderr.write(`durasync ${name}: ${flag ? `${flagName(flag)}${err.message.slice(err.variable.length)}` : err.message}\n`);
        process.exit(flag ? EXIT_USAGE : EXIT_FAILURE);
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
      if (err instanceof UsageError) {
        process.stderr.write(`durasync ${name}: ${err.message}\n`);
        process.exit(EXIT_USAGE);
      }
      logger.error({ err }, `${name} failed`);
      process.stderr.write(`durasync ${name}: ${(err as Error).message}\n`);
      process.exit(EXIT_FAILURE);
    }
  };
}

/** The flags of `worker` and `manager`, each standing for its variable (README, Configuration). */
function addWorkerFlags(cmd: Command): Command {
  return cmd
    .option('--queues <list>', `comma-separated queues (${QUEUES.join(', ')}) [DURASYNC_QUEUES]`)
    .option('--max-activities <n>', 'activity slots per worker [DURASYNC_MAX_CONCURRENT_ACTIVITIES]')
    .option('--max-workflow-tasks <n>', 'workflow task slots per worker [DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS]')
    .addOption(new Option('--tuner <kind>', 'slot sizing: fixed maximums or the resource-based tuner [DURASYNC_TUNER]').choices(['fixed', 'resource']))
    .option('--target-mem <fraction>', 'resource tuner: target memory use, 0-1 (default 0.8) [DURASYNC_TUNER_TARGET_MEM]')
    .option('--target-cpu <fraction>', 'resource tuner: target CPU use, 0-1 (default 0.9) [DURASYNC_TUNER_TARGET_CPU]')
    .option('--rate <queue=perSecond...>', 'activities per second for a whole task queue, across all its workers [DURASYNC_QUEUE_RATES]')
    .option('--processes <queue=n,...>', 'isolated mode / manager: processes per queue, 1-20 [DURASYNC_MANAGER_PROCESSES]');
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

  addWorkerFlags(
    program
      .command('worker')
      .description('run Temporal workers: one per queue in this process (concurrent mode), or one process per queue under the manager (isolated mode)')
      .addOption(new Option('--mode <mode>', 'concurrent or isolated [DURASYNC_WORKER_MODE]').choices(['concurrent', 'isolated'])),
  ).action(
    command('worker', async ({ config, logger }) => {
      if (config.manager.mode === 'isolated') await runManager({ config, logger });
      else await runWorkerProcess({ config, logger });
    }, { logTo: 'stdout' }),
  );

  addWorkerFlags(
    program
      .command('manager')
      .description('supervise worker processes: one per queue and replica, restarted on crashes, scaled over HTTP (POST /api/v1/workers/scale)'),
  ).action(command('manager', async ({ config, logger }) => runManager({ config, logger }), { logTo: 'stdout' }));

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
    .description('bundle the workflow code for production workers (DURASYNC_WORKFLOW_BUNDLE) and record the build id beside it')
    .option('--out <file>', 'output file', 'dist/workflow-bundle.js')
    .action(
      command('build-workflows', async ({ logger }, opts: { out: string }) => {
        const bytes = await writeWorkflowBundle(opts.out, logger);
        const info = buildInfo();
        const infoFile = path.join(path.dirname(opts.out), 'build-info.json');
        await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
        process.stdout.write(`wrote ${opts.out} (${bytes} bytes) and ${infoFile} (build id ${info.buildId})\n`);
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
