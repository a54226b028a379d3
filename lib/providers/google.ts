// The Drive API alone: the `googleapis` root module loads all ~300 Google APIs (about 0.7 s and
// 100 MB more per process, and their types weigh on every type check).
import { auth, drive, type drive_v3 } from 'googleapis/build/src/apis/drive';
import { TokenRevokedError, type RefreshedToken, type TokenRefresher } from '../tokens/token-service';

/**
 * Google clients, built once per worker from configuration. Against Google itself the defaults
 * apply; tests, the benchmark and `npm run dev` without credentials point `rootUrl` and `tokenUrl`
 * at the emulator (emulators/drive), and the product code does not know the difference.
 */
export interface GoogleSettings {
  clientId: string;
  clientSecret: string;
  /** OAuth token endpoint. Default: Google's. */
  tokenUrl?: string;
  /** API root, e.g. `https://www.googleapis.com/`. Default: Google's. */
  rootUrl?: string;
}

function oauthClient(settings: GoogleSettings) {
  return new auth.OAuth2({
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    ...(settings.tokenUrl ? { endpoints: { oauth2TokenUrl: settings.tokenUrl } } : {}),
  });
}

/**
 * Refreshes Google access tokens with googleapis' OAuth2 client (the refresh grant). A refresh token
 * Google refuses (`invalid_grant`: revoked, expired, password changed) is a TokenRevokedError.
 */
export function createGoogleRefresher(settings: GoogleSettings): TokenRefresher {
  return {
    async refresh(provider: string, refreshToken: string): Promise<RefreshedToken> {
      const client = oauthClient(settings);
      client.setCredentials({ refresh_token: refreshToken });
      try {
        const { token } = await client.getAccessToken();
        if (!token) throw new Error('Google answered the refresh grant without an access token');
        const { expiry_date: expiry, refresh_token: rotated, scope } = client.credentials;
        return {
          accessToken: token,
          expiresAt: expiry ? new Date(expiry) : null,
          ...(rotated && rotated !== refreshToken ? { refreshToken: rotated } : {}),
          ...(scope ? { scopes: scope.split(' ') } : {}),
        };
      } catch (err) {
        const data = (err as { response?: { data?: { error?: unknown } } }).response?.data;
        if (data?.error === 'invalid_grant') throw new TokenRevokedError(provider, '?', 'invalid_grant');
        throw err;
      }
    },
  };
}

/**
 * A Drive v3 client for one access token. googleapis' own retries are off (`retry: false`):
 * activities classify failures (lib/providers/failures.ts) and Temporal retries them, honouring
 * Retry-After, which googleapis would not. Pass `uploadOptions()` as the second argument of calls
 * with `media`: googleapis builds upload URLs from per-call options only.
 */
export function createDriveClient(accessToken: string, settings: Pick<GoogleSettings, 'rootUrl'>): drive_v3.Drive {
  const client = new auth.OAuth2();
  client.setCredentials({ access_token: accessToken });
  return drive({ version: 'v3', auth: client, retry: false, ...(settings.rootUrl ? { rootUrl: settings.rootUrl } : {}) });
}

/** Per-call options for media uploads (see createDriveClient). */
export function uploadOptions(settings: Pick<GoogleSettings, 'rootUrl'>): { rootUrl?: string } {
  return settings.rootUrl ? { rootUrl: settings.rootUrl } : {};
}
