import { setTimeout as sleep } from 'node:timers/promises';
import type { DurasyncClient, Progress } from '../index';
import type { CommandContext } from './context';

/** How often a waiting command asks for progress, and how long one query may take. */
const POLL_MS = 500;
const QUERY_DEADLINE_MS = 2000;

/** `probing: probing the database (3/10)`. */
export function formatProgress(progress: Progress): string {
  const counts = progress.total !== undefined ? ` (${progress.done ?? 0}/${progress.total})` : progress.done !== undefined ? ` (${progress.done})` : '';
  return `${progress.stage}${progress.message ? `: ${progress.message}` : ''}${counts}`;
}

/** The progress query's answer, or undefined when the workflow does not answer in time (no worker yet, no handler). */
export async function tryProgress(client: DurasyncClient, workflowId: string): Promise<Progress | undefined> {
  try {
    return await client.temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => client.workflows.progress(workflowId));
  } catch {
    return undefined;
  }
}

/**
 * Waits for the workflow's result. Unless --json, shows its progress on stderr while it runs: one
 * line each time the `progress` query's answer changes, and the final stage once it completed.
 */
export async function waitWithProgress(ctx: CommandContext, client: DurasyncClient, workflowId: string): Promise<unknown> {
  const result = client.workflows.result(workflowId);
  if (ctx.json) return result;
  let settled = false;
  let succeeded = false;
  const done = result.then(
    () => void (succeeded = settled = true),
    () => void (settled = true),
  );
  let last: string | undefined;
  const show = async () => {
    const progress = await tryProgress(client, workflowId);
    const line = progress && formatProgress(progress);
    if (line && line !== last) process.stderr.write(`progress: ${line}\n`);
    last = line ?? last;
  };
  while (!settled) {
    await show();
    if (!settled) await Promise.race([sleep(POLL_MS), done]);
  }
  if (succeeded) await show();
  return result;
}
