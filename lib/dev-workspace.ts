import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The files of a `npm run dev` workspace in DURASYNC_DATA_DIR (default `.durasync/`):
 * - `workspace.json`: what makes the workspace itself, kept across restarts: the secrets dev
 *   generated (token key, webhook secret, the emulators' OAuth client) and the demo's seeding state;
 * - `dev.json`: while dev runs, where it runs (its pid and the environment of its servers), so that
 *   `durasync` commands typed in another terminal of the same checkout find it with no variables set.
 * Both hold secrets: written owner-only (0600).
 */

export const WORKSPACE_FILE = 'workspace.json';
export const RUNNING_FILE = 'dev.json';

/** What `workspace.json` keeps. */
export interface WorkspaceFile {
  version: 1;
  /** `<keyId>:<base64>`: DURASYNC_TOKEN_KEY of the workspace, unless the environment sets one. */
  tokenKey: string;
  /** GITHUB_WEBHOOK_SECRET of the workspace (the emulator signs its deliveries with it). */
  webhookSecret: string;
  /** The OAuth clients registered with the emulators. */
  googleClient: { id: string; secret: string };
  githubClientId: string;
  /** Seeding steps done so far, by name, with what each made (ids); absent for a workspace that is not a demo. */
  demo?: Record<string, unknown>;
}

/** What `dev.json` says about the running dev. */
export interface RunningWorkspace {
  pid: number;
  /** True when dev runs the demo on the emulators; false with real providers or DURASYNC_DEMO=off. */
  demo: boolean;
  /** Variables the CLI takes from the workspace when the environment does not set them. */
  env: Record<string, string>;
  /** Addresses to print: ingress, ops, Web UI, emulators. */
  urls: Record<string, string>;
}

/** Writes JSON owner-only and atomically (a reader never sees half a file). */
async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${file} is not valid JSON: remove it, or run durasync demo reset`);
  }
}

/** The workspace of `dataDir`, created with fresh secrets when there is none. */
export async function openWorkspace(dataDir: string): Promise<WorkspaceFile> {
  const file = path.join(dataDir, WORKSPACE_FILE);
  const existing = readJson<WorkspaceFile>(file);
  if (existing) return existing;
  const created: WorkspaceFile = {
    version: 1,
    tokenKey: `dev1:${randomBytes(32).toString('base64')}`,
    webhookSecret: randomBytes(24).toString('hex'),
    googleClient: { id: `durasync-dev-${randomBytes(6).toString('hex')}.apps.googleusercontent.com`, secret: randomBytes(18).toString('base64url') },
    githubClientId: `Iv1.${randomBytes(8).toString('hex')}`,
  };
  await writeJson(file, created);
  return created;
}

export async function saveWorkspace(dataDir: string, workspace: WorkspaceFile): Promise<void> {
  await writeJson(path.join(dataDir, WORKSPACE_FILE), workspace);
}

export async function writeRunningWorkspace(dataDir: string, running: RunningWorkspace): Promise<void> {
  await writeJson(path.join(dataDir, RUNNING_FILE), running);
}

export async function removeRunningWorkspace(dataDir: string): Promise<void> {
  await rm(path.join(dataDir, RUNNING_FILE), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The dev running on `dataDir`, if any (a `dev.json` left by a dev that died is ignored). */
export function findRunningWorkspace(dataDir: string): RunningWorkspace | undefined {
  const running = readJson<RunningWorkspace>(path.join(dataDir, RUNNING_FILE));
  return running && Number.isInteger(running.pid) && alive(running.pid) ? running : undefined;
}

/**
 * `env` with the running dev workspace's variables added where `env` has none (a variable set,
 * even to '', wins): how commands typed beside `npm run dev` reach its Temporal and database.
 */
export function withRunningWorkspace(env: NodeJS.ProcessEnv, dataDir: string): NodeJS.ProcessEnv {
  const running = findRunningWorkspace(dataDir);
  if (!running) return env;
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(running.env)) if (merged[name] === undefined) merged[name] = value;
  return merged;
}
