import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openWorkspace } from '../lib/dev-workspace';
import { createLogger } from '../lib/logger';
import { freePort } from '../lib/net';
import { startDemoEmulators, type DemoEmulators } from '../workers/demo/emulators';
import { hasProviderCredentials, PROVIDER_VARIABLES } from '../workers/dev';

/**
 * The emulators `npm run dev` runs for the demo: they answer, point the product at themselves with
 * the provider variables real credentials would set, and when one stops answering, its readiness
 * check fails naming it (dev's /health/ready then says which).
 */
describe('the demo emulators of npm run dev', () => {
  let dataDir: string;
  let emulators: DemoEmulators | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-demo-emulators-'));
    const [drivePort, githubPort] = [await freePort(), await freePort()];
    emulators = await startDemoEmulators({ dataDir, host: '127.0.0.1', drivePort, githubPort, workspace: await openWorkspace(dataDir), logger: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await emulators?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('points the Google and GitHub variables at themselves', () => {
    const { env, drive, github } = emulators!;
    expect(env).toMatchObject({ GOOGLE_API_ROOT_URL: drive.url, GOOGLE_TOKEN_URL: drive.tokenUrl, GITHUB_API_URL: github.url, GITHUB_OAUTH_URL: github.url });
    expect(env.GOOGLE_AUTH_URL).toBe(new URL('/o/oauth2/v2/auth', drive.url).toString());
  });

  it('passes readiness while both answer, and names the emulator that stopped', async () => {
    const { checks, drive, github } = emulators!;
    await expect(checks['drive-emulator']!()).resolves.toBeUndefined();
    await expect(checks['github-emulator']!()).resolves.toBeUndefined();
    await drive.close();
    await expect(checks['drive-emulator']!()).rejects.toThrow(new RegExp(`^the Google Drive emulator at ${new URL(drive.url).origin} is not answering`));
    await expect(checks['github-emulator']!()).resolves.toBeUndefined();
    await github.close();
    await expect(checks['github-emulator']!()).rejects.toThrow(/^the GitHub emulator at http:\/\/127\.0\.0\.1:\d+ is not answering/);
  });
});

describe('which providers npm run dev uses', () => {
  it('runs the demo only when no provider credentials are configured (an empty variable is none)', () => {
    expect(hasProviderCredentials({})).toBe(false);
    expect(hasProviderCredentials({ GOOGLE_CLIENT_ID: '', GITHUB_TOKEN: '  ' })).toBe(false);
    for (const name of PROVIDER_VARIABLES) expect({ name, real: hasProviderCredentials({ [name]: 'x' }) }).toEqual({ name, real: true });
  });
});
