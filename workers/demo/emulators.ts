import path from 'node:path';
import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { startGithubEmulator, type GithubEmulator } from '../../emulators/github/server';
import type { WorkspaceFile } from '../../lib/dev-workspace';
import type { Logger } from '../../lib/logger';

export interface DemoEmulators {
  drive: DriveEmulator;
  github: GithubEmulator;
  /** The provider variables that point durasync at them, as real credentials would point it at Google and GitHub. */
  env: Record<string, string>;
  /** Readiness checks naming each emulator: one that stopped answering makes dev unready. */
  checks: Record<string, () => Promise<unknown>>;
  close(): Promise<void>;
}

/**
 * The Google Drive and GitHub emulators of the demo workspace, in the dev process, each keeping its
 * state in `<dataDir>/emulators/` so that a restart finds the workspace as it was left.
 */
export async function startDemoEmulators(options: {
  dataDir: string;
  host: string;
  drivePort: number;
  githubPort: number;
  workspace: WorkspaceFile;
  logger: Logger;
}): Promise<DemoEmulators> {
  const dir = path.join(options.dataDir, 'emulators');
  const drive = await startDriveEmulator({ host: options.host, port: options.drivePort, stateFile: path.join(dir, 'drive.json') });
  let github: GithubEmulator;
  try {
    github = await startGithubEmulator({ host: options.host, port: options.githubPort, stateFile: path.join(dir, 'github.json') });
  } catch (err) {
    await drive.close();
    throw err;
  }
  const { workspace } = options;
  // The OAuth clients `durasync connect` uses in the workspace, as a developer registers theirs with Google and GitHub.
  drive.seed.oauthClient({ clientId: workspace.googleClient.id, clientSecret: workspace.googleClient.secret });
  github.seed.oauthApp({ clientId: workspace.githubClientId });
  const driveRoot = drive.url;
  const env: Record<string, string> = {
    GOOGLE_API_ROOT_URL: driveRoot,
    GOOGLE_TOKEN_URL: drive.tokenUrl,
    GOOGLE_AUTH_URL: new URL('/o/oauth2/v2/auth', driveRoot).toString(),
    GOOGLE_CLIENT_ID: workspace.googleClient.id,
    GOOGLE_CLIENT_SECRET: workspace.googleClient.secret,
    GITHUB_API_URL: github.url,
    GITHUB_OAUTH_URL: github.url,
    GITHUB_CLIENT_ID: workspace.githubClientId,
  };
  return {
    drive,
    github,
    env,
    checks: {
      'drive-emulator': () => answers('the Google Drive emulator', new URL('/drive/v3/changes/startPageToken', driveRoot)),
      'github-emulator': () => answers('the GitHub emulator', new URL('/rate_limit', github.url)),
    },
    async close() {
      await Promise.allSettled([github.close(), drive.close()]);
    },
  };
}

/** Resolves when the emulator answers HTTP at all (a 401 without a token is an answer). */
async function answers(name: string, url: URL): Promise<void> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2000) });
  } catch (err) {
    throw new Error(`${name} at ${url.origin} is not answering (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`);
  }
}
