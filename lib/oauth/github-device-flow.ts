import type { RefreshedToken } from '../tokens/token-service';
import { ConnectError } from './errors';
import { postGithubOAuth, toRefreshedToken } from './github-token';

export interface GithubDeviceFlowOptions {
  /** GITHUB_OAUTH_URL. Default: https://github.com. */
  oauthUrl?: string;
  clientId: string;
  /** Default: `repo` (the sync reads and commits to private repositories). */
  scope?: string;
  /** Give up (ConnectError 'timeout', with `timeoutMessage`) when the code was not entered by then. */
  timeoutMs: number;
  timeoutMessage: string;
  /** Receives what the user has to do: open `verificationUri` and enter `userCode`. */
  onCode(prompt: { verificationUri: string; userCode: string; expiresInSec: number }): void;
}

interface DeviceCodeAnswer {
  device_code?: string;
  user_code?: string;
  verification_uri?: string;
  expires_in?: number;
  interval?: number;
  error?: string;
  error_description?: string;
}

/**
 * GitHub's device flow (RFC 8628 as GitHub runs it): ask for a device and user code, print where
 * to enter it, then poll the token endpoint every `interval` seconds. `authorization_pending`
 * polls on, `slow_down` adds 5 s (or takes GitHub's new `interval`), `expired_token` and
 * `access_denied` end it with a one-line ConnectError, as does any other error GitHub names.
 */
export async function runGithubDeviceFlow(options: GithubDeviceFlowOptions): Promise<RefreshedToken> {
  const oauthUrl = options.oauthUrl ?? 'https://github.com';
  const scope = options.scope ?? 'repo';
  const start = (await postGithubOAuth(oauthUrl, '/login/device/code', { client_id: options.clientId, scope })) as DeviceCodeAnswer;
  if (start.error || !start.device_code || !start.user_code || !start.verification_uri) {
    throw new ConnectError('refused', `GitHub refused the device code request: ${start.error ?? 'no device code'}${start.error_description ? ` (${start.error_description})` : ''}`);
  }
  options.onCode({ verificationUri: start.verification_uri, userCode: start.user_code, expiresInSec: start.expires_in ?? 900 });
  const deadline = Date.now() + options.timeoutMs;
  let intervalMs = (start.interval ?? 5) * 1000;
  for (;;) {
    const wait = Math.min(intervalMs, deadline - Date.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (Date.now() >= deadline) throw new ConnectError('timeout', options.timeoutMessage);
    const answer = await postGithubOAuth(oauthUrl, '/login/oauth/access_token', {
      client_id: options.clientId,
      device_code: start.device_code,
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    });
    if (answer.access_token) return toRefreshedToken({ ...answer, access_token: answer.access_token });
    switch (answer.error) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        intervalMs = answer.interval ? answer.interval * 1000 : intervalMs + 5000;
        continue;
      case 'expired_token':
        throw new ConnectError('expired', 'the device code expired before it was entered; run it again');
      case 'access_denied':
        throw new ConnectError('denied', 'access was denied on GitHub');
      default:
        throw new ConnectError('refused', `GitHub refused the device flow: ${answer.error ?? 'no token'}${answer.error_description ? ` (${answer.error_description})` : ''}`);
    }
  }
}
