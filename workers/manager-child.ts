import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '../lib/logger';
import { PROJECT_ROOT } from '../lib/paths';
import type { QueueName } from '../lib/queues';
import { forwardLines, type LineSink } from './manager-logs';

/**
 * One supervised slot of the manager (`sync#2`): a `durasync worker --queues <queue>` child process,
 * restarted after an abnormal exit with a doubling back-off, given up on (`failed`) after too many
 * restarts within a window.
 *
 * States: `starting` (spawned, not yet ready) -> `ready` (announced its ops URL over IPC);
 * `restarting` (exited abnormally, waiting out the back-off); `failed` (too many restarts: left
 * down); `exited` (exited 0 on its own: left down); `stopping` (SIGTERM sent, draining) -> `stopped`.
 */
export type ChildState = 'starting' | 'ready' | 'restarting' | 'failed' | 'exited' | 'stopping' | 'stopped';

/** What /health and `children()` show of a slot. */
export interface ChildInfo {
  /** `<queue>#<n>`, e.g. `sync#2`. */
  name: string;
  queue: QueueName;
  /** The current (or last) process id; null before the first spawn. */
  pid: number | null;
  state: ChildState;
  /** Restarts after abnormal exits since the slot was created. */
  restarts: number;
  /** The child's ops server, once it announced it; null while it is not running. */
  opsUrl: string | null;
  /** The last exit: code, or the signal that ended it. */
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

export interface SlotSettings {
  /** The environment children run with (the manager's, the spec's, and the manager's overrides). */
  env: Record<string, string>;
  logger: Logger;
  output: LineSink;
  /** First delay before a restart; doubles each consecutive time, up to MAX_BACKOFF_MS. */
  restartBackoffMs: number;
  /** Restarts allowed within restartWindowMs before the slot is `failed`. */
  maxRestarts: number;
  restartWindowMs: number;
  /** How long a SIGTERMed child may drain before it is SIGKILLed. */
  stopTimeoutMs: number;
  /** Whether the manager as a whole is stopping (no restarts then). */
  managerStopping: () => boolean;
  /** Called each time a restart is scheduled (the manager's restart counter). */
  onRestart: (queue: QueueName) => void;
}

/** Restart back-off ceiling. */
export const MAX_BACKOFF_MS = 30_000;
/** After a SIGKILL, how long to wait for the exit before giving up on it. */
const KILL_WAIT_MS = 5_000;

/** The `durasync` command of this checkout: what every child runs. */
export const DURASYNC_BIN = path.join(PROJECT_ROOT, 'bin', 'durasync.js');

interface ReadyMessage {
  type: 'durasync:ready';
  pid: number;
  opsUrl: string;
  queues: string[];
  taskQueues: string[];
}

function isReadyMessage(message: unknown): message is ReadyMessage {
  const m = message as Partial<ReadyMessage> | null;
  return typeof m === 'object' && m !== null && m.type === 'durasync:ready' && typeof m.opsUrl === 'string';
}

export class ChildSlot {
  state: ChildState = 'starting';
  restarts = 0;
  pid: number | null = null;
  opsUrl: string | null = null;
  taskQueues: string[] = [];
  private lastExit: ChildInfo['lastExit'] = null;
  private child: ChildProcess | undefined;
  private spawnedAt = 0;
  private restartTimes: number[] = [];
  private consecutive = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly queue: QueueName,
    private readonly settings: SlotSettings,
  ) {}

  info(): ChildInfo {
    return { name: this.name, queue: this.queue, pid: this.pid, state: this.state, restarts: this.restarts, opsUrl: this.opsUrl, lastExit: this.lastExit };
  }

  /** True while a process runs in this slot (spawned and not yet exited). */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Spawns the child. */
  start(): void {
    const { env, logger, output } = this.settings;
    const child = spawn(process.execPath, [DURASYNC_BIN, 'worker', '--queues', this.queue], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    this.spawnedAt = Date.now();
    this.pid = child.pid ?? null;
    this.opsUrl = null;
    this.setState('starting');
    logger.info({ child: this.name, childPid: this.pid, queue: this.queue }, 'child started');
    if (child.pid !== undefined) {
      forwardLines(child.stdout!, output, { child: this.name, childPid: child.pid, stream: 'stdout' });
      forwardLines(child.stderr!, output, { child: this.name, childPid: child.pid, stream: 'stderr' });
    }
    child.on('message', (message: unknown) => {
      if (this.child !== child || !isReadyMessage(message)) return;
      this.opsUrl = message.opsUrl;
      this.taskQueues = message.taskQueues;
      logger.info({ child: this.name, childPid: child.pid, opsUrl: message.opsUrl, taskQueues: message.taskQueues }, 'child ready');
      if (this.state === 'starting') this.setState('ready');
    });
    child.on('error', (err) => {
      logger.error({ child: this.name, err }, 'child process error');
      // A spawn that failed never emits 'exit'.
      if (child.pid === undefined) this.exited(child, null, null);
    });
    child.on('exit', (code, signal) => this.exited(child, code, signal));
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.opsUrl = null;
    const now = Date.now();
    this.lastExit = { code, signal, at: new Date(now).toISOString() };
    const { logger } = this.settings;
    const scope = { child: this.name, childPid: child.pid, code, signal };
    if (this.state === 'stopping' || this.settings.managerStopping()) {
      logger.info(scope, 'child stopped');
      return this.setState('stopped');
    }
    if (code === 0) {
      logger.warn(scope, 'child exited on its own with code 0: not restarting it');
      return this.setState('exited');
    }
    const { restartBackoffMs, maxRestarts, restartWindowMs } = this.settings;
    // A child that ran for a whole window was healthy: the back-off starts over.
    if (now - this.spawnedAt >= restartWindowMs) this.consecutive = 0;
    this.restartTimes = this.restartTimes.filter((t) => now - t < restartWindowMs);
    if (this.restartTimes.length >= maxRestarts) {
      logger.error({ ...scope, restarts: this.restarts, maxRestarts, restartWindowMs }, 'child keeps crashing: too many restarts within the window, leaving it failed');
      return this.setState('failed');
    }
    const delayMs = Math.min(restartBackoffMs * 2 ** this.consecutive, MAX_BACKOFF_MS);
    this.consecutive++;
    this.restarts++;
    this.restartTimes.push(now);
    this.settings.onRestart(this.queue);
    logger.warn({ ...scope, delayMs, restarts: this.restarts }, 'child exited abnormally: restarting it');
    this.setState('restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, delayMs);
  }

  /**
   * Drains the slot: cancels a pending restart, sends SIGTERM, waits for the exit (stopTimeoutMs),
   * then SIGKILLs. Idempotent; resolves once no process runs in the slot.
   */
  stop(): Promise<void> {
    return (this.stopping ??= this.drain());
  }

  private async drain(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (!child) {
      if (this.state === 'restarting' || this.state === 'starting') this.setState('stopped');
      return;
    }
    this.setState('stopping');
    child.kill('SIGTERM');
    if (await this.waitUntil(() => !this.running, this.settings.stopTimeoutMs)) return;
    this.settings.logger.warn({ child: this.name, childPid: child.pid, timeoutMs: this.settings.stopTimeoutMs }, 'child did not exit in time: SIGKILL');
    child.kill('SIGKILL');
    if (!(await this.waitUntil(() => !this.running, KILL_WAIT_MS))) {
      this.settings.logger.error({ child: this.name, childPid: child.pid }, 'child did not exit after SIGKILL');
    }
  }

  /** SIGKILLs the running child now (a second signal to the manager); the drain in progress then ends. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Resolves true once `predicate` holds (checked on every state change), false after `timeoutMs`. */
  waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(ok);
      };
      this.listeners.add(check);
    });
  }

  private setState(state: ChildState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener();
  }
}
