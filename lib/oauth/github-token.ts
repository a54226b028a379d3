import type { RefreshedToken } from '../tokens/token-service';

/**
 * GitHub's token endpoint (`POST <GITHUB_OAUTH_URL>/login/oauth/access_token`), shared by the
 * device flow and the refresh grant. GitHub answers errors with HTTP 200 and an `error` field;
 * JSON because we send `Accept: application/json`.
 */
export interface GithubTokenAnswer {
  access_token?: string;
  token_type?: string;
  scope?: string;
  /** GitHub App user tokens only (seconds; 8 hours). */
  expires_in?: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
  /** Device flow: the new polling interval after `slow_down`. */
  interval?: number;
  error?: string;
  error_description?: string;
}

/** GitHub answered something other than a token or an OAuth error. */
export class GithubOAuthHttpError extends Error {
  override readonly name = 'GithubOAuthHttpError';
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`GitHub's OAuth endpoint ${url} answered HTTP ${status}`);
  }
}

/** POSTs `params` form-encoded to `<oauthUrl><path>` and returns the JSON answer. */
export async function postGithubOAuth(oauthUrl: string, path: string, params: Record<string, string>): Promise<GithubTokenAnswer> {
  const url = `${oauthUrl.replace(/\/+$/, '')}${path}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'durasync' },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new GithubOAuthHttpError(res.status, url);
  return (await res.json()) as GithubTokenAnswer;
}

/** A token answer as the TokenService stores it (expiry and refresh token when GitHub gives them). */
export function toRefreshedToken(answer: GithubTokenAnswer & { access_token: string }): RefreshedToken {
  return {
    accessToken: answer.access_token,
    expiresAt: answer.expires_in ? new Date(Date.now() + answer.expires_in * 1000) : null,
    ...(answer.refresh_token ? { refreshToken: answer.refresh_token } : {}),
    ...(answer.scope ? { scopes: answer.scope.split(/[ ,]+/).filter(Boolean) } : {}),
  };
}
