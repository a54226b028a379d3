import { Client as PgClient } from 'pg';
import { Octokit } from '@octokit/rest';
import { startGithubEmulator, type GithubEmulator } from '../emulators/github/server';
import { MemoryCache } from '../lib/cache';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createDriveClient } from '../lib/providers/google';
import { TokenRevokedError } from '../lib/tokens/token-service';
import { createActivityDeps } from '../workers/activities';
import { spawnDurasync, runDurasync, type Spawned } from './helpers/process';
import { startSyncHarness, type SyncHarness } from './helpers/sync';

/**
 * `durasync connect google|github` as a user runs it: the CLI in its own process, the emulators as
 * Google and GitHub (consent page, device page), the test playing the user with fetch; then the
 * stored tokens on a real worker: a GitHub App token refreshed, and a link synced.
 */
const GOOGLE_CLIENT = { clientId: 'durasync-cli.apps.googleusercontent.com', clientSecret: 'GOCSPX-connect' };
const OAUTH_APP = { clientId: 'Ov23.connect-oauth-app' };
const GITHUB_APP = { clientId: 'Iv23.connect-github-app', clientSecret: 'github-app-secret', expiringTokens: true };
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let h: SyncHarness;
/** A GitHub emulator whose device codes advertise 1 s but answer slow_down to polls closer than 2 s. */
let slowGithub: GithubEmulator;
let pg: PgClient;
const running: Spawned[] = [];

beforeAll(async () => {
  h = await startSyncHarness();
  h.drive.seed.oauthClient(GOOGLE_CLIENT);
  h.github.seed.oauthApp(OAUTH_APP);
  h.github.seed.oauthApp(GITHUB_APP);
  slowGithub = await startGithubEmulator({ oauthApps: [OAUTH_APP], login: 'slow-poke', deviceIntervalSeconds: 1, devicePollFloorSeconds: 2 });
  pg = new PgClient({ connectionString: h.deps.db.url });
  await pg.connect();
}, 60_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL', 1000)));
});

afterAll(async () => {
  await pg?.end();
  await slowGithub?.close();
  await h?.close();
});

/** The CLI's environment: the harness's database, Redis, token key and emulators. */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: h.deps.db.url,
    REDIS_URL: h.deps.redisUrl,
    DURASYNC_REDIS_PREFIX: h.deps.redisPrefix,
    DURASYNC_TOKEN_KEY: h.tokenKey,
    GOOGLE_CLIENT_ID: GOOGLE_CLIENT.clientId,
    GOOGLE_CLIENT_SECRET: GOOGLE_CLIENT.clientSecret,
    GOOGLE_AUTH_URL: h.drive.authUrl,
    GOOGLE_TOKEN_URL: h.drive.tokenUrl,
    GOOGLE_API_ROOT_URL: h.drive.url,
    GITHUB_API_URL: h.github.url,
    GITHUB_OAUTH_URL: h.github.url,
    GITHUB_CLIENT_ID: OAUTH_APP.clientId,
    ...extra,
  };
}

function start(args: string[], env: Record<string, string> = cliEnv()): Spawned {
  const child = spawnDurasync(args, env);
  running.push(child);
  return child;
}

async function waitFor(child: Spawned, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(child.output());
    if (match) return match;
    if (Date.now() > deadline || child.child.exitCode !== null) throw new Error(`no ${pattern} in: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The printed authorization URL. */
const authUrlOf = async (child: Spawned) => new URL((await waitFor(child, /^http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?\S+$/m))[0]);

/** Plays the user on the consent page; returns where the browser is sent (the loopback redirect). */
async function answerConsent(url: URL, decision: 'allow' | 'deny'): Promise<string> {
  const html = await (await fetch(url)).text();
  expect(html).toContain('durasync-demo wants to access your Google Drive');
  const consent = /name="consent" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const answer = await fetch(h.drive.authUrl, { method: 'POST', body: new URLSearchParams({ consent, decision }), redirect: 'manual' });
  expect(answer.status).toBe(302);
  return answer.headers.get('location') ?? '';
}

/** Enters the printed user code on the device page. */
async function enterCode(child: Spawned, githubUrl: string, decision: 'approve' | 'deny' = 'approve'): Promise<void> {
  const [, uri, code] = await waitFor(child, /Open (\S+) and enter the code ([A-Z0-9]{4}-[A-Z0-9]{4})/);
  expect(uri).toBe(`${githubUrl}/login/device`);
  const res = await fetch(uri!, { method: 'POST', body: new URLSearchParams({ user_code: code!, decision }) });
  expect(res.status).toBe(200);
}

async function storedRow(provider: string, user: string): Promise<{ access: Buffer; refresh: Buffer | null; expiresAt: Date | null } | undefined> {
  const { rows } = await pg.query<{ access_token_ciphertext: Buffer; refresh_token_ciphertext: Buffer | null; expires_at: Date | null }>(
    'select access_token_ciphertext, refresh_token_ciphertext, expires_at from provider_tokens where provider = $1 and account_id = $2',
    [provider, user],
  );
  const row = rows[0];
  return row && { access: row.access_token_ciphertext, refresh: row.refresh_token_ciphertext, expiresAt: row.expires_at };
}

/** The lines the CLI wrote but the prompts (the URL and what to do with it). */
const resultLines = (output: string) => output.split('\n').filter((l) => l && !l.startsWith('Open ') && !l.startsWith('http://'));

describe('durasync connect google', () => {
  it('runs the consent in the browser, stores the tokens sealed for the user, and they open Drive', async () => {
    const cli = start(['connect', 'google', '--user', 'g-ada']);
    const url = await authUrlOf(cli);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth2callback$/);
    const loopback = await fetch(await answerConsent(url, 'allow'));
    expect(loopback.status).toBe(200);

    expect(await cli.exited).toBe(0);
    expect(resultLines(cli.output())).toEqual([expect.stringMatching(/^connected Google account emulator\.user@gmail\.com to durasync user g-ada, expires \S+, refreshable$/)]);
    const token = await h.tokens.accessToken('google', 'g-ada');
    const row = await storedRow('google', 'g-ada');
    expect(row?.refresh).not.toBeNull();
    expect(row?.access.includes(Buffer.from(token))).toBe(false);
    const about = await createDriveClient(token, { rootUrl: h.drive.url }).about.get({ fields: 'user' });
    expect(about.data.user?.emailAddress).toBe('emulator.user@gmail.com');
  });

  it('ends with one line and exit 1 when the user denies the consent, storing nothing', async () => {
    const cli = start(['connect', 'google', '--user', 'g-deny']);
    await fetch(await answerConsent(await authUrlOf(cli), 'deny'));
    expect(await cli.exited).toBe(1);
    expect(resultLines(cli.output())).toEqual(['durasync connect google: access was denied in the browser']);
    expect(await storedRow('google', 'g-deny')).toBeUndefined();
  });

  it('ends with one line and exit 1 when the redirect carries another state', async () => {
    const cli = start(['connect', 'google', '--user', 'g-state']);
    const url = await authUrlOf(cli);
    await fetch(`${url.searchParams.get('redirect_uri')}?code=4/0Aforged&state=not-ours`);
    expect(await cli.exited).toBe(1);
    expect(resultLines(cli.output())).toEqual(['durasync connect google: the browser came back with a different state (not this request); run it again']);
  });

  it('gives up after --timeout with one line and exit 1, closing the loopback server and storing nothing', async () => {
    const cli = start(['connect', 'google', '--user', 'g-late', '--timeout', '2s']);
    const redirect = (await authUrlOf(cli)).searchParams.get('redirect_uri') ?? '';
    expect(await cli.exited).toBe(1);
    expect(resultLines(cli.output())).toEqual(['durasync connect google: no answer from the browser within 2s; run it again']);
    await expect(fetch(redirect)).rejects.toThrow();
    expect(await storedRow('google', 'g-late')).toBeUndefined();
  });

  it('fails with one line naming GOOGLE_CLIENT_ID when it is not set', async () => {
    const { code, output } = await runDurasync(['connect', 'google', '--user', 'x'], cliEnv({ GOOGLE_CLIENT_ID: '' }));
    expect(code).toBe(1);
    expect(output.trim()).toBe('durasync connect google: GOOGLE_CLIENT_ID: required by connect google');
  });
});

describe('durasync connect github', () => {
  it('runs the device flow, honouring slow_down, and stores a token that works on the API', async () => {
    const cli = start(['connect', 'github', '--user', 'gh-slow'], cliEnv({ GITHUB_OAUTH_URL: slowGithub.url, GITHUB_API_URL: slowGithub.url }));
    await enterCode(cli, slowGithub.url);
    expect(await cli.exited).toBe(0);
    expect(resultLines(cli.output())).toEqual(['connected GitHub account slow-poke to durasync user gh-slow']);
    // Polled after 1 s (slow_down: 6 s from now on), then after 6 s: two polls, not one a second.
    expect(slowGithub.inspect.calls().filter((c) => c.route === '/login/oauth/access_token')).toHaveLength(2);
    const token = await h.tokens.accessToken('github', 'gh-slow');
    expect(token).toMatch(/^gho_/);
    expect((await storedRow('github', 'gh-slow'))?.expiresAt).toBeNull();
    const octokit = new Octokit({ auth: token, baseUrl: slowGithub.url, log: silent });
    expect((await octokit.rest.users.getAuthenticated()).data.login).toBe('slow-poke');
  }, 30_000);

  it('ends with one line and exit 1 when the user denies the device', async () => {
    const cli = start(['connect', 'github', '--user', 'gh-deny']);
    await enterCode(cli, h.github.url, 'deny');
    expect(await cli.exited).toBe(1);
    expect(resultLines(cli.output())).toEqual(['durasync connect github: access was denied on GitHub']);
    expect(await storedRow('github', 'gh-deny')).toBeUndefined();
  }, 30_000);

  it('ends with one line and exit 1 when the device code expires before it is entered, storing nothing', async () => {
    const shortLived = await startGithubEmulator({ oauthApps: [OAUTH_APP], deviceIntervalSeconds: 1, deviceCodeExpiresInSeconds: 2 });
    try {
      const cli = start(['connect', 'github', '--user', 'gh-expired'], cliEnv({ GITHUB_OAUTH_URL: shortLived.url, GITHUB_API_URL: shortLived.url }));
      expect(await cli.exited).toBe(1);
      expect(resultLines(cli.output())).toEqual(['durasync connect github: the device code expired before it was entered; run it again']);
      expect(await storedRow('github', 'gh-expired')).toBeUndefined();
    } finally {
      await shortLived.close();
    }
  }, 30_000);

  it("stores a GitHub App's expiring token with its refresh token, which the worker's refresher rotates; a bad refresh token names the command to reconnect", async () => {
    const cli = start(['connect', 'github', '--user', 'gh-app'], cliEnv({ GITHUB_CLIENT_ID: GITHUB_APP.clientId }));
    await enterCode(cli, h.github.url);
    expect(await cli.exited).toBe(0);
    expect(resultLines(cli.output())).toEqual([expect.stringMatching(/^connected GitHub account octocat to durasync user gh-app, expires \S+, refreshable$/)]);
    const row = await storedRow('github', 'gh-app');
    expect(row?.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 7 * 3600_000);
    expect(row?.refresh).not.toBeNull();

    // The worker's deps, refreshing anything within 9 hours of expiry: the 8-hour token is due.
    const config = loadConfig({ ...cliEnv({ GITHUB_CLIENT_ID: GITHUB_APP.clientId, GITHUB_CLIENT_SECRET: GITHUB_APP.clientSecret }), DURASYNC_TOKEN_REFRESH_MARGIN: '9h' });
    const cache = new MemoryCache();
    const { tokens } = createActivityDeps({ config, store: h.deps.store, cache, logger: createLogger({ level: 'silent' }) });
    const refreshed = await tokens!.accessToken('github', 'gh-app');
    expect(refreshed).toMatch(/^ghu_/);
    const octokit = new Octokit({ auth: refreshed, baseUrl: h.github.url, log: silent });
    expect((await octokit.rest.users.getAuthenticated()).data.login).toBe('octocat');

    await h.tokens.save('github', 'gh-app', { accessToken: 'ghu_stale', refreshToken: 'ghr_used-or-revoked', expiresAt: new Date(Date.now() - 1000) });
    const revoked = await tokens!.accessToken('github', 'gh-app').catch((err: unknown) => err);
    expect(revoked).toBeInstanceOf(TokenRevokedError);
    expect((revoked as Error).message).toBe('the github token of account gh-app was revoked or expired for good (bad_refresh_token); reconnect with: durasync connect github --user gh-app');
  }, 30_000);
});

describe('a connected user', () => {
  it('creates a link with durasync links create, and a sync of it on a real worker succeeds', async () => {
    const google = start(['connect', 'google', '--user', 'u1']);
    await fetch(await answerConsent(await authUrlOf(google), 'allow'));
    expect(await google.exited).toBe(0);
    const github = start(['connect', 'github', '--user', 'u1']);
    await enterCode(github, h.github.url);
    expect(await github.exited).toBe(0);

    h.github.seed.repo('ada/notes', { files: { 'from-github.md': 'hello from github\n' } });
    const folder = h.drive.seed.folder('connected notes');
    h.drive.seed.file({ name: 'from-drive.md', parentId: folder.id, content: 'hello from drive\n' });
    const created = await runDurasync(['links', 'create', '--user', 'u1', '--drive-folder', folder.id, '--repo', 'ada/notes'], cliEnv());
    expect(created.code).toBe(0);
    const linkId = /^([0-9a-f-]{36}) /m.exec(created.output)?.[1] ?? '';

    const result = await h.sync(linkId);
    expect(result).toMatchObject({ status: 'synced', toGithub: { written: 1 }, toDrive: { written: 1 } });
    expect(h.repoTexts('ada/notes')).toMatchObject({ 'from-drive.md': 'hello from drive\n', 'from-github.md': 'hello from github\n' });
    expect(h.driveTexts(folder.id)).toMatchObject({ 'from-github.md': 'hello from github\n' });
  }, 60_000);
});
