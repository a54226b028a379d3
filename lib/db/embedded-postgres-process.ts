import { spawn } from 'node:child_process';
import { startEmbeddedPostgres } from './embedded-postgres';
import type { EmbeddedPostgres, EmbeddedPostgresOptions } from './embedded-postgres';

/**
 * Embedded Postgres (startEmbeddedPostgres) in a child process of its own: for callers that cannot
 * host PGlite themselves (Jest's sandbox refuses the dynamic import() PGlite loads its wasm with)
 * or that want the database to outlive nothing but an explicit close().
 *
 * The child prints one JSON line `{"url", "host", "port"}` when it listens, and closes the database
 * (flushing dataDir) when its stdin ends or on SIGTERM/SIGINT, then prints `{"closed": true}`.
 */

export interface SpawnedEmbeddedPostgres extends EmbeddedPostgres {
  pid: number;
}

export interface SpawnEmbeddedPostgresOptions extends Omit<EmbeddedPostgresOptions, 'logger'> {
  /** Give up if the child has not reported its URL by then. Default: 30 s. */
  startTimeoutMs?: number;
  /** Kill the child if it has not closed by then. Default: 15 s. */
  closeTimeoutMs?: number;
}

/** Error of the child process: `output` is what it wrote to stderr. */
export class EmbeddedPostgresProcessError extends Error {
  override readonly name = 'EmbeddedPostgresProcessError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output ? `${message}: ${output.trim().slice(-500)}` : message);
  }
}

export async function spawnEmbeddedPostgres(options: SpawnEmbeddedPostgresOptions = {}): Promise<SpawnedEmbeddedPostgres> {
  const { startTimeoutMs = 30_000, closeTimeoutMs = 15_000, ...childOptions } = options;
  // From TypeScript sources (a checkout, tests), the child runs through tsx like bin/durasync.js.
  const runner = __filename.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
  const child = spawn(process.execPath, [...runner, __filename, JSON.stringify(childOptions)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const ready = await new Promise<{ url: string; host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmbeddedPostgresProcessError(`embedded postgres did not start within ${startTimeoutMs} ms`, stderr));
    }, startTimeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{"url"'));
      if (!line) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { url: string; host: string; port: number });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresProcessError(`embedded postgres exited (${signal ?? code}) before listening`, stderr));
    });
  });

  let closing: Promise<void> | undefined;
  return {
    ...ready,
    pid: child.pid ?? 0,
    close: () =>
      (closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), closeTimeoutMs);
        await exited;
        clearTimeout(timer);
        if (!stdout.includes('{"closed":true}')) {
          throw new EmbeddedPostgresProcessError('embedded postgres did not close cleanly', stderr);
        }
      })()),
  };
}

/** The child: serve until stdin ends or a signal, then close. */
async function run(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as EmbeddedPostgresOptions;
  const pg = await startEmbeddedPostgres(options);
  try {
    process.stdout.write(`${JSON.stringify({ url: pg.url, host: pg.host, port: pg.port })}\n`);
    await new Promise<void>((resolve) => {
      process.stdin.once('end', resolve);
      process.stdin.once('error', () => resolve());
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
      process.stdin.resume();
    });
  } finally {
    await pg.close();
    process.stdin.destroy();
  }
  process.stdout.write(`${JSON.stringify({ closed: true })}\n`);
}

if (require.main === module) {
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`embedded postgres: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
