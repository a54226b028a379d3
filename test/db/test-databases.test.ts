import { Client } from 'pg';
import { adminUrl, createTestDatabase, prepareTemplateDatabase, templateDatabaseName } from '../helpers/db';

async function adminQuery<T extends object>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('test databases (test/helpers/db.ts)', () => {
  it('prepares the template idempotently, even from two callers at once', async () => {
    await Promise.all([prepareTemplateDatabase(), prepareTemplateDatabase()]);
    const name = await templateDatabaseName();
    expect(process.env.DURASYNC_TEST_TEMPLATE_DB).toBe(name);
    expect(await adminQuery('select datistemplate, datallowconn from pg_database where datname = $1', [name])).toEqual([
      { datistemplate: true, datallowconn: false },
    ]);
  });

  it('clones the migrated template, or makes an empty database, and drops it again', async () => {
    const migrated = await createTestDatabase();
    const empty = await createTestDatabase({ empty: true });
    try {
      expect(migrated.name).toMatch(/^durasync_t_[0-9a-z]+_[0-9a-f]{10}$/);
      const tables = async (url: string) => {
        const client = new Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query<{ t: string | null }>(`select to_regclass('branches')::text as t`)).rows[0]?.t;
        } finally {
          await client.end();
        }
      };
      expect(await tables(migrated.url)).toBe('branches');
      expect(await tables(empty.url)).toBeNull();
    } finally {
      await Promise.all([migrated.drop(), empty.drop()]);
      await migrated.drop(); // idempotent
    }
    expect(await adminQuery('select datname from pg_database where datname = any($1)', [[migrated.name, empty.name]])).toEqual([]);
  });
});
