import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../lib/db/migrate';
import { freePort } from '../../lib/net';

/**
 * A Postgres server of one suite's own, for tests that stop and start the database under load
 * (the shared one on :5432 serves every other suite and must never go down). It lives in a temp
 * dir: data dir, unix socket and log; listens on 127.0.0.1 at a free port with trust auth, no
 * fsync and small buffers; holds a migrated `durasync` database. Server binaries come from
 * DURASYNC_PG_BIN, else /usr/lib/postgresql/<newest>/bin, else PATH. As root, the server runs as
 * the `postgres` OS user (initdb refuses root).
 */
export interface PrivatePostgres {
  /** postgres:// URL of the migrated database. */
  url: string;
  port: number;
  /** The temp dir holding data, socket and log (removed by close()). */
  dir: string;
  /** Fast shutdown (`pg_ctl -m fast`): open sessions are terminated; resolves once the server is gone. A no-op when stopped. */
  stop(): Promise<void>;
  /** Starts it again on the same data dir and port; resolves once it accepts connections. A no-op while it runs. */
  start(): Promise<void>;
  /** Stops the server (if running) and removes its temp dir. Idempotent. */
  close(): Promise<void>;
  /** The last lines of the server log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

export interface PrivatePostgresOptions {
  /** Name of the migrated database. Default: `durasync`. */
  database?: string;
  /** Apply supabase/migrations to it. Default: true. */
  migrate?: boolean;
  /** shared_buffers. Default: `16MB`. */
  sharedBuffers?: string;
  /** max_connections. Default: 100. */
  maxConnections?: number;
}

const OS_USER = 'postgres';
/** How long pg_ctl may take to start or stop the server. */
const PG_CTL_TIMEOUT_S = 60;

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'durasync-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const database = options.database ?? 'durasync';
  let running = false;

  const run = async (tool: string, args: string[]): Promise<void> => {
    const file = path.join(bin, tool);
    const [command, argv] = asRoot ? ['runuser', ['-u', OS_USER, '--', file, ...args]] : [file, args];
    await new Promise<void>((resolve, reject) => {
      execFile(command, argv, { cwd: dir, timeout: (PG_CTL_TIMEOUT_S + 10) * 1000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`, { cause: err }));
        else resolve();
      });
    });
  };
  const pgCtl = (...args: string[]) => run('pg_ctl', [...args, '-D', dataDir, '-w', '-t', String(PG_CTL_TIMEOUT_S)]);

  // Should the test process end without close() (a crash, jest's forceExit), the server must not outlive it.
  const onExit = () => {
    if (!running) return;
    try {
      const file = path.join(bin, 'pg_ctl');
      const args = ['stop', '-D', dataDir, '-m', 'immediate'];
      if (asRoot) execFileSync('runuser', ['-u', OS_USER, '--', file, ...args], { stdio: 'ignore' });
      else execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // Best effort: the process is exiting anyway.
    }
  };

  const logTail = async (lines = 30): Promise<string> => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  };

  const start = async (): Promise<void> => {
    if (running) return;
    try {
      await pgCtl('start', '-l', logFile);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await logTail()}`, { cause: err });
    }
    running = true;
    await waitForConnections(url(port, 'postgres'), 30_000);
  };

  const stop = async (): Promise<void> => {
    if (!running) return;
    await pgCtl('stop', '-m', 'fast');
    running = false;
  };

  let port = 0;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      try {
        if (running) await stop().catch(() => onExit());
      } finally {
        running = false;
        process.off('exit', onExit);
        await rm(dir, { recursive: true, force: true });
      }
    })());

  try {
    if (asRoot) await chown(dir, ...osUserIds(OS_USER));
    await mkdir(dataDir);
    if (asRoot) await chown(dataDir, ...osUserIds(OS_USER));
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    port = await freePort();
    const settings = {
      listen_addresses: `'127.0.0.1'`,
      port: String(port),
      unix_socket_directories: `'${dir}'`,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_buffers: options.sharedBuffers ?? '16MB',
      max_connections: String(options.maxConnections ?? 100),
    };
    await appendFile(path.join(dataDir, 'postgresql.conf'), `\n# durasync private test server\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
    process.on('exit', onExit);
    await start();
    const admin = new Client({ connectionString: url(port, 'postgres') });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.query(`create database "${database.replace(/"/g, '""')}"`);
    } finally {
      await admin.end();
    }
    if (options.migrate ?? true) await migrate(url(port, database));
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }

  return { url: url(port, database), port, dir, stop, start, close, logTail };
}

function url(port: number, database: string): string {
  return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** The directory of initdb, pg_ctl and postgres. */
function postgresBinDir(): string {
  if (process.env.DURASYNC_PG_BIN) return process.env.DURASYNC_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  const found = execFileSync('sh', ['-c', 'command -v initdb || true'], { encoding: 'utf8' }).trim();
  if (found) return path.dirname(found);
  throw new Error('no Postgres server binaries (initdb): install PostgreSQL or set DURASYNC_PG_BIN');
}

function osUserIds(user: string): [number, number] {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return [uid, gid];
}

/** Resolves once a session can be opened and answers `select 1`. */
async function waitForConnections(connectionString: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ connectionString });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`private postgres not accepting connections after ${timeoutMs} ms: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
