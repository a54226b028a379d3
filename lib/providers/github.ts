import { Octokit } from '@octokit/rest';

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
