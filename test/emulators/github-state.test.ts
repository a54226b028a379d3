import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Octokit } from '@octokit/rest';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';
import { verifySignature } from '../../lib/webhooks/signature';
import { startHookReceiver } from '../helpers/hook-receiver';
import type { HookReceiver } from '../helpers/hook-receiver';

// The GitHub emulator's stateFile: a workspace made through Octokit survives a restart.
type Client = InstanceType<typeof Octokit>;

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TOKEN = 'ghp_state_token';
const SECRET = 'state-hook-secret';
const REPO = { owner: 'acme', repo: 'notes' };

let dir: string;
let stateFile: string;
let receiver: HookReceiver;
const open: GithubEmulator[] = [];

async function start(): Promise<{ emu: GithubEmulator; gh: Client }> {
  const emu = await startGithubEmulator({ stateFile });
  open.push(emu);
  return { emu, gh: new Octokit({ auth: TOKEN, baseUrl: emu.url, userAgent: 'durasync', log: silent }) };
}

async function commitThroughApi(gh: Client, files: Record<string, string>, message: string): Promise<string> {
  const { data: ref } = await gh.git.getRef({ ...REPO, ref: 'heads/main' });
  const { data: parent } = await gh.git.getCommit({ ...REPO, commit_sha: ref.object.sha });
  const tree = Object.entries(files).map(([p, content]) => ({ path: p, mode: '100644' as const, type: 'blob' as const, content }));
  const { data: newTree } = await gh.git.createTree({ ...REPO, base_tree: parent.tree.sha, tree });
  const { data: commit } = await gh.git.createCommit({ ...REPO, message, tree: newTree.sha, parents: [parent.sha] });
  await gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha });
  return commit.sha;
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-github-state-'));
  stateFile = path.join(dir, 'github.json');
  receiver = await startHookReceiver();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

test('keeps repositories, SHAs, tokens, hooks, issues and feeds across a restart, and ids keep increasing', async () => {
  const first = await start();
  first.emu.seed.token(TOKEN, { login: 'octo-dev' });
  first.emu.seed.token('ghp_limited', { repos: ['acme/other'] });
  first.emu.seed.org('acme');
  first.emu.seed.repo('acme/notes', { files: { 'README.md': '# Notes\n' } });
  const { data: hook } = await first.gh.repos.createWebhook({ ...REPO, config: { url: receiver.url, content_type: 'json', secret: SECRET }, events: ['push', 'issues'] });
  const { data: blob } = await first.gh.git.createBlob({ ...REPO, content: Buffer.from([0, 1, 254, 255]).toString('base64'), encoding: 'base64' });
  const sha = await commitThroughApi(first.gh, { 'notes/a.md': 'A\n' }, 'Sync from Drive');
  await first.gh.issues.create({ ...REPO, title: 'Before the restart' });
  await first.emu.inspect.deliveriesSettled();
  const { data: repoBefore } = await first.gh.repos.get(REPO);
  const eventsBefore = first.emu.inspect.events('acme/notes');
  const deliveriesBefore = first.emu.inspect.deliveries('acme/notes');
  expect(deliveriesBefore.map((d) => d.event)).toEqual(['ping', 'push', 'issues']);
  await first.emu.close();

  const second = await start();
  const { emu, gh } = second;
  expect((await gh.repos.get(REPO)).data.id).toBe(repoBefore.id);
  expect((await gh.git.getRef({ ...REPO, ref: 'heads/main' })).data.object.sha).toBe(sha);
  expect(emu.inspect.tree('acme/notes')['notes/a.md']?.toString()).toBe('A\n');
  expect(Buffer.from((await gh.git.getBlob({ ...REPO, file_sha: blob.sha })).data.content, 'base64')).toEqual(Buffer.from([0, 1, 254, 255]));
  expect(emu.inspect.commits('acme/notes').map((c) => c.message)).toEqual(['Sync from Drive', 'Initial commit']);
  const feedOf = (events: typeof eventsBefore) => events.map((e) => [e.id, e.type, e.actor.login, e.created_at, e.payload]);
  expect(feedOf(emu.inspect.events('acme/notes'))).toEqual(feedOf(eventsBefore));
  expect(emu.inspect.deliveries('acme/notes').map((d) => [d.id, d.guid, d.status_code])).toEqual(deliveriesBefore.map((d) => [d.id, d.guid, d.status_code]));
  const limited = new Octokit({ auth: 'ghp_limited', baseUrl: emu.url, log: silent });
  await expect(limited.repos.get(REPO)).rejects.toMatchObject({ status: 404 });
  expect((await gh.repos.getWebhook({ ...REPO, hook_id: hook.id })).data.config).toMatchObject({ url: receiver.url, secret: '********' });

  // Ids continue where they stopped: events, issues, hooks, repositories, deliveries.
  const next = await commitThroughApi(gh, { 'notes/b.md': 'B\n' }, 'After the restart');
  const { data: issue } = await gh.issues.create({ ...REPO, title: 'After the restart' });
  expect(issue.number).toBe(2);
  const [newest] = emu.inspect.events('acme/notes');
  expect(BigInt(newest?.id ?? 0)).toBeGreaterThan(BigInt(eventsBefore[0]?.id ?? Infinity));
  const { data: hook2 } = await gh.repos.createWebhook({ ...REPO, config: { url: `${receiver.url}/2` } });
  expect(hook2.id).toBeGreaterThan(hook.id);
  emu.seed.repo('acme/later');
  const actorIds = eventsBefore.map((e) => e.actor.id);
  emu.seed.event('acme/notes', { type: 'WatchEvent', payload: { action: 'started' }, actor: { login: 'newcomer' } });
  expect(emu.inspect.events('acme/notes')[0]?.actor.id).toBeGreaterThan(Math.max(...actorIds));
  expect((await gh.repos.get({ owner: 'acme', repo: 'later' })).data.id).toBeGreaterThan(repoBefore.id);

  // The hook still delivers, signed with its saved secret.
  await emu.inspect.deliveriesSettled();
  const pushes = receiver.received.filter((r) => r.headers['x-github-event'] === 'push');
  expect(pushes).toHaveLength(2);
  const last = pushes[1];
  expect(JSON.parse(last?.body.toString() ?? '{}')).toMatchObject({ after: next, before: sha, sender: { login: 'octo-dev' } });
  expect(verifySignature(SECRET, last?.body ?? Buffer.alloc(0), last?.headers['x-hub-signature-256'])).toBe(true);
  const ids = emu.inspect.deliveries('acme/notes').map((d) => Number(d.id));
  expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
});

test('saves on close what changed just before it', async () => {
  const first = await start();
  first.emu.seed.token(TOKEN);
  first.emu.seed.repo('acme/notes');
  const sha = first.emu.seed.commit('acme/notes', { files: { 'x.md': 'x' } });
  await first.emu.close();
  const { emu } = await start();
  expect(emu.inspect.ref('acme/notes', 'main')).toBe(sha);
});

test('refuses a corrupt state file, naming it', async () => {
  writeFileSync(stateFile, '{"version": 1, "emulator": "github", "parts": {"repos": [{"id": 1}]}}');
  await expect(startGithubEmulator({ stateFile })).rejects.toThrow(`emulator state file ${stateFile} cannot be loaded: repos: repos[0] is not a repository`);
  writeFileSync(stateFile, 'not json');
  await expect(startGithubEmulator({ stateFile })).rejects.toThrow(new RegExp(`^emulator state file ${stateFile} cannot be loaded: not JSON`));
});
