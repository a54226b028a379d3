import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from '../logger';
import type { DurasyncMetrics } from '../metrics';
import { DELIVERY_ID, SOURCE_NAME, startWebhookWorkflow, type WebhookStarter } from './start';

/**
 * The Redis Streams bridge: webhook deliveries that arrive through a Redis stream instead of HTTP
 * (a relay, another service) become `processWebhookEvent` workflows, with the same deduplication
 * as the ingress (`webhook:<source>:<delivery>`).
 *
 * Entries (XADD webhook_events * source github delivery <id> event push payload '<json>'):
 * `source` (lower-case name), `delivery` (delivery id), `event` (event type), `payload` (JSON text).
 *
 * It reads with a consumer group (created at the stream's start if missing, MKSTREAM) and XACKs an
 * entry only once its workflow start is durable (an already-started workflow counts). An entry
 * whose start failed stays pending and is tried again once idle; entries left pending by a dead
 * consumer are reclaimed with XAUTOCLAIM after `claimIdleMs`. A malformed entry is acknowledged,
 * logged and counted (durasync_webhook_stream_malformed_total), never retried.
 */
export const DEFAULT_WEBHOOK_GROUP = 'webhook_workers';

export interface RedisStreamBridgeOptions extends WebhookStarter {
  redisUrl: string;
  logger: Logger;
  /** Stream key (DURASYNC_WEBHOOK_STREAM). Default: `webhook_events`. */
  stream?: string;
  /** Consumer group. Default: `webhook_workers`. */
  group?: string;
  /** This consumer's name. Default: `<host>-<pid>-<random>`. */
  consumer?: string;
  /** Reclaim entries pending this long (DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE). Default: 60 s. */
  claimIdleMs?: number;
  /** Entries per read. Default: 100. */
  batchSize?: number;
  /** Longest wait of one blocking read (also how soon stop() is heard). Default: 1 s. */
  blockMs?: number;
  metrics?: Pick<DurasyncMetrics, 'webhookStreamLag' | 'webhookStreamPending' | 'webhookStreamMalformed'>;
}

type Entry = [id: string, fields: string[]];

export interface BridgeCounts {
  /** Entries whose workflow was started, or found running (a redelivery of a running one). */
  started: number;
  /** Entries whose workflow had already closed. */
  duplicates: number;
  malformed: number;
  failed: number;
}

export class RedisStreamBridge {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly counts: BridgeCounts = { started: 0, duplicates: 0, malformed: 0, failed: 0 };
  private readonly redis: Redis;
  private readonly claimIdleMs: number;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly options: RedisStreamBridgeOptions) {
    this.stream = options.stream ?? 'webhook_events';
    this.group = options.group ?? DEFAULT_WEBHOOK_GROUP;
    this.consumer = options.consumer ?? `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.claimIdleMs = options.claimIdleMs ?? 60_000;
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 1000;
    this.redis = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.redis.on('error', (err: Error) => options.logger.warn({ err: { message: err.message } }, 'webhook stream: redis error'));
  }

  /** Connects, creates the group if missing, and runs until stop(). */
  async start(): Promise<void> {
    await this.redis.connect();
    await this.ensureGroup();
    this.options.logger.info({ stream: this.stream, group: this.group, consumer: this.consumer }, 'webhook stream bridge running');
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.redis.disconnect();
  }

  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  private async run(): Promise<void> {
    let lastClaim = 0;
    while (!this.stopped) {
      try {
        // Entries pending with any consumer (a dead one, or this one after a failed start) for claimIdleMs.
        if (Date.now() - lastClaim >= Math.min(this.claimIdleMs, 5000)) {
          lastClaim = Date.now();
          await this.reclaim();
        }
        const read = (await this.redis.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', this.batchSize, 'BLOCK', this.blockMs, 'STREAMS', this.stream, '>')) as Array<[string, Entry[]]> | null;
        const entries = read?.[0]?.[1] ?? [];
        if (entries.length) await this.handle(entries);
        await this.refreshGauges();
      } catch (err) {
        if (this.stopped) break;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) await this.ensureGroup().catch(() => undefined);
        this.options.logger.warn({ err: { message } }, 'webhook stream: read failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** XAUTOCLAIM every entry idle for claimIdleMs, and handles them. */
  async reclaim(): Promise<number> {
    let cursor = '0-0';
    let total = 0;
    do {
      const [next, entries] = (await this.redis.xautoclaim(this.stream, this.group, this.consumer, this.claimIdleMs, cursor, 'COUNT', this.batchSize)) as [string, Array<Entry | null>, string[]?];
      const live = entries.filter((e): e is Entry => Array.isArray(e) && Array.isArray(e[1]));
      if (live.length) {
        this.options.logger.info({ entries: live.length }, 'webhook stream: reclaimed idle pending entries');
        await this.handle(live);
        total += live.length;
      }
      cursor = next;
    } while (cursor !== '0-0' && !this.stopped);
    return total;
  }

  private async handle(entries: Entry[]): Promise<void> {
    const acks: string[] = [];
    await Promise.all(
      entries.map(async ([id, fields]) => {
        if (await this.handleOne(id, fields)) acks.push(id);
      }),
    );
    if (acks.length) await this.redis.xack(this.stream, this.group, ...acks);
  }

  /** True when the entry may be acknowledged: its start is durable, or it is malformed. */
  private async handleOne(id: string, fields: string[]): Promise<boolean> {
    const entry: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    const problem = malformed(entry);
    let payload: unknown;
    if (!problem) {
      try {
        payload = JSON.parse(entry.payload!);
      } catch (err) {
        return this.reject(id, `payload: not JSON (${(err as Error).message})`);
      }
    } else {
      return this.reject(id, problem);
    }
    try {
      const result = await startWebhookWorkflow(this.options, {
        source: entry.source!,
        deliveryId: entry.delivery!,
        event: entry.event!,
        body: Buffer.from(entry.payload!, 'utf8'),
        payload,
        receivedAt: entryTime(id),
      });
      if (result.started) this.counts.started++;
      else this.counts.duplicates++;
      return true;
    } catch (err) {
      this.counts.failed++;
      this.options.logger.warn({ entry: id, source: entry.source, delivery: entry.delivery, err: { message: (err as Error).message } }, 'webhook stream: workflow start failed; the entry stays pending');
      return false;
    }
  }

  private reject(id: string, reason: string): true {
    this.counts.malformed++;
    this.options.metrics?.webhookStreamMalformed.inc({ stream: this.stream });
    this.options.logger.warn({ entry: id, stream: this.stream, reason }, 'webhook stream: malformed entry acknowledged and skipped');
    return true;
  }

  /** Lag and pending of the group (XINFO GROUPS), into the gauges; also returned. */
  async refreshGauges(): Promise<{ lag: number | null; pending: number }> {
    const groups = (await this.redis.xinfo('GROUPS', this.stream)) as unknown[][];
    for (const raw of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) info[String(raw[i])] = raw[i + 1];
      if (info.name !== this.group) continue;
      const lag = info.lag === null || info.lag === undefined ? null : Number(info.lag);
      const pending = Number(info.pending ?? 0);
      const labels = { stream: this.stream, group: this.group };
      if (lag !== null) this.options.metrics?.webhookStreamLag.set(labels, lag);
      this.options.metrics?.webhookStreamPending.set(labels, pending);
      return { lag, pending };
    }
    return { lag: null, pending: 0 };
  }
}

function malformed(entry: Record<string, string>): string | undefined {
  if (!entry.source || !SOURCE_NAME.test(entry.source)) return 'source: missing or not a lower-case name';
  if (!entry.delivery || !DELIVERY_ID.test(entry.delivery)) return 'delivery: missing or not letters, digits and . _ : -';
  if (!entry.event || entry.event.length > 200) return 'event: missing or longer than 200 characters';
  if (entry.payload === undefined) return 'payload: missing';
  return undefined;
}

/** The time Redis gave the entry (its id's milliseconds). */
function entryTime(id: string): Date {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? new Date(ms) : new Date();
}
