import {
  ActivityFailure,
  log,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  startChild,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { DeliverNotificationResult, NotificationActivities, NotificationData } from '../activities/notifications';
import type { NotificationEvent } from '../lib/db/notification-rows';
import { DurasyncKind, DurasyncStatus } from './search-attributes';

/** Attempts per delivery: 1 s doubling to 5 min, about 25 minutes in all. */
export const DELIVERY_ATTEMPTS = 10;
const { listSubscriptionsFor } = proxyActivities<NotificationActivities>({
  summary: 'find the subscriptions of the event',
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20 },
});
const { deliverNotification } = proxyActivities<NotificationActivities>({
  summary: 'POST the signed notification',
  // 10 s of HTTP plus the store calls.
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: DELIVERY_ATTEMPTS, nonRetryableErrorTypes: ['NotificationRejected'] },
});

export interface DeliverNotificationsInput {
  event: NotificationEvent;
  /** Idempotency key of the event (one delivery per subscription and eventId). */
  eventId: string;
  /** Ids and counts only: never contents, tokens or secrets (this is workflow history). */
  data: NotificationData;
}

export interface DeliverNotificationsResult {
  event: NotificationEvent;
  eventId: string;
  subscriptions: number;
  delivered: number;
  unsubscribed: number;
  failed: number;
}

/**
 * Delivers one event to every enabled subscription of it (id `notify:<event>:<eventId>`): one
 * activity per subscription, in parallel, each retried on its own, so a slow or failing receiver
 * delays nobody else. Started by the job that saw the event as an abandoned child: the job never
 * waits for it. A delivery that fails for good is in the delivery log; the workflow still completes.
 */
export async function deliverNotifications(input: DeliverNotificationsInput): Promise<DeliverNotificationsResult> {
  upsertSearchAttributes([{ key: DurasyncKind, value: 'notification' }] as never);
  const occurredAt = new Date().toISOString();
  const ids = await listSubscriptionsFor(input.event);
  setCurrentDetails(`**${input.event}** ${input.eventId}: ${ids.length} subscription(s)`);
  const outcomes = await Promise.allSettled(
    ids.map((subscriptionId) => deliverNotification({ subscriptionId, event: input.event, eventId: input.eventId, occurredAt, data: input.data, maxAttempts: DELIVERY_ATTEMPTS })),
  );
  const result: DeliverNotificationsResult = { event: input.event, eventId: input.eventId, subscriptions: ids.length, delivered: 0, unsubscribed: 0, failed: 0 };
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      if (!(outcome.reason instanceof ActivityFailure)) throw outcome.reason;
      result.failed++;
      continue;
    }
    const value: DeliverNotificationResult = outcome.value;
    if (value.outcome === 'delivered') result.delivered++;
    else if (value.outcome === 'unsubscribed') result.unsubscribed++;
  }
  upsertSearchAttributes([{ key: DurasyncStatus, value: result.failed ? 'failed' : 'delivered' }] as never);
  setCurrentDetails(`**${input.event}** ${input.eventId}: ${result.delivered} delivered, ${result.failed} failed, ${result.unsubscribed} unsubscribed`);
  return result;
}

/** The workflow id of an event's notifications: one per event, whoever starts it how often. */
export const notificationWorkflowId = (event: NotificationEvent, eventId: string): string => `notify:${event}:${eventId}`;

/**
 * Starts deliverNotifications as an abandoned child on this workflow's task queue and returns once
 * it started: the caller never waits for receivers. A second start for the same event (a retried
 * trigger) is refused by the id and skipped.
 */
export async function notify(event: NotificationEvent, eventId: string, data: NotificationData): Promise<void> {
  try {
    await startChild(deliverNotifications, {
      workflowId: notificationWorkflowId(event, eventId),
      args: [{ event, eventId, data }],
      staticSummary: `notifications of ${event} ${eventId}`,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    log.info('notifications already started', { event, eventId });
  }
}
