import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { IngestionActivities } from '../../activities/ingestion';
import { notify } from '../notifications';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncSource, DurasyncStatus } from '../search-attributes';
import { INGESTION_FAILURE_TYPES, type WebhookEventInput, type WebhookEventResult, type WebhookRetryOptions } from './types';

// Database and network failures retry with backoff: 5 attempts, 1 s doubling up to 5 min, unless
// the starter passes `retry`. A malformed payload fails at once (ApplicationFailure `InvalidEvent`,
// non-retryable). Either way, the delivery then lands in dead_letters and the workflow fails.
const DEFAULT_RETRY: Required<WebhookRetryOptions> = { maximumAttempts: 5, initialInterval: '1s', maximumInterval: '5m', backoffCoefficient: 2 };
const TIMEOUTS = { startToCloseTimeout: '1m' } as const;
// Recording the dead letter is the last word: it retries longer than the work it records.
const { recordDeadLetter } = proxyActivities<IngestionActivities>({
  ...TIMEOUTS,
  summary: 'record the delivery in dead_letters',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20 },
});

/** DurasyncKind of every processWebhookEvent workflow. */
export const WEBHOOK_KIND = 'webhook';

/**
 * Since this patch the four steps are local activities: short database calls that the worker runs
 * inside the workflow task, so a delivery takes one workflow task and about 12 history events
 * instead of 5 tasks and 40 events, and is stored without waiting for an activity task to be
 * dispatched. They keep the same retry policy; a retry longer than a minute waits in a timer.
 * Runs started before it replay the regular-activity path below.
 */
export const LOCAL_ACTIVITIES_PATCH = 'webhook-local-activities';

/** Since this patch a dead-lettered delivery starts deliverNotifications (`dead_letter`). */
export const NOTIFY_DEAD_LETTER_PATCH = 'notify-dead-letter';

function activities(retry: WebhookRetryOptions | undefined, local: boolean) {
  const policy = { ...DEFAULT_RETRY, ...retry };
  const options: ActivityOptions = { ...TIMEOUTS, retry: policy };
  const proxy = (summary: string) =>
    local ? proxyLocalActivities<IngestionActivities>({ ...TIMEOUTS, retry: policy, summary }) : proxyActivities<IngestionActivities>({ ...options, summary });
  return {
    policy,
    store: proxy('normalise the payload and store the event once').normalizeAndStore,
    keywords: proxy('record tracked keywords').extractKeywords,
    identity: proxy('resolve the actor to an identity').resolveIdentity,
    processed: proxy('mark the event processed').markEventsProcessed,
  };
}

/** The failure's type and message, from the innermost ApplicationFailure when there is one. */
function describe(err: unknown): { type: string; message: string } {
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) return { type: current.type ?? 'Error', message: current.message };
    current = current.cause;
  }
  return { type: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) };
}

/** What makes `input` unusable as a delivery (not an object, or no source, delivery id or event), or null. */
function envelopeProblem(input: unknown): string | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'expected an object { source, deliveryId, event, ... }';
  for (const field of ['source', 'deliveryId', 'event'] as const) {
    const value = (input as Record<string, unknown>)[field];
    if (typeof value !== 'string' || value === '') return `${field}: expected a non-empty string, got ${JSON.stringify(value) ?? 'undefined'}`.slice(0, 200);
  }
  return null;
}

/**
 * One webhook delivery (`webhook:<source>:<deliveryId>`): stores the event once, then records its
 * tracked keywords and resolves its actor, each an activity of its own. A delivery that cannot be
 * processed (a malformed payload, or a failure still there after the last retry) is recorded in
 * dead_letters (`webhook:<source>`, ref = deliveryId), and the workflow fails with the error.
 * `durasync dlq retry` re-runs it with the same workflow id.
 */
export async function processWebhookEvent(input: WebhookEventInput): Promise<WebhookEventResult> {
  // An input that is not a delivery at all (started by hand with garbage) fails at once: without a
  // source and delivery id there is no dead letter to record, and reading it would fail the
  // workflow task over and over (a stuck workflow) instead of the workflow.
  const envelope = envelopeProblem(input);
  if (envelope) throw ApplicationFailure.create({ type: INGESTION_FAILURE_TYPES.invalidEvent, nonRetryable: true, message: `not a webhook delivery: ${envelope}` });
  const { workflowId, runId } = workflowInfo();
  let progress: Progress = { stage: 'storing', message: `storing ${input.source} ${input.event} ${input.deliveryId}` };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  report(progress);
  upsertSearchAttributes([
    { key: DurasyncKind, value: WEBHOOK_KIND },
    { key: DurasyncSource, value: input.source },
  ]);

  const local = patched(LOCAL_ACTIVITIES_PATCH);
  const run = activities(input.retry, local);
  try {
    const stored = await run.store(input);
    report({ stage: 'keywords', done: 1, total: 3, message: `${stored.created ? 'stored' : 'already stored'} ${stored.kind}; recording keywords` });
    let keywords: Awaited<ReturnType<typeof run.keywords>>;
    let identity: Awaited<ReturnType<typeof run.identity>> | null;
    if (local) {
      // Independent of each other: both at once.
      [keywords, identity] = await Promise.all([run.keywords(stored.eventId), stored.actor ? run.identity({ eventId: stored.eventId, actor: stored.actor }) : null]);
      await run.processed([stored.eventId]);
    } else {
      keywords = await run.keywords(stored.eventId);
      report({ stage: 'identity', done: 2, total: 3, message: `${keywords.length} keyword(s); resolving the actor` });
      identity = stored.actor ? await run.identity({ eventId: stored.eventId, actor: stored.actor }) : null;
      // Added after histories of earlier runs were recorded: those replay without this step.
      if (patched('mark-events-processed')) await run.processed([stored.eventId]);
    }
    upsertSearchAttributes([{ key: DurasyncStatus, value: stored.created ? 'stored' : 'duplicate' }]);
    report({ stage: 'done', done: 3, total: 3, message: `**${stored.kind}** ${stored.created ? 'stored' : 'was stored before'}${stored.repository ? ` (${stored.repository})` : ''}` });
    return { workflowId, eventId: stored.eventId, kind: stored.kind, created: stored.created, keywords, identityId: identity?.identityId ?? null };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const { type, message } = describe(err);
    // A regular activity's failure says why it ended; a local activity's arrives as the failure
    // itself, and one that could be retried reaches us only once the policy gave up.
    const exhausted = err instanceof ActivityFailure ? err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED : local && !(err instanceof ApplicationFailure && err.nonRetryable);
    report({ stage: 'dead-letter', message: `recording the failure (${type})` });
    const attempts = exhausted ? run.policy.maximumAttempts : 1;
    const { deadLetterId } = await CancellationScope.nonCancellable(() => recordDeadLetter({ input, workflowId, runId, errorType: type, errorMessage: message, attempts }));
    // Since this patch the dead letter is announced to the `dead_letter` subscriptions (an abandoned
    // child: this workflow does not wait for receivers). One per run: a dlq retry that fails again notifies again.
    if (patched(NOTIFY_DEAD_LETTER_PATCH)) {
      await CancellationScope.nonCancellable(() =>
        notify('dead_letter', `${deadLetterId}:${runId}`, { deadLetterId, source: `webhook:${input.source}`, ref: input.deliveryId, event: input.event, errorType: type, attempts, workflowId }),
      );
    }
    upsertSearchAttributes([{ key: DurasyncStatus, value: 'dead_letter' }]);
    report({ stage: 'failed', message: `**dead-lettered**: ${type}: ${message}` });
    throw err;
  }
}
