import { DatabaseError, Pool } from 'pg';
import type { Logger } from '../logger';
import { StoreUnavailableError, errorFromDatabase } from './errors';
import type { StoreError } from './errors';
import type { Row } from './rows';
import { JsonArg, SqlFunctionStore, definedArgs } from './sql-function-store';
import type { SqlArg, SqlArgs } from './sql-function-store';

export interface PgStoreOptions {
  /** postgres:// URL of the database (self-hosted, Supabase's own Postgres, or embedded PGlite). */
  databaseUrl: string;
  /** Most pooled connections. Default: 10. */
  poolMax?: number;
  /** Receives warnings about connections that failed while idle. Default: none. */
  logger?: Logger;
  /** Reported to Postgres as application_name. Default: `durasync`. */
  applicationName?: string;
}

/**
 * The Store over `pg`: each operation is `select * from fn(p_x => $1, ...)` on a pooled
 * connection. Errors: DatabaseError -> the typed store errors (by SQLSTATE); anything else the
 * driver throws (refused connection, connection lost, pool timeout) -> StoreUnavailableError.
 */
export class PgStore extends SqlFunctionStore {
  readonly kind = 'pg' as const;
  private readonly pool: Pool;
  private closed = false;

  constructor(options: PgStoreOptions) {
    super();
    this.pool = new Pool({
      connectionString: options.databaseUrl,
      max: options.poolMax ?? 10,
      application_name: options.applicationName ?? 'durasync',
    });
    // An idle client that loses its connection is reported here; without a listener, it would
    // crash the process. The pool drops it and the next query opens a new one.
    this.pool.on('error', (err) => options.logger?.warn({ err }, 'idle postgres connection failed'));
  }

  protected async callRows(fn: string, args: SqlArgs): Promise<Row[]> {
    const { list, values } = callArguments(args);
    const result = await this.query<Row>(`select * from ${ident(fn)}(${list})`, values);
    return result;
  }

  protected async callScalar(fn: string, args: SqlArgs): Promise<unknown> {
    const { list, values } = callArguments(args);
    const [row] = await this.query<{ value: unknown }>(`select ${ident(fn)}(${list}) as value`, values);
    return row?.value ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async query<T extends Row>(text: string, values: unknown[]): Promise<T[]> {
    try {
      const result = await this.pool.query<T>(text, values);
      return result.rows;
    } catch (err) {
      throw toStoreError(err);
    }
  }
}

/** Maps whatever pg threw to a typed store error. */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof DatabaseError) {
    return errorFromDatabase({ code: err.code, message: err.message, details: err.detail, hint: err.hint }, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`postgres unavailable: ${message}`, errnoCode(err), { cause: err });
}

function callArguments(args: SqlArgs): { list: string; values: unknown[] } {
  const given = definedArgs(args);
  return {
    list: given.map(([name], i) => `${ident(name)} => $${i + 1}`).join(', '),
    values: given.map(([, value]) => toPgValue(value)),
  };
}

function toPgValue(value: SqlArg): unknown {
  if (value instanceof JsonArg) return JSON.stringify(value.value);
  if (value instanceof Date) return value.toISOString();
  return value;
}

/** Function and argument names are constants of this module; quoting keeps them exact anyway. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
