import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lib/http';
import { s256Challenge } from '../../lib/oauth/pkce';

/** An OAuth client registered with the emulator (Google Cloud console's "OAuth client ID", desktop type). */
export interface OAuthClient {
  clientId: string;
  clientSecret: string;
}

/** An authorization request waiting on the consent page. */
interface PendingConsent {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | null;
  challenge: string | null;
  method: 'S256' | 'plain';
  offline: boolean;
}

interface IssuedCode extends Omit<PendingConsent, 'state'> {
  expiresAt: number;
  used: boolean;
}

/** What a redeemed code grants: the token endpoint issues tokens for it. */
export interface Redeemed {
  scope: string;
  offline: boolean;
}

/** A refusal as Google's token endpoint answers it. */
export interface OAuthRefusal {
  status: number;
  error: string;
  description: string;
}

export interface AuthorizationSnapshot {
  clients: OAuthClient[];
  pending: Array<[string, PendingConsent]>;
  codes: Array<[string, IssuedCode]>;
}

/** Codes live this long (Google: 10 minutes). */
const CODE_TTL_MS = 10 * 60 * 1000;

const esc = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function isLoopback(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]') && url.port !== '' && !url.hash;
  } catch {
    return false;
  }
}

/**
 * Google's authorization endpoint (`/o/oauth2/v2/auth`) for installed apps and the
 * `authorization_code` grant behind it. GET checks the request as Google does (unknown client: 401
 * `invalid_client`; a redirect_uri other than a loopback `http://127.0.0.1:<port>` or
 * `http://localhost:<port>`: 400 `redirect_uri_mismatch`; a missing or unknown response_type, a
 * missing scope, a code_challenge_method other than S256 or plain: 400 `invalid_request` or
 * `unsupported_response_type`), each as an HTML error page, then answers a consent page for the
 * signed-in user. Its form POSTs back: Allow redirects (302) to `redirect_uri?code=&scope=&state=`,
 * Deny to `redirect_uri?error=access_denied&state=`. Codes are single-use and live 10 minutes;
 * `redeem` checks client, secret, redirect_uri and the PKCE verifier. Not modelled: sign-in and
 * account choice, incremental scopes, `login_hint`, `include_granted_scopes`, id tokens, web
 * (non-loopback) redirect URIs, the out-of-band flow.
 */
export class GoogleAuthorization {
  private readonly clients = new Map<string, string>();
  private readonly pending = new Map<string, PendingConsent>();
  private readonly codes = new Map<string, IssuedCode>();

  constructor(private readonly user: { email: string }) {}

  /** Registers (or replaces) an OAuth client. */
  addClient(client: OAuthClient): void {
    this.clients.set(client.clientId, client.clientSecret);
  }

  snapshot(): AuthorizationSnapshot {
    return {
      clients: [...this.clients].map(([clientId, clientSecret]) => ({ clientId, clientSecret })),
      pending: [...this.pending].map(([id, p]) => [id, { ...p }]),
      codes: [...this.codes].map(([code, c]) => [code, { ...c }]),
    };
  }

  restore(snapshot: AuthorizationSnapshot): void {
    for (const client of snapshot.clients) this.addClient(client);
    for (const [id, p] of snapshot.pending) this.pending.set(id, { ...p });
    for (const [code, c] of snapshot.codes) this.codes.set(code, { ...c });
  }

  /** `GET` (the request) and `POST` (the consent form) of `/o/oauth2/v2/auth`. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method === 'POST') return this.consent(res, new URLSearchParams(await readBody(req, 64 * 1024)));
    const q = url.searchParams;
    const clientId = q.get('client_id') ?? '';
    if (!this.clients.has(clientId)) return errorPage(res, 401, 'invalid_client', 'The OAuth client was not found.');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!isLoopback(redirectUri)) {
      return errorPage(res, 400, 'redirect_uri_mismatch', `You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri=${redirectUri}`);
    }
    const responseType = q.get('response_type');
    if (!responseType) return errorPage(res, 400, 'invalid_request', 'Required parameter is missing: response_type');
    if (responseType !== 'code') return errorPage(res, 400, 'unsupported_response_type', `Invalid response_type: ${responseType}`);
    const scope = q.get('scope');
    if (!scope) return errorPage(res, 400, 'invalid_request', 'Missing required parameter: scope');
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method') ?? (challenge ? 'plain' : 'S256');
    if (method !== 'S256' && method !== 'plain') return errorPage(res, 400, 'invalid_request', 'Invalid code_challenge_method value.');
    if (q.has('code_challenge_method') && !challenge) return errorPage(res, 400, 'invalid_request', 'Missing code_challenge.');
    const id = randomBytes(12).toString('base64url');
    this.pending.set(id, { clientId, redirectUri, scope, state: q.get('state'), challenge, method, offline: q.get('access_type') === 'offline' });
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>Sign in - Google Accounts</title></head><body>
<h1>durasync-demo wants to access your Google Drive</h1>
<p>Signed in as <b>${esc(this.user.email)}</b>. This will allow durasync-demo to: ${esc(scope)}</p>
<form method="POST" action="/o/oauth2/v2/auth"><input type="hidden" name="consent" value="${id}">
<button type="submit" name="decision" value="deny">Deny</button> <button type="submit" name="decision" value="allow">Allow</button></form>
</body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }).end(html);
  }

  private consent(res: ServerResponse, form: URLSearchParams): void {
    const id = form.get('consent') ?? '';
    const request = this.pending.get(id);
    if (!request) return errorPage(res, 400, 'invalid_request', 'This consent request is unknown or was answered already.');
    this.pending.delete(id);
    const target = new URL(request.redirectUri);
    if (form.get('decision') === 'allow') {
      const code = `4/0A${randomBytes(30).toString('base64url')}`;
      const { state: _state, ...rest } = request;
      this.codes.set(code, { ...rest, expiresAt: Date.now() + CODE_TTL_MS, used: false });
      target.searchParams.set('code', code);
      target.searchParams.set('scope', request.scope);
    } else {
      target.searchParams.set('error', 'access_denied');
    }
    if (request.state !== null) target.searchParams.set('state', request.state);
    res.writeHead(302, { location: target.toString(), 'content-length': 0 }).end();
  }

  /** The `authorization_code` grant's checks, in Google's order; a code is spent by its first use. */
  redeem(form: URLSearchParams): Redeemed | OAuthRefusal {
    const clientId = form.get('client_id') ?? '';
    const secret = this.clients.get(clientId);
    if (secret === undefined) return { status: 401, error: 'invalid_client', description: 'The OAuth client was not found.' };
    if (form.get('client_secret') !== secret) return { status: 401, error: 'invalid_client', description: 'Unauthorized' };
    const issued = this.codes.get(form.get('code') ?? '');
    if (!issued) return { status: 400, error: 'invalid_grant', description: 'Malformed auth code.' };
    if (issued.used || issued.expiresAt <= Date.now() || issued.clientId !== clientId) return { status: 400, error: 'invalid_grant', description: 'Bad Request' };
    issued.used = true;
    if (form.get('redirect_uri') !== issued.redirectUri) return { status: 400, error: 'redirect_uri_mismatch', description: 'Bad Request' };
    if (issued.challenge !== null) {
      const verifier = form.get('code_verifier');
      if (!verifier) return { status: 400, error: 'invalid_grant', description: 'Missing code verifier.' };
      const computed = issued.method === 'S256' ? s256Challenge(verifier) : verifier;
      if (computed !== issued.challenge) return { status: 400, error: 'invalid_grant', description: 'Invalid code verifier.' };
    }
    return { scope: issued.scope, offline: issued.offline };
  }
}

function errorPage(res: ServerResponse, status: number, error: string, description: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Error ${status} (${esc(error)})</title></head><body>
<h1>Access blocked: authorization error</h1><p>${esc(description)}</p><p>Error ${status}: ${esc(error)}</p></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) }).end(html);
}
