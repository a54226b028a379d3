import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * The token cache. Redis (REDIS_URL) shares it between processes; without Redis an in-process
 * map serves one process. Keys are namespaced by a prefix (DURASYNC_REDIS_PREFIX; tests use one
 * per test). Values are strings: callers serialise.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  /** Sets `key`, expiring after `ttlMs` when given. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /**
   * Takes the lock `key` for `ttlMs` unless someone holds it: resolves with the holder's token, or
   * undefined when it is taken. The lock expires by itself if its holder dies.
   */
  acquireLock(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock if `token` still holds it (never someone else's, after an expiry). */
  releaseLock(key: string, token: string): Promise<void>;
  /** Round trip to the backing service; throws when it is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface CacheOptions {
  /** redis:// or rediss:// URL; absent means the in-process cache. */
  url?: string;
  /** Prefix of every key. Default: `durasync:`. */
  keyPrefix?: string;
  logger?: Logger;
}

export function createCache(options: CacheOptions): Cache {
  return options.url ? new RedisCache(options.url, options.keyPrefix ?? 'durasync:', options.logger) : new MemoryCache();
}

export class RedisCache implements Cache {
  readonly kind = 'redis';
  readonly redis: Redis;

  constructor(url: string, keyPrefix: string, logger?: Logger) {
    this.redis = new Redis(url, {
      keyPrefix,
      lazyConnect: true,
      // Commands wait for a (re)connection, but not for long: while Redis is down they fail within
      // about two seconds, and callers skip the cache instead of hanging.
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    let reported = false;
    this.redis.on('error', (err: Error) => {
      if (!reported) logger?.warn({ err: { message: err.message } }, 'redis unavailable; will keep retrying');
      reported = true;
    });
    this.redis.on('ready', () => {
      if (reported) logger?.info('redis connection restored');
      reported = false;
    });
    this.redis.connect().catch(() => undefined); // reconnects by itself; errors are reported above
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs !== undefined) await this.redis.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    else await this.redis.set(key, value);
  }

  async del(key: string): Promise<void> {
    await this.redis.del(key);
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    return (await this.redis.set(key, token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK' ? token : undefined;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    // Compare-and-delete in one step: a lock that expired and was taken by another holder stays theirs.
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await Promise.resolve();
  }
}

export class MemoryCache implements Cache {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  async get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return Promise.resolve(entry.value);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : Date.now() + ttlMs });
    return Promise.resolve();
  }

  async del(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | undefined> {
    if ((await this.get(key)) !== undefined) return undefined;
    const token = randomUUID();
    await this.set(key, token, ttlMs);
    return token;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    if ((await this.get(key)) === token) this.entries.delete(key);
  }

  async ping(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}
