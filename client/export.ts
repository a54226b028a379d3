import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { taskQueueName } from '../lib/queues';
import { checkExportInput, exportWorkflowId, type ExportEventsInput, type ExportEventsResult, type ExportFormat, type ExportTarget } from '../workflows/ingestion/export-events';
import { DurasyncKind } from '../workflows/search-attributes';
import { toDurasyncError } from './errors';

/**
 * The `export` namespace of the client SDK: exports of stored events (`exportEvents` on the
 * `ingestion` queue) as ndjson or CSV to the object store or a webhook. An input the workflow would
 * refuse is a TypeError naming the field, before anything starts.
 */

type ExportWorkflow = (input: ExportEventsInput) => Promise<ExportEventsResult>;

export type { ExportEventsResult, ExportFormat, ExportTarget } from '../workflows/ingestion/export-events';

export interface ExportEventsOptions {
  /** Events with occurred_at >= from (a Date or an ISO time). */
  from: Date | string;
  /** Events with occurred_at < to. */
  to: Date | string;
  format: ExportFormat;
  /** `{ kind: 'object', key }` (the configured object store) or `{ kind: 'webhook', url }` (no secret in the URL: it is kept in history). */
  target: ExportTarget;
  /** The workflow id is `export:<id>`. Default: a random UUID. */
  id?: string;
  /** Rows per part. Default: 1000 (at most 10,000). */
  chunkSize?: number;
  /** Parts per activity. Default: 10. */
  partsPerActivity?: number;
}

export interface ExportHandle {
  /** `export:<id>`. */
  workflowId: string;
  /** Throws DurasyncWorkflowFailedError. */
  result(): Promise<ExportEventsResult>;
}

export interface ExportApi {
  /** Checks the options and starts an export. */
  events(options: ExportEventsOptions): Promise<ExportHandle>;
  /** events() and its result. */
  run(options: ExportEventsOptions): Promise<ExportEventsResult>;
}

const iso = (value: Date | string): string => (value instanceof Date ? (Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()) : value);

export function exportApi(client: Client, config: DurasyncConfig): ExportApi {
  const taskQueue = taskQueueName('ingestion', config.temporal.taskQueuePrefix);
  const api: ExportApi = {
    async events(options) {
      const input: ExportEventsInput = {
        from: iso(options.from),
        to: iso(options.to),
        format: options.format,
        target: options.target,
        ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
        ...(options.partsPerActivity !== undefined ? { partsPerActivity: options.partsPerActivity } : {}),
      };
      const invalid = checkExportInput(input);
      if (invalid) throw new TypeError(invalid);
      if (options.id !== undefined && !/^[A-Za-z0-9._:-]{1,200}$/.test(options.id)) throw new TypeError(`id: expected 1 to 200 letters, digits or . _ : -, got ${JSON.stringify(options.id)}`);
      const workflowId = exportWorkflowId(options.id ?? randomUUID());
      const where = input.target.kind === 'object' ? `object ${input.target.key}` : 'a webhook';
      try {
        const handle = await client.workflow.start<ExportWorkflow>('exportEvents', {
          workflowId,
          taskQueue,
          args: [input],
          staticSummary: `export ${input.from}..${input.to} as ${input.format} to ${where}`,
          typedSearchAttributes: [{ key: DurasyncKind, value: 'export' }],
        });
        return { workflowId, result: () => handle.result().catch((err: unknown) => Promise.reject(toDurasyncError(err, workflowId))) };
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },
    async run(options) {
      return (await api.events(options)).result();
    },
  };
  return api;
}
