import { randomBytes, randomUUID } from 'node:crypto';
import { RedisCache } from '../../lib/cache';
import { parseEncryptionKeys } from '../../lib/codec';
import { createDriveClient, createGoogleRefresher } from '../../lib/providers/google';
import { TokenRevokedError, TokenService } from '../../lib/tokens/token-service';
import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { openTestDeps, type TestDeps } from '../helpers/deps';

/** Google tokens refreshed with googleapis' OAuth2 client against the Drive emulator's token endpoint. */
describe('Google token refresh', () => {
  let deps: TestDeps;
  let drive: DriveEmulator;
  const keys = parseEncryptionKeys(`k1:${randomBytes(32).toString('base64')}`);
  const caches: RedisCache[] = [];

  beforeAll(async () => {
    deps = await openTestDeps();
    drive = await startDriveEmulator({ tokenExpiresInSec: 3600 });
  });

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
    await drive?.close();
    await deps?.close();
  });

  const service = () => {
    const cache = new RedisCache(process.env.REDIS_URL!, deps.cache.redis.options.keyPrefix!);
    caches.push(cache);
    return new TokenService({
      store: deps.store,
      cache,
      keys,
      refresher: createGoogleRefresher({ clientId: 'client-id', clientSecret: 'client-secret', tokenUrl: drive.tokenUrl }),
    });
  };

  it('refreshes an expired token exactly once for 100 concurrent callers in two processes, and the new token works', async () => {
    const account = `u-${randomUUID()}`;
    const refreshToken = `1//refresh-${randomUUID()}`;
    drive.seed.token({ refreshToken, expiresInSec: 3600 });
    const [a, b] = [service(), service()];
    await a.save('google', account, { accessToken: 'expired', refreshToken, expiresAt: new Date(Date.now() - 1000) });
    await deps.cache.del(`token:google:${account}`);

    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).accessToken('google', account)));
    expect(drive.inspect.grants(refreshToken)).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    const list = await createDriveClient(tokens[0]!, { rootUrl: drive.url }).files.list({ q: 'trashed = false', pageSize: 1 });
    expect(list.status).toBe(200);
  });

  it('turns a revoked refresh token into TokenRevokedError', async () => {
    const account = `u-${randomUUID()}`;
    const refreshToken = `1//refresh-${randomUUID()}`;
    drive.seed.token({ refreshToken });
    drive.revoke(refreshToken);
    const tokens = service();
    await tokens.save('google', account, { accessToken: 'expired', refreshToken, expiresAt: new Date(Date.now() - 1000) });
    await expect(tokens.accessToken('google', account)).rejects.toBeInstanceOf(TokenRevokedError);
  });
});
