import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../lib/errors';
import { freePort } from '../../lib/net';
import { createStore, StoreUnavailableError } from '../../lib/db/store';

describe('createStore() and unreachable databases', () => {
  it('refuses a configuration with neither a database URL nor Supabase', () => {
    expect(() => createStore({})).toThrow(ConfigError);
  });

  it('picks SupabaseStore when Supabase is configured, PgStore otherwise', async () => {
    const supabase = createStore({ supabase: { url: 'http://127.0.0.1:1', serviceKey: 'k' }, databaseUrl: 'postgres://x@127.0.0.1:1/x' });
    const pg = createStore({ databaseUrl: 'postgres://x@127.0.0.1:1/x' });
    expect([supabase.kind, pg.kind]).toEqual(['supabase', 'pg']);
    await Promise.all([supabase.close(), pg.close()]);
  });

  it('reports a refused Postgres connection as StoreUnavailableError without the URL in the message', async () => {
    const store = createStore({ databaseUrl: `postgres://postgres:s3cret@127.0.0.1:${await freePort()}/nowhere` });
    try {
      const ping = store.ping();
      await expect(ping).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(ping).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(ping).rejects.not.toHaveProperty('message', expect.stringContaining('s3cret'));
    } finally {
      await store.close();
    }
  });

  it('reports an unreachable or failing Supabase API as StoreUnavailableError', async () => {
    const refused = createStore({ supabase: { url: `http://127.0.0.1:${await freePort()}`, serviceKey: 'k' } });
    await expect(refused.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await refused.close();

    // What PostgREST answers while its database is down.
    const gateway = createServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: 'PGRST000', details: 'connection refused', hint: null, message: 'Database connection error. Retrying the connection.' }));
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const down = createStore({ supabase: { url: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`, serviceKey: 'k' } });
    try {
      await expect(down.ping()).rejects.toMatchObject({ name: 'StoreUnavailableError', code: 'PGRST000' });
    } finally {
      await down.close();
      gateway.closeAllConnections();
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});
