import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { RedisStreamBridge, type RedisStreamBridgeOptions } from '../../lib/webhooks/redis-stream-bridge';
import type { WebhookEventInput } from '../../lib/webhooks/start';
import { connectTestEnv, uniqueTaskQueue } from '../helpers/temporal';
import { defaultPayloadConverter } from '@temporalio/client';

/**
 * The Redis Streams bridge against the test Redis and the run's Temporal dev server. Each test has
 * its own stream key and task queue; no worker polls it, the workflows stay running.
 */
describe('webhook Redis Streams bridge', () => {
  const logger = createLogger({ level: 'silent' });
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  let env: TestWorkflowEnvironment;
  let redis: Redis;
  const bridges: RedisStreamBridge[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    redis = new Redis(redisUrl);
  });

  afterEach(async () => {
    await Promise.all(bridges.splice(0).map((b) => b.stop()));
    if (streams.length) await redis.del(...streams.splice(0));
  });

  afterAll(async () => {
    redis?.disconnect();
    await env?.teardown();
  });

  function newStream(): { stream: string; taskQueue: string } {
    const stream = `durasync:test:webhook_events:${randomUUID().slice(0, 8)}`;
    streams.push(stream);
    return { stream, taskQueue: uniqueTaskQueue('webhook-stream') };
  }

  function bridge(options: Partial<RedisStreamBridgeOptions> & { stream: string; taskQueue: string }): RedisStreamBridge {
    const b = new RedisStreamBridge({ client: env.client, redisUrl, logger, blockMs: 100, claimIdleMs: 60_000, ...options });
    bridges.push(b);
    return b;
  }

  async function add(stream: string, fields: Record<string, string>): Promise<string> {
    return (await redis.xadd(stream, '*', ...Object.entries(fields).flat()))!;
  }

  async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function pendingCount(stream: string): Promise<number> {
    const summary = (await redis.xpending(stream, 'webhook_workers')) as [number, ...unknown[]];
    return Number(summary[0]);
  }

  async function countOn(taskQueue: string): Promise<number> {
    return (await env.client.workflow.count(`TaskQueue = "${taskQueue}"`)).count;
  }

  it('starts a workflow per entry and acknowledges it; a repeated delivery starts nothing new', async () => {
    const { stream, taskQueue } = newStream();
    const deliveries = [randomUUID(), randomUUID(), randomUUID()];
    for (const d of deliveries) await add(stream, { source: 'github', delivery: d, event: 'push', payload: JSON.stringify({ d }) });
    await add(stream, { source: 'github', delivery: deliveries[0]!, event: 'push', payload: JSON.stringify({ d: deliveries[0] }) });
    const b = bridge({ stream, taskQueue });
    await b.start();
    await until('entries handled', async () => b.counts.started + b.counts.duplicates === 4);
    expect(b.counts).toMatchObject({ malformed: 0, failed: 0 });
    await until('acks', async () => (await pendingCount(stream)) === 0);
    for (const d of deliveries) {
      const history = await env.client.workflow.getHandle(`webhook:github:${d}`).fetchHistory();
      const input = defaultPayloadConverter.fromPayload<WebhookEventInput>(history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!);
      expect(input).toMatchObject({ source: 'github', deliveryId: d, event: 'push', payload: { d } });
    }
    expect(await until('visibility', async () => (await countOn(taskQueue)) === 3 && 3)).toBe(3);
  });

  it('acknowledges and counts malformed entries without crashing', async () => {
    const { stream, taskQueue } = newStream();
    const metrics = createMetrics();
    await add(stream, { source: 'github', delivery: randomUUID(), event: 'push', payload: '{not json' });
    await add(stream, { delivery: randomUUID(), event: 'push', payload: '{}' });
    await add(stream, { source: 'Bad Source', delivery: randomUUID(), event: 'push', payload: '{}' });
    await add(stream, { source: 'github', delivery: '../etc', event: 'push', payload: '{}' });
    const good = randomUUID();
    await add(stream, { source: 'acme', delivery: good, event: 'invoice.paid', payload: '{"ok":true}' });
    const b = bridge({ stream, taskQueue, metrics });
    await b.start();
    await until('entries handled', async () => b.counts.malformed + b.counts.started === 5);
    expect(b.counts).toMatchObject({ malformed: 4, started: 1 });
    await until('acks', async () => (await pendingCount(stream)) === 0);
    expect((await metrics.webhookStreamMalformed.get()).values[0]?.value).toBe(4);
    expect((await env.client.workflow.getHandle(`webhook:acme:${good}`).describe()).type).toBe('processWebhookEvent');
  });

  it('reclaims entries a dead consumer left pending, each started once', async () => {
    const { stream, taskQueue } = newStream();
    await redis.xgroup('CREATE', stream, 'webhook_workers', '0', 'MKSTREAM');
    const deliveries = Array.from({ length: 20 }, () => randomUUID());
    for (const d of deliveries) await add(stream, { source: 'github', delivery: d, event: 'issues', payload: JSON.stringify({ d }) });
    // A consumer reads every entry, then dies before XACK.
    const read = (await redis.xreadgroup('GROUP', 'webhook_workers', 'dead-consumer', 'COUNT', 100, 'STREAMS', stream, '>')) as Array<[string, unknown[]]>;
    expect(read[0]![1]).toHaveLength(20);
    expect(await pendingCount(stream)).toBe(20);
    const metrics = createMetrics();
    const b = bridge({ stream, taskQueue, claimIdleMs: 300, metrics, consumer: 'survivor' });
    await b.start();
    await until('reclaimed and acked', async () => (await pendingCount(stream)) === 0);
    expect(b.counts).toEqual({ started: 20, duplicates: 0, malformed: 0, failed: 0 });
    for (const d of deliveries) {
      const executions = [];
      for await (const e of env.client.workflow.list({ query: `WorkflowId = "webhook:github:${d}"` })) executions.push(e);
      expect(executions.length).toBeLessThanOrEqual(1);
    }
    expect(await until('visibility', async () => (await countOn(taskQueue)) === 20 && 20)).toBe(20);
    const gauges = await b.refreshGauges();
    expect(gauges).toEqual({ lag: 0, pending: 0 });
    expect((await metrics.webhookStreamPending.get()).values[0]).toMatchObject({ value: 0, labels: { stream, group: 'webhook_workers' } });
  });

  it('reports lag and pending in the gauges', async () => {
    const { stream, taskQueue } = newStream();
    await redis.xgroup('CREATE', stream, 'webhook_workers', '0', 'MKSTREAM');
    for (let i = 0; i < 5; i++) await add(stream, { source: 'github', delivery: randomUUID(), event: 'push', payload: '{}' });
    await redis.xreadgroup('GROUP', 'webhook_workers', 'someone', 'COUNT', 2, 'STREAMS', stream, '>');
    const metrics = createMetrics();
    // Not started: only reads the group's state.
    const b = new RedisStreamBridge({ client: env.client, taskQueue, redisUrl, logger, stream, metrics });
    bridges.push(b);
    await (b as unknown as { redis: Redis }).redis.connect();
    expect(await b.refreshGauges()).toEqual({ lag: 3, pending: 2 });
    expect((await metrics.webhookStreamLag.get()).values[0]).toMatchObject({ value: 3, labels: { stream, group: 'webhook_workers' } });
    expect((await metrics.webhookStreamPending.get()).values[0]).toMatchObject({ value: 2 });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/durasync_webhook_stream_lag\{stream="[^"]+",group="webhook_workers"\} 3/);
  });
});
