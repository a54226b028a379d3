import { reader, type Row } from './rows';

/** Outbound notifications (0014_notifications.sql): store types and their row readers. */

/** The events a subscription can name. */
export const NOTIFICATION_EVENTS = ['sync.finished', 'sync.conflicts', 'dead_letter', 'branch.delta_committed'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
/** `json`: durasync's own body; `slack`: `{ text, blocks }` for a Slack incoming webhook. */
export type NotificationFormat = 'json' | 'slack';
export type NotificationDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** A subscription as listed: never its secret. */
export interface NotificationSubscription {
  id: string;
  url: string;
  events: NotificationEvent[];
  format: NotificationFormat;
  enabled: boolean;
  createdAt: Date;
}

export interface CreateNotificationSubscriptionInput {
  url: string;
  events: NotificationEvent[];
  /** Default: json. */
  format?: NotificationFormat;
  /** The HMAC key (at least 16 characters). Secret. */
  secret: string;
}

/** What a delivery needs, the secret included: for the delivery activity only. */
export interface NotificationTarget {
  id: string;
  url: string;
  format: NotificationFormat;
  secret: string;
  enabled: boolean;
}

export interface RecordNotificationAttemptInput {
  subscriptionId: string;
  event: NotificationEvent;
  eventId: string;
  /** pending: will be retried; delivered; failed: given up. */
  status: NotificationDeliveryStatus;
  statusCode?: number | null;
  error?: string | null;
}

export interface NotificationDelivery {
  id: string;
  subscriptionId: string;
  event: string;
  eventId: string;
  status: NotificationDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

const FORMATS: readonly string[] = ['json', 'slack'];
const STATUSES: readonly string[] = ['pending', 'delivered', 'failed'];

export function toNotificationSubscription(row: Row, fn: string): NotificationSubscription {
  const r = reader(row, fn);
  const events = r.json('events');
  if (!Array.isArray(events) || !events.every((e) => typeof e === 'string' && (NOTIFICATION_EVENTS as readonly string[]).includes(e))) r.fail('events', events);
  const format = r.string('format');
  if (!FORMATS.includes(format)) r.fail('format', format);
  return { id: r.string('id'), url: r.string('url'), events: events as NotificationEvent[], format: format as NotificationFormat, enabled: r.bool('enabled'), createdAt: r.date('created_at') };
}

export function toNotificationTarget(row: Row, fn: string): NotificationTarget {
  const r = reader(row, fn);
  const format = r.string('format');
  if (!FORMATS.includes(format)) r.fail('format', format);
  return { id: r.string('id'), url: r.string('url'), format: format as NotificationFormat, secret: r.string('secret'), enabled: r.bool('enabled') };
}

export function toNotificationDelivery(row: Row, fn: string): NotificationDelivery {
  const r = reader(row, fn);
  const status = r.string('status');
  if (!STATUSES.includes(status)) r.fail('status', status);
  return {
    id: r.string('id'),
    subscriptionId: r.string('subscription_id'),
    event: r.string('event'),
    eventId: r.string('event_id'),
    status: status as NotificationDeliveryStatus,
    attempts: r.int('attempts'),
    lastStatusCode: r.intOrNull('last_status_code'),
    lastError: r.stringOrNull('last_error'),
    deliveredAt: r.dateOrNull('delivered_at'),
    createdAt: r.date('created_at'),
  };
}
