import { setTimeout as sleep } from 'node:timers/promises';
import { DurasyncWorkflowFailedError, type DurasyncClient, type Progress } from '../index';
import { EXIT, ExitError, type CommandContext } from './context';

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
 * Waits for the workflow's result. Unless --json, shows its progress on stderr while it runs, from
 * the `progress` query: on a terminal one line rewritten in place, otherwise one line each time the
 * answer changes; and the final stage once it completed. `label` prefixes each line.
 */
export async function waitWithProgress<T = unknown>(
  ctx: CommandContext,
  client: DurasyncClient,
  workflowId: string,
  options: { result?: Promise<T>; label?: string; pollMs?: number } = {},
): Promise<T> {
  const result = options.result ?? client.workflows.result<T>(workflowId);
  if (ctx.json) return result;
  const tty = process.stderr.isTTY === true;
  let settled = false;
  let succeeded = false;
  const done = result.then(
    () => void (succeeded = settled = true),
    () => void (settled = true),
  );
  let last: string | undefined;
  let drawn = false;
  const show = async () => {
    const progress = await tryProgress(client, workflowId);
    const line = progress && `${options.label ? `${options.label}: ` : ''}${formatProgress(progress)}`;
    if (!line || line === last) return;
    last = line;
    if (tty) {
      const width = Math.max(20, (process.stderr.columns || 100) - 1);
      process.stderr.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      drawn = true;
    } else {
      process.stderr.write(`progress: ${line}\n`);
    }
  };
  try {
    while (!settled) {
      await show();
      if (!settled) await Promise.race([sleep(options.pollMs ?? POLL_MS), done]);
    }
    if (succeeded) await show();
  } finally {
    if (drawn) process.stderr.write('\n');
  }
  return result;
}

/** `<workflowId> failed: <innermost cause>`, one line. */
export function failureLine(err: DurasyncWorkflowFailedError, subject: string): string {
  const inner = [...err.causes].reverse().find((c) => c.message)?.message ?? err.message;
  return `${subject} ${err.status.toLowerCase().replace('_', ' ')}: ${inner.replace(/\s+/g, ' ').trim()}`;
}

/** waitWithProgress(), with a failed workflow as exit 4 and one line naming its innermost cause. */
export async function waitOrExit<T>(ctx: CommandContext, client: DurasyncClient, workflowId: string): Promise<T> {
  try {
    return await waitWithProgress<T>(ctx, client, workflowId, { label: workflowId });
  } catch (err) {
    if (!(err instanceof DurasyncWorkflowFailedError)) throw err;
    throw new ExitError(failureLine(err, workflowId), EXIT.WORKFLOW_FAILED);
  }
}
