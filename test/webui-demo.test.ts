import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import type { Page } from 'playwright-core';
import { devEnvironment } from './helpers/dev';
import { launchBrowser, waitForTextInFrames, withFailureScreenshot, type TestBrowser } from './helpers/browser';
import { spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

/**
 * The demo of `npm run dev` in the Temporal Web UI, as a newcomer opens it: dev runs with payload
 * encryption on (DURASYNC_ENCRYPTION_KEY), so the UI decodes payloads through the ops server's codec
 * endpoint. Headless Chromium opens the demo's syncLink (its summary, current details, and an
 * activity's input, decoded), a processWebhookEvent run and the branch's branchDeltas workflow. It
 * takes the README's screenshots: into docs/screenshots/ when DURASYNC_UPDATE_SCREENSHOTS=1 (CI
 * does), otherwise into a temporary folder.
 */
const SCREENSHOTS = process.env.DURASYNC_UPDATE_SCREENSHOTS === '1' ? path.resolve(__dirname, '..', 'docs', 'screenshots') : path.join(os.tmpdir(), 'durasync-webui-screenshots');
const ENCRYPTION_KEY = `ui1:${Buffer.alloc(32, 7).toString('base64')}`;

describe('the demo in the Temporal Web UI', () => {
  let browser: TestBrowser | undefined;
  let page: Page;
  let dev: Spawned | undefined;
  let connection: Connection | undefined;
  let client: Client;
  let dataDir: string;
  let uiUrl: string;

  beforeAll(async () => {
    browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
    page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-webui-demo-'));
    const { env, ports } = await devEnvironment(dataDir);
    uiUrl = `http://127.0.0.1:${ports.ui}`;
    dev = spawnDurasync(['dev'], { ...env, DURASYNC_ENCRYPTION_KEY: ENCRYPTION_KEY });
    const devProcess = dev;
    await waitForHttp(`http://127.0.0.1:${ports.ops}/health/ready`, 90_000, 200, () => devProcess.child.exitCode === null);
    connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
    client = new Client({ connection });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await connection?.close();
    await dev?.stop('SIGINT');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  /** The first workflow the query finds, waiting up to a minute for the demo to make one. */
  async function first(query: string): Promise<WorkflowExecutionInfo> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      for await (const execution of client.workflow.list({ query })) return execution;
      if (Date.now() > deadline) throw new Error(`no workflow for ${query} within a minute of readiness`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  const workflowPage = (w: WorkflowExecutionInfo, tab: string) => `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(w.workflowId)}/${w.runId}/${tab}`;

  it("shows the demo sync's summary and current details, and an activity's input decoded through the codec endpoint", async () => {
    const sync = await first('WorkflowType = "syncLink" AND ExecutionStatus = "Completed"');
    await withFailureScreenshot(page, 'demo-sync', async () => {
      await page.goto(workflowPage(sync, 'history'));
      await page.getByRole('heading', { name: sync.workflowId }).waitFor();
      await page.getByText(/^sync of link [0-9a-f-]{36}/).first().waitFor();
      // Payloads are encrypted in history: the workflow's input reads as JSON only through the codec endpoint...
      const linkId = sync.workflowId.slice('sync:'.length);
      await page.getByText(`"linkId": "${linkId}"`).first().waitFor();
      // ...and so does an activity's: the first one (loadSyncLink) takes the link id, shown decoded once expanded.
      await page.getByText('Activity Task Scheduled').last().click();
      await page.getByText('loadSyncLink', { exact: true }).first().waitFor();
      await page.getByText(`"${linkId}"`, { exact: true }).first().waitFor();
      await page.screenshot({ path: path.join(SCREENSHOTS, 'demo-sync.png'), fullPage: true });
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.waitForURL(/\/user-metadata/);
      for (const heading of ['Summary', 'Current Details']) await page.getByText(heading, { exact: true }).first().waitFor();
      await waitForTextInFrames(page, 'sync of link');
      await waitForTextInFrames(page, 'done');
    });
  });

  it('shows a processWebhookEvent run of a push the sync made', async () => {
    const webhook = await first('WorkflowType = "processWebhookEvent" AND ExecutionStatus = "Completed"');
    await withFailureScreenshot(page, 'demo-webhook', async () => {
      await page.goto(workflowPage(webhook, 'history'));
      await page.getByRole('heading', { name: webhook.workflowId }).waitFor();
      await page.getByText(/^github (push|issues|ping) delivery /).first().waitFor();
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'demo-webhook.png'), fullPage: true });
  });

  it("shows the demo branch's branchDeltas workflow", async () => {
    const branch = await first('WorkflowType = "branchDeltas"');
    await withFailureScreenshot(page, 'demo-branch', async () => {
      await page.goto(workflowPage(branch, 'history'));
      await page.getByRole('heading', { name: branch.workflowId }).waitFor();
      await page.getByText(/^deltas of branch [0-9a-f-]{36}/).first().waitFor();
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'demo-branch.png'), fullPage: true });
  });
});
