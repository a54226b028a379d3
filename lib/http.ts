import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';

/**
 * A small HTTP layer shared by the ops server (workers/) and the ingress (client/): exact-path
 * routes and routes with `:name` path parameters (`/branches/:branchId/changes`), JSON answers, a catch-all that turns thrown errors into a 500 without leaking them.
 */
/** A failure that answers with its HTTP status and `{ "error": message }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request body of at most `limit` bytes, as bytes (e.g. to check a signature); an HttpError 413 beyond. */
export async function readRawBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => {
    req.resume();
    return new HttpError(413, `body: larger than ${limit} bytes`);
  };
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads a request body of at most `limit` bytes as UTF-8 text; an HttpError 413 beyond. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return (await readRawBody(req, limit)).toString('utf8');
}

/** A route's handler; `params` holds the decoded values of the route's `:name` segments. */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, params: Record<string, string>) => Promise<void> | void;
export type Routes = Record<string, Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS', Handler>>>;

/**
 * The route of a path: an exact key first, else a key with `:name` segments, each matching one
 * non-empty segment (percent-decoded into `params`). Undefined when none matches.
 */
export function matchRoute(routes: Routes, pathname: string): { key: string; route: Routes[string]; params: Record<string, string> } | undefined {
  const exact = routes[pathname];
  if (exact) return { key: pathname, route: exact, params: {} };
  const parts = pathname.split('/');
  for (const [key, route] of Object.entries(routes)) {
    if (!key.includes('/:')) continue;
    const pattern = key.split('/');
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matched = pattern.every((segment, i) => {
      const part = parts[i]!;
      if (!segment.startsWith(':')) return segment === part;
      if (part === '') return false;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
        return true;
      } catch {
        return false;
      }
    });
    if (matched) return { key, route, params };
  }
  return undefined;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startHttpServer(options: { host: string; port: number; routes: Routes; logger: Logger; name: string }): Promise<RunningServer> {
  const { routes, logger } = options;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const matched = matchRoute(routes, url.pathname);
    const route = matched?.route;
    const handler = route?.[(req.method ?? 'GET') as keyof typeof route];
    if (!route) return sendJson(res, 404, { error: `no route ${url.pathname}` });
    if (!handler) {
      res.setHeader('allow', Object.keys(route).join(', '));
      return sendJson(res, 405, { error: `${req.method} not allowed on ${url.pathname}` });
    }
    Promise.resolve()
      .then(() => handler(req, res, url, matched?.params ?? {}))
      .catch((err: unknown) => {
        if (err instanceof HttpError && !res.headersSent) {
          if (err.status === 413) res.setHeader('connection', 'close');
          return sendJson(res, err.status, { error: err.message });
        }
        logger.error({ err, path: url.pathname }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  logger.info({ server: options.name, host: options.host, port }, `${options.name} listening`);
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Runs named checks concurrently, each bounded by `timeoutMs`. */
export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export async function runChecks(
  checks: Record<string, () => Promise<unknown>>,
  timeoutMs: number,
): Promise<{ ok: boolean; failing: string[]; checks: Record<string, CheckResult> }> {
  const entries: Array<readonly [string, CheckResult]> = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
      } catch (err) {
        const e = err as Error;
        return [name, { ok: false, ms: Math.round(performance.now() - started), error: `${e.name}: ${e.message}` }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failing = entries.filter(([, r]) => !r.ok).map(([name]) => name);
  return { ok: failing.length === 0, failing, checks: Object.fromEntries(entries) };
}
