import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { DURASYNC_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { findTemporalBinary } from '../lib/tools';
import { waitForPort } from '../lib/net';

/**
 * Runs `temporal server start-dev` (the Temporal CLI's dev server, with its Web UI) as a child
 * process, with durasync's search attributes registered. Used by `npm run dev` and by the test
 * setup; production points TEMPORAL_ADDRESS at a real cluster instead.
 */
export interface DevServerOptions {
  /** Interface to bind. Default: 127.0.0.1. */
  ip?: string;
  /** gRPC frontend port. Default: 7233. */
  port?: number;
  /** Web UI port, or `false` for headless. Default: port + 1000. */
  uiPort?: number | false;
  /** SQLite file that keeps history across restarts; in-memory when absent. */
  dbFilename?: string;
  /** Namespace created at start. Default: `default`. */
  namespace?: string;
  /** Server log level. Default: `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where the server's own output goes: 'inherit', 'ignore' or a file descriptor. Default: discarded. */
  stdio?: 'inherit' | 'ignore' | number;
  /** Run in its own process group, so a terminal's Ctrl-C does not reach it. Default: false. */
  detached?: boolean;
  /** How long to wait for the frontend and UI. Default: 30 s. */
  startTimeoutMs?: number;
  /** Extra CLI arguments. */
  extraArgs?: string[];
}

export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const CLI_TYPE: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/**
 * `--dynamic-config-value` arguments that make task priority (urgent syncs and webhooks before bulk
 * work, docs/OPERATIONS.md "Priority") hold on the dev server. Priority is enforced by the new matcher (the
 * default since server 1.30; stated for older CLIs) within one task queue partition; with the
 * server's default of 4 partitions and few pollers, a poll reaches a random partition and bulk
 * tasks of one partition overtake urgent ones of another. A dev server is one process, where
 * partitions add nothing, so every queue gets one. A cluster sets the same keys in its dynamic
 * config (deploy/temporal/dynamicconfig/development.yaml), or keeps partitions for throughput
 * and accepts approximate ordering.
 */
export const PRIORITY_DYNAMIC_CONFIG: readonly string[] = [
  'matching.useNewMatcher=true',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
];

/** `--search-attribute Name=Type` arguments for every durasync search attribute. */
export function searchAttributeArgs(): string[] {
  return DURASYNC_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE[key.type]}`]);
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? 7233;
  const uiPort = options.uiPort === undefined ? port + 1000 : options.uiPort;
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip', ip,
    '--port', String(port),
    '--namespace', namespace,
    '--log-level', options.logLevel ?? 'warn',
    // What the SDK's own stress tests use for throughput on the SQLite store.
    '--sqlite-pragma', 'journal_mode=WAL',
    '--sqlite-pragma', 'synchronous=OFF',
    ...searchAttributeArgs(),
    ...PRIORITY_DYNAMIC_CONFIG.flatMap((value) => ['--dynamic-config-value', value]),
    ...(uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
    ...(options.extraArgs ?? []),
  ];
  if (options.dbFilename) {
    mkdirSync(path.dirname(options.dbFilename), { recursive: true });
    args.push('--db-filename', options.dbFilename);
  }
  const child = spawn(findTemporalBinary('temporal'), args, {
    stdio: ['ignore', options.stdio ?? 'ignore', options.stdio ?? 'ignore'],
    detached: options.detached ?? false,
  });
  // Never leave a server behind, even when this process exits without stopping it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `temporal dev server exited (${signal ?? `code ${code}`})`;
  });
  const address = `${ip}:${port}`;
  const stop = () => stopChild(child);
  try {
    await waitForFrontend(address, namespace, options.startTimeoutMs ?? 30_000, () => exited);
    if (uiPort !== false) await waitForPort(ip, uiPort, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, namespace, uiUrl: uiPort === false ? undefined : `http://${ip}:${uiPort}`, process: child, stop };
}

async function waitForFrontend(address: string, namespace: string, timeoutMs: number, exited: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(why);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`temporal dev server not ready on ${address} after ${timeoutMs} ms: ${String(lastError)}`);
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
