import { openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openBranchIngress, startIngressServer } from '../client/ingress';
import { openWebhookIngress } from '../lib/webhooks/routes';
import { createDurasyncClient, type DurasyncClient } from '../client/index';
import { createCache } from '../lib/cache';
import { loadConfig, type DurasyncConfig } from '../lib/config';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres';
import { migrate } from '../lib/db/migrate';
import { createStore, type Store } from '../lib/db/store';
import { openWorkspace, removeRunningWorkspace, writeRunningWorkspace } from '../lib/dev-workspace';
import type { Logger } from '../lib/logger';
import { assertPortsFree, type PlannedPort } from '../lib/net';
import { connectClient } from '../lib/temporal-client';
import type { TokenService } from '../lib/tokens/token-service';
import { createActivityDeps } from './activities';
import { startDemoEmulators, type DemoEmulators } from './demo/emulators';
import { demoTokens, seedDemo, type DemoState } from './demo/seed';
import { readyBanner } from './dev-banner';
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
  // Until the workers run (and the Temporal Runtime owns SIGINT/SIGTERM), a signal stops startup:
  // what was started is stopped, and the step in flight (failing as its servers go) is not reported.
  let interrupted: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (workersStarted || interrupted) return;
    logger.info({ signal }, 'stopping before the workers started');
    interrupted = stopAll().finally(() => {
      logger.info('durasync dev stopped');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const demo = config.dev.demo && !hasProviderCredentials(process.env);
    const embeddedPg = !config.database.url && !config.database.supabase;
    await assertPortsFree(plannedPorts(config, { demo, embeddedPg }));
    await mkdir(config.dataDir, { recursive: true });
    const workspace = await openWorkspace(config.dataDir);
    // What dev provides where the environment says nothing: a token key (connect, the demo's tokens)
    // and, for the demo, the emulators standing in for Google and GitHub.
    const provided: Record<string, string> = {};
    if (!config.tokens.keys) provided.DURASYNC_TOKEN_KEY = workspace.tokenKey;
    let emulators: DemoEmulators | undefined;
    if (demo) {
      emulators = await startDemoEmulators({ dataDir: config.dataDir, host: '127.0.0.1', drivePort: config.dev.drivePort, githubPort: config.dev.githubPort, workspace, logger });
      stack.push({ name: 'emulators', stop: () => emulators!.close() });
      Object.assign(provided, emulators.env, { GITHUB_TOKEN: demoTokens(workspace).githubToken });
      if (!config.webhooks.githubSecret) provided.GITHUB_WEBHOOK_SECRET = workspace.webhookSecret;
      logger.info({ drive: emulators.drive.url, github: emulators.github.url }, 'demo emulators running');
    }
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

    if (embeddedPg) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pgdata'), host: '127.0.0.1', port: config.dev.embeddedPgPort, logger });
      stack.push({ name: 'embedded postgres', stop: () => pg.close() });
      provided.DATABASE_URL = pg.url;
      logger.info({ port: pg.port }, 'embedded postgres (PGlite) running');
    }
    const env = loadConfig({ ...process.env, ...provided });
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
    const ingressUrl = `http://127.0.0.1:${config.ingress.port || new URL(ingress.url).port}`;

    const durasync = await createDurasyncClient({ config: env, connection });
    let seeded: DemoState | undefined;
    if (emulators) seeded = await withSeedDeps(env, logger, (deps) => seedDemo({ dataDir: config.dataDir, workspace, ...emulators, ...deps, client: durasync, ingressUrl, webhookSecret: env.webhooks.githubSecret!, logger }));

    const urls: Record<string, string> = { ingress: ingressUrl, ops: `http://127.0.0.1:${config.ops.port}`, ...(uiUrl ? { ui: uiUrl } : {}) };
    if (emulators) Object.assign(urls, { drive: emulators.drive.url, github: emulators.github.url });
    await writeRunningWorkspace(config.dataDir, {
      pid: process.pid,
      demo,
      env: { ...provided, TEMPORAL_ADDRESS: env.temporal.address, TEMPORAL_NAMESPACE: env.temporal.namespace },
      urls,
    });
    stack.push({ name: 'dev.json', stop: () => removeRunningWorkspace(config.dataDir) });

    workersStarted = true;
    await runWorkerProcess({
      config: env,
      logger,
      checks: emulators?.checks,
      onReady: ({ opsUrl, taskQueues }) => {
        process.stderr.write(
          readyBanner({ config, env, uiUrl, opsUrl, ingressUrl: ingress.url, taskQueues, emulators: emulators && { drive: emulators.drive.url, github: emulators.github.url } }),
        );
        if (seeded?.linkId) {
          // Stopped with everything else: a Ctrl-C while it waits for a run must not leave a call in flight.
          const abort = new AbortController();
          const kickoff = connection.withAbortSignal(abort.signal, () => syncBothWays(durasync, seeded.linkId!, logger));
          stack.push({ name: 'first demo syncs', stop: () => (abort.abort(), kickoff) });
        }
      },
    });
  } catch (err) {
    if (interrupted) await interrupted;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
    logger.info('durasync dev stopped');
  }
}

/** The store and token service the seeding writes through, closed when it is done. */
async function withSeedDeps<T>(config: DurasyncConfig, logger: Logger, work: (deps: { store: Store; tokens: TokenService }) => Promise<T>): Promise<T> {
  const store = createStore({ databaseUrl: config.database.url, supabase: config.database.supabase, poolMax: 2, logger });
  const cache = createCache({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger });
  try {
    const { tokens } = createActivityDeps({ config, store, cache, logger });
    return await work({ store, tokens: tokens! });
  } finally {
    await cache.close();
    await store.close();
  }
}

/** A first run of the demo link each way, as soon as the workers poll (the schedule runs it every minute after). */
async function syncBothWays(client: DurasyncClient, linkId: string, logger: Logger): Promise<void> {
  try {
    for (const direction of ['drive_to_github', 'github_to_drive'] as const) {
      const result = await client.sync.run(linkId, { direction, attach: true });
      logger.info({ linkId, direction, status: result.status }, 'demo sync finished');
    }
  } catch (err) {
    logger.warn({ err: { message: (err as Error).message }, linkId }, 'demo sync did not finish');
  }
}

/** The variables that mean real providers are configured: then dev seeds nothing and starts no emulator. */
export const PROVIDER_VARIABLES = ['GOOGLE_CLIENT_ID', 'GOOGLE_API_ROOT_URL', 'GITHUB_API_URL', 'GITHUB_TOKEN', 'GITHUB_CLIENT_ID'] as const;

export function hasProviderCredentials(env: NodeJS.ProcessEnv): boolean {
  return PROVIDER_VARIABLES.some((name) => (env[name] ?? '').trim() !== '');
}

function plannedPorts(config: DurasyncConfig, { demo, embeddedPg }: { demo: boolean; embeddedPg: boolean }): PlannedPort[] {
  const ports: PlannedPort[] = [];
  if (config.dev.temporal === 'embedded') {
    const [host, port] = splitHostPort(config.temporal.address);
    ports.push({ host, port, what: 'the Temporal dev server', variable: 'TEMPORAL_ADDRESS' });
    ports.push({ host, port: config.dev.uiPort, what: 'the Temporal Web UI', variable: 'DURASYNC_DEV_UI_PORT' });
  }
  if (embeddedPg) ports.push({ host: '127.0.0.1', port: config.dev.embeddedPgPort, what: 'the embedded Postgres', variable: 'DURASYNC_EMBEDDED_PG_PORT' });
  ports.push({ host: config.ops.host, port: config.ops.port, what: 'the ops server', variable: 'DURASYNC_OPS_PORT' });
  ports.push({ host: config.ingress.host, port: config.ingress.port, what: 'the ingress', variable: 'DURASYNC_INGRESS_PORT' });
  if (demo) {
    ports.push({ host: '127.0.0.1', port: config.dev.drivePort, what: 'the Google Drive emulator', variable: 'DURASYNC_DEV_DRIVE_PORT' });
    ports.push({ host: '127.0.0.1', port: config.dev.githubPort, what: 'the GitHub emulator', variable: 'DURASYNC_DEV_GITHUB_PORT' });
  }
  return ports;
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}
