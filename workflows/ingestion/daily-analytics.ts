import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { ApplicationFailure, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { IngestionActivities } from '../../activities/ingestion';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind } from '../search-attributes';

/** DurasyncKind of every dailyAnalytics workflow. */
export const ANALYTICS_KIND = 'analytics';
/** The most days one aggregateDailyMetrics activity recomputes. */
export const ANALYTICS_CHUNK_DAYS = 31;
/** The failure type of a range that is not two valid dates with from <= to (non-retryable). */
export const INVALID_RANGE = 'InvalidRange';

/**
 * A fixed range (`from` and `to`), or, for a schedule, `lastDays`: the N whole days (UTC) before
 * the day the run was scheduled for (Temporal's TemporalScheduledStartTime; the run's start time
 * when it was not started by a schedule). `{ lastDays: 2 }` scheduled daily also catches events
 * that arrived late for the day before yesterday.
 */
export type DailyAnalyticsInput = { from: string; to: string } | { lastDays: number };

export interface DailyAnalyticsResult {
  workflowId: string;
  from: string;
  to: string;
  days: number;
  chunks: number;
  /** Metric rows the range has after the run (sum over chunks). */
  rows: number;
}

/** The workflow id of a range: `analytics:<from>:<to>`. */
export const analyticsWorkflowId = (from: string, to: string): string => `analytics:${from}:${to}`;

const DAY_MS = 86_400_000;

/** Milliseconds of a YYYY-MM-DD date at UTC midnight, or null when it is not a real date. */
export function parseDay(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) return null;
  return ms;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The most days `lastDays` may cover. */
export const MAX_LAST_DAYS = 366;

const ScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The `lastDays` whole days before `at`'s day (UTC), or why they cannot be. */
export function lastDaysRange(lastDays: unknown, at: Date): { from: string; to: string } | string {
  if (typeof lastDays !== 'number' || !Number.isInteger(lastDays) || lastDays < 1 || lastDays > MAX_LAST_DAYS) {
    return `lastDays: expected a whole number from 1 to ${MAX_LAST_DAYS}, got ${JSON.stringify(lastDays)}`;
  }
  const today = Math.floor(at.getTime() / DAY_MS) * DAY_MS;
  return { from: day(today - lastDays * DAY_MS), to: day(today - DAY_MS) };
}

/** The input's days: its range, or `lastDays` before the scheduled (or start) time; a string says why not. */
function rangeOf(input: DailyAnalyticsInput | undefined): { from: string; to: string } | string {
  // `in` throws on a string: a garbage input must fail as InvalidRange, not fail the workflow task forever.
  if (input && typeof input === 'object' && 'lastDays' in input) {
    const info = workflowInfo();
    const scheduled = info.typedSearchAttributes.get(ScheduledStartTime);
    return lastDaysRange(input.lastDays, scheduled ?? info.startTime);
  }
  return { from: (input as { from: string } | undefined)?.from as string, to: (input as { to: string } | undefined)?.to as string };
}

/** from..to split into consecutive chunks of at most `size` days, or why the range is invalid. */
export function splitRange(from: string, to: string, size = ANALYTICS_CHUNK_DAYS): { from: string; to: string }[] | string {
  const start = parseDay(from);
  const end = parseDay(to);
  if (start === null) return `from: ${JSON.stringify(from)} is not a date (YYYY-MM-DD)`;
  if (end === null) return `to: ${JSON.stringify(to)} is not a date (YYYY-MM-DD)`;
  if (start > end) return `from ${from} is after to ${to}`;
  const chunks: { from: string; to: string }[] = [];
  for (let first = start; first <= end; first += size * DAY_MS) {
    chunks.push({ from: day(first), to: day(Math.min(first + (size - 1) * DAY_MS, end)) });
  }
  return chunks;
}

/**
 * Recomputes the daily event metrics (daily_metrics: `events`, `events_by_type`) of the days
 * from..to, inclusive, in chunks of 31 days, one aggregateDailyMetrics activity each. Idempotent:
 * re-running a range writes the same rows. A range that is not two valid dates with from <= to
 * fails at once with a non-retryable ApplicationFailure `InvalidRange`.
 */
export async function dailyAnalytics(input: DailyAnalyticsInput): Promise<DailyAnalyticsResult> {
  const { workflowId } = workflowInfo();
  const range = rangeOf(input);
  let progress: Progress = { stage: 'validating', message: typeof range === 'string' ? 'validating' : `validating ${range.from}..${range.to}` };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([{ key: DurasyncKind, value: ANALYTICS_KIND }]);

  const chunks = typeof range === 'string' ? range : splitRange(range.from, range.to);
  if (typeof chunks === 'string') {
    report({ stage: 'failed', message: `invalid range: ${chunks}` });
    throw ApplicationFailure.create({ type: INVALID_RANGE, nonRetryable: true, message: `invalid range: ${chunks}` });
  }
  const { from, to } = range as { from: string; to: string };
  const days = Math.round(((parseDay(to) ?? 0) - (parseDay(from) ?? 0)) / DAY_MS) + 1;
  report({ stage: 'aggregating', done: 0, total: chunks.length, message: `aggregating ${days} day(s) in ${chunks.length} chunk(s)` });

  let rows = 0;
  for (const [i, chunk] of chunks.entries()) {
    const { aggregateDailyMetrics } = proxyActivities<IngestionActivities>({
      startToCloseTimeout: '5m',
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
      summary: `aggregate daily metrics ${chunk.from}..${chunk.to} (${i + 1}/${chunks.length})`,
    });
    rows += (await aggregateDailyMetrics(chunk)).rows;
    report({ stage: 'aggregating', done: i + 1, total: chunks.length, message: `aggregated ${chunk.from}..${chunk.to} (${i + 1}/${chunks.length})` });
  }
  report({ stage: 'done', done: chunks.length, total: chunks.length, message: `**${days} day(s)** aggregated: ${rows} metric row(s) in ${chunks.length} chunk(s)` });
  return { workflowId, from, to, days, chunks: chunks.length, rows };
}
