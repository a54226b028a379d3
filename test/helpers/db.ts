import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migrate, readMigrations } from '../../lib/db/migrate';

/**
 * Databases for tests on the real Postgres. Global setup migrates a template database once per
 * version of supabase/migrations; each test (or suite) clones it with CREATE DATABASE ... TEMPLATE,
 * which takes tens of milliseconds, and drops its clone when done.
 */

export const TEMPLATE_PREFIX = 'durasync_tpl_';
export const TEST_DATABASE_PREFIX = 'durasync_t_';
/** Test databases older than this are dropped by the next prepareTemplateDatabase(). */
const STALE_AFTER_MS = 60 * 60 * 1000;
/** Advisory lock (on the admin database) held while the template is prepared. */
const TEMPLATE_LOCK_KEY = '7316412203958610434';

export interface TestDatabase {
  name: string;
  /** postgres:// URL of the database, on the admin URL's server and credentials. */
  url: string;
  /** Terminates its connections and drops it. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** A database with nothing migrated (from template1) instead of a clone of the template. */
  empty?: boolean;
}

/** The admin connection: DATABASE_URL, as global setup sets it. */
export function adminUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** `base` with its database name replaced by `name`. */
export function databaseUrl(name: string, base: string = adminUrl()): string {
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** The template's name: durasync_tpl_ + 12 hex of a hash of the migration files (names and bytes). */
export async function templateDatabaseName(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations()) hash.update(`${migration.name}\0${migration.checksum}\0`);
  return `${TEMPLATE_PREFIX}${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Creates (if absent) the migrated template database for the current migration files, marks it a
 * template that accepts no connections, and drops templates of other migration versions and test
 * databases older than an hour. Safe when two runs start at once: the work happens under an
 * advisory lock on the admin database. Sets DURASYNC_TEST_TEMPLATE_DB.
 */
export async function prepareTemplateDatabase(): Promise<void> {
  const template = await templateDatabaseName();
  await withAdmin(async (admin) => {
    await admin.query('select pg_advisory_lock($1::bigint)', [TEMPLATE_LOCK_KEY]);
    try {
      const { rows } = await admin.query<{ datname: string; datistemplate: boolean; note: string | null }>(
        `select datname, datistemplate, shobj_description(oid, 'pg_database') as note from pg_database where datname like 'durasync\\_%'`,
      );
      const current = rows.find((row) => row.datname === template);
      for (const row of rows) {
        // Another run on this server (another checkout, CI beside a developer) may still clone a
        // template of other migrations: only templates unused for an hour are dropped.
        if (row.datname.startsWith(TEMPLATE_PREFIX) && row.datname !== template && isStaleTemplate(row.note)) await dropDatabase(admin, row.datname);
        if (row.datname.startsWith(TEST_DATABASE_PREFIX) && isStale(row.datname)) await dropDatabase(admin, row.datname);
      }
      if (!current?.datistemplate) {
        // Absent, or left half-made by an interrupted run.
        if (current) await dropDatabase(admin, template);
        await admin.query(`create database ${quote(template)}`);
        await migrate(databaseUrl(template));
        await admin.query(`alter database ${quote(template)} with is_template true allow_connections false`);
      }
      await admin.query(`comment on database ${quote(template)} is 'durasync test template, last used ${Date.now()}'`);
    } finally {
      await admin.query('select pg_advisory_unlock($1::bigint)', [TEMPLATE_LOCK_KEY]);
    }
  });
  process.env.DURASYNC_TEST_TEMPLATE_DB = template;
}

/**
 * A fresh database for one test or suite: a clone of the migrated template (or, with `empty`,
 * a database with nothing migrated). Call drop() when done.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(5).toString('hex')}`;
  const template = options.empty ? 'template1' : (process.env.DURASYNC_TEST_TEMPLATE_DB ?? (await templateDatabaseName()));
  await withAdmin((admin) => admin.query(`create database ${quote(name)} template ${quote(template)}`));
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: databaseUrl(name),
    drop: () => (dropped ??= withAdmin((admin) => dropDatabase(admin, name))),
  };
}

/** A template whose last use (recorded in its comment) is more than an hour ago, or unknown. */
function isStaleTemplate(note: string | null): boolean {
  const lastUsed = Number(/last used (\d+)/.exec(note ?? '')?.[1] ?? 0);
  return Date.now() - lastUsed > 3_600_000;
}

async function withAdmin<T>(work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl(), application_name: 'durasync-test-admin' });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

async function dropDatabase(admin: Client, name: string): Promise<void> {
  await admin.query(`alter database ${quote(name)} with is_template false allow_connections true`).catch((err: unknown) => {
    if ((err as { code?: string }).code !== '3D000') throw err; // already gone
  });
  await admin.query(`drop database if exists ${quote(name)} with (force)`);
}

/** Test database names carry their creation time (base-36 seconds) after the prefix. */
function isStale(name: string): boolean {
  const match = /^durasync_t_([0-9a-z]+)_/.exec(name);
  if (!match?.[1]) return false;
  return Date.now() - parseInt(match[1], 36) * 1000 > STALE_AFTER_MS;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
