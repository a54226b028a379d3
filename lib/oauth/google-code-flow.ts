import { auth } from 'googleapis/build/src/apis/drive';
import type { GoogleSettings } from '../providers/google';
import type { RefreshedToken } from '../tokens/token-service';
import { ConnectError } from './errors';
import { startLoopback } from './loopback';
import { createPkce, randomState } from './pkce';

/** Drive's full scope, what the sync needs. */
export const GOOGLE_DRIVE_SCOPE = 'https://www.googleapis.com/auth/drive';

type AuthUrlOptions = NonNullable<Parameters<InstanceType<typeof auth.OAuth2>['generateAuthUrl']>[0]>;

export interface GoogleCodeFlowOptions {
  google: GoogleSettings & {
    /** The authorization endpoint (GOOGLE_AUTH_URL). Default: https://accounts.google.com/o/oauth2/v2/auth. */
    authUrl?: string;
  };
  /** Default: Drive's full scope. */
  scopes?: string[];
  /** Give up (ConnectError 'timeout', with `timeoutMessage`) when the browser has not come back by then. */
  timeoutMs: number;
  timeoutMessage: string;
  /** Receives the URL the user opens. */
  onUrl(url: string): void;
}

/**
 * Google's authorization-code flow for a command-line tool: PKCE (S256), a loopback redirect on
 * 127.0.0.1 (lib/oauth/loopback.ts), `access_type=offline` and `prompt=consent` so that Google
 * issues a refresh token, and the exchange by google-auth-library's OAuth2 client. The loopback
 * server is closed however it ends. A denial, a foreign `state` or a refused exchange (a wrong
 * verifier, a used code) is a one-line ConnectError.
 */
export async function runGoogleCodeFlow(options: GoogleCodeFlowOptions): Promise<RefreshedToken> {
  const { google } = options;
  const loopback = await startLoopback();
  try {
    const client = new auth.OAuth2({
      clientId: google.clientId,
      clientSecret: google.clientSecret,
      redirectUri: loopback.redirectUri,
      endpoints: {
        ...(google.authUrl ? { oauth2AuthBaseUrl: google.authUrl } : {}),
        ...(google.tokenUrl ? { oauth2TokenUrl: google.tokenUrl } : {}),
      },
    });
    const pkce = createPkce();
    const state = randomState();
    options.onUrl(
      client.generateAuthUrl({
        access_type: 'offline',
        prompt: 'consent',
        scope: options.scopes ?? [GOOGLE_DRIVE_SCOPE],
        state,
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256' as AuthUrlOptions['code_challenge_method'],
      }),
    );
    const query = await loopback.wait(options.timeoutMs, options.timeoutMessage);
    if (query.get('state') !== state) throw new ConnectError('state-mismatch', 'the browser came back with a different state (not this request); run it again');
    const error = query.get('error');
    if (error) throw new ConnectError('denied', error === 'access_denied' ? 'access was denied in the browser' : `Google answered ${error}`);
    const code = query.get('code');
    if (!code) throw new ConnectError('refused', 'the browser came back without a code');
    try {
      const { tokens } = await client.getToken({ code, codeVerifier: pkce.verifier });
      if (!tokens.access_token) throw new ConnectError('refused', 'Google answered the code exchange without an access token');
      return {
        accessToken: tokens.access_token,
        expiresAt: tokens.expiry_date ? new Date(tokens.expiry_date) : null,
        ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
        ...(tokens.scope ? { scopes: tokens.scope.split(' ') } : {}),
      };
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      const data = (err as { response?: { data?: { error?: string; error_description?: string } } }).response?.data;
      if (!data?.error) throw err;
      throw new ConnectError('refused', `Google refused the code exchange: ${data.error}${data.error_description ? ` (${data.error_description})` : ''}`);
    }
  } finally {
    await loopback.close();
  }
}
