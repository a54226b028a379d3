import { ApplicationFailure, continueAsNew, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ExportActivities } from '../../activities/export';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncStatus } from '../search-attributes';

/** DurasyncKind of every exportEvents workflow. */
export const EXPORT_KIND = 'export';
/** The failure type of an input that cannot be exported (non-retryable). */
export const INVALID_EXPORT = 'InvalidExport';
/** The formats an export writes: one JSON object per line, or RFC 4180 CSV with a header. */
export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Rows per part unless the input says otherwise, and the most a part may have. */
export const DEFAULT_EXPORT_CHUNK_SIZE = 1000;
export const MAX_EXPORT_CHUNK_SIZE = 10_000;
/** Parts one exportEventsChunk activity writes (heartbeating after each) unless the input says otherwise. */
export const DEFAULT_PARTS_PER_ACTIVITY = 10;
/** Activities before the workflow continues as new unless the input says otherwise. */
export const DEFAULT_ACTIVITIES_PER_RUN = 50;

/**
 * Where the export goes: `object` is the configured object store (DURASYNC_OBJECTS_DIR or Supabase
 * Storage), the file `key` assembled from parts `<key>.parts/<n>`; `webhook` is one POST per part
 * to `url` and a final POST with `X-Durasync-Export-Complete: true`. The URL is kept in workflow
 * history: put no secret in it.
 */
export type ExportTarget = { kind: 'object'; key: string } | { kind: 'webhook'; url: string };

/** Where an export stopped: the last exported event's exact occurred_at (microseconds, UTC) and id. */
export interface ExportCursor {
  occurredAt: string;
  id: string;
}

/** What the export has written so far (carried across continue-as-new). */
export interface ExportTotals {
  /** Parts written (numbered from 1). */
  parts: number;
  rows: number;
  bytes: number;
}

export interface ExportEventsInput {
  /** ISO time: events with occurred_at >= from. */
  from: string;
  /** ISO time: events with occurred_at < to. */
  to: string;
  format: ExportFormat;
  target: ExportTarget;
  /** Rows per part. Default 1000, at most 10,000. */
  chunkSize?: number;
  /** Parts per activity (the activity heartbeats after each). Default 10. */
  partsPerActivity?: number;
  /** Activities before continue-as-new. Default 50. */
  activitiesPerRun?: number;
  /** Set by the workflow when it continues as new. */
  resume?: { cursor: ExportCursor | null; totals: ExportTotals };
}

export interface ExportEventsResult extends ExportTotals {
  exportId: string;
  from: string;
  to: string;
  format: ExportFormat;
  target: ExportTarget;
}

/** A workflow id for an export: `export:<id>`. */
export const exportWorkflowId = (id: string): string => `export:${id}`;

function isIsoTime(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) && !Number.isNaN(Date.parse(value));
}

function wholeIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Why an export input cannot run, one line naming the field; null when it can. Pure: the client checks with it too. */
export function checkExportInput(input: Partial<ExportEventsInput> | undefined): string | null {
  if (!input || typeof input !== 'object') return 'expected an input object { from, to, format, target }';
  if (!isIsoTime(input.from)) return `from: expected an ISO time such as 2026-01-01T00:00:00Z, got ${JSON.stringify(input.from)}`;
  if (!isIsoTime(input.to)) return `to: expected an ISO time such as 2026-02-01T00:00:00Z, got ${JSON.stringify(input.to)}`;
  if (Date.parse(input.from) >= Date.parse(input.to)) return `from ${input.from} is not before to ${input.to}`;
  if (!EXPORT_FORMATS.includes(input.format as ExportFormat)) return `format: expected one of ${EXPORT_FORMATS.join(', ')}, got ${JSON.stringify(input.format)}`;
  const target: ExportTarget | undefined = input.target;
  if (!target || typeof target !== 'object') return 'target: expected { kind: "object", key } or { kind: "webhook", url }';
  if (target.kind === 'object') {
    const key = target.key;
    if (typeof key !== 'string' || key === '' || key.startsWith('/') || key.includes('\\') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      return `target.key: expected a relative object key such as exports/events.ndjson, got ${JSON.stringify(key)}`;
    }
  } else if (target.kind === 'webhook') {
    if (typeof target.url !== 'string' || !/^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(target.url)) return `target.url: expected an http(s) URL, got ${JSON.stringify(target.url)}`;
  } else {
    return `target.kind: expected "object" or "webhook", got ${JSON.stringify((target as { kind?: unknown }).kind)}`;
  }
  if (input.chunkSize !== undefined && !wholeIn(input.chunkSize, 1, MAX_EXPORT_CHUNK_SIZE)) return `chunkSize: expected a whole number from 1 to ${MAX_EXPORT_CHUNK_SIZE}, got ${JSON.stringify(input.chunkSize)}`;
  if (input.partsPerActivity !== undefined && !wholeIn(input.partsPerActivity, 1, 1000)) return `partsPerActivity: expected a whole number from 1 to 1000, got ${JSON.stringify(input.partsPerActivity)}`;
  if (input.activitiesPerRun !== undefined && !wholeIn(input.activitiesPerRun, 1, 10_000)) return `activitiesPerRun: expected a whole number from 1 to 10000, got ${JSON.stringify(input.activitiesPerRun)}`;
  return null;
}

/** 12000 -> `12,000` (Intl-free, deterministic). */
export function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

const summaryOf = (t: ExportTotals) => `exported ${grouped(t.rows)} event${t.rows === 1 ? '' : 's'} in ${t.parts} part${t.parts === 1 ? '' : 's'}`;

/** Activity options: set once; each call adds its own summary for the Web UI. */
const ACTIVITY_OPTIONS = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
} as const;
const activities = (summary: string) => proxyActivities<ExportActivities>({ ...ACTIVITY_OPTIONS, summary });

/**
 * Exports the events with from <= occurred_at < to, in (occurred_at, id) order, as ndjson or CSV,
 * to the object store or a webhook. Each exportEventsChunk activity writes up to `partsPerActivity`
 * parts of `chunkSize` rows, heartbeating after each part, so a retried attempt resumes after the
 * last part it reported; parts are idempotent (same number, same key; webhook receivers get the
 * number to deduplicate). The workflow keeps the cursor and totals, reports progress after every
 * activity, continues as new after `activitiesPerRun`, and finishes with finishExport (object:
 * the parts assembled into `key`, then deleted; webhook: a final POST with the totals).
 */
export async function exportEvents(input: ExportEventsInput): Promise<ExportEventsResult> {
  const { workflowId } = workflowInfo();
  let progress: Progress = { stage: 'validating' };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([{ key: DurasyncKind, value: EXPORT_KIND }]);

  const invalid = checkExportInput(input);
  if (invalid) {
    report({ stage: 'failed', message: `invalid export: ${invalid}` });
    upsertSearchAttributes([{ key: DurasyncStatus, value: 'invalid' }]);
    throw ApplicationFailure.create({ type: INVALID_EXPORT, nonRetryable: true, message: `invalid export: ${invalid}` });
  }
  const { from, to, format, target } = input;
  const chunkSize = input.chunkSize ?? DEFAULT_EXPORT_CHUNK_SIZE;
  const parts = input.partsPerActivity ?? DEFAULT_PARTS_PER_ACTIVITY;
  const perRun = input.activitiesPerRun ?? DEFAULT_ACTIVITIES_PER_RUN;
  let cursor = input.resume?.cursor ?? null;
  const totals: ExportTotals = { ...(input.resume?.totals ?? { parts: 0, rows: 0, bytes: 0 }) };
  const where = target.kind === 'object' ? `object ${target.key}` : 'webhook';

  report({ stage: 'exporting', done: totals.rows, message: `${summaryOf(totals)} (${format} to ${where})` });
  for (let calls = 0; ; calls++) {
    if (calls >= perRun) {
      return continueAsNew<typeof exportEvents>({ ...input, resume: { cursor, totals } });
    }
    const { exportEventsChunk } = activities(`export parts ${totals.parts + 1}..${totals.parts + parts} (${grouped(chunkSize)} events each)`);
    const chunk = await exportEventsChunk({ exportId: workflowId, from, to, format, target, chunkSize, parts, after: cursor, totals });
    cursor = chunk.cursor;
    totals.parts = chunk.totals.parts;
    totals.rows = chunk.totals.rows;
    totals.bytes = chunk.totals.bytes;
    report({ stage: 'exporting', done: totals.rows, message: `${summaryOf(totals)} (${format} to ${where})` });
    if (chunk.done) break;
  }

  report({ stage: 'finishing', done: totals.rows, message: `${summaryOf(totals)}: ${target.kind === 'object' ? `assembling ${target.key}` : 'notifying the webhook'}` });
  const { finishExport } = activities(target.kind === 'object' ? `assemble ${totals.parts} part(s) into ${target.key}` : `notify the webhook: ${totals.parts} part(s) sent`);
  await finishExport({ exportId: workflowId, from, to, format, target, totals });
  report({ stage: 'done', done: totals.rows, total: totals.rows, message: `${summaryOf(totals)} (${grouped(totals.bytes)} bytes, ${format} to ${where})` });
  upsertSearchAttributes([{ key: DurasyncStatus, value: 'exported' }]);
  return { exportId: workflowId, from, to, format, target, ...totals };
}
