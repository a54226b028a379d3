import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from '../../lib/http';
import type { Logger } from '../../lib/logger';
import { StateFile, notifying } from '../state-file';
import { DriveApi } from './api';
import type { ApiResult } from './api';
import { DriveApiError, badRequest, notFound } from './errors';
import { FaultInjector } from './faults';
import type { Faults } from './faults';
import { OAuthTokens } from './oauth';
import { GoogleAuthorization, type AuthorizationSnapshot, type OAuthClient } from './authorize';
import { about, type DriveUser } from './about';
import { driveStorePart, oauthTokensPart } from './persist';
import { createSeed } from './seed';
import type { CallRecord, DriveInspect, DriveSeed } from './seed';
import { DriveStore } from './store';

export interface DriveEmulatorOptions {
  /** Default: 0, a free port. */
  port?: number;
  /** Default: 127.0.0.1. */
  host?: string;
  /** Delay before every answer; `faults.set({ latencyMs })` overrides it. Default: 0. */
  latencyMs?: number;
  /** Lifetime of issued access tokens (`expires_in`) unless `seed.token` says otherwise. Default: 3599. */
  tokenExpiresInSec?: number;
  /** Receives one debug line per request. Default: none. */
  logger?: Logger;
  /** OAuth clients the authorization and token endpoints know (more with `seed.oauthClient`). Default: none. */
  oauthClients?: OAuthClient[];
  /** The signed-in Google user: the consent page and `about.get` show it. Default: `emulator.user@gmail.com`. */
  user?: DriveUser;
  /**
   * Keeps the workspace in this JSON file: loaded at start (missing: empty; unreadable: a
   * StateFileError naming it), saved within 200 ms of every change, flushed by `close()`. Files,
   * contents, change log and page tokens, and OAuth tokens survive a restart. Default: memory only.
   */
  stateFile?: string;
}

export interface DriveEmulator {
  /** Give it to googleapis as `rootUrl`, e.g. http://127.0.0.1:PORT/ (trailing slash included). */
  url: string;
  /** The OAuth 2.0 token endpoint, for OAuth2Client's `endpoints.oauth2TokenUrl`. */
  tokenUrl: string;
  /** The authorization endpoint (GOOGLE_AUTH_URL), for OAuth2Client's `endpoints.oauth2AuthBaseUrl`. */
  authUrl: string;
  /** The revocation endpoint, for OAuth2Client's `endpoints.oauth2RevokeUrl`. */
  revokeUrl: string;
  port: number;
  seed: DriveSeed;
  inspect: DriveInspect;
  faults: Faults;
  /** Later refresh grants with this token answer 400 invalid_grant. */
  revoke(refreshToken: string): void;
  /** Stops the server, dropping keep-alive connections, then saves the state file. Idempotent. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=UTF-8';

type Route = { method: string; pattern: RegExp; api: boolean; run: (req: IncomingMessage, url: URL, id: string) => ApiResult | Promise<ApiResult> };

/**
 * A Google Drive v3 REST emulator the real `googleapis` client talks to unmodified (via `rootUrl`):
 * files (list with q/pagination/fields, get, alt=media, export, create, media and multipart
 * uploads, patch, delete), the changes feed, `about` (the signed-in user), Google's OAuth
 * authorization endpoint for installed apps (consent page, loopback redirects, PKCE: authorize.ts)
 * and token endpoint (authorization_code and refresh grants) with bearer checks on every API call,
 * seed/inspect helpers and fault knobs. Not emulated: resumable uploads, permissions, revisions,
 * shared drives, batch requests, scopes (every token opens the whole Drive).
 */
export async function startDriveEmulator(options: DriveEmulatorOptions = {}): Promise<DriveEmulator> {
  const store = new DriveStore();
  const api = new DriveApi(store);
  const user = options.user ?? { email: 'emulator.user@gmail.com' };
  const authorization = new GoogleAuthorization(user);
  for (const client of options.oauthClients ?? []) authorization.addClient(client);
  const tokens = new OAuthTokens(options.tokenExpiresInSec ?? 3599, authorization);
  const faults = new FaultInjector(options.latencyMs ?? 0);
  const calls: CallRecord[] = [];
  const logger = options.logger;
  const persist = options.stateFile ? new StateFile(options.stateFile, [driveStorePart(store), oauthTokensPart(tokens), { key: 'authorization', snapshot: () => authorization.snapshot(), restore: (j) => authorization.restore(j as AuthorizationSnapshot) }], { emulator: 'drive', logger }) : undefined;
  await persist?.load();
  const F = '/drive/v3/files';
  const routes: Route[] = [
    { method: 'GET', pattern: /^\/drive\/v3\/files$/, api: true, run: (_req, url) => api.listFiles(url) },
    { method: 'POST', pattern: /^\/drive\/v3\/files$/, api: true, run: (req, url) => api.createFile(req, url, false) },
    { method: 'POST', pattern: /^\/upload\/drive\/v3\/files$/, api: true, run: (req, url) => api.createFile(req, url, true) },
    { method: 'GET', pattern: /^\/drive\/v3\/files\/([^/]+)$/, api: true, run: (_req, url, id) => api.getFile(url, id) },
    { method: 'GET', pattern: /^\/drive\/v3\/files\/([^/]+)\/export$/, api: true, run: (_req, url, id) => api.exportFile(url, id) },
    { method: 'PATCH', pattern: /^\/drive\/v3\/files\/([^/]+)$/, api: true, run: (req, url, id) => api.updateFile(req, url, id, false) },
    { method: 'PATCH', pattern: /^\/upload\/drive\/v3\/files\/([^/]+)$/, api: true, run: (req, url, id) => api.updateFile(req, url, id, true) },
    { method: 'DELETE', pattern: /^\/drive\/v3\/files\/([^/]+)$/, api: true, run: (_req, _url, id) => api.deleteFile(id) },
    { method: 'GET', pattern: /^\/drive\/v3\/changes\/startPageToken$/, api: true, run: () => api.startPageToken() },
    { method: 'GET', pattern: /^\/drive\/v3\/changes$/, api: true, run: (_req, url) => api.listChanges(url) },
    { method: 'GET', pattern: /^\/drive\/v3\/about$/, api: true, run: (_req, url) => about(url, user) },
  ];

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger?.error({ err }, 'drive emulator: request failed');
      if (!res.headersSent) sendError(res, new DriveApiError(500, { domain: 'global', reason: 'internalError', message: 'Internal Error' }));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    logger?.debug({ method, path: url.pathname }, 'drive emulator request');
    if (persist && method !== 'GET') res.once('close', () => persist.changed());
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (url.pathname === '/token' && method === 'POST') return tokens.handleToken(req, res);
    if (url.pathname === '/revoke' && method === 'POST') return tokens.handleRevoke(req, res, url);
    if (url.pathname === '/o/oauth2/v2/auth') return authorization.handle(req, res, url);

    const matches = routes.filter((r) => r.pattern.test(url.pathname));
    const route = matches.find((r) => r.method === method);
    const id = route ? decodeURIComponent(route.pattern.exec(url.pathname)?.[1] ?? '') : '';
    const call: CallRecord = { method, path: url.pathname, query: url.search, status: 0, ...(id ? { fileId: id } : {}) };
    if (url.pathname.startsWith('/drive/') || url.pathname.startsWith('/upload/')) {
      calls.push(call);
      res.once('close', () => {
        call.status = res.headersSent ? res.statusCode : 0;
      });
    }
    try {
      if (!route) {
        if (matches.length > 0) throw new DriveApiError(405, { domain: 'global', reason: 'httpMethodNotAllowed', message: `HTTP method ${method} is not supported by this URL` });
        throw url.pathname.startsWith(F) ? notFound(url.pathname.slice(F.length + 1)) : badRequest(`Unknown path ${url.pathname}`);
      }
      tokens.authorize(req);
      const fault = faults.next(req);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault) throw fault.error;
      send(res, await route.run(req, url, id));
    } catch (err) {
      if (err instanceof DriveApiError) return sendError(res, err);
      if (err instanceof HttpError) return sendError(res, badRequest(err.message));
      throw err;
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
  const base = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  logger?.info({ url: base }, 'drive emulator listening');
  const { seed: seeds, inspect } = createSeed(store, tokens, calls, authorization);
  const seed = persist ? notifying(seeds, () => persist.changed()) : seeds;

  let closing: Promise<void> | undefined;
  return {
    url: `${base}/`,
    tokenUrl: `${base}/token`,
    authUrl: `${base}/o/oauth2/v2/auth`,
    revokeUrl: `${base}/revoke`,
    port,
    seed,
    inspect,
    faults,
    revoke(refreshToken) {
      tokens.revoke(refreshToken);
      persist?.changed();
    },
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await persist?.flush();
      })()),
  };
}

function send(res: ServerResponse, result: ApiResult): void {
  if (!('json' in result) && !('bytes' in result)) {
    res.writeHead(result.status, { 'content-length': 0 }).end();
    return;
  }
  const body = 'json' in result ? Buffer.from(JSON.stringify(result.json, null, 1)) : result.bytes;
  const contentType = 'json' in result ? JSON_TYPE : result.contentType;
  res.writeHead(result.status, { 'content-type': contentType, 'content-length': body.length, vary: 'Origin, X-Origin' });
  res.end(body);
}

function sendError(res: ServerResponse, error: DriveApiError): void {
  const body = Buffer.from(JSON.stringify(error.body, null, 2));
  res.writeHead(error.status, { 'content-type': JSON_TYPE, 'content-length': body.length, ...error.headers });
  res.end(body);
}
