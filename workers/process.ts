import os from 'node:os';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import type { DurasyncConfig } from '../lib/config';
import { createCache, type Cache } from '../lib/cache';
import { createStore, type Store } from '../lib/db/store';
import { createObjectStore } from '../lib/objects';
import type { Logger } from '../lib/logger';
import { createMetrics, updateIdleIterations, type DurasyncMetrics } from '../lib/metrics';
import { freePort } from '../lib/net';
import { apiQueuesFor, isApiQueueName, taskQueueName, type ApiQueueName, type QueueName } from '../lib/queues';
import type { RunningServer } from '../lib/http';
import { dataConverter } from '../lib/temporal-client';
import { EncryptionCodec } from '../lib/codec';
import { codecRoutes } from './codec-endpoint';
import { activitiesForApiQueue, activitiesForQueue, createActivityDeps, type ActivityDeps } from './activities';
import { loadWorkflowBundle } from './bundle';
import { durasyncWorkerOptions } from './interceptors';
import { fetchSdkMetrics, startOpsServer } from './ops-server';
import { describeQueues, queueBacklog } from './queue-report';
import { JobBridge } from './job-bridge';
import { WorkerStats } from './stats';
import { installRuntime } from './runtime';

export interface QueueWorkerOptions {
  connection: NativeConnection;
  config: DurasyncConfig;
  /** A job family's queue (workflows and activities), or a provider API queue (activities only). */
  queue: QueueName | ApiQueueName;
  /** The workflow bundle; not used by API queues. */
  bundle: WorkflowBundleOption;
  metrics: DurasyncMetrics;
  /** Job counts for /api/v1/workers/stats. */
  stats?: WorkerStats;
  deps: ActivityDeps;
}

/**
 * The Temporal worker of one queue, as every durasync process runs it: the queue's activities,
 * durasync's interceptors and sinks, the shutdown grace time and concurrency limits from config.
 * A provider API queue (`github-api`, `drive-api`) gets an activity-only worker, paced by the
 * server with its rate (DURASYNC_QUEUE_RATES).
 */
export async function createQueueWorker({ connection, config, queue, bundle, metrics, stats, deps }: QueueWorkerOptions): Promise<Worker> {
  const { tuner, rates, versioning } = config.worker;
  const rate = rates[queue];
  const api = isApiQueueName(queue);
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: taskQueueName(queue, config.temporal.taskQueuePrefix),
    identity: `${process.pid}@${os.hostname()}/${queue}`,
    ...(api ? {} : { workflowBundle: bundle }),
    dataConverter: dataConverter(config),
    activities: api ? activitiesForApiQueue(queue, deps) : activitiesForQueue(queue, deps),
    ...durasyncWorkerOptions(metrics, queue, stats),
    shutdownGraceTime: config.worker.shutdownGraceMs,
    ...(tuner ? { tuner: { tunerOptions: tuner } } : {}),
    ...(config.worker.maxConcurrentActivities ? { maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities } : {}),
    ...(config.worker.maxConcurrentWorkflowTasks ? { maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks } : {}),
    ...(rate ? { maxTaskQueueActivitiesPerSecond: rate } : {}),
    ...(versioning.enabled
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: versioning.deploymentName, buildId: versioning.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: versioning.defaultBehavior,
          },
        }
      : {}),
  });
}

export interface WorkerProcessOptions {
  config: DurasyncConfig;
  logger: Logger;
  /** Queues this process serves, one Temporal worker each (concurrent mode). Default: config.worker.queues. */
  queues?: QueueName[];
  /** Called once every worker polls and the ops server listens. */
  onReady?: (info: { opsUrl: string; taskQueues: string[] }) => void;
  /** More readiness checks of /health/ready, by name (dev: its emulators). Default: none. */
  checks?: Record<string, () => Promise<unknown>>;
}

/**
 * A worker process: one Temporal worker per queue sharing one connection, one workflow bundle,
 * one store and one cache, plus the ops server. Resolves after SIGINT/SIGTERM once every worker
 * has drained (in-flight activities get DURASYNC_SHUTDOWN_GRACE to finish) and everything it
 * opened is closed; rejects if a worker fails, after stopping the others.
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const { config, logger } = options;
  const queues = options.queues ?? config.worker.queues;
  const sdkMetricsAddress = `127.0.0.1:${await freePort()}`;
  installRuntime({ logger, sdkMetricsAddress });
  // The Runtime handles the first SIGINT/SIGTERM (drain) and then removes its listener. A terminal's
  // Ctrl-C reaches the whole process group and the manager forwards a SIGTERM too: without a
  // listener of our own, that second signal would kill the process in the middle of its drain.
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);

  const opened: Array<{ name: string; close: () => Promise<unknown> }> = [];
  const closeAll = async () => {
    for (const { name, close } of opened.reverse()) {
      await close().catch((err: unknown) => logger.warn({ err, resource: name }, 'close failed'));
    }
  };
  try {
    const store: Store = createStore({
      databaseUrl: config.database.url,
      supabase: config.database.supabase,
      poolMax: config.database.poolMax,
      logger,
    });
    opened.push({ name: 'store', close: () => store.close() });
    const cache: Cache = createCache({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger });
    opened.push({ name: 'cache', close: () => cache.close() });
    const connection = await NativeConnection.connect(config.temporal.connectionOptions as Parameters<typeof NativeConnection.connect>[0]);
    opened.push({ name: 'temporal connection', close: () => connection.close() });
    const bundle: WorkflowBundleOption = await loadWorkflowBundle(config.worker.workflowBundlePath, logger);
    const metrics = createMetrics();
    const stats = new WorkerStats();

    const objects = createObjectStore(config);
    opened.push({ name: 'object store', close: () => objects.close() });
    const deps = { ...createActivityDeps({ config, store, cache, logger, metrics }), objects };
    // The provider API queues this process's families use are polled here too (activity-only workers).
    const polled: Array<QueueName | ApiQueueName> = [...queues, ...apiQueuesFor(queues)];
    const workers = await Promise.all(
      polled.map(async (queue) => {
        const worker = await createQueueWorker({ connection, config, queue, bundle, metrics, stats, deps: { ...deps, logger: logger.child({ queue }) } });
        return { queue, taskQueue: worker.options.taskQueue, worker };
      }),
    );
    for (const { queue, taskQueue } of workers) stats.register(queue, taskQueue);
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
    // The backlog gauge costs two DescribeTaskQueue calls per queue: refreshed at most every 10 s.
    let backlogFetchedAt = 0;
    const refreshBacklog = async () => {
      if (Date.now() - backlogFetchedAt < 10_000) return;
      backlogFetchedAt = Date.now();
      try {
        for (const { queue, taskType, count } of await queueBacklog(client, workers)) metrics.taskQueueBacklog.set({ queue, task_type: taskType }, count);
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, 'task queue backlog not available');
      }
    };
    const queueOf = new Map(workers.map((w) => [w.taskQueue, w.queue]));
    // The Supabase job bridge: rows of sync_jobs become syncJob workflows (workers/job-bridge.ts).
    let bridge: JobBridge | undefined;

    const checks: Record<string, () => Promise<unknown>> = {
      temporal: () => connection.workflowService.getSystemInfo({}),
      database: () => store.ping(),
      workers: async () => {
        const notRunning = workers.filter(({ worker }) => worker.getState() !== 'RUNNING');
        if (notRunning.length) throw new Error(notRunning.map(({ queue, worker }) => `${queue} ${worker.getState().toLowerCase()}`).join(', '));
        return Promise.resolve();
      },
    };
    if (cache.kind === 'redis') checks.redis = () => cache.ping();
    Object.assign(checks, options.checks);
    const ops: RunningServer = await startOpsServer({
      host: config.ops.host,
      port: config.ops.port,
      logger,
      checks,
      metrics: async () => {
        const sdk = await fetchSdkMetrics(`http://${sdkMetricsAddress}/metrics`, logger);
        updateIdleIterations(metrics, sdk, (taskQueue) => queueOf.get(taskQueue), bridge?.idleTotals());
        await refreshBacklog();
        return `${sdk}${sdk && !sdk.endsWith('\n') ? '\n' : ''}${await metrics.registry.metrics()}`;
      },
      stats: () => Promise.resolve(stats.report()),
      routes: config.encryption.keys
        ? codecRoutes({ codec: new EncryptionCodec(config.encryption.keys), token: config.encryption.codecToken, corsOrigins: config.encryption.corsOrigins })
        : undefined,
      queue: async () => ({ queues: await describeQueues(client, workers) }),
      describe: () => ({
        mode: 'concurrent',
        buildId: config.worker.versioning.buildId,
        namespace: config.temporal.namespace,
        temporal: config.temporal.address,
        store: store.kind,
        cache: cache.kind,
        workers: workers.map(({ queue, taskQueue, worker }) => ({ queue, taskQueue, state: worker.getState() })),
      }),
    });
    opened.push({ name: 'ops server', close: () => ops.close() });

    const runs = workers.map(({ worker }) => worker.run());
    if (config.jobs.bridge && queues.includes('sync')) {
      bridge = new JobBridge({
        client,
        store,
        taskQueue: taskQueueName('sync', config.temporal.taskQueuePrefix),
        logger: logger.child({ component: 'job-bridge' }),
        pollIntervalMs: config.jobs.pollIntervalMs,
        leaseMs: config.jobs.leaseMs,
        batchSize: config.jobs.batchSize,
        priority: config.priority.bulk,
      });
      bridge.start();
      const started = bridge;
      // Closed in reverse order: the bridge stops (its poll in flight done) before the store closes.
      opened.push({ name: 'job bridge', close: () => started.stop() });
    }
    // A worker started by the manager drains when the manager goes away (even if it was SIGKILLed).
    const orphaned = () => {
      logger.warn('lost the connection to the manager; draining');
      for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    };
    if (process.send) process.once('disconnect', orphaned);
    opened.push({ name: 'signal listeners', close: async () => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
      process.off('disconnect', orphaned);
      return Promise.resolve();
    } });
    logger.info({ taskQueues: workers.map((w) => w.taskQueue), namespace: config.temporal.namespace, ops: ops.url }, 'workers running');
    options.onReady?.({ opsUrl: ops.url, taskQueues: workers.map((w) => w.taskQueue) });
    // Under the manager (durasync manager / --mode isolated), say where our ops server is.
    process.send?.({ type: 'durasync:ready', pid: process.pid, opsUrl: ops.url, queues, taskQueues: workers.map((w) => w.taskQueue) });
    const results = await Promise.allSettled(
      runs.map((run) =>
        run.catch((err: unknown) => {
          // One worker failing stops the process: stop the others so the supervisor restarts it whole.
          for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
          throw err;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    logger.info('workers drained');
  } finally {
    await closeAll();
  }
}
