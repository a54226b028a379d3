import { randomUUID } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { defaultPayloadConverter } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { normalizeEvent } from '../../activities/ingestion-github';
import { startIngressServer } from '../../client/ingress';
import { startGithubEmulator } from '../../emulators/github/server';
import type { GithubEmulator } from '../../emulators/github/server';
import type { RunningServer } from '../../lib/http';
import { createLogger } from '../../lib/logger';
import type { WebhookEventInput } from '../../lib/webhooks/start';
import { connectTestEnv, uniqueTaskQueue } from '../helpers/temporal';

/**
 * The GitHub emulator's webhooks delivered to a real durasync ingress (GITHUB_WEBHOOK_SECRET set): the
 * signature verifies, each delivery starts its processWebhookEvent workflow, and the payload normalises.
 * No worker polls the task queue: the test reads the workflows' start input.
 */
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const secret = `gh-secret-${randomUUID()}`;
const REPO = { owner: 'acme', repo: 'notes' };

let env: TestWorkflowEnvironment;
let ingress: RunningServer;
let emu: GithubEmulator;

beforeAll(async () => {
  env = await connectTestEnv();
  const logger = createLogger({ level: 'silent' });
  ingress = await startIngressServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    connection: env.connection,
    webhooks: { client: env.client, taskQueue: uniqueTaskQueue('emulator-webhooks'), logger, githubSecret: secret, sources: [] },
  });
  emu = await startGithubEmulator();
});

afterAll(async () => {
  await emu?.close();
  await ingress?.close();
  await env?.teardown();
});

async function startInput(workflowId: string): Promise<WebhookEventInput> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  return defaultPayloadConverter.fromPayload(payload);
}

test('delivers a ping, a push made through the git data API and an opened issue to a durasync ingress, which accepts each', async () => {
  emu.seed.token('ghp_ingress', { login: 'octo-dev' });
  emu.seed.repo('acme/notes', { files: { 'README.md': '# Notes\n' } });
  const gh = new Octokit({ auth: 'ghp_ingress', baseUrl: emu.url, log: silent });
  await gh.repos.createWebhook({ ...REPO, config: { url: `${ingress.url}/webhooks/github`, content_type: 'json', secret }, events: ['push', 'issues'] });
  const { data: parent } = await gh.git.getCommit({ ...REPO, commit_sha: emu.inspect.ref('acme/notes', 'main') as string });
  const { data: tree } = await gh.git.createTree({ ...REPO, base_tree: parent.tree.sha, tree: [{ path: 'notes/a.md', mode: '100644', type: 'blob', content: 'A\n' }] });
  const { data: commit } = await gh.git.createCommit({ ...REPO, message: 'Sync from Drive', tree: tree.sha, parents: [parent.sha] });
  await gh.git.updateRef({ ...REPO, ref: 'heads/main', sha: commit.sha });
  await gh.issues.create({ ...REPO, title: 'Sync stalls' });
  await emu.inspect.deliveriesSettled();

  const deliveries = emu.inspect.deliveries('acme/notes');
  expect(deliveries.map((d) => [d.event, d.status_code, d.status])).toEqual([
    ['ping', 202, 'OK'],
    ['push', 202, 'OK'],
    ['issues', 202, 'OK'],
  ]);
  const push = await startInput(`webhook:github:${String(deliveries[1]?.guid)}`);
  expect(push).toMatchObject({ source: 'github', event: 'push', deliveryId: deliveries[1]?.guid, payload: { ref: 'refs/heads/main', after: commit.sha } });
  expect(normalizeEvent('github', 'push', push.payload)).toMatchObject({
    kind: 'push',
    repository: 'acme/notes',
    title: '1 commit pushed to main',
    body: 'Sync from Drive',
    actor: { provider: 'github', login: 'octo-dev' },
    occurrenceKey: `push:acme/notes:refs/heads/main:${commit.sha}`,
  });
  const issue = await startInput(`webhook:github:${String(deliveries[2]?.guid)}`);
  expect(normalizeEvent('github', 'issues', issue.payload)).toMatchObject({ kind: 'issues.opened', title: 'Issue #1: Sync stalls', repository: 'acme/notes' });
});

test('a delivery signed with another secret is refused by the ingress with 401, and recorded so', async () => {
  emu.seed.repo('acme/other');
  emu.seed.hook('acme/other', { url: `${ingress.url}/webhooks/github`, secret: 'not-the-secret' });
  emu.seed.commit('acme/other', { files: { 'x.md': 'x' } });
  await emu.inspect.deliveriesSettled();
  expect(emu.inspect.deliveries('acme/other').map((d) => [d.event, d.status_code, d.status])).toEqual([['push', 401, 'Invalid HTTP Response: 401']]);
});
