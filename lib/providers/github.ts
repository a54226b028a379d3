import { Octokit } from '@octokit/rest';
import { postGithubOAuth, toRefreshedToken } from '../oauth/github-token';
import { TokenRevokedError, type RefreshedToken, type TokenRefresher } from '../tokens/token-service';

/**
 * A GitHub REST client (Octokit) for one token, built by the worker. `baseUrl` points at GitHub
 * Enterprise or at the emulator (emulators/github); the product code does not know the
 * difference. Octokit retries nothing by itself: activities classify failures once
 * (lib/providers/failures.ts) and Temporal retries them, after Retry-After or the rate-limit reset.
 */
export interface GithubSettings {
  /** API root. Default: https://api.github.com. */
  baseUrl?: string;
  /** User-Agent sent with every call. Default: `durasync`. */
  userAgent?: string;
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function createGithubClient(token: string, settings: GithubSettings = {}): Octokit {
  return new Octokit({
    auth: token,
    userAgent: settings.userAgent ?? 'durasync',
    ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
    // Octokit logs request failures with their URLs; failures reach our logs once, as mapped failures.
    log: silent,
  });
}

/** What refreshing GitHub App user tokens needs: GITHUB_OAUTH_URL, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET. */
export interface GithubOAuthSettings {
  /** Default: https://github.com. */
  oauthUrl?: string;
  clientId?: string;
  clientSecret?: string;
}

/**
 * Refreshes GitHub App user tokens (`ghu_`, 8 hours) with the refresh grant; both tokens rotate.
 * `bad_refresh_token` (used, expired or revoked) is a TokenRevokedError. OAuth App tokens do not
 * expire, so they never come here.
 */
export function createGithubRefresher(settings: GithubOAuthSettings): TokenRefresher {
  return {
    async refresh(provider: string, refreshToken: string): Promise<RefreshedToken> {
      if (!settings.clientId || !settings.clientSecret) throw new Error('refreshing GitHub tokens needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET');
      const answer = await postGithubOAuth(settings.oauthUrl ?? 'https://github.com', '/login/oauth/access_token', {
        client_id: settings.clientId,
        client_secret: settings.clientSecret,
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      if (answer.error === 'bad_refresh_token') throw new TokenRevokedError(provider, '?', 'bad_refresh_token');
      if (!answer.access_token) throw new Error(`GitHub refused the refresh grant: ${answer.error ?? 'no access token'}`);
      return toRefreshedToken({ ...answer, access_token: answer.access_token });
    },
  };
}
