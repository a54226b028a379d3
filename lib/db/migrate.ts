import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import type { Logger } from '../logger';
import { PROJECT_ROOT } from '../paths';

/** Where the migrations live unless told otherwise. */
export const DEFAULT_MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'supabase', 'migrations');

/** The table recording applied migrations. */
export const MIGRATIONS_TABLE = 'durasync_schema_migrations';

/** Session advisory lock key held while migrating (any constant: it only has to be ours). */
const MIGRATION_LOCK_KEY = '7316412203958610433';

export interface MigrateOptions {
  /** Folder of `*.sql` files, applied in lexical order of their names. Default: supabase/migrations. */
  dir?: string;
  /** Receives one line per applied migration. Default: none. */
  logger?: Logger;
}

export interface MigrateResult {
  /** Files applied by this call, in order. */
  applied: string[];
  /** Files found already applied (by an earlier run or a concurrent one). */
  alreadyApplied: string[];
}

export interface Migration {
  name: string;
  sql: string;
  /** sha256 of the file's bytes, hex. */
  checksum: string;
}

/** A migration file changed after it was applied: fix it back, or add a new file instead. */
export class MigrationChecksumError extends Error {
  override readonly name = 'MigrationChecksumError';
  constructor(
    readonly file: string,
    readonly appliedChecksum: string,
    readonly currentChecksum: string,
  ) {
    super(`migration ${file} changed after it was applied (applied ${appliedChecksum.slice(0, 12)}, now ${currentChecksum.slice(0, 12)})`);
  }
}

/** A migration file failed; its transaction was rolled back. `cause` is the database error. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`migration ${file} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Reads the migration files of `dir`, sorted by name. */
export async function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(path.join(dir, name));
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

/**
 * Applies the migrations not yet applied to the database at `databaseUrl`, each file in its own
 * transaction, recording name and checksum in durasync_schema_migrations. A session advisory lock
 * keeps two migrators from racing; each file is also re-checked inside its transaction, which is
 * what serialises migrators on embedded PGlite (one session shared by every connection, so the
 * advisory lock is re-entrant there, but one transaction at a time). A file whose checksum differs
 * from the applied one fails the run before anything is applied (MigrationChecksumError).
 *
 * Files must not manage transactions themselves nor use statements refused in a transaction block
 * (CREATE INDEX CONCURRENTLY...). On Supabase, use the direct or session-mode connection string:
 * session advisory locks do not survive a transaction-mode pooler.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await readMigrations(options.dir ?? DEFAULT_MIGRATIONS_DIR);
  const client = new Client({ connectionString: databaseUrl, application_name: 'durasync-migrate' });
  // A connection lost between queries is reported by the failing query; this keeps the event
  // from crashing the process.
  client.on('error', (err) => options.logger?.warn({ err }, 'migration connection failed'));
  await client.connect();
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  let locked = false;
  try {
    await client.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    locked = true;
    await client.query(
      `create table if not exists ${MIGRATIONS_TABLE} (
         name text primary key,
         checksum text not null,
         applied_at timestamptz not null default now()
       )`,
    );
    const applied = await appliedChecksums(client);
    for (const migration of migrations) verifyChecksum(migration, applied.get(migration.name));
    const onDisk = new Set(migrations.map((migration) => migration.name));
    const missing = [...applied.keys()].filter((name) => !onDisk.has(name));
    if (missing.length) options.logger?.warn({ missing }, 'applied migrations not found on disk');

    for (const migration of migrations) {
      if (applied.has(migration.name)) {
        result.alreadyApplied.push(migration.name);
        continue;
      }
      const outcome = await applyOne(client, migration);
      result[outcome === 'applied' ? 'applied' : 'alreadyApplied'].push(migration.name);
      if (outcome === 'applied') options.logger?.info({ migration: migration.name }, 'migration applied');
    }
    return result;
  } finally {
    try {
      if (locked) await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
    } finally {
      await client.end();
    }
  }
}

async function appliedChecksums(client: Client): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; checksum: string }>(`select name, checksum from ${MIGRATIONS_TABLE}`);
  return new Map(rows.map((row) => [row.name, row.checksum]));
}

function verifyChecksum(migration: Migration, appliedChecksum: string | undefined): void {
  if (appliedChecksum !== undefined && appliedChecksum !== migration.checksum) {
    throw new MigrationChecksumError(migration.name, appliedChecksum, migration.checksum);
  }
}

async function applyOne(client: Client, migration: Migration): Promise<'applied' | 'already'> {
  await client.query('begin');
  try {
    const { rows } = await client.query<{ checksum: string }>(`select checksum from ${MIGRATIONS_TABLE} where name = $1`, [
      migration.name,
    ]);
    const [row] = rows;
    if (row) {
      await client.query('rollback');
      verifyChecksum(migration, row.checksum);
      return 'already';
    }
    try {
      await client.query(migration.sql);
    } catch (err) {
      throw new MigrationFailedError(migration.name, err);
    }
    await client.query(`insert into ${MIGRATIONS_TABLE} (name, checksum) values ($1, $2)`, [migration.name, migration.checksum]);
    await client.query('commit');
    return 'applied';
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}
