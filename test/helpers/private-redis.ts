import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freePort } from '../../lib/net';

/**
 * A redis-server of one suite's own, for tests that take Redis away under load (the shared one
 * serves every other suite). In memory only (no RDB, no AOF), on 127.0.0.1 at a free port.
 */
export const REDIS_SERVER = '/usr/bin/redis-server';
export const hasRedisServer = existsSync(REDIS_SERVER);

export interface PrivateRedis {
  url: string;
  /** SIGKILL; resolves once the process has exited. A no-op once it has. */
  kill(): Promise<void>;
}

/** Starts the server and resolves once it answers PING. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  // The server takes a moment to listen: the probe reconnects until it answers.
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 50 });
  try {
    await probe.connect().catch(() => undefined);
    await probe.ping();
  } catch (err) {
    await kill();
    throw err;
  } finally {
    probe.disconnect();
  }
  return { url, kill };
}
