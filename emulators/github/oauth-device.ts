import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lib/http';

/** An app registered with the emulator: an OAuth App (tokens that never expire) or a GitHub App with expiring user tokens. */
export interface GithubOAuthApp {
  clientId: string;
  /** Needed for the refresh grant. Default: none. */
  clientSecret?: string;
  /** A GitHub App with "expire user authorization tokens" on: `ghu_` tokens for 8 hours plus a `ghr_` refresh token. Default: false (an OAuth App, `gho_`). */
  expiringTokens?: boolean;
}

interface DeviceCode {
  clientId: string;
  userCode: string;
  scope: string;
  expiresAt: number;
  intervalSec: number;
  /** Polls closer than max(intervalSec, floorSec) to the previous one (or to the code's issue) answer slow_down. */
  floorSec: number;
  lastPollAt: number;
  status: 'pending' | 'approved' | 'denied' | 'spent';
}

interface RefreshGrant {
  clientId: string;
  login: string;
  expiresAt: number;
}

interface IssuedToken {
  login: string;
  /** Epoch ms; null: never. */
  expiresAt: number | null;
}

export interface DeviceFlowSnapshot {
  apps: GithubOAuthApp[];
  deviceCodes: Array<[string, DeviceCode]>;
  refreshTokens: Array<[string, RefreshGrant]>;
  issued: Array<[string, IssuedToken]>;
}

export interface DeviceFlowOptions {
  /** The emulator's base URL (verification_uri is `<url>/login/device`). */
  baseUrl: () => string;
  /** The signed-in user who approves codes. */
  login: string;
  /** `interval` of new device codes (seconds). GitHub: 5. */
  intervalSec: number;
  /** Polls closer together than this answer `slow_down` even when the interval is shorter (to make a client meet it). Default: the interval. */
  pollFloorSec?: number;
  /** `expires_in` of new device codes (seconds). Default: 900, GitHub's. */
  codeTtlSec?: number;
  /** Registers an issued access token with the API, for `login`, expiring at `expiresAt` (epoch ms) unless null. */
  register(token: string, login: string, expiresAt: number | null): void;
}

const ERROR_URI = 'https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow';
const DESCRIPTIONS: Record<string, string> = {
  authorization_pending: 'The authorization request is still pending.',
  slow_down: 'Too many requests have been made in the same timeframe.',
  expired_token: 'The `device_code` has expired.',
  access_denied: 'The authorization request was denied.',
  incorrect_device_code: 'The device_code provided is not valid.',
  incorrect_client_credentials: 'The client_id and/or client_secret passed are incorrect.',
  unsupported_grant_type: 'The grant type is not supported.',
  bad_refresh_token: 'The refresh token passed is incorrect or expired.',
};
/** GitHub's user codes: 8 characters of consonants and digits, `WDJB-MJHT`. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ0123456789';
const DEVICE_CODE_TTL_SEC = 900;
const ACCESS_TTL_SEC = 28_800;
const REFRESH_TTL_SEC = 15_897_600;

const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const token = (prefix: string) => `${prefix}${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;

/**
 * GitHub's OAuth device flow and token endpoint, as a CLI sees them: `POST /login/device/code`
 * (form or JSON) answers a device code, a `WDJB-MJHT` user code, `<url>/login/device`, expires_in
 * 900 and the interval; `GET /login/device` is the page where the signed-in user enters the code
 * and `POST /login/device` approves or denies it. `POST /login/oauth/access_token` answers, with
 * HTTP 200 as GitHub does, `authorization_pending`, `slow_down` (polled within the interval: the
 * interval grows by 5 s and the answer carries it), `expired_token`, `access_denied`,
 * `incorrect_device_code`, `incorrect_client_credentials`, `unsupported_grant_type`, or the token:
 * `gho_` for an OAuth App, `ghu_` + `ghr_` refresh token (8 hours / 6 months) for a GitHub App with
 * expiring tokens. The refresh grant rotates both; a used or unknown refresh token is
 * `bad_refresh_token`. Answers are form-encoded unless the request sends `Accept: application/json`.
 * Not modelled: the web application flow (`/login/oauth/authorize`), scopes' effect on the API,
 * token revocation through the Applications API, rate limits of these endpoints.
 */
export class GithubDeviceFlow {
  private readonly apps = new Map<string, GithubOAuthApp>();
  private readonly deviceCodes = new Map<string, DeviceCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  private readonly issued = new Map<string, IssuedToken>();

  private readonly codeTtlSec: number;

  constructor(private readonly options: DeviceFlowOptions) {
    this.codeTtlSec = options.codeTtlSec ?? DEVICE_CODE_TTL_SEC;
  }

  addApp(app: GithubOAuthApp): void {
    this.apps.set(app.clientId, { ...app });
  }

  snapshot(): DeviceFlowSnapshot {
    return {
      apps: [...this.apps.values()].map((a) => ({ ...a })),
      deviceCodes: [...this.deviceCodes].map(([k, v]) => [k, { ...v }]),
      refreshTokens: [...this.refreshTokens].map(([k, v]) => [k, { ...v }]),
      issued: [...this.issued].map(([k, v]) => [k, { ...v }]),
    };
  }

  /** Takes the state back, registering the issued access tokens with the API again. */
  restore(snapshot: DeviceFlowSnapshot): void {
    for (const app of snapshot.apps) this.addApp(app);
    for (const [k, v] of snapshot.deviceCodes) this.deviceCodes.set(k, { ...v });
    for (const [k, v] of snapshot.refreshTokens) this.refreshTokens.set(k, { ...v });
    for (const [k, v] of snapshot.issued) {
      this.issued.set(k, { ...v });
      this.options.register(k, v.login, v.expiresAt);
    }
  }

  /** Answers a `/login/...` request; returns its status, or undefined when the path is none of these. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<number | undefined> {
    const method = req.method ?? 'GET';
    if (pathname === '/login/device' && method === 'GET') return page(res, 200, this.entryPage());
    if (method !== 'POST') return undefined;
    const params = await readParams(req);
    switch (pathname) {
      case '/login/device/code':
        return this.deviceCode(req, res, params);
      case '/login/device':
        return this.approve(res, params);
      case '/login/oauth/access_token':
        return oauthAnswer(req, res, this.accessToken(params));
      default:
        return undefined;
    }
  }

  private deviceCode(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): number {
    const clientId = params.get('client_id') ?? '';
    if (!this.apps.has(clientId)) return oauthAnswer(req, res, failure('incorrect_client_credentials'));
    let userCode = '';
    for (let i = 0; i < 8; i++) userCode += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
    userCode = `${userCode.slice(0, 4)}-${userCode.slice(4)}`;
    const deviceCode = randomBytes(20).toString('hex');
    this.deviceCodes.set(deviceCode, {
      clientId,
      userCode,
      scope: params.get('scope') ?? '',
      expiresAt: Date.now() + this.codeTtlSec * 1000,
      intervalSec: this.options.intervalSec,
      floorSec: this.options.pollFloorSec ?? 0,
      // The first poll has to wait the interval too.
      lastPollAt: Date.now(),
      status: 'pending',
    });
    return oauthAnswer(req, res, {
      device_code: deviceCode,
      user_code: userCode,
      verification_uri: `${this.options.baseUrl()}/login/device`,
      expires_in: this.codeTtlSec,
      interval: this.options.intervalSec,
    });
  }

  private approve(res: ServerResponse, params: URLSearchParams): number {
    const typed = (params.get('user_code') ?? '').toUpperCase().replace(/[^A-Z0-9]/g, '');
    const entry = [...this.deviceCodes.values()].find((d) => d.userCode.replace('-', '') === typed && d.status === 'pending' && d.expiresAt > Date.now());
    if (!entry) return page(res, 404, '<h1>Incorrect code</h1><p>Make sure you entered the code correctly and try again.</p>');
    const deny = params.get('decision') === 'deny';
    entry.status = deny ? 'denied' : 'approved';
    return page(res, 200, deny ? '<h1>Access denied</h1><p>The device was not authorized.</p>' : `<h1>Congratulations, you're all set!</h1><p>Your device is now connected as ${esc(this.options.login)}.</p>`);
  }

  private accessToken(params: URLSearchParams): Record<string, unknown> {
    const grantType = params.get('grant_type');
    const app = this.apps.get(params.get('client_id') ?? '');
    if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') {
      if (!app) return failure('incorrect_client_credentials');
      const entry = this.deviceCodes.get(params.get('device_code') ?? '');
      if (!entry || entry.clientId !== app.clientId || entry.status === 'spent') return failure('incorrect_device_code');
      if (entry.expiresAt <= Date.now()) return failure('expired_token');
      const now = Date.now();
      const early = now - entry.lastPollAt < Math.max(entry.intervalSec, entry.floorSec) * 1000;
      entry.lastPollAt = now;
      if (early) {
        entry.intervalSec += 5;
        return { ...failure('slow_down'), interval: entry.intervalSec };
      }
      if (entry.status === 'pending') return failure('authorization_pending');
      if (entry.status === 'denied') return failure('access_denied');
      entry.status = 'spent';
      return this.issue(app, this.options.login, entry.scope);
    }
    if (grantType === 'refresh_token') {
      if (!app || !app.clientSecret || params.get('client_secret') !== app.clientSecret) return failure('incorrect_client_credentials');
      const refreshToken = params.get('refresh_token') ?? '';
      const grant = this.refreshTokens.get(refreshToken);
      if (!grant || grant.clientId !== app.clientId || grant.expiresAt <= Date.now()) return failure('bad_refresh_token');
      this.refreshTokens.delete(refreshToken);
      return this.issue(app, grant.login, '');
    }
    return failure('unsupported_grant_type');
  }

  private issue(app: GithubOAuthApp, login: string, scope: string): Record<string, unknown> {
    if (!app.expiringTokens) {
      const access = token('gho_');
      this.remember(access, login, null);
      return { access_token: access, token_type: 'bearer', scope };
    }
    const access = token('ghu_');
    const refresh = token('ghr_');
    this.remember(access, login, Date.now() + ACCESS_TTL_SEC * 1000);
    this.refreshTokens.set(refresh, { clientId: app.clientId, login, expiresAt: Date.now() + REFRESH_TTL_SEC * 1000 });
    return { access_token: access, expires_in: ACCESS_TTL_SEC, refresh_token: refresh, refresh_token_expires_in: REFRESH_TTL_SEC, token_type: 'bearer', scope: '' };
  }

  private remember(access: string, login: string, expiresAt: number | null): void {
    this.issued.set(access, { login, expiresAt });
    this.options.register(access, login, expiresAt);
  }

  private entryPage(): string {
    return `<h1>Device Activation</h1><p>Signed in as <b>${esc(this.options.login)}</b>. Enter the code displayed on your device.</p>
<form method="POST" action="/login/device"><input type="text" name="user_code" placeholder="XXXX-XXXX" autocomplete="off">
<button type="submit" name="decision" value="deny">Cancel</button> <button type="submit" name="decision" value="approve">Authorize</button></form>`;
  }
}

function failure(error: string): Record<string, unknown> {
  return { error, error_description: DESCRIPTIONS[error] ?? error, error_uri: ERROR_URI };
}

async function readParams(req: IncomingMessage): Promise<URLSearchParams> {
  const text = await readBody(req, 64 * 1024);
  if (!(req.headers['content-type'] ?? '').includes('json')) return new URLSearchParams(text);
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    return new URLSearchParams(Object.entries(parsed).map(([k, v]): [string, string] => [k, String(v)]));
  } catch {
    return new URLSearchParams();
  }
}

/** GitHub's OAuth answers: HTTP 200, form-encoded unless the client accepts JSON. */
function oauthAnswer(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): number {
  const json = (req.headers.accept ?? '').includes('application/json');
  const text = json ? JSON.stringify(body) : new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString();
  res.writeHead(200, { 'content-type': json ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return 200;
}

function page(res: ServerResponse, status: number, body: string): number {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>GitHub</title></head><body>${body}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }).end(html);
  return status;
}
