import { randomBytes, randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { Redis } from 'ioredis';
import { RedisCache } from '../../lib/cache';
import { parseEncryptionKeys } from '../../lib/codec';
import { createLogger } from '../../lib/logger';
import { TokenMissingError, TokenRevokedError, TokenService, type TokenRefresher } from '../../lib/tokens/token-service';
import { openTestDeps, type TestDeps } from '../helpers/deps';

const keyOf = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

/** A refresher that counts its calls and answers after `delayMs`, like a provider's token endpoint. */
function countingRefresher(delayMs = 100): TokenRefresher & { calls: number } {
  const refresher = {
    calls: 0,
    async refresh(_provider: string, refreshToken: string) {
      refresher.calls++;
      await new Promise((r) => setTimeout(r, delayMs));
      if (refreshToken === 'revoked-refresh') throw new TokenRevokedError('google', '?', 'invalid_grant');
      return { accessToken: `access-${refresher.calls}-${randomUUID()}`, expiresAt: new Date(Date.now() + 3_600_000) };
    },
  };
  return refresher;
}

describe('provider tokens', () => {
  let deps: TestDeps;
  const keys = parseEncryptionKeys(keyOf('k1'));
  const caches: RedisCache[] = [];
  const prefix = () => deps.cache.redis.options.keyPrefix!;
  const newCache = (url = process.env.REDIS_URL!) => {
    const cache = new RedisCache(url, prefix());
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    deps = await openTestDeps();
  });

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
    await deps?.close();
  });

  it('keeps tokens sealed in Postgres and in Redis, and hands the plaintext only to the caller', async () => {
    const tokens = new TokenService({ store: deps.store, cache: deps.cache, keys, refresher: countingRefresher() });
    const account = `u-${randomUUID()}`;
    await tokens.save('google', account, { accessToken: 'ya29.plain-access', refreshToken: '1//plain-refresh', expiresAt: new Date(Date.now() + 3_600_000) });
    expect(await tokens.accessToken('google', account)).toBe('ya29.plain-access');

    const pg = new PgClient({ connectionString: deps.db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ a: Buffer; r: Buffer }>('select access_token_ciphertext a, refresh_token_ciphertext r from provider_tokens where account_id = $1', [account]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.a.toString('latin1')).not.toContain('plain-access');
      expect(rows[0]!.r.toString('latin1')).not.toContain('plain-refresh');
    } finally {
      await pg.end();
    }
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const keysInRedis = await redis.keys(`${prefix()}*`);
      expect(keysInRedis.length).toBeGreaterThan(0);
      for (const k of keysInRedis) expect(await redis.get(k)).not.toContain('plain-access');
    } finally {
      redis.disconnect();
    }
  });

  it('refreshes an expired token exactly once for 100 concurrent callers in two processes', async () => {
    const account = `u-${randomUUID()}`;
    const refresher = countingRefresher(200);
    // Two "processes": separate services with their own Redis connections, sharing Redis and Postgres.
    const a = new TokenService({ store: deps.store, cache: newCache(), keys, refresher });
    const b = new TokenService({ store: deps.store, cache: newCache(), keys, refresher });
    await a.save('google', account, { accessToken: 'old', refreshToken: 'refresh-1', expiresAt: new Date(Date.now() - 1000) });
    await deps.cache.del(`token:google:${account}`);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).accessToken('google', account)));
    expect(refresher.calls).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toMatch(/^access-1-/);
    const stored = await deps.store.getProviderToken('google', account);
    expect(stored!.expiresAt!.getTime()).toBeGreaterThan(Date.now());
  });

  it('works without Redis: the cache is skipped, logged once and counted, and nothing fails', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void lines.push(l) } });
    const skipped: string[] = [];
    const account = `u-${randomUUID()}`;
    const refresher = countingRefresher(10);
    const tokens = new TokenService({
      store: deps.store,
      cache: newCache('redis://127.0.0.1:1'),
      keys,
      refresher,
      logger,
      onCacheUnavailable: (op) => skipped.push(op),
    });
    await tokens.save('google', account, { accessToken: 'old', refreshToken: 'refresh-2', expiresAt: new Date(Date.now() - 1000) });
    const first = await tokens.accessToken('google', account);
    expect(first).toMatch(/^access-1-/);
    expect(await tokens.accessToken('google', account)).toBe(first); // from the store now
    expect(refresher.calls).toBe(1);
    expect(skipped.length).toBeGreaterThan(2);
    expect(lines.filter((l) => l.includes('token cache unavailable'))).toHaveLength(1);
  });

  it('fails with typed errors for a revoked refresh token and for a missing token', async () => {
    const tokens = new TokenService({ store: deps.store, cache: deps.cache, keys, refresher: countingRefresher(0) });
    const account = `u-${randomUUID()}`;
    await tokens.save('google', account, { accessToken: 'old', refreshToken: 'revoked-refresh', expiresAt: new Date(Date.now() - 1000) });
    await expect(tokens.accessToken('google', account)).rejects.toBeInstanceOf(TokenRevokedError);
    await expect(tokens.accessToken('google', `nobody-${randomUUID()}`)).rejects.toBeInstanceOf(TokenMissingError);
  });

  it('opens tokens sealed with an older key after rotation, and seals new ones with the first key', async () => {
    const oldKeys = parseEncryptionKeys(keyOf('old'));
    const account = `u-${randomUUID()}`;
    await new TokenService({ store: deps.store, cache: deps.cache, keys: oldKeys, refresher: countingRefresher() }).save('github', account, {
      accessToken: 'ghs_installation',
      expiresAt: null,
    });
    await deps.cache.del(`token:github:${account}`);
    const rotated = new TokenService({ store: deps.store, cache: deps.cache, keys: [...parseEncryptionKeys(keyOf('new')), ...oldKeys], refresher: countingRefresher() });
    expect(await rotated.accessToken('github', account)).toBe('ghs_installation');
    await rotated.save('github', account, { accessToken: 'ghs_installation', expiresAt: null });
    expect((await deps.store.getProviderToken('github', account))!.keyId).toBe('new');
  });
});
