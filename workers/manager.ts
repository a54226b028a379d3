import { Counter, Gauge, Registry } from 'prom-client';
import type { DurasyncConfig } from '../lib/config';
import type { RunningServer } from '../lib/http';
import type { Logger } from '../lib/logger';
import type { QueueName } from '../lib/queues';
import { ChildSlot, type ChildInfo, type ChildState } from './manager-child';
import type { LineSink } from './manager-logs';
import { HttpError } from '../lib/http';
import { childReadyCheck, managerRoutes, mergedMetrics, mergedStats, MAX_PROCESSES, type ScaleResult } from './manager-ops';
import { startOpsServer } from './ops-server';

export type { ChildInfo, ChildState } from './manager-child';
export type { ScaleResult } from './manager-ops';

/**
 * The supervisor (`durasync manager`, `durasync worker --mode isolated`): one `durasync worker`
 * child process per queue and replica, restarted when it crashes, drained on SIGTERM/SIGINT, and
 * one ops server for all of them (readiness per child, merged metrics and stats, scaling API).
 */

/** Processes of one queue. */
export interface ManagedProcessSpec {
  queue: QueueName;
  /** Child processes serving the queue (1-20). */
  replicas: number;
  /** Environment of these children, on top of the manager's (e.g. another TEMPORAL_ADDRESS). */
  env?: Record<string, string>;
}

export interface ManagerOptions {
  config: DurasyncConfig;
  logger: Logger;
  /** Processes per queue. Default: config.manager.processes (DURASYNC_MANAGER_PROCESSES). */
  processes?: ManagedProcessSpec[];
  /** The environment children inherit, before the spec's and the manager's own settings. Default: process.env. */
  env?: Record<string, string | undefined>;
  /** Where children's log lines go, one JSON line each. Default: process.stdout. */
  output?: LineSink;
  /** Called once the ops server listens and every first child is ready (or given up on). */
  onReady?: (info: { opsUrl: string }) => void;
}

export interface ManagerHandle {
  /** The manager's ops server. */
  opsUrl: string;
  /** Runs `processes` children of `queue`: starts more, or drains the newest. Resolves once they are ready or gone. */
  scale(queue: QueueName, processes: number): Promise<ScaleResult>;
  /** Drains every child (SIGTERM, SIGKILL after the grace time + 10 s), closes the ops server. Idempotent. */
  stop(): Promise<void>;
  /** Every slot, in queue and start order. */
  children(): ChildInfo[];
}

/** How long a scaling request waits for its new children to be ready. */
const SCALE_READY_TIMEOUT_MS = 120_000;
/** Extra time children get to exit after the workers' shutdown grace time. */
const STOP_MARGIN_MS = 10_000;
const STATES: ChildState[] = ['starting', 'ready', 'restarting', 'failed', 'exited', 'stopping', 'stopped'];

class Manager {
  private readonly slots = new Map<QueueName, ChildSlot[]>();
  private readonly env = new Map<QueueName, Record<string, string>>();
  private readonly checks: Record<string, () => Promise<unknown>> = {};
  private readonly registry = new Registry();
  private readonly restartsTotal: Counter<'queue'>;
  private ops: RunningServer | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private scaling: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ManagerOptions) {
    this.restartsTotal = new Counter({ name: 'durasync_manager_restarts_total', help: 'Restarts of crashed worker processes by the manager.', labelNames: ['queue'], registers: [this.registry] });
    new Gauge({
      name: 'durasync_manager_processes',
      help: 'Worker processes of the manager, by queue and state.',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      collect: () => this.countStates(),
    });
    new Gauge({
      name: 'durasync_memory_usage_bytes',
      help: 'Memory of this worker process (rss, heapUsed, heapTotal, external), read at scrape time.',
      labelNames: ['type'],
      registers: [this.registry],
      collect() {
        const usage = process.memoryUsage();
        for (const type of ['rss', 'heapUsed', 'heapTotal', 'external'] as const) this.set({ type }, usage[type]);
      },
    });
  }

  private get allSlots(): ChildSlot[] {
    return [...this.slots.values()].flat();
  }

  children(): ChildInfo[] {
    return this.allSlots.map((s) => s.info());
  }

  async start(): Promise<string> {
    const { config, logger } = this.options;
    const specs: ManagedProcessSpec[] =
      this.options.processes ?? Object.entries(config.manager.processes).map(([queue, replicas]) => ({ queue: queue as QueueName, replicas }));
    for (const { queue, replicas } of specs) {
      if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_PROCESSES) {
        throw new RangeError(`processes: ${queue} replicas must be a whole number from 0 to ${MAX_PROCESSES}, got ${replicas}`);
      }
    }
    this.ops = await startOpsServer({
      host: config.ops.host,
      port: config.ops.port,
      logger,
      checks: this.checks,
      describe: () => ({ mode: 'isolated', processes: this.processCounts(), children: this.children() }),
      metrics: async () => mergedMetrics(this.allSlots, await this.registry.metrics(), logger),
      stats: () => mergedStats(this.allSlots),
      routes: managerRoutes({ scale: (queue, n) => this.scale(queue, n), slots: () => this.allSlots }),
    });
    for (const spec of specs) {
      this.env.set(spec.queue, spec.env ?? {});
      for (let i = 0; i < spec.replicas; i++) this.addSlot(spec.queue).start();
    }
    logger.info({ ops: this.ops.url, processes: this.processCounts() }, 'manager started its worker processes');
    return this.ops.url;
  }

  /** Resolves once every slot is ready, failed or exited, or the manager stops. */
  async settled(): Promise<void> {
    const settledStates: ChildState[] = ['ready', 'failed', 'exited', 'stopping', 'stopped'];
    await Promise.all(this.allSlots.map((s) => s.waitUntil(() => this.stopping || settledStates.includes(s.state), 2 ** 31 - 1)));
  }

  scale(queue: QueueName, processes: number): Promise<ScaleResult> {
    const next = this.scaling.then(() => this.applyScale(queue, processes));
    this.scaling = next.catch(() => undefined);
    return next;
  }

  private async applyScale(queue: QueueName, processes: number): Promise<ScaleResult> {
    if (this.stopping) throw new HttpError(503, 'manager is stopping');
    const current = this.slots.get(queue) ?? [];
    const { logger } = this.options;
    logger.info({ queue, from: current.length, to: processes }, 'scaling');
    if (processes > current.length) {
      const added = Array.from({ length: processes - current.length }, () => this.addSlot(queue));
      for (const slot of added) slot.start();
      const done = await Promise.all(added.map((s) => s.waitUntil(() => this.stopping || (s.state !== 'starting' && s.state !== 'restarting'), SCALE_READY_TIMEOUT_MS)));
      const notReady = added.filter((s, i) => !done[i] || s.state !== 'ready');
      if (notReady.length) {
        throw new HttpError(503, `${notReady.map((s) => `${s.name} ${s.state}`).join(', ')}: not ready`);
      }
    } else if (processes < current.length) {
      // The newest go; a child drained on purpose does not count against readiness.
      const removed = current.slice(processes);
      for (const slot of removed) delete this.checks[slot.name];
      await Promise.all(removed.map((s) => s.stop()));
      this.slots.set(queue, (this.slots.get(queue) ?? []).filter((s) => !removed.includes(s)));
    }
    const slots = this.slots.get(queue) ?? [];
    return { queue, processes: slots.length, pids: slots.filter((s) => s.running && s.pid !== null).map((s) => s.pid!) };
  }

  private addSlot(queue: QueueName): ChildSlot {
    const { config, logger } = this.options;
    const slots = this.slots.get(queue) ?? [];
    const name = `${queue}#${slots.length + 1}`;
    const baseEnv = this.options.env ?? process.env;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...baseEnv, ...this.env.get(queue) })) if (value !== undefined) env[key] = value;
    Object.assign(env, { DURASYNC_OPS_HOST: '127.0.0.1', DURASYNC_OPS_PORT: '0', DURASYNC_WORKER_MODE: 'concurrent' });
    const slot = new ChildSlot(name, queue, {
      env,
      logger,
      output: this.options.output ?? process.stdout,
      restartBackoffMs: config.manager.restartBackoffMs,
      maxRestarts: config.manager.maxRestarts,
      restartWindowMs: config.manager.restartWindowMs,
      stopTimeoutMs: config.worker.shutdownGraceMs + STOP_MARGIN_MS,
      managerStopping: () => this.stopping,
      onRestart: (q) => this.restartsTotal.inc({ queue: q }),
    });
    this.slots.set(queue, [...slots, slot]);
    this.restartsTotal.inc({ queue }, 0);
    this.checks[name] = childReadyCheck(slot);
    return slot;
  }

  stop(): Promise<void> {
    return (this.stopped ??= this.drain());
  }

  private async drain(): Promise<void> {
    const { logger } = this.options;
    this.stopping = true;
    this.checks.manager = () => Promise.reject(new Error('stopping'));
    logger.info({ processes: this.allSlots.filter((s) => s.running).length }, 'manager stopping: draining worker processes');
    await Promise.all(this.allSlots.map((s) => s.stop()));
    await this.ops?.close();
    logger.info('manager stopped');
  }

  /** SIGKILLs every child (a second SIGINT/SIGTERM while draining). */
  killAll(): void {
    for (const slot of this.allSlots) slot.kill();
  }

  private processCounts(): Record<string, number> {
    return Object.fromEntries([...this.slots].map(([queue, slots]) => [queue, slots.length]));
  }

  private countStates(): void {
    const gauge = this.registry.getSingleMetric('durasync_manager_processes') as Gauge<'queue' | 'state'>;
    gauge.reset();
    for (const [queue, slots] of this.slots) {
      for (const state of STATES) gauge.set({ queue, state }, slots.filter((s) => s.state === state).length);
    }
  }
}

/** Starts the ops server and the children; resolves once every first child is ready or given up on. */
export async function startManager(options: ManagerOptions): Promise<ManagerHandle> {
  const manager = new Manager(options);
  let opsUrl: string;
  try {
    opsUrl = await manager.start();
    await manager.settled();
    options.onReady?.({ opsUrl });
  } catch (err) {
    await manager.stop();
    throw err;
  }
  return {
    opsUrl,
    scale: (queue, processes) => manager.scale(queue, processes),
    stop: () => manager.stop(),
    children: () => manager.children(),
  };
}

/**
 * The manager as a process runs it: starts, calls onReady, waits for SIGTERM or SIGINT, drains
 * every child and resolves. A second signal while draining SIGKILLs the children.
 */
export async function runManager(options: ManagerOptions): Promise<void> {
  const { logger } = options;
  const manager = new Manager(options);
  let signalled: (signal: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
  let signals = 0;
  const onSignal = (received: NodeJS.Signals) => {
    signals++;
    logger.info({ signal: received }, signals === 1 ? 'signal received: stopping' : 'second signal: killing worker processes');
    if (signals === 1) signalled(received);
    else manager.killAll();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const opsUrl = await manager.start();
    const ready = await Promise.race([manager.settled().then(() => true), signal.then(() => false)]);
    if (ready) options.onReady?.({ opsUrl });
    await signal;
  } finally {
    await manager.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
