import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../lib/errors';
import { buildInfo } from '../lib/build-info';
import { connectClient } from '../lib/temporal-client';
import { QUEUES } from '../lib/queues';
import type * as DevModule from '../workers/dev';
import type * as ProcessModule from '../workers/process';
import type * as ManagerModule from '../workers/manager';
import type * as BundleModule from '../workers/bundle';
import type * as MigrateModule from '../lib/db/migrate';
import type * as IngressModule from './ingress';
import type * as WebhooksModule from '../lib/webhooks/serve';
import type * as MetricsModule from '../lib/metrics';
import { command, EXIT, EXIT_CODES_HELP, print } from './commands/context';
import { registerCanaryCommand } from './commands/canary';
import { registerWorkflowCommands } from './commands/workflows';
import { registerHistoryCommands } from './commands/history';
import { registerScheduleCommands } from './commands/schedules';
import { registerBenchCommand } from './commands/bench';
import { registerLinkCommands } from './commands/links';
import { registerConnectCommands } from './commands/connect';
import { registerSyncCommands } from './commands/sync';
import { registerTailCommands, startConfiguredTailer } from './commands/tail';
import { registerBranchCommands } from './commands/branches';
import { registerEventCommands } from './commands/events';
import { registerDlqCommands } from './commands/dlq';
import { registerAnalyticsCommands } from './commands/analytics';
import { registerIngestCommands } from './commands/ingest';
import { registerSettingsCommands } from './commands/settings';
import { registerNotificationCommands } from './commands/notifications';
import { registerExportCommands } from './commands/export';
import { registerDemoCommands } from './commands/demo';

/*
 * What only some commands need (workers, the database layer, the bundler) is loaded in their
 * actions, so that the short commands (status, list, ...) start in half the time. With require():
 * tsx runs this source as CommonJS, and its import() does not resolve extensionless .ts paths.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const load = {
  dev: () => require('../workers/dev') as typeof DevModule,
  process: () => require('../workers/process') as typeof ProcessModule,
  manager: () => require('../workers/manager') as typeof ManagerModule,
  bundle: () => require('../workers/bundle') as typeof BundleModule,
  migrate: () => require('../lib/db/migrate') as typeof MigrateModule,
  ingress: () => require('./ingress') as typeof IngressModule,
  webhooks: () => require('../lib/webhooks/serve') as typeof WebhooksModule,
  metrics: () => require('../lib/metrics') as typeof MetricsModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The `durasync` command line. Exit codes (client/commands/context.ts, printed by --help): 0
 * success, 1 failure (including a bad configuration value, reported as one line naming the
 * variable), 2 bad usage, 3 not found, 4 workflow failed (or a determinism error found by replay).
 * The global --json makes a command print one JSON document on stdout; the long-running commands
 * (dev, worker, manager, serve) log JSON lines to stdout either way.
 */

/** The flags of `worker` and `manager`, each standing for its variable (docs/CONFIGURATION.md). */
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
    .option('--json', 'print one JSON document on stdout (for scripts) instead of readable lines')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();

  program
    .command('dev')
    .description('run everything locally: Temporal dev server + Web UI, database (embedded unless DATABASE_URL), migrations, workers of every queue, ops and ingress servers')
    .action(
      command('dev', async ({ config, logger }) => {
        const { runDev } = load.dev();
        await runDev({ config, logger });
      }, { logTo: 'stdout', workspace: false }),
    );
  registerDemoCommands(program);

  addWorkerFlags(
    program
      .command('worker')
      .description('run Temporal workers: one per queue in this process (concurrent mode), or one process per queue under the manager (isolated mode)')
      .addOption(new Option('--mode <mode>', 'concurrent or isolated [DURASYNC_WORKER_MODE]').choices(['concurrent', 'isolated'])),
  ).action(
    command('worker', async ({ config, logger }) => {
      if (config.manager.mode === 'isolated') await load.manager().runManager({ config, logger });
      else await load.process().runWorkerProcess({ config, logger });
    }, { logTo: 'stdout' }),
  );

  addWorkerFlags(
    program
      .command('manager')
      .description('supervise worker processes: one per queue and replica, restarted on crashes, scaled over HTTP (POST /api/v1/workers/scale)'),
  ).action(command('manager', async ({ config, logger }) => load.manager().runManager({ config, logger }), { logTo: 'stdout' }));

  program
    .command('serve')
    .description('run the ingress HTTP server (webhooks, change feeds) on DURASYNC_INGRESS_PORT')
    .action(
      command('serve', async ({ config, logger }) => {
        const { startIngressServer, openBranchIngress } = load.ingress();
        const { openWebhookIngress, startConfiguredStreamBridge } = load.webhooks();
        const { client, connection } = await connectClient(config);
        try {
          const branches = await openBranchIngress({ config, client, logger });
          const webhooks = openWebhookIngress({ config, client, logger });
          try {
            const metrics = load.metrics().createMetrics();
            const server = await startIngressServer({
              host: config.ingress.host,
              port: config.ingress.port,
              logger,
              connection,
              ...(branches ? { branches: branches.options } : {}),
              webhooks: webhooks.options,
              metrics,
            });
            // DURASYNC_TAIL=on: the change_log tailer runs here too (client/commands/tail.ts).
            const tailer = config.tail.enabled ? await startConfiguredTailer({ config, logger, client }) : undefined;
            // DURASYNC_WEBHOOK_STREAM_BRIDGE=on: the Redis Streams bridge (lib/webhooks/redis-stream-bridge.ts).
            const streamBridge = config.webhooks.stream.bridge ? await startConfiguredStreamBridge({ config, client, logger, metrics, objects: webhooks.options.objects }) : undefined;
            await new Promise<void>((resolve) => {
              process.once('SIGINT', resolve);
              process.once('SIGTERM', resolve);
            });
            await streamBridge?.stop();
            await tailer?.stop();
            await server.close();
          } finally {
            await webhooks.close();
            await branches?.close();
          }
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
      command('db migrate', async (ctx, opts: { dir?: string }) => {
        const { config, logger } = ctx;
        if (!config.database.url) throw new ConfigError('DATABASE_URL', 'required by db migrate (a postgres:// URL; on Supabase, its direct connection string)');
        const { migrate } = load.migrate();
        const result = await migrate(config.database.url, { dir: opts.dir, logger });
        print(ctx, result, () => [
          result.applied.length
            ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')} (${result.alreadyApplied.length} already applied)`
            : `database is up to date (${result.alreadyApplied.length} migration(s) already applied)`,
        ]);
      }),
    );

  registerCanaryCommand(program);

  program
    .command('build-workflows')
    .description('bundle the workflow code for production workers (DURASYNC_WORKFLOW_BUNDLE) and record the build id beside it')
    .option('--out <file>', 'output file', 'dist/workflow-bundle.js')
    .action(
      command('build-workflows', async (ctx, opts: { out: string }) => {
        const { writeWorkflowBundle } = load.bundle();
        const bytes = await writeWorkflowBundle(opts.out, ctx.logger);
        const info = buildInfo();
        const infoFile = path.join(path.dirname(opts.out), 'build-info.json');
        await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
        print(ctx, { bundle: opts.out, bytes, buildInfo: infoFile, ...info }, () => [`wrote ${opts.out} (${bytes} bytes) and ${infoFile} (build id ${info.buildId})`]);
      }),
    );

  registerWorkflowCommands(program);
  registerHistoryCommands(program);
  registerScheduleCommands(program);
  registerLinkCommands(program);
  registerConnectCommands(program);
  registerSyncCommands(program);
  registerTailCommands(program);
  registerBranchCommands(program);
  registerEventCommands(program);
  registerDlqCommands(program);
  registerAnalyticsCommands(program);
  registerIngestCommands(program);
  registerSettingsCommands(program);
  registerNotificationCommands(program);
  registerExportCommands(program);
  registerBenchCommand(program);

  return program;
}

/** Runs the CLI on `argv` (process.argv shape). bin/durasync.js calls it, however it was started. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
    }
    process.stderr.write(`durasync: ${(err as Error).message}\n`);
    process.exit(EXIT.FAILURE);
  }
}

// Run directly (`tsx client/cli.ts`, `node dist/client/cli.js`); bin/durasync.js calls main() itself.
if (require.main === module) void main(process.argv);
