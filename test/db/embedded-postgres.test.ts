import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { spawnEmbeddedPostgres, type SpawnedEmbeddedPostgres } from '../../lib/db/embedded-postgres-process';
import { migrate } from '../../lib/db/migrate';
import { createStore } from '../../lib/db/store';

describe('embedded Postgres (PGlite over the Postgres protocol)', () => {
  it('keeps its data in dataDir across close() and a restart', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'durasync-pgdata-'));
    try {
      await restartKeepsData(dataDir);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  async function restartKeepsData(dataDir: string): Promise<void> {
    const first = await spawnEmbeddedPostgres({ dataDir });
    try {
      expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      await migrate(first.url);
      const store = createStore({ databaseUrl: first.url });
      try {
        await store.setFeatureFlag({ key: 'persisted', enabled: true, value: { kept: true } });
      } finally {
        await store.close();
      }
    } finally {
      await first.close();
    }

    const second = await spawnEmbeddedPostgres({ dataDir });
    try {
      expect((await migrate(second.url)).applied).toEqual([]);
      const store = createStore({ databaseUrl: second.url });
      try {
        expect(await store.getFeatureFlag('persisted')).toMatchObject({ enabled: true, value: { kept: true } });
      } finally {
        await store.close();
      }
    } finally {
      await second.close();
    }
  }

  describe('in memory, shared by several connections', () => {
    let pg: SpawnedEmbeddedPostgres;
    beforeAll(async () => {
      pg = await spawnEmbeddedPostgres({ maxConnections: 30 });
    });
    afterAll(async () => {
      await pg?.close();
    });

    it('accepts several connections at once, any user and database name, serving postgres as postgres', async () => {
      const port = new URL(pg.url).port;
      const clients = [
        new Client({ connectionString: pg.url }),
        new Client({ connectionString: `postgres://someone:secret@127.0.0.1:${port}/anything` }),
        new Client({ connectionString: pg.url }),
      ];
      try {
        await Promise.all(clients.map((client) => client.connect()));
        const answers = await Promise.all(
          clients.map(async (client) => (await client.query<{ u: string; d: string }>('select current_user as u, current_database() as d')).rows[0]),
        );
        expect(answers).toEqual(clients.map(() => ({ u: 'postgres', d: 'postgres' })));
      } finally {
        await Promise.all(clients.map((client) => client.end()));
      }
    });

    it('keeps concurrent parameterised queries of pooled connections apart, and survives a client dying mid-transaction', async () => {
      const pools = [1, 2, 3, 4].map(() => new Pool({ connectionString: pg.url, max: 6 }));
      try {
        // Different statement shapes at once: with pglite-socket's own server, one connection's
        // Parse replaced another's between its Parse and Bind (wrong rows, or bind errors).
        const checks = Array.from({ length: 800 }, async (_, i): Promise<boolean> => {
          const pool = pools[i % pools.length] as Pool;
          switch (i % 4) {
            case 0:
              return (await pool.query<{ v: number }>('select $1::int + 1 as v', [i])).rows[0]?.v === i + 1;
            case 1: {
              const { rows } = await pool.query<{ v: string; w: number }>('select $1::text || $2::text as v, $3::int as w', [`a${i}`, 'b', i]);
              return rows[0]?.v === `a${i}b` && rows[0]?.w === i;
            }
            case 2:
              return (await pool.query('select generate_series(1, $1::int)', [(i % 7) + 1])).rowCount === (i % 7) + 1;
            default:
              return pool.query('select $1::int / 0', [i]).then(
                () => false,
                (err: { code?: string }) => err.code === '22012',
              );
          }
        });
        expect((await Promise.all(checks)).filter((ok) => !ok)).toHaveLength(0);

        const dying = new Client({ connectionString: pg.url });
        dying.on('error', () => undefined);
        await dying.connect();
        await dying.query('begin');
        await dying.query('create table left_behind (id int)');
        (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        const after = await (pools[0] as Pool).query<{ t: string | null }>(`select to_regclass('left_behind')::text as t`);
        expect(after.rows).toEqual([{ t: null }]);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
  });
});
