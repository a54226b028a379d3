import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { spawnEmbeddedPostgres } from '../../lib/db/embedded-postgres-process';
import { DEFAULT_MIGRATIONS_DIR, MIGRATIONS_TABLE, MigrationChecksumError, MigrationFailedError, migrate } from '../../lib/db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

async function migrationFiles(): Promise<string[]> {
  return (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
}

async function query<T extends object>(url: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('migrate() on PostgreSQL', () => {
  let db: TestDatabase;
  let dir: string | undefined;

  beforeEach(async () => {
    db = await createTestDatabase({ empty: true });
  });
  afterEach(async () => {
    await db.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('applies every migration file to an empty database, then nothing on a second run', async () => {
    const files = await migrationFiles();
    expect(files.length).toBeGreaterThan(0);
    expect(await migrate(db.url)).toEqual({ applied: files, alreadyApplied: [] });
    expect(await migrate(db.url)).toEqual({ applied: [], alreadyApplied: files });

    const recorded = await query<{ name: string; checksum: string }>(db.url, `select name, checksum from ${MIGRATIONS_TABLE} order by name`);
    expect(recorded.map((row) => row.name)).toEqual(files);
    expect(recorded.every((row) => /^[0-9a-f]{64}$/.test(row.checksum))).toBe(true);
    expect(await query(db.url, 'select durasync_ping() as pong')).toEqual([{ pong: 'pong' }]);
  });

  it('refuses a file changed after it was applied, naming it, and applies nothing new', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'durasync-migrations-'));
    await writeFile(path.join(dir, '0001_a.sql'), 'create table a (id int);');
    await migrate(db.url, { dir });

    await writeFile(path.join(dir, '0001_a.sql'), 'create table a (id bigint);');
    await writeFile(path.join(dir, '0002_b.sql'), 'create table b (id int);');
    const refused = migrate(db.url, { dir });
    await expect(refused).rejects.toBeInstanceOf(MigrationChecksumError);
    await expect(refused).rejects.toMatchObject({ file: '0001_a.sql' });
    expect(await query(db.url, `select to_regclass('b') as b`)).toEqual([{ b: null }]);
  });

  it('rolls back a failing file as a whole and reports which file failed', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'durasync-migrations-'));
    await writeFile(path.join(dir, '0001_ok.sql'), 'create table ok (id int);');
    await writeFile(path.join(dir, '0002_bad.sql'), 'create table half (id int);\nselect * from no_such_table;');
    const failed = migrate(db.url, { dir });
    await expect(failed).rejects.toBeInstanceOf(MigrationFailedError);
    await expect(failed).rejects.toMatchObject({ file: '0002_bad.sql', cause: { code: '42P01' } });

    expect(await query(db.url, `select to_regclass('ok')::text as ok, to_regclass('half')::text as half`)).toEqual([{ ok: 'ok', half: null }]);
    expect(await query(db.url, `select name from ${MIGRATIONS_TABLE}`)).toEqual([{ name: '0001_ok.sql' }]);
  });

  it('lets two concurrent migrators both succeed, applying each file exactly once', async () => {
    const files = await migrationFiles();
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(files);
    expect([...a.alreadyApplied, ...b.alreadyApplied].sort()).toEqual(files);
    expect(await query<{ n: number }>(db.url, `select count(*)::int as n from ${MIGRATIONS_TABLE}`)).toEqual([{ n: files.length }]);
  });
});

describe('migrate() on embedded PGlite', () => {
  it('applies every file once, even to two concurrent migrators sharing its single session', async () => {
    const files = await migrationFiles();
    const pg = await spawnEmbeddedPostgres();
    try {
      const [a, b] = await Promise.all([migrate(pg.url), migrate(pg.url)]);
      expect([...a.applied, ...b.applied].sort()).toEqual(files);
      expect(await migrate(pg.url)).toEqual({ applied: [], alreadyApplied: files });
      expect(await query<{ n: number }>(pg.url, `select count(*)::int as n from ${MIGRATIONS_TABLE}`)).toEqual([{ n: files.length }]);
    } finally {
      await pg.close();
    }
  });
});
