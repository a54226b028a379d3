import { RedisCache } from '../../lib/cache';
import { createStore, type Store } from '../../lib/db/store';
import { createTestDatabase, type TestDatabase } from './db';
import { testRedisPrefix } from './redis';

/** What activities depend on, real and private to one suite: its own database and Redis key prefix. */
export interface TestDeps {
  db: TestDatabase;
  store: Store;
  cache: RedisCache;
  /** The Redis this suite's cache talks to, and the prefix of its keys (DURASYNC_REDIS_PREFIX for a worker child). */
  redisUrl: string;
  redisPrefix: string;
  /** Closes the store and cache, drops the database, deletes the Redis keys. */
  close(): Promise<void>;
}

/**
 * `redisUrl`: a Redis of the suite's own (e.g. a private redis-server it stops on purpose) instead of
 * the shared one (REDIS_URL); its keys are not cleaned up on close (the suite discards that server).
 */
export async function openTestDeps(options: { redisUrl?: string } = {}): Promise<TestDeps> {
  const db = await createTestDatabase();
  const redisKeys = testRedisPrefix();
  const redisUrl = options.redisUrl ?? redisKeys.url;
  const store = createStore({ databaseUrl: db.url });
  const cache = new RedisCache(redisUrl, redisKeys.prefix);
  return {
    db,
    store,
    cache,
    redisUrl,
    redisPrefix: redisKeys.prefix,
    async close() {
      await cache.close();
      await store.close();
      await db.drop();
      if (!options.redisUrl) await redisKeys.cleanup();
    },
  };
}
