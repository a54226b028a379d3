import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseError, Pool } from 'pg';
import type { Logger } from '../../lib/logger';
import { callStatement, findFunctions, matchingFunctions } from './functions';
import {
  ambiguousFunction,
  connectionError,
  invalidBody,
  invalidPath,
  invalidRpcMethod,
  invalidToken,
  noSuchFunction,
  sqlError,
  tokenRequired,
  unacceptableSchema,
} from './postgrest-errors';
import type { PostgrestErrorResponse } from './postgrest-errors';
import { createStorageEmulator } from './storage';

export interface SupabaseEmulatorOptions {
  /** The Postgres the functions run on (any postgres:// URL, embedded PGlite included). */
  databaseUrl: string;
  /** The only key accepted, in both `apikey` and `Authorization: Bearer`. */
  serviceKey: string;
  /** Default: 0, a free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** The exposed schema. Default: public. */
  schema?: string;
  /** Default: 5. */
  poolMax?: number;
  /** Receives one debug line per request and warnings about failed connections. Default: none. */
  logger?: Logger;
  /** Storage buckets that exist from the start (objects are kept in memory). Default: none. */
  storageBuckets?: string[];
}

export interface SupabaseEmulator {
  /** Base URL to give createClient(), e.g. http://127.0.0.1:54321. */
  url: string;
  port: number;
  /** Stops the HTTP server (dropping keep-alive connections) and closes the pool. Idempotent. */
  close(): Promise<void>;
}

/**
 * The part of Supabase's Data API (PostgREST behind the API gateway) that supabase-js `.rpc()`
 * uses, for tests and offline runs: `POST /rest/v1/rpc/:fn` with a JSON object of named arguments
 * (and `GET` with query-string arguments, in a read-only transaction) runs the function and answers
 * as PostgREST does: 200 with an array for set-returning functions, the value for scalars, an
 * object for a composite, 204 for void; PostgREST's error bodies and statuses otherwise (401
 * PGRST302/PGRST301 without the service key, 404 PGRST202 for an unknown function, the SQLSTATE
 * mapping for database errors). Also Supabase Storage's object endpoints (`/storage/v1/...`, in
 * memory: see storage.ts). Not emulated: tables (`/rest/v1/<table>`), JWT roles and claims,
 * `Prefer` headers, bulk calls with an array body.
 */
export async function startSupabaseEmulator(options: SupabaseEmulatorOptions): Promise<SupabaseEmulator> {
  const schema = options.schema ?? 'public';
  const logger = options.logger;
  const pool = new Pool({
    connectionString: options.databaseUrl,
    max: options.poolMax ?? 5,
    application_name: 'durasync-supabase-emulator',
    // Supabase databases run in UTC: timestamps come out as `...+00:00` whatever this server says.
    options: '-c TimeZone=UTC',
  });
  pool.on('error', (err) => logger?.warn({ err }, 'supabase emulator: idle connection failed'));
  const storage = createStorageEmulator({ serviceKey: options.serviceKey, buckets: options.storageBuckets });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger?.error({ err }, 'supabase emulator: request failed');
      if (!res.headersSent) sendError(res, { status: 500, body: { code: 'PGRSTX00', details: null, hint: null, message: String(err) } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    logger?.debug({ method: req.method, path: url.pathname }, 'supabase emulator request');
    if (url.pathname.startsWith('/storage/v1/')) return storage.handle(req, res, url);
    if (!url.pathname.startsWith('/rest/v1/')) {
      send(res, 404, JSON.stringify({ message: 'no Route matched with those values' }));
      return;
    }
    const authError = checkAuth(req, options.serviceKey);
    if (authError) return sendError(res, authError);
    const match = /^\/rest\/v1\/rpc\/([^/]+)$/.exec(url.pathname);
    if (!match?.[1]) return sendError(res, invalidPath());
    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET') return sendError(res, invalidRpcMethod(method));
    const profile = header(req, method === 'POST' ? 'content-profile' : 'accept-profile');
    if (profile && profile !== schema) return sendError(res, unacceptableSchema(profile, schema));

    let args: Record<string, unknown>;
    if (method === 'POST') {
      const parsed = parseBody(await readBody(req));
      if ('error' in parsed) return sendError(res, parsed.error);
      args = parsed.args;
    } else {
      args = Object.fromEntries(url.searchParams.entries());
    }
    await call(res, decodeURIComponent(match[1]), args, method === 'GET');
  }

  async function call(res: ServerResponse, name: string, args: Record<string, unknown>, readOnly: boolean): Promise<void> {
    const keys = Object.keys(args);
    let client;
    try {
      client = await pool.connect();
    } catch (err) {
      return sendError(res, connectionError(err instanceof Error ? err.message : String(err)));
    }
    let broken = false;
    try {
      const candidates = matchingFunctions(await findFunctions(client, schema, name), keys);
      if (candidates.length === 0) return sendError(res, noSuchFunction(schema, name, keys));
      const [fn] = candidates;
      if (candidates.length > 1 || !fn) return sendError(res, ambiguousFunction(schema, name));
      const statement = callStatement(fn, keys);
      const values = statement.usesArgs ? [JSON.stringify(args)] : [];
      if (readOnly) await client.query('begin read only');
      const { rows } = await client.query<{ body: string; n?: number }>(statement.text, values);
      if (readOnly) await client.query('commit');
      if (fn.returns === 'void') {
        res.writeHead(204).end();
        return;
      }
      const row = rows[0];
      const headers: Record<string, string> = {};
      if (fn.returns === 'setof-composite' || fn.returns === 'setof-scalar') {
        const count = row?.n ?? (JSON.parse(row?.body ?? '[]') as unknown[]).length;
        headers['Content-Range'] = count > 0 ? `0-${count - 1}/*` : '*/*';
      }
      send(res, 200, row?.body ?? 'null', headers);
    } catch (err) {
      if (readOnly) await client.query('rollback').catch(() => undefined);
      if (err instanceof DatabaseError && err.code) {
        return sendError(res, sqlError({ code: err.code, message: err.message, detail: err.detail, hint: err.hint }));
      }
      broken = true;
      return sendError(res, connectionError(err instanceof Error ? err.message : String(err)));
    } finally {
      client.release(broken); // a connection that failed is discarded, not pooled
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger?.info({ url, schema }, 'supabase emulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await pool.end();
      })()),
  };
}

/** Both headers must carry the service key, as supabase-js sends it (`apikey` + Bearer). */
function checkAuth(req: IncomingMessage, serviceKey: string): PostgrestErrorResponse | undefined {
  const authorization = header(req, 'authorization');
  const apikey = header(req, 'apikey');
  if (!authorization && !apikey) return tokenRequired();
  if (authorization !== `Bearer ${serviceKey}` || apikey !== serviceKey) return invalidToken();
  return undefined;
}

function parseBody(text: string): { args: Record<string, unknown> } | { error: PostgrestErrorResponse } {
  if (text.trim() === '') return { args: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: invalidBody('Empty or invalid json') };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { error: invalidBody('The request body must be a JSON object of named arguments') };
  }
  return { args: parsed as Record<string, unknown> };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, error: PostgrestErrorResponse): void {
  send(res, error.status, JSON.stringify(error.body), { 'Proxy-Status': `PostgREST; error=${error.body.code}`, ...error.headers });
}
