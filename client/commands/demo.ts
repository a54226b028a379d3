import { rm } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Octokit } from '@octokit/rest';
import { createCache } from '../../lib/cache';
import { createStore, type Store } from '../../lib/db/store';
import { sendDemoChanges } from '../../lib/demo/changes';
import { DEMO_BRANCH, DEMO_REPO, DEMO_USER } from '../../lib/demo/content';
import { findRunningWorkspace, openWorkspace, WORKSPACE_FILE, type RunningWorkspace } from '../../lib/dev-workspace';
import { createDriveClient, createGoogleRefresher } from '../../lib/providers/google';
import { TokenService } from '../../lib/tokens/token-service';
import { command, print, UsageError, type CommandContext } from './context';

/**
 * `durasync demo edit|push|changes|reset`: act on the demo workspace of a running `npm run dev`
 * the way a user would, through the providers' own APIs (Drive's, GitHub's) and the change feed,
 * so that the next sync, webhook and branch delta have something to show.
 */

/** The running dev workspace, which must be the demo: anything else is refused with one line. */
function runningDemo(ctx: CommandContext): RunningWorkspace {
  const running = findRunningWorkspace(ctx.config.dataDir);
  if (!running) throw new UsageError(`no npm run dev is running on ${ctx.config.dataDir}: start it first (npm run dev)`);
  if (!running.demo) throw new UsageError('the running dev workspace is not the demo (real provider credentials, or DURASYNC_DEMO=off): nothing changed');
  return running;
}

/** The demo user's provider tokens, opened as the workers open them. */
async function withDemoTokens<T>(ctx: CommandContext, work: (tokens: TokenService, store: Store) => Promise<T>): Promise<T> {
  const { config, logger } = ctx;
  const store = createStore({ databaseUrl: config.database.url, supabase: config.database.supabase, poolMax: 1, logger });
  const cache = createCache({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger });
  try {
    const tokens = new TokenService({ store, cache, keys: config.tokens.keys ?? [], refresher: createGoogleRefresher(config.providers.google), logger });
    return await work(tokens, store);
  } finally {
    await cache.close();
    await store.close();
  }
}

const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

async function editDoc(ctx: CommandContext): Promise<{ fileId: string; line: string }> {
  return withDemoTokens(ctx, async (tokens, store) => {
    const link = (await store.listSyncLinks()).find((l) => l.userId === DEMO_USER && l.githubRepo === DEMO_REPO);
    if (!link) throw new UsageError('the demo link is missing: run durasync demo reset, then npm run dev');
    const drive = createDriveClient(await tokens.accessToken('google', DEMO_USER), { rootUrl: ctx.config.providers.google.rootUrl });
    const { data } = await drive.files.list({ q: `'${link.driveFolderId}' in parents and name = 'Project plan' and trashed = false`, fields: 'files(id)' });
    const fileId = data.files?.[0]?.id;
    if (!fileId) throw new UsageError('the demo doc "Project plan" is not in the demo folder any more');
    const current = await drive.files.export({ fileId, mimeType: 'text/markdown' }, { responseType: 'text' });
    const line = `- Edited at ${stamp()} with durasync demo edit`;
    const body = `${String(current.data).replace(/\n*$/, '\n')}${line}\n`;
    await drive.files.update({ fileId, media: { mimeType: 'text/markdown', body } }, ctx.config.providers.google.rootUrl ? { rootUrl: ctx.config.providers.google.rootUrl } : {});
    return { fileId, line };
  });
}

async function pushCommit(ctx: CommandContext): Promise<{ sha: string; path: string }> {
  return withDemoTokens(ctx, async (tokens) => {
    const octokit = new Octokit({ auth: await tokens.accessToken('github', DEMO_USER), baseUrl: ctx.config.providers.github.baseUrl });
    const [owner, repo] = DEMO_REPO.split('/') as [string, string];
    const { data: ref } = await octokit.rest.git.getRef({ owner, repo, ref: 'heads/main' });
    const { data: head } = await octokit.rest.git.getCommit({ owner, repo, commit_sha: ref.object.sha });
    const file = `notes/pushed-${Date.now()}.md`;
    const { data: tree } = await octokit.rest.git.createTree({
      owner,
      repo,
      base_tree: head.tree.sha,
      tree: [{ path: file, mode: '100644', type: 'blob', content: `# Pushed\n\nPushed at ${stamp()} with durasync demo push.\n` }],
    });
    const { data: commit } = await octokit.rest.git.createCommit({ owner, repo, message: `Add ${file}`, tree: tree.sha, parents: [head.sha] });
    await octokit.rest.git.updateRef({ owner, repo, ref: 'heads/main', sha: commit.sha });
    return { sha: commit.sha, path: file };
  });
}

export function registerDemoCommands(program: Command): void {
  const demo = program.command('demo').description('the demo workspace of npm run dev: edit Drive, push to GitHub, write branch changes, start over');

  demo
    .command('edit')
    .description('edit the demo Google Doc "Project plan" in Drive; the next sync commits it to GitHub')
    .action(
      command('demo edit', async (ctx) => {
        const running = runningDemo(ctx);
        const { fileId, line } = await editDoc(ctx);
        print(ctx, { fileId, line }, () => [`edited "Project plan" (${fileId}) in Drive: ${line}`, `the next sync (every minute) commits it to ${DEMO_REPO}; watch ${running.urls.ui ?? 'the Web UI'}`]);
      }),
    );

  demo
    .command('push')
    .description('push a commit to the demo repository; it reaches Drive with the next sync, and the ingress as a push webhook')
    .action(
      command('demo push', async (ctx) => {
        runningDemo(ctx);
        const { sha, path: file } = await pushCommit(ctx);
        print(ctx, { sha, path: file }, () => [`pushed ${sha.slice(0, 7)} to ${DEMO_REPO} (${file})`, 'GitHub delivered the push webhook; the next sync brings the file to Drive']);
      }),
    );

  demo
    .command('changes')
    .description('write a burst of changes to the demo branch through the change feed')
    .option('--count <n>', 'changes to write (1-10000)', '500')
    .action(
      command('demo changes', async (ctx, opts: { count: string }) => {
        const count = Number(opts.count);
        if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UsageError(`--count: expected a whole number from 1 to 10000, got "${opts.count}"`);
        const running = runningDemo(ctx);
        const branch = await withDemoTokens(ctx, async (_tokens, store) => (await store.listBranches()).find((b) => b.name === DEMO_BRANCH));
        if (!branch) throw new UsageError(`the demo branch "${DEMO_BRANCH}" is missing: run durasync demo reset, then npm run dev`);
        const accepted = await sendDemoChanges(running.urls.ingress!, branch.id, 1000 + Math.floor(Date.now() / 1000) % 100_000, count);
        print(ctx, { branchId: branch.id, accepted }, () => [`wrote ${accepted} changes to branch ${DEMO_BRANCH} (${branch.id}); its branchDeltas workflow commits them as deltas`]);
      }),
    );

  demo
    .command('reset')
    .description('start the demo workspace over: deletes what npm run dev keeps in DURASYNC_DATA_DIR (stop npm run dev first)')
    .action(
      command('demo reset', async (ctx) => {
        const { dataDir } = ctx.config;
        const running = findRunningWorkspace(dataDir);
        if (running) throw new UsageError(`npm run dev is running on ${dataDir} (pid ${running.pid}): stop it first (Ctrl-C), then reset`);
        const entries = safeList(dataDir);
        if (entries.length === 0) return print(ctx, { removed: [] }, () => [`nothing to reset in ${dataDir}`]);
        if (entries.includes(WORKSPACE_FILE) && !(await openWorkspace(dataDir)).demo) throw new UsageError(`${dataDir} is not a demo workspace: nothing removed`);
        await Promise.all(entries.map((name) => rm(path.join(dataDir, name), { recursive: true, force: true })));
        print(ctx, { removed: entries }, () => [`removed the workspace in ${dataDir} (${entries.join(', ')}); npm run dev seeds a new demo`]);
      }),
    );
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
