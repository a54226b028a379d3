import { randomBytes } from 'node:crypto';
import { NOTIFICATION_EVENTS, type NotificationDelivery, type NotificationEvent, type NotificationFormat, type NotificationSubscription, type Store } from '../lib/db/store';

/**
 * The `notifications` namespace of the client SDK: outbound webhook subscriptions (signed POSTs
 * when a sync finishes or has conflicts, a webhook delivery is dead-lettered, or a branch delta
 * commits) and their delivery log. Needs a database (DATABASE_URL or SUPABASE_URL).
 */

/** A bad argument of add(): `field` names it. */
export class InvalidNotificationSubscriptionError extends Error {
  override readonly name = 'InvalidNotificationSubscriptionError';
  constructor(
    readonly field: 'url' | 'events' | 'format' | 'secret',
    message: string,
  ) {
    super(message);
  }
}

export interface AddNotificationOptions {
  /** http(s) URL the events are POSTed to. */
  url: string;
  /** Which events: sync.finished, sync.conflicts, dead_letter, branch.delta_committed. */
  events: string[];
  /** `json` (default) or `slack` (a Slack incoming-webhook body). */
  format?: string;
  /** The HMAC-SHA256 key, at least 16 characters. Default: 32 random bytes, hex (returned once). */
  secret?: string;
}

export interface NotificationsApi {
  /** Adds a subscription; returns it with its secret, the only time the secret is returned. */
  add(options: AddNotificationOptions): Promise<{ subscription: NotificationSubscription; secret: string }>;
  /** Every subscription, oldest first, without secrets. */
  list(): Promise<NotificationSubscription[]>;
  /** Deletes a subscription and its delivery log; false when there was none. */
  remove(id: string): Promise<boolean>;
  /** The delivery log, newest first (default 50), of one subscription or all. */
  deliveries(options?: { subscriptionId?: string; limit?: number }): Promise<NotificationDelivery[]>;
}

/** Checks add()'s options; InvalidNotificationSubscriptionError names the first bad one. */
export function checkSubscription(options: AddNotificationOptions): { url: string; events: NotificationEvent[]; format: NotificationFormat; secret?: string } {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvalidNotificationSubscriptionError('url', `url: "${options.url}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidNotificationSubscriptionError('url', `url: expected an http(s) URL, got "${options.url}"`);
  const events = [...new Set(options.events.map((e) => e.trim()).filter(Boolean))];
  if (!events.length) throw new InvalidNotificationSubscriptionError('events', `events: name at least one of ${NOTIFICATION_EVENTS.join(', ')}`);
  const unknown = events.find((e) => !(NOTIFICATION_EVENTS as readonly string[]).includes(e));
  if (unknown) throw new InvalidNotificationSubscriptionError('events', `events: unknown event "${unknown}", expected ${NOTIFICATION_EVENTS.join(', ')}`);
  const format = options.format ?? 'json';
  if (format !== 'json' && format !== 'slack') throw new InvalidNotificationSubscriptionError('format', `format: expected json or slack, got "${format}"`);
  if (options.secret !== undefined && options.secret.length < 16) throw new InvalidNotificationSubscriptionError('secret', 'secret: must be at least 16 characters');
  return { url: url.toString(), events: events as NotificationEvent[], format, secret: options.secret };
}

export function notificationsApi(db: () => Store): NotificationsApi {
  return {
    async add(options) {
      const checked = checkSubscription(options);
      const secret = checked.secret ?? randomBytes(32).toString('hex');
      const subscription = await db().createNotificationSubscription({ url: checked.url, events: checked.events, format: checked.format, secret });
      return { subscription, secret };
    },
    list: () => db().listNotificationSubscriptions(),
    remove: (id) => db().deleteNotificationSubscription(id),
    deliveries: (options = {}) => db().listNotificationDeliveries(options),
  };
}
