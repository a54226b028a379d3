import type { Cache } from '../cache';
import type { EncryptionKey } from '../codec';
import type { Store } from '../db/store';
import type { Logger } from '../logger';
import { openToken, sealToken } from './seal';

/**
 * Provider OAuth tokens for activities, by provider and account (the durasync user id). Activities
 * ask for a token when they need one; tokens never travel through workflow inputs, results or
 * history, and never reach logs or metrics.
 *
 * Read path: the cache (Redis, shared by every process; entries expire `refreshMarginMs` before the
 * token does), else the store. Tokens are sealed everywhere they rest, the cache included.
 * Expired: refreshed once for everybody: in this process concurrent callers share one attempt, and
 * across processes a Redis lock (expiring after `lockTtlMs`) lets one refresh while the others wait
 * for the result. Redis down: the cache and its lock are skipped (logged once, counted; retried
 * every 5 s), each process then refreshes on its own; nothing fails.
 */
export interface TokenRefresher {
  /** Exchanges a refresh token for a new access token (e.g. Google's refresh grant). */
  refresh(provider: string, refreshToken: string): Promise<RefreshedToken>;
}

export interface RefreshedToken {
  accessToken: string;
  expiresAt: Date | null;
  /** A rotated refresh token, when the provider issues one. */
  refreshToken?: string;
  scopes?: string[];
}

/** The provider refused the refresh token: the user has to connect the account again (the message names the command). */
export class TokenRevokedError extends Error {
  override readonly name = 'TokenRevokedError';
  constructor(
    readonly provider: string,
    readonly accountId: string,
    readonly reason: string,
  ) {
    super(`the ${provider} token of account ${accountId} was revoked or expired for good (${reason}); reconnect with: ${reconnectCommand(provider, accountId)}`);
  }
}

/** The command that stores a fresh token for `provider` and `accountId`. */
export function reconnectCommand(provider: string, accountId: string): string {
  return `durasync connect ${provider} --user ${accountId}`;
}

/** No token is stored for this provider and account. */
export class TokenMissingError extends Error {
  override readonly name = 'TokenMissingError';
  constructor(
    readonly provider: string,
    readonly accountId: string,
  ) {
    super(`no ${provider} token stored for account ${accountId}`);
  }
}

export interface TokenServiceOptions {
  store: Pick<Store, 'getProviderToken' | 'putProviderToken'>;
  cache: Cache;
  /** DURASYNC_TOKEN_KEY: the first key seals, all open. */
  keys: EncryptionKey[];
  refresher: TokenRefresher;
  logger?: Logger;
  /** Counts cache operations skipped because the cache was unavailable. */
  onCacheUnavailable?: (operation: string) => void;
  /** Refresh this long before expiry; cache entries expire this long before the token. Default: 60 s. */
  refreshMarginMs?: number;
  /** The cross-process refresh lock expires after this long. Default: 15 s. */
  lockTtlMs?: number;
  /** How often a waiting process looks for the result of another's refresh. Default: 50 ms. */
  pollMs?: number;
}

interface CachedToken {
  keyId: string;
  sealed: string;
}

export class TokenService {
  private readonly inFlight = new Map<string, Promise<string>>();
  private cacheDown = false;
  /** After a cache failure, skip it until then instead of waiting on it for every token. */
  private skipCacheUntil = 0;
  private readonly margin: number;
  private readonly lockTtl: number;
  private readonly poll: number;

  constructor(private readonly options: TokenServiceOptions) {
    if (!options.keys[0]) throw new Error('TokenService needs at least one key (DURASYNC_TOKEN_KEY)');
    this.margin = options.refreshMarginMs ?? 60_000;
    this.lockTtl = options.lockTtlMs ?? 15_000;
    this.poll = options.pollMs ?? 50;
  }

  /** A valid access token for `provider` and `accountId`, refreshed if it has expired. */
  async accessToken(provider: string, accountId: string): Promise<string> {
    const key = `token:${provider}:${accountId}`;
    const cached = await this.cacheGet(key);
    if (cached) return openToken(Buffer.from(cached.sealed, 'base64'), cached.keyId, this.options.keys);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const attempt = this.load(provider, accountId, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, attempt);
    return attempt;
  }

  /** Stores a token obtained by an OAuth flow (or a personal / installation token), sealed. */
  async save(provider: string, accountId: string, token: RefreshedToken): Promise<void> {
    const sealKey = this.options.keys[0]!;
    const stored = await this.options.store.putProviderToken({
      provider,
      accountId,
      accessToken: sealToken(token.accessToken, sealKey),
      refreshToken: token.refreshToken === undefined ? null : sealToken(token.refreshToken, sealKey),
      keyId: sealKey.id,
      expiresAt: token.expiresAt,
      scopes: token.scopes ?? [],
    });
    const key = `token:${provider}:${accountId}`;
    // A token already past the margin is not cached, so the previous entry must go too.
    if (!this.fresh(stored.expiresAt)) await this.cacheDelete(key);
    await this.cachePut(key, { keyId: stored.keyId, sealed: stored.accessToken.toString('base64') }, stored.expiresAt);
  }

  private fresh(expiresAt: Date | null): boolean {
    return expiresAt === null || expiresAt.getTime() - this.margin > Date.now();
  }

  private async load(provider: string, accountId: string, key: string): Promise<string> {
    const lockKey = `lock:${key}`;
    const deadline = Date.now() + this.lockTtl * 2;
    for (;;) {
      const row = await this.options.store.getProviderToken(provider, accountId);
      if (!row) throw new TokenMissingError(provider, accountId);
      if (this.fresh(row.expiresAt)) {
        await this.cachePut(key, { keyId: row.keyId, sealed: row.accessToken.toString('base64') }, row.expiresAt);
        return openToken(row.accessToken, row.keyId, this.options.keys);
      }
      if (!row.refreshToken) throw new TokenRevokedError(provider, accountId, 'expired and no refresh token');
      const lock = await this.lock(lockKey);
      if (lock !== undefined) {
        try {
          // Someone may have refreshed between our read and our lock.
          const again = await this.options.store.getProviderToken(provider, accountId);
          if (again && this.fresh(again.expiresAt)) return openToken(again.accessToken, again.keyId, this.options.keys);
          const refreshed = await this.options.refresher.refresh(provider, openToken(row.refreshToken, row.keyId, this.options.keys)).catch((err: unknown) => {
            // Refreshers do not know the account: name it, so that the message says whom to reconnect.
            throw err instanceof TokenRevokedError ? new TokenRevokedError(provider, accountId, err.reason) : err;
          });
          await this.save(provider, accountId, refreshed);
          this.options.logger?.info({ provider, accountId }, 'provider token refreshed');
          return refreshed.accessToken;
        } finally {
          if (lock) await this.unlock(lockKey, lock);
        }
      }
      // Another process is refreshing: wait for its result in the cache, or for the lock to go.
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, this.poll));
        const cached = await this.cacheGet(key);
        if (cached) return openToken(Buffer.from(cached.sealed, 'base64'), cached.keyId, this.options.keys);
        if ((await this.cacheRaw(lockKey)) === undefined) break; // the holder gave up or died: try again
      }
      if (Date.now() >= deadline) throw new Error(`token refresh of ${provider}/${accountId} by another process did not finish within ${this.lockTtl * 2} ms`);
    }
  }

  /** The lock token, '' when the cache is down (no cross-process lock: refresh alone), undefined when held by another. */
  private async lock(lockKey: string): Promise<string | undefined> {
    if (this.skippingCache('lock')) return '';
    try {
      return await this.options.cache.acquireLock(lockKey, this.lockTtl);
    } catch (err) {
      this.unavailable('lock', err);
      return '';
    }
  }

  private async unlock(lockKey: string, token: string): Promise<void> {
    if (this.skippingCache('unlock')) return;
    try {
      await this.options.cache.releaseLock(lockKey, token);
    } catch (err) {
      this.unavailable('unlock', err);
    }
  }

  private async cacheRaw(key: string): Promise<string | undefined> {
    if (this.skippingCache('get')) return undefined;
    try {
      const value = await this.options.cache.get(key);
      this.cacheDown = false;
      return value;
    } catch (err) {
      this.unavailable('get', err);
      return undefined;
    }
  }

  private async cacheGet(key: string): Promise<CachedToken | undefined> {
    const raw = await this.cacheRaw(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as CachedToken);
  }

  private async cachePut(key: string, value: CachedToken, expiresAt: Date | null): Promise<void> {
    const ttl = expiresAt === null ? 3_600_000 : expiresAt.getTime() - this.margin - Date.now();
    if (ttl <= 0 || this.skippingCache('set')) return;
    try {
      await this.options.cache.set(key, JSON.stringify(value), ttl);
    } catch (err) {
      this.unavailable('set', err);
    }
  }

  private async cacheDelete(key: string): Promise<void> {
    if (this.skippingCache('del')) return;
    try {
      await this.options.cache.del(key);
    } catch (err) {
      this.unavailable('del', err);
    }
  }

  private skippingCache(operation: string): boolean {
    if (Date.now() >= this.skipCacheUntil) return false;
    this.options.onCacheUnavailable?.(operation);
    return true;
  }

  private unavailable(operation: string, err: unknown): void {
    this.skipCacheUntil = Date.now() + 5000;
    this.options.onCacheUnavailable?.(operation);
    if (!this.cacheDown) this.options.logger?.warn({ operation, err: { message: (err as Error).message } }, 'token cache unavailable: going to the store');
    this.cacheDown = true;
  }
}
