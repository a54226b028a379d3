import { openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openBranchIngress, startIngressServer } from '../client/ingress';
import { openWebhookIngress } from '../lib/webhooks/routes';
import type { DurasyncConfig } from '../lib/config';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres';
import { migrate } from '../lib/db/migrate';
import type { Logger } from '../lib/logger';
import { connectClient } from '../lib/temporal-client';
import { startDevServer } from './temporal-dev-server';
import { runWorkerProcess } from './process';

export interface DevOptions {
  config: DurasyncConfig;
  logger: Logger;
}

/**
 * `npm run dev` / `durasync dev`: the whole product on one machine with embedded defaults.
 * - Temporal: the CLI's dev server on 127.0.0.1:7233 (TEMPORAL_ADDRESS names another port), Web UI
 *   on :8233, history kept in `.durasync/temporal.db`, durasync's search attributes registered
 *   (DURASYNC_DEV_TEMPORAL=external uses the server at TEMPORAL_ADDRESS instead);
 * - the database: DATABASE_URL / Supabase when set, else an embedded Postgres (PGlite over the
 *   Postgres protocol, data in `.durasync/pgdata`), migrated;
 * - the workers of every queue (concurrent mode), the ops server and the ingress server.
 * Ctrl-C drains the workers, then stops everything it started, in reverse order.
 */
export async function runDev({ config, logger }: DevOptions): Promise<void> {
  const stack: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  const stopAll = async () => {
    while (stack.length) {
      const { name, stop } = stack.pop()!;
      await stop().catch((err: unknown) => logger.warn({ err, resource: name }, 'stop failed'));
    }
  };
  let workersStarted = false;
  // Until the workers run (and the Temporal Runtime owns SIGINT/SIGTERM), a signal stops startup.
  const onSignal = (signal: NodeJS.Signals) => {
    if (workersStarted) return;
    logger.info({ signal }, 'stopping before the workers started');
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await mkdir(config.dataDir, { recursive: true });
    const env = { ...config };
    let uiUrl: string | undefined;

    if (config.dev.temporal === 'external') {
      logger.info({ temporal: config.temporal.address }, 'using the Temporal server at TEMPORAL_ADDRESS');
    } else {
      const [host, port] = splitHostPort(config.temporal.address);
      const logFile = path.join(config.dataDir, 'temporal.log');
      const server = await startDevServer({
        ip: host,
        port,
        uiPort: config.dev.uiPort,
        dbFilename: path.join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        stdio: openSync(logFile, 'a'),
        detached: true, // Ctrl-C reaches only us; the server is stopped last, after the workers drained
        // With payload encryption on, the UI decodes payloads through the ops server's codec endpoint.
        extraArgs: config.encryption.keys ? ['--ui-codec-endpoint', `http://127.0.0.1:${config.ops.port}/codec`] : [],
      });
      stack.push({ name: 'temporal dev server', stop: () => server.stop() });
      uiUrl = server.uiUrl;
      logger.info({ temporal: server.address, ui: server.uiUrl, log: logFile }, 'temporal dev server running');
    }

    if (!config.database.url && !config.database.supabase) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pgdata'), host: '127.0.0.1', port: config.dev.embeddedPgPort, logger });
      stack.push({ name: 'embedded postgres', stop: () => pg.close() });
      env.database = { ...config.database, url: pg.url };
      logger.info({ port: pg.port }, 'embedded postgres (PGlite) running');
    }
    if (env.database.url) {
      const result = await migrate(env.database.url, { logger });
      logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied.length }, 'migrations applied');
    }

    const { client, connection } = await connectClient(env);
    stack.push({ name: 'temporal client', stop: () => connection.close() });
    const branches = await openBranchIngress({ config: env, client, logger });
    if (branches) stack.push({ name: 'branch change feed', stop: () => branches.close() });
    const webhooks = openWebhookIngress({ config: env, client, logger });
    stack.push({ name: 'webhooks', stop: () => webhooks.close() });
    const ingress = await startIngressServer({ host: config.ingress.host, port: config.ingress.port, logger, connection, ...(branches ? { branches: branches.options } : {}), webhooks: webhooks.options });
    stack.push({ name: 'ingress', stop: () => ingress.close() });

    workersStarted = true;
    await runWorkerProcess({
      config: env,
      logger,
      onReady: ({ opsUrl, taskQueues }) => {
        process.stderr.write(
          [
            '',
            'durasync dev is running',
            `  Temporal        ${config.temporal.address} (namespace ${config.temporal.namespace})`,
            `  Temporal Web UI ${uiUrl ?? '(the UI of the server at TEMPORAL_ADDRESS)'}`,
            `  database        ${env.database.supabase ? `Supabase ${env.database.supabase.url}` : redactUrl(env.database.url!)}${config.database.url ? '' : ' (embedded PGlite)'}`,
            `  cache           ${config.redis.url ? redactUrl(config.redis.url) : 'in-process (REDIS_URL not set)'}`,
            `  workers         ${taskQueues.join(', ')}`,
            `  ops server      ${opsUrl}  (/health/ready, /metrics)`,
            `  ingress         ${ingress.url}`,
            '  Ctrl-C stops everything.',
            '',
          ].join('\n'),
        );
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
    logger.info('durasync dev stopped');
  }
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

/** A URL with any password removed, for printing. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
