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

export interface DailyAnalyticsInput {
  /** First day, YYYY-MM-DD (UTC), included. */
  from: string;
  /** Last day, YYYY-MM-DD (UTC), included. */
  to: string;
}

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
  let progress: Progress = { stage: 'validating', message: `validating ${input?.from}..${input?.to}` };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([{ key: DurasyncKind, value: ANALYTICS_KIND }]);

  const chunks = splitRange(input?.from, input?.to);
  if (typeof chunks === 'string') {
    report({ stage: 'failed', message: `invalid range: ${chunks}` });
    throw ApplicationFailure.create({ type: INVALID_RANGE, nonRetryable: true, message: `invalid range: ${chunks}` });
  }
  const days = Math.round(((parseDay(input.to) ?? 0) - (parseDay(input.from) ?? 0)) / DAY_MS) + 1;
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
  return { workflowId, from: input.from, to: input.to, days, chunks: chunks.length, rows };
}
