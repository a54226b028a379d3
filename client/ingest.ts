import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import type { IngestCursor, Store, TrackedKeyword } from '../lib/db/store';
import { InvalidSourceConfigError } from '../lib/ingest/source-plugin';
import { SOURCE_IDS, SOURCES, sourcePlugin } from '../lib/ingest/sources';
import { taskQueueName } from '../lib/queues';
import { analyticsWorkflowId, lastDaysRange, splitRange, type DailyAnalyticsInput, type DailyAnalyticsResult } from '../workflows/ingestion/daily-analytics';
import { ingestWorkflowId, type IngestSourceInput, type IngestSourceResult } from '../workflows/ingestion/types';
import { DurasyncKind, DurasyncSource } from '../workflows/search-attributes';
import { toDurasyncError } from './errors';
import { jobScheduleOptions } from './job-schedule';
import type { ScheduleInfo, SchedulesApi } from './schedules';

/**
 * The `ingest`, `keywords` and `analytics` namespaces of the client SDK: pulls of a source's
 * events (`ingestSource`, one file per source in lib/ingest/sources), now or on a schedule; the
 * tracked keywords that enrichment counts; and the daily metrics (`dailyAnalytics`), for a range
 * or on a schedule. A source id or config the plugin refuses is a TypeError naming the field.
 */

type IngestWorkflow = (input: IngestSourceInput) => Promise<IngestSourceResult>;
type AnalyticsWorkflow = (input: DailyAnalyticsInput) => Promise<DailyAnalyticsResult>;

export type { IngestSourceResult } from '../workflows/ingestion/types';
export type { DailyAnalyticsResult } from '../workflows/ingestion/daily-analytics';

export interface IngestStartOptions {
  /** Pull only events at or after this time, whatever the saved cursor says (a backfill). */
  since?: Date;
  /** Pages before the workflow continues as new. Default: the workflow's (50). */
  maxPagesPerRun?: number;
}

/** A pull, started or attached to (a pull of the same scope in progress is attached to, not doubled). */
export interface IngestRunHandle {
  /** `ingest:<source>:<scope>`. */
  workflowId: string;
  scope: string;
  attached: boolean;
  result(): Promise<IngestSourceResult>;
}

export interface IngestScheduleOptions {
  /** Default: `ingest-<source>-<scope>` (`:` and `/` as `-`). */
  scheduleId?: string;
  every?: string;
  cron?: string;
  paused?: boolean;
  note?: string;
}

export interface IngestApi {
  /** The built-in sources: id, what they pull, the queue their pages run on. */
  sources(): Array<{ id: string; about: string; queue: string }>;
  /** Checks a config against its source: its scope, or a TypeError naming what is wrong. */
  scope(source: string, config: Record<string, unknown>): string;
  /** Starts a pull (or attaches to the one of the same scope in progress). */
  start(source: string, config: Record<string, unknown>, options?: IngestStartOptions): Promise<IngestRunHandle>;
  /** start() and its result. Throws DurasyncWorkflowFailedError. */
  run(source: string, config: Record<string, unknown>, options?: IngestStartOptions): Promise<IngestSourceResult>;
  /** A Temporal Schedule pulling the source (overlap SKIP: a pull still running makes the next one wait its turn). */
  schedule(source: string, config: Record<string, unknown>, options: IngestScheduleOptions): Promise<ScheduleInfo>;
  /** Where each pulled feed stopped (needs a database). */
  cursors(source?: string): Promise<IngestCursor[]>;
}

export interface KeywordsApi {
  /** Every tracked keyword, enabled or not. */
  list(): Promise<TrackedKeyword[]>;
  /** Tracks keywords (lower-cased, trimmed) or enables them again. */
  add(keywords: string[]): Promise<TrackedKeyword[]>;
  /** Stops counting a keyword (its past hits stay). */
  disable(keyword: string): Promise<TrackedKeyword>;
}

export interface AnalyticsApi {
  /** Starts dailyAnalytics for from..to (YYYY-MM-DD, UTC, both included), or attaches to the run of that range in progress. */
  backfill(range: { from: string; to: string }): Promise<{ workflowId: string; attached: boolean; result(): Promise<DailyAnalyticsResult> }>;
  /** A Temporal Schedule of dailyAnalytics over the `lastDays` (default 1) whole days before each run. Default id `daily-analytics`, default cron `10 0 * * *`. */
  schedule(options?: { scheduleId?: string; every?: string; cron?: string; lastDays?: number; paused?: boolean; note?: string }): Promise<ScheduleInfo>;
}

/** The longest keyword tracked. */
export const MAX_KEYWORD_LENGTH = 100;

/** A keyword as tracked (trimmed, lower case), or a TypeError saying why it cannot be. */
export function normalizeKeyword(raw: string): string {
  const k = raw.trim().toLowerCase();
  if (k === '' || k.length > MAX_KEYWORD_LENGTH || /[\r\n]/.test(k)) throw new TypeError(`keyword: expected 1 to ${MAX_KEYWORD_LENGTH} characters on one line, got ${JSON.stringify(raw)}`);
  return k;
}

export function ingestApis(client: Client, config: DurasyncConfig, schedules: SchedulesApi, db: () => Store): { ingest: IngestApi; keywords: KeywordsApi; analytics: AnalyticsApi } {
  const taskQueue = taskQueueName('ingestion', config.temporal.taskQueuePrefix);

  function check(source: string, raw: Record<string, unknown>): { config: Record<string, unknown>; scope: string } {
    const plugin = sourcePlugin(source);
    if (!plugin) throw new TypeError(`unknown source "${source}": expected one of ${SOURCE_IDS.join(', ')}`);
    try {
      const parsed = plugin.parseConfig(raw);
      return { config: parsed as Record<string, unknown>, scope: plugin.scope(parsed) };
    } catch (err) {
      if (err instanceof InvalidSourceConfigError) throw new TypeError(err.message);
      throw err;
    }
  }

  const ingest: IngestApi = {
    sources: () => Object.values(SOURCES).map((p) => ({ id: p.id, about: p.about, queue: p.queue })),
    scope: (source, raw) => check(source, raw).scope,
    async start(source, raw, options = {}) {
      const { config: parsed, scope } = check(source, raw);
      if (options.since !== undefined && Number.isNaN(options.since.getTime())) throw new TypeError('since: not a valid date');
      const workflowId = ingestWorkflowId(source, scope);
      const input: IngestSourceInput = { source, config: parsed, ...(options.since ? { since: options.since.toISOString() } : {}), ...(options.maxPagesPerRun ? { maxPagesPerRun: options.maxPagesPerRun } : {}) };
      try {
        let attached = false;
        const handle = await client.workflow
          .start<IngestWorkflow>('ingestSource', { workflowId, taskQueue, args: [input], staticSummary: `pull ${source} ${scope}` })
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
            attached = true;
            return client.workflow.getHandle<IngestWorkflow>(workflowId);
          });
        return {
          workflowId,
          scope,
          attached,
          result: () => handle.result().catch((err: unknown) => Promise.reject(toDurasyncError(err, workflowId))),
        };
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async run(source, raw, options) {
      return (await ingest.start(source, raw, options)).result();
    },
    schedule(source, raw, { scheduleId, ...timing }) {
      const { config: parsed, scope } = check(source, raw);
      const input: IngestSourceInput = { source, config: parsed };
      return schedules.create(
        jobScheduleOptions(
          {
            scheduleId: scheduleId ?? `ingest-${source}-${scope}`.replace(/[:/]/g, '-'),
            workflowType: 'ingestSource',
            args: [input],
            queue: 'ingestion',
            typedSearchAttributes: [{ key: DurasyncKind, value: 'ingest' }, { key: DurasyncSource, value: source }],
          },
          timing,
        ),
      );
    },
    cursors: (source) => db().listIngestCursors(source),
  };

  const keywords: KeywordsApi = {
    list: () => db().listTrackedKeywords(),
    async add(list) {
      const checked = list.map(normalizeKeyword);
      const out: TrackedKeyword[] = [];
      for (const k of checked) out.push(await db().setTrackedKeyword(k, true));
      return out;
    },
    disable: (k) => db().setTrackedKeyword(normalizeKeyword(k), false),
  };

  const analytics: AnalyticsApi = {
    async backfill({ from, to }) {
      const chunks = splitRange(from, to);
      if (typeof chunks === 'string') throw new TypeError(`invalid range: ${chunks}`);
      const workflowId = analyticsWorkflowId(from, to);
      try {
        let attached = false;
        const handle = await client.workflow
          .start<AnalyticsWorkflow>('dailyAnalytics', { workflowId, taskQueue, args: [{ from, to }], staticSummary: `daily metrics ${from}..${to}` })
          .catch((err: unknown) => {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
            attached = true;
            return client.workflow.getHandle<AnalyticsWorkflow>(workflowId);
          });
        return { workflowId, attached, result: () => handle.result().catch((err: unknown) => Promise.reject(toDurasyncError(err, workflowId))) };
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    schedule({ scheduleId = 'daily-analytics', lastDays = 1, ...timing } = {}) {
      const valid = lastDaysRange(lastDays, new Date());
      if (typeof valid === 'string') throw new TypeError(valid);
      return schedules.create(
        jobScheduleOptions(
          { scheduleId, workflowType: 'dailyAnalytics', args: [{ lastDays } satisfies DailyAnalyticsInput], queue: 'ingestion', typedSearchAttributes: [{ key: DurasyncKind, value: 'analytics' }] },
          { ...timing, cron: timing.cron ?? (timing.every === undefined ? '10 0 * * *' : undefined) },
        ),
      );
    },
  };

  return { ingest, keywords, analytics };
}
