import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** A Redis key prefix for one test, and a cleanup that deletes every key under it. */
export function testRedisPrefix(): { prefix: string; url: string; cleanup(): Promise<void> } {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `durasync:test:${randomUUID().slice(0, 8)}:`;
  return {
    prefix,
    url,
    async cleanup() {
      const redis = new Redis(url, { lazyConnect: true });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          if (keys.length) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
