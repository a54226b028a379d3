import { RedisCache } from '../../lib/cache';
import { createStore, type Store } from '../../lib/db/store';
import { createTestDatabase, type TestDatabase } from './db';
import { testRedisPrefix } from './redis';

/** What activities depend on, real and private to one suite: its own database and Redis key prefix. */
export interface TestDeps {
  db: TestDatabase;
  store: Store;
  cache: RedisCache;
  /** Closes the store and cache, drops the database, deletes the Redis keys. */
  close(): Promise<void>;
}

export async function openTestDeps(): Promise<TestDeps> {
  const db = await createTestDatabase();
  const redisKeys = testRedisPrefix();
  const store = createStore({ databaseUrl: db.url });
  const cache = new RedisCache(redisKeys.url, redisKeys.prefix);
  return {
    db,
    store,
    cache,
    async close() {
      await cache.close();
      await store.close();
      await db.drop();
      await redisKeys.cleanup();
    },
  };
}
