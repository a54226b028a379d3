import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lib/http';
import type { GoogleAuthorization } from './authorize';
import { invalidCredentials, loginRequired } from './errors';

export const DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive';

export interface RefreshToken {
  expiresInSec: number;
  revoked: boolean;
  grants: number;
}


/**
 * Google's OAuth 2.0 token endpoint and the access tokens it issues: the refresh grant, and the
 * `authorization_code` grant for codes of the authorization endpoint (authorize.ts), which answers
 * a refresh token too when the request asked for `access_type=offline`. Refresh tokens exist once
 * seeded (`mint`) or issued; each grant answers a fresh random access token.
 */
export class OAuthTokens {
  /** Both maps are the token store's whole state, read and replaced by persist.ts. */
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly accessTokens = new Map<string, number>(); // token -> expiry (epoch ms)

  constructor(
    private readonly defaultExpiresInSec: number,
    private readonly codes?: Pick<GoogleAuthorization, 'redeem'>,
  ) {}


  /** Registers `refreshToken` (if new) and issues an access token for it directly. */
  mint(refreshToken: string, expiresInSec?: number): { accessToken: string; expiresInSec: number } {
    const entry = this.refreshTokens.get(refreshToken) ?? { expiresInSec: this.defaultExpiresInSec, revoked: false, grants: 0 };
    if (expiresInSec !== undefined) entry.expiresInSec = expiresInSec;
    entry.revoked = false;
    this.refreshTokens.set(refreshToken, entry);
    return { accessToken: this.issue(entry.expiresInSec), expiresInSec: entry.expiresInSec };
  }

  revoke(refreshToken: string): void {
    const entry = this.refreshTokens.get(refreshToken);
    if (entry) entry.revoked = true;
  }

  grants(refreshToken: string): number {
    return this.refreshTokens.get(refreshToken)?.grants ?? 0;
  }

  private issue(expiresInSec: number): string {
    const token = 'ya29.emu-' + randomBytes(24).toString('base64url');
    this.accessTokens.set(token, Date.now() + expiresInSec * 1000);
    return token;
  }

  /** Throws Google's 401 unless the request carries a known, unexpired bearer token. */
  authorize(req: IncomingMessage): void {
    const header = req.headers.authorization;
    if (!header) throw loginRequired();
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const expiry = match?.[1] ? this.accessTokens.get(match[1]) : undefined;
    if (expiry === undefined || expiry <= Date.now()) throw invalidCredentials();
  }

  /** `POST /token`, form-encoded, as google-auth-library's OAuth2Client sends the refresh grant. */
  async handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req, 64 * 1024));
    const fail = (status: number, error: string, description: string) => sendOAuth(res, status, { error, error_description: description });
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code' && this.codes) {
      const redeemed = this.codes.redeem(form);
      if ('error' in redeemed) return fail(redeemed.status, redeemed.error, redeemed.description);
      const refreshToken = redeemed.offline ? `1//emu-${randomBytes(30).toString('base64url')}` : undefined;
      const { accessToken, expiresInSec } = refreshToken ? this.mint(refreshToken) : { accessToken: this.issue(this.defaultExpiresInSec), expiresInSec: this.defaultExpiresInSec };
      return sendOAuth(res, 200, {
        access_token: accessToken,
        expires_in: expiresInSec,
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
        scope: redeemed.scope,
        token_type: 'Bearer',
      });
    }
    if (grantType !== 'refresh_token') return fail(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    if (!form.get('client_id')) return fail(401, 'invalid_client', 'The OAuth client was not found.');
    const refreshToken = form.get('refresh_token') ?? '';
    const entry = this.refreshTokens.get(refreshToken);
    if (!entry) return fail(400, 'invalid_grant', 'Bad Request');
    entry.grants += 1;
    if (entry.revoked) return fail(400, 'invalid_grant', 'Token has been expired or revoked.');
    sendOAuth(res, 200, {
      access_token: this.issue(entry.expiresInSec),
      expires_in: entry.expiresInSec,
      scope: DRIVE_SCOPE,
      token_type: 'Bearer',
    });
  }

  /** `POST /revoke?token=...` (OAuth2Client.revokeToken): revokes a refresh or access token. */
  async handleRevoke(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = url.searchParams.get('token') ?? new URLSearchParams(await readBody(req, 64 * 1024)).get('token') ?? '';
    if (this.refreshTokens.has(token)) this.revoke(token);
    else if (!this.accessTokens.delete(token)) return sendOAuth(res, 400, { error: 'invalid_token', error_description: 'Bad Request' });
    sendOAuth(res, 200, {});
  }
}

function sendOAuth(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  });
  res.end(text);
}
