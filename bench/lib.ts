/**
 * Helpers shared by the benchmark scenarios (bench/scenarios/*): knobs from the environment,
 * statistics, the Temporal dev server and Postgres each scenario runs against, the machine
 * description and where results go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Client as PgClient } from 'pg';
import { startEmbeddedPostgres } from '../lib/db/embedded-postgres';
import { migrate } from '../lib/db/migrate';
import { createLogger, type Logger } from '../lib/logger';
import { freePort } from '../lib/net';
import { startDevServer, type DevServer } from '../workers/temporal-dev-server';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** What bench/run.ts hands every scenario. */
export interface ScenarioOptions {
  /** `--json`: print exactly one JSON object as the last line of stdout, nothing else there. */
  json: boolean;
  /** Where result files go: BENCH_RESULTS_DIR, default bench/results. */
  resultsDir: string;
}

/** Progress for humans: always stderr, so stdout stays parseable with --json. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A logger for the benchmark process itself (warnings only, to stderr). */
export function benchLogger(): Logger {
  return createLogger({ level: 'warn', destination: pino.destination({ fd: 2, sync: true }) });
}

/** A scenario's whole-number flag (`--changes 4000`), or `fallback` when absent. */
export function intFlag(flags: Record<string, string>, name: string, fallback: number, min: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`--${name}: expected a whole number >= ${min}, got "${raw}"`);
  return Number(raw);
}

/** A whole-number knob from the environment, e.g. BENCH_WORKFLOWS. */
export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name}: expected a whole number >= ${min}, got "${raw}"`);
  return Number(raw);
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The median: the middle value, or the mean of the two middle values (NaN when empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function machineInfo() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  };
}

/** A fresh, headless, in-memory Temporal dev server on a free port. */
export async function startBenchTemporal(): Promise<DevServer> {
  return startDevServer({ port: await freePort(), uiPort: false, logLevel: 'error' });
}

export interface BenchDatabase {
  url: string;
  /** How to describe it in a report, without credentials. */
  kind: string;
  close(): Promise<void>;
}

/** The canary scenario's database: DATABASE_URL as it is, else the embedded PGlite; migrated. */
export async function urlOrEmbeddedDatabase(): Promise<BenchDatabase> {
  const pg = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const url = process.env.DATABASE_URL ?? pg!.url;
  try {
    await migrate(url);
  } catch (err) {
    await pg?.close();
    throw err;
  }
  return { url, kind: pg ? 'embedded PGlite' : 'DATABASE_URL', close: async () => void (await pg?.close()) };
}

export const SCRATCH_DATABASE_PREFIX = 'durasync_bench_';
/** Scratch databases older than this (left by an interrupted run) are dropped by the next one. */
const STALE_SCRATCH_MS = 60 * 60 * 1000;

/**
 * A scratch database on a real Postgres server (the one of DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres), migrated with lib/db/migrate.ts and dropped by
 * close(). Its name carries its creation time, so a later run drops one an interrupted run left.
 */
export async function scratchDatabase(): Promise<BenchDatabase> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `${SCRATCH_DATABASE_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, async (admin) => {
    const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'durasync\\_bench\\_%'`);
    for (const { datname } of rows) {
      const created = /^durasync_bench_([0-9a-z]+)_/.exec(datname)?.[1];
      if (created && Date.now() - parseInt(created, 36) * 1000 > STALE_SCRATCH_MS) await admin.query(`drop database if exists ${quote(datname)} with (force)`);
    }
    await admin.query(`create database ${quote(name)}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  const close = () => (dropped ??= withAdmin(adminUrl, async (admin) => void (await admin.query(`drop database if exists ${quote(name)} with (force)`))));
  try {
    await migrate(url.toString());
  } catch (err) {
    await close();
    throw err;
  }
  const shown = new URL(url);
  if (shown.password) shown.password = '***';
  return { url: url.toString(), kind: `Postgres ${shown.host} (scratch database ${name}, dropped after)`, close };
}

async function withAdmin<T>(adminUrl: string, work: (admin: PgClient) => Promise<T>): Promise<T> {
  const admin = new PgClient({ connectionString: adminUrl, application_name: 'durasync-bench' });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** `file` relative to the working directory when it is below it, else absolute. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** Writes `report` as pretty JSON to `resultsDir/file`; returns the path written. */
export async function writeResult(resultsDir: string, file: string, report: unknown): Promise<string> {
  const out = path.join(resultsDir, file);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  return out;
}

/**
 * Runs `cleanup` once, whether the scenario ends, fails, or is interrupted (SIGINT/SIGTERM: then
 * the process exits 130/143 once it is done). Returns the function that runs it.
 */
export function cleanupOnExit(cleanup: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const run = () => (running ??= cleanup().catch((err: unknown) => progress(`cleanup failed: ${(err as Error).message}`)));
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: cleaning up`);
    void run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await run();
  };
}

/**
 * Prints a scenario's outcome: its readable lines on stdout, or with --json those lines on stderr
 * (as progress) and the report as one JSON object, the last line of stdout.
 */
export function printReport(options: Pick<ScenarioOptions, 'json'>, lines: string[], report: unknown): void {
  if (options.json) {
    for (const line of lines) progress(line);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

// ---- durasync child processes ------------------------------------------------------------------

/** A `bin/durasync.js <command>` child process, ready. */
export interface DurasyncProcess {
  /** The process that runs the command (bin/durasync.js runs the CLI in-process under Node 22+). */
  pid: number;
  /** The last 4,000 characters of its stdout and stderr. */
  output(): string;
  /** SIGTERM, then waits for it to exit (SIGKILL after `killAfterMs`, default 15 s). */
  stop(killAfterMs?: number): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * The environment of a durasync child: this process's, minus what would point it elsewhere
 * (TEMPORAL_* but *_PATH, SUPABASE_*, REDIS_URL, GITHUB_*, DURASYNC_* but DURASYNC_USE_DIST), plus
 * `settings`.
 */
export function durasyncChildEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^TEMPORAL_/.test(key) && !/_PATH$/.test(key)) continue;
    if (/^(SUPABASE_|GITHUB_|REDIS_URL$)/.test(key)) continue;
    if (/^DURASYNC_/.test(key) && key !== 'DURASYNC_USE_DIST') continue;
    base[key] = value;
  }
  return { ...base, ...settings };
}

/**
 * Starts `node bin/durasync.js <args>` (TypeScript sources through tsx in a checkout, as `npm run
 * durasync` does; dist/ with DURASYNC_USE_DIST=1) and resolves once `readyUrl` answers 200. A child
 * still running when this process exits, however it exits, gets SIGKILL.
 */
export async function startDurasyncProcess(args: string[], env: NodeJS.ProcessEnv, readyUrl: string, timeoutMs = 90_000): Promise<DurasyncProcess> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of liveChildren) child.kill('SIGKILL');
    });
  }
  const node = Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : path.join(PROJECT_ROOT, '.tools', 'node', 'bin', 'node');
  if (!existsSync(node)) throw new Error(`durasync needs Node 22 or newer (this is ${process.version}); run 'npm run setup' first`);
  const child = spawn(node, [path.join(PROJECT_ROOT, 'bin', 'durasync.js'), ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let output = '';
  const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => liveChildren.delete(child));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async (killAfterMs = 15_000) => {
    if (running()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(timer);
    }
  };
  const what = `durasync ${args.join(' ')}`;
  try {
    if (child.pid === undefined) throw new Error('could not be started');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!running()) throw new Error(`exited (${child.signalCode ?? `code ${child.exitCode}`})`);
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
      const status = await fetch(readyUrl, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop(2000);
    throw new Error(`${what}: ${(err as Error).message}\n${output.slice(-1500)}`);
  }
  return { pid: child.pid, output: () => output, stop };
}
