import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * A headless Chromium for tests that look at web pages (the Temporal Web UI). It is the system's
 * Chromium (Debian's `chromium` package, which CI installs), driven by playwright-core: nothing is
 * downloaded, and the flags below keep it from calling home (without them it floods a closed
 * network with update, sync and field-trial requests).
 */
export const CHROMIUM_PATH = process.env.DURASYNC_CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  /** One browser context (its own temporary profile); open pages with `context.newPage()`. */
  context: BrowserContext;
  /** Closes the browser and deletes its profile. Safe to call twice. */
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile and a 1400x900 viewport. Fails with one line when Chromium is missing. */
export async function launchBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install chromium\` (or set DURASYNC_CHROMIUM_PATH)`);
  }
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'durasync-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1400, height: 900 },
      timeout: 30_000,
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    context,
    close: () =>
      (closed ??= context
        .close()
        .catch(() => undefined)
        .finally(() => rmSync(userDataDir, { recursive: true, force: true }))),
  };
}

/**
 * Waits until `text` is visible in the page or in any of its frames (the Temporal UI renders
 * user-supplied Markdown, such as a workflow's summary and details, in sandboxed iframes, which a
 * page-level locator does not search). Rejects after `timeoutMs` naming the text and the page.
 */
export async function waitForTextInFrames(page: Page, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const visible = await frame
        .getByText(text)
        .first()
        .isVisible()
        .catch(() => false); // a frame may detach while we look
      if (visible) return;
    }
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear within ${timeoutMs} ms on ${page.url()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs `look` and, when it fails, saves a full-page screenshot to the temp folder and names it in
 * the error, so a failing UI assertion can be seen rather than guessed.
 */
export async function withFailureScreenshot<T>(page: Page, name: string, look: () => Promise<T>): Promise<T> {
  try {
    return await look();
  } catch (err) {
    const file = path.join(os.tmpdir(), `durasync-${name}-failed-${Date.now()}.png`);
    const saved = await page
      .screenshot({ path: file, fullPage: true })
      .then(() => true)
      .catch(() => false);
    if (saved && err instanceof Error) err.message += `\n(screenshot of the page: ${file})`;
    throw err;
  }
}
