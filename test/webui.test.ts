import os from 'node:os';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Page } from 'playwright-core';
import { startCanary } from '../client/canary';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { freePort } from '../lib/net';
import { createQueueWorker } from '../workers/process';
import { startDevServer, type DevServer } from '../workers/temporal-dev-server';
import type { canary } from '../workflows/canary';
import { progressQuery } from '../workflows/progress';
import { DurasyncKind } from '../workflows/search-attributes';
import { launchBrowser, waitForTextInFrames, withFailureScreenshot, type TestBrowser } from './helpers/browser';
import { openTestDeps, type TestDeps } from './helpers/deps';
import { testWorkflowBundle } from './helpers/temporal';

/**
 * The Temporal Web UI (2.54, served by the Temporal CLI's dev server) shows durasync workflows
 * readably: filtered by a durasync search attribute, with their summary, details and current
 * details, and DurasyncStatus. A private dev server with its UI, a real `sync` worker as
 * `durasync worker` builds it, two canaries (one completed, one held running), and headless
 * Chromium. It takes the screenshots the README shows: into docs/screenshots/ when
 * DURASYNC_UPDATE_SCREENSHOTS=1 (CI does), otherwise into a temporary folder, so that a local
 * `npm test` leaves the working tree as it was.
 */

const SCREENSHOTS = process.env.DURASYNC_UPDATE_SCREENSHOTS === '1' ? path.resolve(__dirname, '..', 'docs', 'screenshots') : path.join(os.tmpdir(), 'durasync-webui-screenshots');
const TASK_QUEUE = 'ui-sync';
const CANARY_QUERY = 'DurasyncKind = "canary"';

describe('the Temporal Web UI', () => {
  let browser: TestBrowser | undefined;
  let page: Page;
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let nativeConnection: NativeConnection | undefined;
  let client: Client;
  let deps: TestDeps | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let uiUrl: string;
  let completed: { workflowId: string; runId: string };
  let held: WorkflowHandleWithFirstExecutionRunId<typeof canary> | undefined;

  beforeAll(async () => {
    // The browser first: without Chromium, fail at once with the line that says how to install it.
    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    page = await browser.context.newPage();
    page.setDefaultTimeout(15_000);

    server = await startDevServer({ port: await freePort(), uiPort: await freePort(), logLevel: 'error' });
    uiUrl = server.uiUrl!;
    const config = loadConfig({ TEMPORAL_ADDRESS: server.address, DURASYNC_TASK_QUEUE_PREFIX: 'ui-', DURASYNC_SHUTDOWN_GRACE: '5s' });
    connection = await Connection.connect(config.temporal.connectionOptions);
    client = new Client({ connection, namespace: config.temporal.namespace });
    nativeConnection = await NativeConnection.connect({ address: server.address });
    deps = await openTestDeps();
    worker = await createQueueWorker({
      connection: nativeConnection,
      config,
      queue: 'sync',
      bundle: testWorkflowBundle(),
      metrics: createMetrics(),
      deps: { store: deps.store, cache: deps.cache, logger: createLogger({ level: 'silent' }) },
    });
    expect(worker.options.taskQueue).toBe(TASK_QUEUE);
    running = worker.run();

    // One canary that completes, started the way `durasync canary --queue sync` starts it...
    const result = await startCanary(client, TASK_QUEUE, 30_000);
    expect(result.status).toBe('ok');
    for await (const execution of client.workflow.list({ query: `${CANARY_QUERY} AND ExecutionStatus = "Completed"` })) {
      completed = { workflowId: execution.workflowId, runId: execution.runId };
    }
    expect(completed).toBeDefined();

    // ...and one whose probe is held, so it is still running while the browser looks at it
    // (the same start options as startCanary, which would wait for the result).
    held = await client.workflow.start<typeof canary>('canary', {
      args: [{ holdMs: 60_000 }],
      taskQueue: TASK_QUEUE,
      workflowId: `canary:${TASK_QUEUE}:${new Date().toISOString()}`,
      workflowExecutionTimeout: 120_000,
      typedSearchAttributes: [{ key: DurasyncKind, value: 'canary' }],
      staticSummary: `canary on ${TASK_QUEUE}`,
      staticDetails: 'Proves that the workers of this queue poll for tasks and reach the database and cache.',
    });
    // Its first workflow task has run (so its current details are set) once it answers `progress`.
    expect(await held.query(progressQuery)).toMatchObject({ stage: 'probing' });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    const steps: Array<[string, () => Promise<unknown> | undefined]> = [
      ['terminate the held canary', () => held?.terminate('webui test done')],
      ['close the browser', () => browser?.close()],
      [
        'stop the worker',
        async () => {
          if (worker?.getState() === 'RUNNING') worker.shutdown();
          await running;
        },
      ],
      ['close the worker connection', () => nativeConnection?.close()],
      ['close the client connection', () => connection?.close()],
      ['close the database and cache', () => deps?.close()],
      ['stop the dev server', () => server?.stop()],
    ];
    const errors: string[] = [];
    for (const [name, step] of steps) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => errors.push(`${name}: ${String(err)}`));
    }
    if (errors.length) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }, 60_000);

  it('lists both canaries when the workflows are filtered by the DurasyncKind search attribute', async () => {
    const ids = [completed.workflowId, held!.workflowId];
    const listUrl = `${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(CANARY_QUERY)}`;
    await withFailureScreenshot(page, 'webui-list', async () => {
      // The list is read from visibility, which may trail a start by a moment: reload until both show.
      for (let attempt = 1; ; attempt++) {
        await page.goto(listUrl);
        try {
          for (const id of ids) await page.getByRole('link', { name: id, exact: true }).waitFor({ timeout: 5_000 });
          break;
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
      // The UI took the query from the URL: it shows it as the active filter.
      await page.getByText(CANARY_QUERY, { exact: true }).first().waitFor();
      const rowOf = (id: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name: id, exact: true }) });
      expect(await rowOf(completed.workflowId).innerText()).toContain('COMPLETED');
      expect(await rowOf(held!.workflowId).innerText()).toContain('RUNNING');
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'webui-list.png'), fullPage: true });
  });

  it("shows the running canary's static summary and current details on its page", async () => {
    const { workflowId } = held!;
    const runId = held!.firstExecutionRunId;
    await withFailureScreenshot(page, 'webui-workflow', async () => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`);
      await page.getByRole('heading', { name: workflowId }).waitFor();
      // The event history shows the summary on WorkflowExecutionStarted...
      await page.getByText(`canary on ${TASK_QUEUE}`, { exact: true }).first().waitFor();
      // ...and the User Metadata tab shows summary, details and current details (as rendered Markdown).
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      await page.waitForURL(/\/user-metadata/);
      for (const heading of ['Summary', 'Details', 'Current Details']) await page.getByText(heading, { exact: true }).first().waitFor();
      await waitForTextInFrames(page, `canary on ${TASK_QUEUE}`);
      await waitForTextInFrames(page, 'Proves that the workers of this queue poll for tasks');
      await waitForTextInFrames(page, 'probing the database and cache from a worker of this queue');
    });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'webui-workflow.png'), fullPage: true });
  });

  it('shows DurasyncStatus = ok among the search attributes of the completed canary', async () => {
    const { workflowId, runId } = completed;
    await withFailureScreenshot(page, 'webui-search-attributes', async () => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/search-attributes`);
      await page.getByRole('heading', { name: workflowId }).waitFor();
      // One line of the JSON viewer: `"DurasyncStatus": "ok",`.
      await page.getByText(/"DurasyncStatus":\s*"ok"/).first().waitFor();
      await page.getByText(/"DurasyncKind":\s*"canary"/).first().waitFor();
    });
  });
});
