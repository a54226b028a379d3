import { createHmac } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Store } from '../lib/db/store';
import type { NotificationEvent, NotificationFormat } from '../lib/db/notification-rows';
import type { Logger } from '../lib/logger';

/** What the notification activities need: the subscription calls of the store, and fetch. */
export interface NotificationDeps {
  store: Pick<Store, 'listNotificationSubscriptions' | 'getNotificationTarget' | 'setNotificationSubscriptionEnabled' | 'recordNotificationAttempt'>;
  logger: Logger;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Per attempt. Default: 10 s. */
  timeoutMs?: number;
}

/** A notification's data: ids and counts only, never contents or tokens. */
export type NotificationData = Record<string, string | number | boolean | null | string[]>;

export interface DeliverNotificationInput {
  subscriptionId: string;
  event: NotificationEvent;
  /** The idempotency key: one delivery per (subscription, eventId); sent as X-Durasync-Delivery. */
  eventId: string;
  /** ISO time the event happened (fixed by the workflow, so every attempt sends the same body). */
  occurredAt: string;
  data: NotificationData;
  /** The retry policy's maximum attempts: the attempt that reaches it records the delivery failed. */
  maxAttempts: number;
}

export interface DeliverNotificationResult {
  outcome: 'delivered' | 'unsubscribed' | 'skipped';
  statusCode: number | null;
  attempt: number;
}

export const NOTIFICATION_FAILURE_TYPES = {
  /** 5xx, 408, 429, timeouts, network errors: retried. */
  failed: 'NotificationDeliveryFailed',
  /** Any other 4xx: the receiver refuses it; not retried. */
  rejected: 'NotificationRejected',
} as const;

export const SIGNATURE_HEADER = 'X-Durasync-Signature-256';

/** `sha256=<hex HMAC-SHA256 of the body>` under the subscription's secret. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One line a person reads: in Slack, and as `text` of the durasync body. */
export function describeEvent(event: NotificationEvent, data: NotificationData): string {
  const d = (key: string) => String(data[key] ?? '?');
  switch (event) {
    case 'sync.finished':
      return `Sync of link ${d('linkId')} finished: ${d('toGithub')} change(s) to GitHub, ${d('toDrive')} to Drive, ${d('conflicts')} conflict(s)`;
    case 'sync.conflicts':
      return `Sync of link ${d('linkId')} recorded ${d('conflicts')} conflict(s)`;
    case 'dead_letter':
      return `Dead letter ${d('deadLetterId')} from ${d('source')}: ${d('errorType')} (${d('ref')})`;
    case 'branch.delta_committed':
      return `Branch ${d('branchId')} committed delta ${d('seq')} (${d('changes')} change(s))`;
  }
}

/** The request body of a delivery in the subscription's format. */
export function notificationBody(format: NotificationFormat, input: Pick<DeliverNotificationInput, 'event' | 'eventId' | 'occurredAt' | 'data'>): string {
  const text = describeEvent(input.event, input.data);
  if (format === 'slack') {
    const fields = Object.entries(input.data).map(([key, value]) => ({ type: 'mrkdwn', text: `*${key}*\n${Array.isArray(value) ? value.join(', ') : String(value)}` }));
    return JSON.stringify({
      text,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*durasync* \`${input.event}\`: ${text}` } },
        ...(fields.length ? [{ type: 'section', fields: fields.slice(0, 10) }] : []),
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${input.eventId} at ${input.occurredAt}` }] },
      ],
    });
  }
  return JSON.stringify({ id: input.eventId, event: input.event, occurredAt: input.occurredAt, text, data: input.data });
}

/** Retry-After in seconds or as an HTTP date -> milliseconds, or undefined. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), 3_600_000);
}

export function createNotificationActivities(deps: NotificationDeps) {
  const { store, logger } = deps;
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.timeoutMs ?? 10_000;

  return {
    /** Ids of the enabled subscriptions receiving `event` (URLs and secrets stay out of history). */
    async listSubscriptionsFor(event: NotificationEvent): Promise<string[]> {
      return (await store.listNotificationSubscriptions(event)).map((s) => s.id);
    },

    /**
     * One signed POST of one event to one subscription; every attempt is counted in
     * notification_deliveries. 2xx: delivered. 410: the receiver is gone, the subscription is
     * disabled. Other 4xx (not 408/429): NotificationRejected, not retried. 5xx, 408, 429,
     * timeouts and network errors: NotificationDeliveryFailed, retried (after Retry-After if sent).
     */
    async deliverNotification(input: DeliverNotificationInput): Promise<DeliverNotificationResult> {
      const attempt = Context.current().info.attempt;
      const target = await store.getNotificationTarget(input.subscriptionId);
      if (!target || !target.enabled) return { outcome: 'skipped', statusCode: null, attempt };
      const body = notificationBody(target.format, input);
      const record = (status: 'pending' | 'delivered' | 'failed', statusCode: number | null, error: string | null) =>
        store.recordNotificationAttempt({ subscriptionId: target.id, event: input.event, eventId: input.eventId, status, statusCode, error });
      const last = attempt >= input.maxAttempts;
      const scope = { subscriptionId: target.id, event: input.event, eventId: input.eventId, attempt };

      let response: Response;
      try {
        response = await doFetch(target.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'durasync-notifications',
            'X-Durasync-Event': input.event,
            'X-Durasync-Delivery': input.eventId,
            [SIGNATURE_HEADER]: signBody(target.secret, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), Context.current().cancellationSignal]),
        });
        await response.arrayBuffer().catch(() => undefined);
      } catch (err) {
        const e = err as Error;
        const message = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${e.name}: ${e.message}`;
        await record(last ? 'failed' : 'pending', null, message);
        logger.warn({ ...scope, error: message }, 'notification delivery failed');
        throw ApplicationFailure.create({ type: NOTIFICATION_FAILURE_TYPES.failed, message: `delivery to subscription ${target.id} failed: ${message}` });
      }

      const status = response.status;
      if (status >= 200 && status < 300) {
        await record('delivered', status, null);
        return { outcome: 'delivered', statusCode: status, attempt };
      }
      if (status === 410) {
        await record('failed', status, 'the receiver answered 410 Gone: subscription disabled');
        await store.setNotificationSubscriptionEnabled(target.id, false);
        logger.warn(scope, 'notification receiver gone (410): subscription disabled');
        return { outcome: 'unsubscribed', statusCode: status, attempt };
      }
      const retryable = status >= 500 || status === 408 || status === 429;
      const message = `the receiver answered ${status}`;
      await record(retryable && !last ? 'pending' : 'failed', status, message);
      logger.warn({ ...scope, status }, 'notification delivery failed');
      if (!retryable) {
        throw ApplicationFailure.create({ type: NOTIFICATION_FAILURE_TYPES.rejected, nonRetryable: true, message: `subscription ${target.id}: ${message}` });
      }
      throw ApplicationFailure.create({
        type: NOTIFICATION_FAILURE_TYPES.failed,
        message: `subscription ${target.id}: ${message}`,
        nextRetryDelay: retryAfterMs(response.headers.get('retry-after')),
      });
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
