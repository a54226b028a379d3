import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { IngestionActivities } from '../../activities/ingestion';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncSource, DurasyncStatus } from '../search-attributes';
import type { WebhookEventInput, WebhookEventResult, WebhookRetryOptions } from './types';

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

function activities(retry: WebhookRetryOptions | undefined) {
  const policy = { ...DEFAULT_RETRY, ...retry };
  const options: ActivityOptions = { ...TIMEOUTS, retry: policy };
  return {
    policy,
    store: proxyActivities<IngestionActivities>({ ...options, summary: 'normalise the payload and store the event once' }).normalizeAndStore,
    keywords: proxyActivities<IngestionActivities>({ ...options, summary: 'record tracked keywords' }).extractKeywords,
    identity: proxyActivities<IngestionActivities>({ ...options, summary: 'resolve the actor to an identity' }).resolveIdentity,
    processed: proxyActivities<IngestionActivities>({ ...options, summary: 'mark the event processed' }).markEventsProcessed,
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

/**
 * One webhook delivery (`webhook:<source>:<deliveryId>`): stores the event once, then records its
 * tracked keywords and resolves its actor, each an activity of its own. A delivery that cannot be
 * processed (a malformed payload, or a failure still there after the last retry) is recorded in
 * dead_letters (`webhook:<source>`, ref = deliveryId), and the workflow fails with the error.
 * `durasync dlq retry` re-runs it with the same workflow id.
 */
export async function processWebhookEvent(input: WebhookEventInput): Promise<WebhookEventResult> {
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

  const run = activities(input.retry);
  try {
    const stored = await run.store(input);
    report({ stage: 'keywords', done: 1, total: 3, message: `${stored.created ? 'stored' : 'already stored'} ${stored.kind}; recording keywords` });
    const keywords = await run.keywords(stored.eventId);
    report({ stage: 'identity', done: 2, total: 3, message: `${keywords.length} keyword(s); resolving the actor` });
    const identity = stored.actor ? await run.identity({ eventId: stored.eventId, actor: stored.actor }) : null;
    // Added after histories of earlier runs were recorded: those replay without this step.
    if (patched('mark-events-processed')) await run.processed([stored.eventId]);
    upsertSearchAttributes([{ key: DurasyncStatus, value: stored.created ? 'stored' : 'duplicate' }]);
    report({ stage: 'done', done: 3, total: 3, message: `**${stored.kind}** ${stored.created ? 'stored' : 'was stored before'}${stored.repository ? ` (${stored.repository})` : ''}` });
    return { workflowId, eventId: stored.eventId, kind: stored.kind, created: stored.created, keywords, identityId: identity?.identityId ?? null };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const { type, message } = describe(err);
    const exhausted = err instanceof ActivityFailure && err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
    report({ stage: 'dead-letter', message: `recording the failure (${type})` });
    await CancellationScope.nonCancellable(() =>
      recordDeadLetter({ input, workflowId, runId, errorType: type, errorMessage: message, attempts: exhausted ? run.policy.maximumAttempts : 1 }),
    );
    upsertSearchAttributes([{ key: DurasyncStatus, value: 'dead_letter' }]);
    report({ stage: 'failed', message: `**dead-lettered**: ${type}: ${message}` });
    throw err;
  }
}
