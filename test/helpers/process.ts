import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

export const DURASYNC_BIN = path.resolve(__dirname, '..', '..', 'bin', 'durasync.js');

export interface Spawned {
  child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or 128+signal) once the process has exited. */
  exited: Promise<number>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}

/** Runs `durasync <args>` with `env` on top of the test's environment, capturing its output. */
export function spawnDurasync(args: string[], env: Record<string, string | undefined> = {}): Spawned {
  const child = spawn(process.execPath, [DURASYNC_BIN, ...args], {
    env: { ...process.env, DURASYNC_LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 128)));
  });
  return {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

/** Runs `durasync <args>` to completion. */
export async function runDurasync(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; output: string }> {
  const spawned = spawnDurasync(args, env);
  const code = await spawned.exited;
  return { code, output: spawned.output() };
}

/** Polls `url` until it answers `status` (default 200), returning the parsed JSON body. */
export async function waitForHttp(url: string, timeoutMs: number, status = 200, isAlive?: () => boolean): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (isAlive && !isAlive()) throw new Error(`process exited while waiting for ${url} (${last})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      last = `${res.status} ${text.slice(0, 300)}`;
      if (res.status === status) return text.startsWith('{') ? (JSON.parse(text) as unknown) : text;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}

/** Runs `durasync <args>` to completion, with stdout and stderr apart (for `--json` output). */
export async function runDurasyncSplit(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const spawned = spawnDurasync(args, env);
  let stdout = '';
  let stderr = '';
  spawned.child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  spawned.child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise((resolve) => spawned.child.once('close', resolve));
  const code = await spawned.exited;
  await closed;
  return { code, stdout, stderr };
}
