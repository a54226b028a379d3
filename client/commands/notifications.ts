import { InvalidArgumentError, type Command } from 'commander';
import type { NotificationDelivery, NotificationSubscription } from '../../lib/db/store';
import { InvalidNotificationSubscriptionError, notificationsApi, type NotificationsApi } from '../notifications';
import { command, EXIT, ExitError, print, UsageError, type CommandContext } from './context';
import { withIngestionStore } from './events';
import { printList } from './print-list';

/**
 * `durasync notifications add|list|remove|deliveries`: outbound webhook subscriptions and their
 * delivery log, straight in the database (no Temporal connection needed). Bad flags exit 2.
 */

const withNotifications = <T>(ctx: CommandContext, work: (api: NotificationsApi) => Promise<T>): Promise<T> =>
  withIngestionStore(ctx, (store) => work(notificationsApi(() => store)));

function limit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('expected a whole number from 1 to 1000');
  return n;
}

const subscriptionLine = (s: NotificationSubscription) => `${s.id}  ${s.enabled ? 'enabled ' : 'disabled'}  ${s.format.padEnd(5)}  ${s.events.join(',').padEnd(40)}  ${s.url}`;
const deliveryLine = (d: NotificationDelivery) =>
  `${d.createdAt.toISOString()}  ${d.status.padEnd(9)}  ${String(d.attempts).padStart(2)} attempt(s)  ${String(d.lastStatusCode ?? '-').padEnd(3)}  ${d.event.padEnd(22)}  ${d.eventId}  ${d.subscriptionId}${d.lastError ? `  ${d.lastError}` : ''}`;

export function registerNotificationCommands(program: Command): void {
  const notifications = program.command('notifications').description('outbound webhooks when a sync finishes or conflicts, a job is dead-lettered or a branch delta commits');

  notifications
    .command('add')
    .description('subscribe a URL to events (signed with an HMAC-SHA256 secret; a generated one is printed once)')
    .requiredOption('--url <url>', 'http(s) URL the events are POSTed to')
    .requiredOption('--events <list>', 'comma-separated: sync.finished, sync.conflicts, dead_letter, branch.delta_committed')
    .option('--format <format>', 'json (default) or slack (a Slack incoming-webhook body)')
    .option('--secret-env <VAR>', 'read the secret from this environment variable (default: generate one)')
    .action(
      command('notifications add', async (ctx, opts: { url: string; events: string; format?: string; secretEnv?: string }) => {
        let secret: string | undefined;
        if (opts.secretEnv !== undefined) {
          secret = process.env[opts.secretEnv];
          if (!secret) throw new UsageError(`--secret-env: environment variable ${opts.secretEnv} is not set`);
        }
        const added = await withNotifications(ctx, async (api) => {
          try {
            return await api.add({ url: opts.url, events: opts.events.split(','), format: opts.format, secret });
          } catch (err) {
            if (err instanceof InvalidNotificationSubscriptionError) throw new UsageError(`--${err.message}`);
            throw err;
          }
        });
        const generated = opts.secretEnv === undefined;
        print(ctx, { subscription: added.subscription, ...(generated ? { secret: added.secret } : {}) }, () => [
          `added ${subscriptionLine(added.subscription)}`,
          ...(generated ? [`secret (shown once, keep it to verify X-Durasync-Signature-256): ${added.secret}`] : []),
        ]);
      }),
    );

  notifications
    .command('list')
    .description('every subscription (never its secret)')
    .action(
      command('notifications list', async (ctx) => {
        const subscriptions = await withNotifications(ctx, (api) => api.list());
        printList(ctx, 'subscriptions', subscriptions, subscriptionLine, 'no subscriptions');
      }),
    );

  notifications
    .command('remove')
    .description('delete a subscription and its delivery log')
    .argument('<id>')
    .action(
      command('notifications remove', async (ctx, id: string) => {
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new UsageError(`<id>: "${id}" is not a subscription id (a UUID)`);
        const removed = await withNotifications(ctx, (api) => api.remove(id));
        if (!removed) throw new ExitError(`no subscription ${id}`, EXIT.NOT_FOUND);
        print(ctx, { removed: id }, () => [`removed ${id}`]);
      }),
    );

  notifications
    .command('deliveries')
    .description('the delivery log, newest first: status, attempts, last HTTP status')
    .option('--subscription <id>', 'only this subscription\'s deliveries')
    .option('--limit <n>', 'at most this many (default 50)', limit)
    .action(
      command('notifications deliveries', async (ctx, opts: { subscription?: string; limit?: number }) => {
        const deliveries = await withNotifications(ctx, (api) => api.deliveries({ subscriptionId: opts.subscription, limit: opts.limit }));
        printList(ctx, 'deliveries', deliveries, deliveryLine, 'no deliveries');
      }),
    );
}
