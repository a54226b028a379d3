import { Octokit } from '@octokit/rest';
import { startGithubEmulator, type GithubEmulator } from '../../emulators/github/server';
import { GithubDeviceFlow } from '../../emulators/github/oauth-device';

const OAUTH_APP = { clientId: 'Iv1.oauthapp' };
const GITHUB_APP = { clientId: 'Iv23.githubapp', clientSecret: 'app-secret', expiringTokens: true };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let emu: GithubEmulator;

beforeEach(async () => {
  emu = await startGithubEmulator({ oauthApps: [OAUTH_APP, GITHUB_APP], login: 'ada', deviceIntervalSeconds: 0.2 });
});

afterEach(async () => {
  await emu.close();
});

async function post(path: string, fields: Record<string, string>, json = true): Promise<Record<string, string | number>> {
  const res = await fetch(`${emu.url}${path}`, { method: 'POST', headers: json ? { accept: 'application/json' } : {}, body: new URLSearchParams(fields) });
  expect(res.status).toBe(200);
  return json ? ((await res.json()) as Record<string, string | number>) : Object.fromEntries(new URLSearchParams(await res.text()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function approve(userCode: string, decision: 'approve' | 'deny' = 'approve'): Promise<number> {
  const page = await fetch(`${emu.url}/login/device`);
  expect(await page.text()).toContain('Authorize');
  return (await fetch(`${emu.url}/login/device`, { method: 'POST', body: new URLSearchParams({ user_code: userCode.toLowerCase(), decision }) })).status;
}

describe('the GitHub emulator device flow', () => {
  it('walks pending, slow_down and approval to a gho_ token that works on the API as the signed-in user, once', async () => {
    const start = await post('/login/device/code', { client_id: OAUTH_APP.clientId, scope: 'repo' });
    expect(start).toMatchObject({ verification_uri: `${emu.url}/login/device`, expires_in: 900, interval: 0.2 });
    expect(start.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ0-9]{4}-[BCDFGHJKLMNPQRSTVWXZ0-9]{4}$/);
    const poll = { client_id: OAUTH_APP.clientId, device_code: String(start.device_code), grant_type: DEVICE_GRANT };

    await sleep(250);
    expect(await post('/login/oauth/access_token', poll)).toMatchObject({ error: 'authorization_pending', error_uri: expect.stringContaining('docs.github.com') as unknown });
    expect(await post('/login/oauth/access_token', poll)).toMatchObject({ error: 'slow_down', interval: 5.2 });
    expect(await approve(String(start.user_code))).toBe(200);
    await sleep(5_300);
    const token = await post('/login/oauth/access_token', poll, false);
    expect(token).toEqual({ access_token: expect.stringMatching(/^gho_/) as unknown, token_type: 'bearer', scope: 'repo' });

    const octokit = new Octokit({ auth: String(token.access_token), baseUrl: emu.url, log: silent });
    expect((await octokit.rest.users.getAuthenticated()).data.login).toBe('ada');
    expect(await post('/login/oauth/access_token', poll)).toMatchObject({ error: 'incorrect_device_code' });
  }, 15_000);

  it('answers access_denied for a denied code, and refuses unknown clients, codes and grant types', async () => {
    const start = await post('/login/device/code', { client_id: OAUTH_APP.clientId });
    expect(await approve(String(start.user_code), 'deny')).toBe(200);
    expect(await approve(String(start.user_code))).toBe(404);
    await sleep(250);
    expect(await post('/login/oauth/access_token', { client_id: OAUTH_APP.clientId, device_code: String(start.device_code), grant_type: DEVICE_GRANT })).toMatchObject({ error: 'access_denied' });
    expect(await post('/login/device/code', { client_id: 'nobody' })).toMatchObject({ error: 'incorrect_client_credentials' });
    expect(await post('/login/oauth/access_token', { client_id: OAUTH_APP.clientId, device_code: 'nope', grant_type: DEVICE_GRANT })).toMatchObject({ error: 'incorrect_device_code' });
    expect(await post('/login/oauth/access_token', { client_id: OAUTH_APP.clientId, grant_type: 'password' })).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('gives a GitHub App expiring ghu_ tokens with a ghr_ refresh token that rotates once', async () => {
    const start = await post('/login/device/code', { client_id: GITHUB_APP.clientId });
    await approve(String(start.user_code));
    await sleep(250);
    const token = await post('/login/oauth/access_token', { client_id: GITHUB_APP.clientId, device_code: String(start.device_code), grant_type: DEVICE_GRANT });
    expect(token).toMatchObject({ access_token: expect.stringMatching(/^ghu_/) as unknown, expires_in: 28800, refresh_token: expect.stringMatching(/^ghr_/) as unknown, refresh_token_expires_in: 15897600 });

    const refresh = { client_id: GITHUB_APP.clientId, client_secret: GITHUB_APP.clientSecret, grant_type: 'refresh_token', refresh_token: String(token.refresh_token) };
    const rotated = await post('/login/oauth/access_token', refresh);
    expect(rotated.access_token).toMatch(/^ghu_/);
    expect(rotated.refresh_token).not.toBe(token.refresh_token);
    const octokit = new Octokit({ auth: String(rotated.access_token), baseUrl: emu.url, log: silent });
    expect((await octokit.rest.users.getAuthenticated()).data.login).toBe('ada');
    expect(await post('/login/oauth/access_token', refresh)).toMatchObject({ error: 'bad_refresh_token' });
    expect(await post('/login/oauth/access_token', { ...refresh, client_secret: 'wrong' })).toMatchObject({ error: 'incorrect_client_credentials' });
  });

  it('restores apps, codes and issued tokens from a JSON snapshot, registering the tokens again', () => {
    const registered: string[] = [];
    const make = () => new GithubDeviceFlow({ baseUrl: () => 'http://x', login: 'ada', intervalSec: 5, register: (token) => void registered.push(token) });
    const a = make();
    a.addApp(GITHUB_APP);
    const snapshot = { ...a.snapshot(), issued: [['ghu_x', { login: 'ada', expiresAt: null }]] };
    const b = make();
    b.restore(JSON.parse(JSON.stringify(snapshot)) as ReturnType<typeof a.snapshot>);
    expect(b.snapshot()).toEqual(snapshot);
    expect(registered).toEqual(['ghu_x']);
  });
});
