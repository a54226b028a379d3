import net from 'node:net';
import { ConfigError } from './errors';

/** Asks the OS for a free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connection to host:port succeeds, or rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port a process is about to listen on, and the variable that moves it. */
export interface PlannedPort {
  host: string;
  port: number;
  /** What listens there, e.g. `the ops server`. */
  what: string;
  variable: string;
}

/** True when nothing listens on host:port (the port can be bound now). */
export async function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Throws a ConfigError naming the first port that is taken and the variable that moves it: checked
 * before anything starts, so that a taken port leaves nothing half-started.
 */
export async function assertPortsFree(ports: PlannedPort[]): Promise<void> {
  for (const { host, port, what, variable } of ports) {
    if (port === 0) continue;
    if (!(await portIsFree(host, port))) throw new ConfigError(variable, `port ${port} (${what}) is already in use on ${host}; stop what holds it, or set ${variable} to another port`);
  }
}
