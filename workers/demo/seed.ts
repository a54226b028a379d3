import { randomBytes } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import type { DurasyncClient } from '../../client/index';
import { ScheduleAlreadyExistsError } from '../../client/errors';
import type { DriveEmulator } from '../../emulators/drive';
import type { GithubEmulator } from '../../emulators/github/server';
import type { Store } from '../../lib/db/store';
import { saveWorkspace, type WorkspaceFile } from '../../lib/dev-workspace';
import type { Logger } from '../../lib/logger';
import type { TokenService } from '../../lib/tokens/token-service';
import { sendDemoChanges } from '../../lib/demo/changes';
import { DEMO_BRANCH, DEMO_FOLDER, DEMO_MARK, DEMO_REPO, DEMO_USER, DRIVE_FILES, GITHUB_FILES } from '../../lib/demo/content';

export interface DemoSeedOptions {
  dataDir: string;
  workspace: WorkspaceFile;
  drive: DriveEmulator;
  github: GithubEmulator;
  store: Store;
  tokens: TokenService;
  client: DurasyncClient;
  /** Where the GitHub emulator delivers webhooks: the ingress's `POST /webhooks/github`. */
  ingressUrl: string;
  webhookSecret: string;
  logger: Logger;
}

/** What the seeding made, as `workspace.json` keeps it. */
export interface DemoState {
  googleRefreshToken: string;
  githubToken: string;
  folderId?: string;
  linkId?: string;
  branchId?: string;
  issueOpened?: boolean;
  changesSent?: number;
}

/** The demo's state in the workspace, with the demo user's provider tokens made on first use. */
export function demoTokens(workspace: WorkspaceFile): DemoState {
  workspace.demo ??= { googleRefreshToken: `1//demo-${randomBytes(12).toString('hex')}`, githubToken: `gho_demo${randomBytes(16).toString('hex')}` };
  return workspace.demo as unknown as DemoState;
}

/**
 * Seeds the demo workspace, step by step. Each step looks for what it makes before making it (the
 * Drive folder by its mark, the link and branch by their natural keys, the hook by its URL, the
 * schedules by id), and the one-off steps are recorded in `workspace.json` once done: a seeding cut
 * short by Ctrl-C is completed by the next start and never duplicated.
 */
export async function seedDemo(options: DemoSeedOptions): Promise<DemoState> {
  const { workspace, drive, github, store, tokens, client, logger } = options;
  const state = demoTokens(workspace);
  const save = () => saveWorkspace(options.dataDir, workspace);
  await save();

  // The demo user's tokens: known to the emulators, sealed in provider_tokens (refreshed on every start).
  const { accessToken } = drive.seed.token({ refreshToken: state.googleRefreshToken });
  await tokens.save('google', DEMO_USER, { accessToken, refreshToken: state.googleRefreshToken, expiresAt: new Date(Date.now() + 3_500_000) });
  github.seed.token(state.githubToken, { login: DEMO_USER });
  await tokens.save('github', DEMO_USER, { accessToken: state.githubToken, expiresAt: null });

  const folder = drive.inspect.files().find((f) => f.appProperties[DEMO_MARK] === 'folder' && !f.trashed);
  state.folderId = folder?.id ?? seedDriveFolder(drive);
  if (!repoExists(github)) github.seed.repo(DEMO_REPO, { files: GITHUB_FILES });

  const { link } = await store.createSyncLink({
    driveFolderId: state.folderId,
    githubRepo: DEMO_REPO,
    userId: DEMO_USER,
    githubBranch: 'main',
    githubPath: '',
    direction: 'both',
    conflictPolicy: 'keep-both',
  });
  state.linkId = link.id;
  await save();

  await ensureHook(new Octokit({ auth: state.githubToken, baseUrl: github.url, log: silent }), options);
  await ensureSchedule(() => client.sync.schedule(link.id, { scheduleId: 'demo-sync', every: '1m', note: 'the demo link, both ways' }));
  await ensureSchedule(() => client.ingest.schedule('github', { repo: DEMO_REPO }, { scheduleId: 'demo-ingest-github', every: '5m', note: 'events of demo/notes' }));
  await ensureSchedule(() => client.analytics.schedule({ scheduleId: 'demo-daily-analytics', note: 'daily metrics of the demo events' }));

  const { branch } = await client.branches.create({ name: DEMO_BRANCH });
  state.branchId = branch.id;
  await save();

  if (!state.issueOpened) {
    const octokit = new Octokit({ auth: state.githubToken, baseUrl: github.url, log: silent });
    const [owner, repo] = DEMO_REPO.split('/') as [string, string];
    await octokit.rest.issues.create({ owner, repo, title: 'Try the demo', body: 'Edit the Drive doc with `npx durasync demo edit` and watch the next sync.' });
    state.issueOpened = true;
    await save();
  }
  if (!state.changesSent) {
    state.changesSent = await sendDemoChanges(options.ingressUrl, branch.id, 0, 250);
    await save();
  }
  logger.info({ linkId: link.id, branchId: branch.id, folderId: state.folderId, repo: DEMO_REPO }, 'demo workspace seeded');
  return state;
}

function repoExists(github: GithubEmulator): boolean {
  try {
    return github.inspect.ref(DEMO_REPO, 'main') !== undefined;
  } catch {
    return false; // the emulator knows no such repository
  }
}

function seedDriveFolder(drive: DriveEmulator): string {
  const folder = drive.seed.folder(DEMO_FOLDER);
  drive.seed.update(folder.id, { appProperties: { [DEMO_MARK]: 'folder' } });
  for (const file of DRIVE_FILES) {
    if (file.kind === 'doc') drive.seed.doc({ name: file.name, parentId: folder.id, markdown: file.content });
    else drive.seed.file({ name: file.name, parentId: folder.id, content: file.content, mimeType: file.mimeType });
  }
  return folder.id;
}

/** The repository's webhook to the ingress, created through GitHub's REST API as a user would (its URL updated when the ingress moved). */
async function ensureHook(octokit: Octokit, options: DemoSeedOptions): Promise<void> {
  const [owner, repo] = DEMO_REPO.split('/') as [string, string];
  const url = new URL('/webhooks/github', options.ingressUrl).toString();
  const config = { url, content_type: 'json', secret: options.webhookSecret, insecure_ssl: '0' };
  const { data: hooks } = await octokit.rest.repos.listWebhooks({ owner, repo });
  const ours = hooks.find((h) => h.name === 'web');
  if (!ours) await octokit.rest.repos.createWebhook({ owner, repo, name: 'web', config, events: ['push', 'issues'], active: true });
  else if (ours.config.url !== url) await octokit.rest.repos.updateWebhook({ owner, repo, hook_id: ours.id, config });
}

async function ensureSchedule(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyExistsError)) throw err;
  }
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
