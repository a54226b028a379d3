import { createClient } from '@supabase/supabase-js';
import type { Logger } from '../logger';
import { StoreError, StoreUnavailableError, UnexpectedResultError, errorFromDatabase } from './errors';
import type { Row } from './rows';
import { JsonArg, SqlFunctionStore, definedArgs } from './sql-function-store';
import type { SqlArgs } from './sql-function-store';

export interface SupabaseStoreOptions {
  /** The project URL, e.g. `https://<ref>.supabase.co` (or the local emulator's URL). */
  url: string;
  /** The service role key: durasync's functions are not granted to anon or authenticated. */
  serviceKey: string;
  /** Default: none. */
  logger?: Logger;
}

/** PostgREST's own error codes that mean "the database is not reachable right now". */
const UNAVAILABLE_PGRST_CODES = new Set(['PGRST000', 'PGRST001', 'PGRST002', 'PGRST003']);
const UNAVAILABLE_HTTP_STATUSES = new Set([502, 503, 504, 520]);

interface PostgrestErrorLike {
  code?: string | null;
  message?: string | null;
  details?: string | null;
  hint?: string | null;
}

/** The one call of supabase-js this store makes. */
interface RpcClient {
  rpc(fn: string, args: Record<string, unknown>): PromiseLike<{ data: unknown; error: PostgrestErrorLike | null; status: number }>;
}

/**
 * The Store over supabase-js: each operation is `.rpc('fn', { p_x })` on the Data API
 * (PostgREST). Errors: a SQLSTATE in the PostgREST error body -> the same typed errors as PgStore;
 * no HTTP answer at all, 5xx gateway statuses or PostgREST's connection codes ->
 * StoreUnavailableError; anything else -> StoreError with PostgREST's code.
 */
export class SupabaseStore extends SqlFunctionStore {
  readonly kind = 'supabase' as const;
  private readonly client: RpcClient;
  private closed = false;

  constructor(options: SupabaseStoreOptions) {
    super();
    this.client = createClient(options.url, options.serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  protected async callRows(fn: string, args: SqlArgs): Promise<Row[]> {
    const data = await this.rpc(fn, args);
    if (!Array.isArray(data)) throw new UnexpectedResultError(`${fn} did not return an array of rows`, undefined);
    return data as Row[];
  }

  protected async callScalar(fn: string, args: SqlArgs): Promise<unknown> {
    return this.rpc(fn, args);
  }

  async close(): Promise<void> {
    this.closed = true;
    // Nothing to release: .rpc() requests are plain fetch calls and this store opens no realtime
    // channel. (removeAllChannels() would arm a disconnect timer on a socket never opened.)
  }

  private async rpc(fn: string, args: SqlArgs): Promise<unknown> {
    if (this.closed) throw new StoreUnavailableError('the store is closed', undefined);
    const body: Record<string, unknown> = {};
    for (const [name, value] of definedArgs(args)) {
      body[name] = value instanceof JsonArg ? value.value : value instanceof Date ? value.toISOString() : value;
    }
    const { data, error, status } = await this.client.rpc(fn, body);
    if (error) throw toStoreError(error, status);
    return data;
  }
}

/** Maps a PostgREST error (or supabase-js's report of a failed fetch, status 0) to a store error. */
export function toStoreError(error: PostgrestErrorLike, status: number): StoreError {
  const code = error.code || undefined;
  const message = error.message || `supabase request failed with HTTP ${status}`;
  if (status === 0 || UNAVAILABLE_HTTP_STATUSES.has(status) || (code && UNAVAILABLE_PGRST_CODES.has(code))) {
    return new StoreUnavailableError(`supabase unavailable: ${message}`, code, { cause: error });
  }
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    return errorFromDatabase({ code, message, details: error.details, hint: error.hint }, error);
  }
  return new StoreError(message, code, { cause: error });
}
