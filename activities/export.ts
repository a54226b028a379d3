import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EventExportCursor, Store, StoredEvent } from '../lib/db/store';
import type { Logger } from '../lib/logger';
import { checkObjectKey, InvalidObjectKeyError, type ObjectStore } from '../lib/objects';
import { INVALID_EXPORT, type ExportCursor, type ExportFormat, type ExportTarget, type ExportTotals } from '../workflows/ingestion/export-events';

/** The columns of an export, in order: the CSV header and the keys of each ndjson object. */
export const EXPORT_COLUMNS = ['id', 'source', 'external_id', 'kind', 'type', 'action', 'repository', 'title', 'occurred_at', 'actor_identity_id', 'payload_ref', 'payload'] as const;

/** The CSV header line (CRLF-terminated, RFC 4180). */
export const CSV_HEADER = `${EXPORT_COLUMNS.join(',')}\r\n`;

export const CONTENT_TYPES: Record<ExportFormat, string> = { ndjson: 'application/x-ndjson', csv: 'text/csv; charset=utf-8' };

/** The key of part `n` of an object export: `<key>.parts/000001`. */
export const partKey = (key: string, n: number): string => `${key}.parts/${String(n).padStart(6, '0')}`;

export interface ExportActivityDeps {
  store: Pick<Store, 'listEventsForExport'>;
  /** The configured object store; null when the worker has none (object targets then fail with NotConfigured). */
  objects: ObjectStore | null;
  logger: Logger;
  /** The largest export finishExport assembles into one object (it is held in memory). Default: 512 MiB. */
  maxAssembledBytes?: number;
  /** A part ends at chunkSize rows or once it holds this many bytes (payloads can be large). Default: 64 MiB. */
  maxPartBytes?: number;
  /** Rows read from the database per query while a part is built. Default: 500. */
  pageRows?: number;
  /** One webhook POST's timeout. Default: 30 s. */
  webhookTimeoutMs?: number;
}

export interface ExportChunkInput {
  /** The workflow id: X-Durasync-Export. */
  exportId: string;
  from: string;
  to: string;
  format: ExportFormat;
  target: ExportTarget;
  /** Rows per part. */
  chunkSize: number;
  /** The most parts this activity writes. */
  parts: number;
  /** Export events strictly after this one (null: from the start of the range). */
  after: ExportCursor | null;
  /** What was written before this activity. */
  totals: ExportTotals;
}

/** Where the export stands: heartbeated after every part, and returned. */
export interface ExportState {
  cursor: ExportCursor | null;
  totals: ExportTotals;
}

export interface ExportChunkResult extends ExportState {
  /** The range is exhausted. */
  done: boolean;
}

export interface FinishExportInput {
  exportId: string;
  from: string;
  to: string;
  format: ExportFormat;
  target: ExportTarget;
  totals: ExportTotals;
}

/** RFC 4180: quoted when it holds a quote, comma, CR or LF; quotes doubled; null is empty. */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** An event as the export's columns (occurred_at exact, from the cursor). */
export function exportRow(event: StoredEvent, cursor: EventExportCursor): Record<(typeof EXPORT_COLUMNS)[number], unknown> {
  return {
    id: event.id,
    source: event.source,
    external_id: event.externalId,
    kind: event.kind,
    type: event.type,
    action: event.action,
    repository: event.repository,
    title: event.title,
    occurred_at: cursor.occurredAt,
    actor_identity_id: event.actorIdentityId,
    payload_ref: event.payloadRef,
    payload: event.payload,
  };
}

/** A part's bytes: ndjson lines, or CSV rows (the header first in part 1). */
export function encodePart(rows: Array<{ event: StoredEvent; cursor: EventExportCursor }>, format: ExportFormat, withHeader: boolean): Buffer {
  const lines = rows.map(({ event, cursor }) => {
    const row = exportRow(event, cursor);
    if (format === 'ndjson') return `${JSON.stringify(row)}\n`;
    return `${EXPORT_COLUMNS.map((c) => csvField(c === 'payload' ? JSON.stringify(row.payload ?? null) : (row[c] as string | null))).join(',')}\r\n`;
  });
  return Buffer.from((withHeader && format === 'csv' ? CSV_HEADER : '') + lines.join(''), 'utf8');
}

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: INVALID_EXPORT, nonRetryable: true, message: `invalid export: ${message}` });
}

function isState(value: unknown): value is ExportState {
  const v = value as ExportState | undefined;
  return typeof v === 'object' && v !== null && typeof v.totals === 'object' && v.totals !== null && Number.isInteger(v.totals.parts) && Number.isInteger(v.totals.rows) && Number.isInteger(v.totals.bytes);
}

/** Seconds of a Retry-After header (delta form), capped at 10 minutes. */
function retryAfterMs(header: string | null): number | undefined {
  const s = header === null ? NaN : Number(header);
  return Number.isFinite(s) && s >= 0 ? Math.min(s, 600) * 1000 : undefined;
}

/** The host of a URL, for messages (the path and query may hold a token). */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the webhook';
  }
}

export function createExportActivities(deps: ExportActivityDeps) {
  const maxAssembled = deps.maxAssembledBytes ?? 512 * 1024 * 1024;
  const timeoutMs = deps.webhookTimeoutMs ?? 30_000;
  const maxPartBytes = deps.maxPartBytes ?? 64 * 1024 * 1024;
  const pageRows = deps.pageRows ?? 500;

  function objectsFor(target: ExportTarget & { kind: 'object' }): ObjectStore {
    if (!deps.objects) throw ApplicationFailure.create({ type: 'NotConfigured', nonRetryable: true, message: 'this worker has no object store: set DURASYNC_OBJECTS_DIR or SUPABASE_URL' });
    try {
      checkObjectKey(target.key);
      checkObjectKey(partKey(target.key, 1));
    } catch (err) {
      if (err instanceof InvalidObjectKeyError) throw invalid(`target.key: ${err.message}`);
      throw err;
    }
    return deps.objects;
  }

  /** One POST; 2xx is done, 408/429/5xx and network failures retry, any other status is final. */
  async function post(url: string, body: Buffer, headers: Record<string, string>, what: string): Promise<void> {
    const signal = AbortSignal.any([Context.current().cancellationSignal, AbortSignal.timeout(timeoutMs)]);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', body, headers, signal });
    } catch (err) {
      throw ApplicationFailure.create({ type: 'ExportTargetUnavailable', message: `${what} to ${hostOf(url)} failed: ${(err as Error).message}` });
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    throw ApplicationFailure.create({
      type: retryable ? 'ExportTargetUnavailable' : 'ExportTargetRejected',
      nonRetryable: !retryable,
      message: `${what} to ${hostOf(url)} answered ${res.status}`,
      nextRetryDelay: retryable ? retryAfterMs(res.headers.get('retry-after')) : undefined,
    });
  }

  async function writePart(input: ExportChunkInput, n: number, body: Buffer): Promise<void> {
    const { target } = input;
    if (target.kind === 'object') {
      await objectsFor(target).put(partKey(target.key, n), body, CONTENT_TYPES[input.format]);
    } else {
      await post(target.url, body, { 'Content-Type': CONTENT_TYPES[input.format], 'X-Durasync-Export': input.exportId, 'X-Durasync-Export-Part': String(n) }, `export part ${n}`);
    }
  }

  return {
    /**
     * Writes up to `parts` parts of `chunkSize` events (fewer when a part reaches maxPartBytes) after
     * `after`, heartbeating `{ cursor, totals }` after each. A retried attempt starts from its last
     * heartbeat, so the parts already written are not written again; a part written but not yet
     * reported is rewritten with the same number (and, the range's rows being the same, the same bytes).
     */
    async exportEventsChunk(input: ExportChunkInput): Promise<ExportChunkResult> {
      const ctx = Context.current();
      const from = new Date(input.from);
      const to = new Date(input.to);
      if (input.target.kind === 'object') objectsFor(input.target);
      const details = ctx.info.heartbeatDetails as unknown;
      const resumed = isState(details) && details.totals.parts >= input.totals.parts ? details : null;
      let state: ExportState = resumed ?? { cursor: input.after, totals: { ...input.totals } };
      if (resumed) deps.logger.info({ exportId: input.exportId, attempt: ctx.info.attempt, parts: resumed.totals.parts, rows: resumed.totals.rows }, 'export chunk resumes from its heartbeat');
      const end = input.totals.parts + input.parts;
      while (state.totals.parts < end) {
        // One part: pages of at most pageRows until chunkSize rows or maxPartBytes, or the range ends.
        const n = state.totals.parts + 1;
        const pieces: Buffer[] = [];
        let rows = 0;
        let bytes = 0;
        let cursor = state.cursor;
        let exhausted = false;
        while (rows < input.chunkSize && bytes < maxPartBytes) {
          const limit = Math.min(pageRows, input.chunkSize - rows);
          const page = await deps.store.listEventsForExport({ from, to, after: cursor, limit });
          if (page.length > 0) {
            const piece = encodePart(page, input.format, n === 1 && rows === 0);
            pieces.push(piece);
            rows += page.length;
            bytes += piece.length;
            cursor = page[page.length - 1]!.cursor;
          }
          if (page.length < limit) {
            exhausted = true;
            break;
          }
          ctx.heartbeat(state); // alive; the details still say where the last written part ended
        }
        if (rows === 0) return { ...state, done: true };
        await writePart(input, n, Buffer.concat(pieces));
        state = { cursor, totals: { parts: n, rows: state.totals.rows + rows, bytes: state.totals.bytes + bytes } };
        ctx.heartbeat(state);
        if (exhausted) return { ...state, done: true };
      }
      return { ...state, done: false };
    },

    /**
     * Object target: the parts, in order, assembled into `key` (a CSV export with no rows is its
     * header), then the parts deleted; a retry after the parts were deleted finds `key` complete and
     * is done. Webhook target: a final POST with `X-Durasync-Export-Complete: true` and the totals.
     */
    async finishExport(input: FinishExportInput): Promise<{ bytes: number }> {
      const { target, totals } = input;
      if (target.kind === 'webhook') {
        const body = Buffer.from(JSON.stringify({ exportId: input.exportId, from: input.from, to: input.to, format: input.format, ...totals }));
        await post(target.url, body, { 'Content-Type': 'application/json', 'X-Durasync-Export': input.exportId, 'X-Durasync-Export-Complete': 'true' }, 'export completion');
        return { bytes: totals.bytes };
      }
      const objects = objectsFor(target);
      const expected = totals.parts === 0 && input.format === 'csv' ? Buffer.byteLength(CSV_HEADER) : totals.bytes;
      if (expected > maxAssembled) {
        throw ApplicationFailure.create({ type: 'ExportTooLarge', nonRetryable: true, message: `export of ${totals.bytes} bytes is over the ${maxAssembled} bytes assembled in one object: its ${totals.parts} parts are kept under ${target.key}.parts/` });
      }
      const chunks: Buffer[] = [];
      for (let n = 1; n <= totals.parts; n++) {
        const part = await objects.get(partKey(target.key, n));
        if (part === null) {
          const existing = await objects.get(target.key);
          if (existing && existing.length === expected) return { bytes: expected }; // assembled by an attempt that did not report
          throw ApplicationFailure.create({ type: 'ExportPartMissing', nonRetryable: true, message: `export part ${n} (${partKey(target.key, n)}) is missing` });
        }
        chunks.push(part);
        Context.current().heartbeat(n);
      }
      if (totals.parts === 0 && input.format === 'csv') chunks.push(Buffer.from(CSV_HEADER));
      const body = Buffer.concat(chunks);
      await objects.put(target.key, body, CONTENT_TYPES[input.format]);
      await objects.delete(Array.from({ length: totals.parts }, (_, i) => partKey(target.key, i + 1)));
      deps.logger.info({ exportId: input.exportId, parts: totals.parts, rows: totals.rows, bytes: body.length }, 'export assembled');
      return { bytes: body.length };
    },
  };
}

export type ExportActivities = ReturnType<typeof createExportActivities>;
