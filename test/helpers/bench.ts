import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Runs `bench/run.ts <args> --json` as a real child process (tsx, as `npm run bench` does) and
 * returns the report on the last line of its stdout. Past `timeoutMs` it gets SIGTERM, which lets
 * the bench stop its workers and dev server and drop its database; a non-zero exit throws with the
 * tail of its stderr.
 */
export async function runBenchJson<T = Record<string, unknown>>(args: string[], options: { env?: Record<string, string>; timeoutMs: number }): Promise<{ report: T; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), ...args, '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`bench exited ${code}:\n${stderr.slice(-3000)}`);
  const lines = stdout.trim().split('\n');
  return { report: JSON.parse(lines[lines.length - 1]!) as T, stderr };
}
