import type { Client } from '@temporalio/client';
import type { DurasyncConfig } from '../config';
import type { Logger } from '../logger';
import type { DurasyncMetrics } from '../metrics';
import type { ObjectStore } from '../objects';
import { taskQueueName } from '../queues';
import { RedisStreamBridge } from './redis-stream-bridge';
import { webhookPriority } from './start';

export { openWebhookIngress } from './routes';

/** The Redis Streams bridge as `durasync serve` runs it (DURASYNC_WEBHOOK_STREAM_BRIDGE=on), started. */
export async function startConfiguredStreamBridge(options: {
  config: DurasyncConfig;
  client: Client;
  logger: Logger;
  metrics?: DurasyncMetrics;
  objects?: Pick<ObjectStore, 'put'>;
}): Promise<RedisStreamBridge> {
  const { config } = options;
  if (!config.redis.url) throw new Error('the webhook stream bridge needs REDIS_URL');
  const bridge = new RedisStreamBridge({
    client: options.client,
    taskQueue: taskQueueName('ingestion', config.temporal.taskQueuePrefix),
    objects: options.objects,
    priority: webhookPriority(config.priority),
    redisUrl: config.redis.url,
    logger: options.logger.child({ component: 'webhook-stream' }),
    stream: config.webhooks.stream.key,
    claimIdleMs: config.webhooks.stream.claimIdleMs,
    metrics: options.metrics,
  });
  await bridge.start();
  return bridge;
}
