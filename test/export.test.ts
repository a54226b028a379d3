import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { createExportActivities, CSV_HEADER, EXPORT_COLUMNS, type ExportChunkInput, type ExportChunkResult } from '../activities/export';

type Chunk = (input: ExportChunkInput) => Promise<ExportChunkResult>;
import { createDurasyncClient } from '../client';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import type { LocalObjectStore } from '../lib/objects';
import type { ExportEventsInput, ExportEventsResult } from '../workflows';
import type { Progress } from '../workflows/progress';
import type { TestDeps } from './helpers/deps';
import { startIngestionHarness, type IngestionHarness } from './helpers/ingestion';
import { runDurasyncSplit } from './helpers/process';

jest.setTimeout(120_000);

/** RFC 4180 rows (CRLF or LF line ends, quoted fields with doubled quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') endField();
    else if (c === '\r' && text[i + 1] === '\n') {
      endField();
      rows.push(row);
      row = [];
      i++;
    } else field += c;
  }
  if (field !== '' || row.length) {
    endField();
    rows.push(row);
  }
  return rows;
}

interface Received {
  part?: string;
  complete?: string;
  exportId?: string;
  contentType?: string;
  status: number;
  body: string;
}

/** exportEvents on a real `ingestion` worker, database, object folder and Temporal server. */
describe('exportEvents', () => {
  let harness: IngestionHarness;
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let taskQueue: string;
  let cliEnv: Record<string, string>;
  let dir: string;
  let objects: LocalObjectStore;
  /** The ids of the events in [FROM, TO), in (occurred_at, id) order. */
  let expected: Array<{ id: string; externalId: string; title: string; occurredAt: string }>;

  const FROM = '2026-03-01T00:00:00Z';
  const TO = '2026-03-02T00:00:00Z';
  const IN_RANGE = 230;

  beforeAll(async () => {
    harness = await startIngestionHarness({ objects: true });
    ({ env, deps, taskQueue, cliEnv } = harness);
    objects = harness.objects!;
    dir = harness.objectsDir!;

    // IN_RANGE events in the range, every 4th sharing its time with the one before (the id breaks
    // the tie), titles that need CSV quoting; and events just outside it on both sides.
    const base = Date.parse(FROM);
    const inputs = Array.from({ length: IN_RANGE }, (_, i) => ({
      source: 'github',
      externalId: `x-${i}`,
      kind: 'issues.opened',
      type: 'issues',
      action: 'opened',
      repository: 'acme/notes',
      title: i % 7 === 0 ? `a "quoted", title\nwith a line break ${i}` : `title ${i}`,
      occurredAt: new Date(base + (i - (i % 4 === 3 ? 1 : 0)) * 60_000 + 123),
      payload: { n: i, nested: { text: 'x,y "z"' } },
    }));
    inputs.push({ ...inputs[0]!, externalId: 'before', occurredAt: new Date(base - 1), title: 'before' });
    inputs.push({ ...inputs[0]!, externalId: 'at-to', occurredAt: new Date(TO), title: 'at to' });
    const refs = await deps.store.upsertEvents(inputs);
    expected = refs
      .map((ref, i) => ({ id: ref.eventId, externalId: ref.externalId, title: inputs[i]!.title, occurredAt: inputs[i]!.occurredAt.toISOString() }))
      .filter((e) => e.externalId.startsWith('x-'))
      .sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });

  afterAll(async () => {
    await harness?.close();
  });

  const start = (input: ExportEventsInput, id = `export:${randomBytes(4).toString('hex')}`) =>
    env.client.workflow.start<(i: ExportEventsInput) => Promise<ExportEventsResult>>('exportEvents', { workflowId: id, taskQueue, args: [input] });

  it('lists the range by keyset, strictly after a cursor, with exact timestamps', async () => {
    const first = await deps.store.listEventsForExport({ from: new Date(FROM), to: new Date(TO), limit: 5 });
    expect(first.map((r) => r.event.id)).toEqual(expected.slice(0, 5).map((e) => e.id));
    expect(first[0]!.cursor.occurredAt).toBe('2026-03-01T00:00:00.123000Z');
    const next = await deps.store.listEventsForExport({ from: new Date(FROM), to: new Date(TO), after: first[4]!.cursor, limit: 5 });
    expect(next.map((r) => r.event.id)).toEqual(expected.slice(5, 10).map((e) => e.id));
  });

  it('exports ndjson to an object in several parts, assembles it and reports its progress', async () => {
    const handle = await start({ from: FROM, to: TO, format: 'ndjson', target: { kind: 'object', key: 'exports/run1.ndjson' }, chunkSize: 40, partsPerActivity: 2 });
    const result = await handle.result();
    expect(result).toMatchObject({ exportId: handle.workflowId, rows: IN_RANGE, parts: 6, format: 'ndjson' });
    const text = await readFile(path.join(dir, 'exports', 'run1.ndjson'), 'utf8');
    expect(result.bytes).toBe(Buffer.byteLength(text));
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.id)).toEqual(expected.map((e) => e.id));
    expect(Object.keys(lines[0]!)).toEqual([...EXPORT_COLUMNS]);
    expect(lines[7]).toMatchObject({ external_id: expected[7]!.externalId, title: expected[7]!.title, repository: 'acme/notes', payload: { nested: { text: 'x,y "z"' } } });
    expect(await readdir(path.join(dir, 'exports'))).toEqual(['run1.ndjson']); // the parts are gone

    const progress = await handle.query<Progress>('progress');
    expect(progress).toMatchObject({ stage: 'done', done: IN_RANGE, total: IN_RANGE });
    expect(progress.message).toMatch(/^exported 230 events in 6 parts \(/);
    const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toBe(progress.message);
    expect((await handle.describe()).searchAttributes).toMatchObject({ DurasyncKind: ['export'], DurasyncStatus: ['exported'] });
  });

  it('exports RFC 4180 CSV with one header, and an empty range as the header alone', async () => {
    const handle = await start({ from: FROM, to: TO, format: 'csv', target: { kind: 'object', key: 'exports/run2.csv' }, chunkSize: 100 });
    expect(await handle.result()).toMatchObject({ rows: IN_RANGE, parts: 3 });
    const rows = parseCsv(await readFile(path.join(dir, 'exports', 'run2.csv'), 'utf8'));
    expect(rows[0]).toEqual([...EXPORT_COLUMNS]);
    expect(rows.length).toBe(IN_RANGE + 1);
    const col = (name: string) => EXPORT_COLUMNS.indexOf(name as (typeof EXPORT_COLUMNS)[number]);
    expect(rows.slice(1).map((r) => r[col('id')])).toEqual(expected.map((e) => e.id));
    expect(rows.slice(1).map((r) => r[col('title')])).toEqual(expected.map((e) => e.title));
    expect(rows[1]![col('type')]).toBe('issues');
    expect(rows[1]![col('actor_identity_id')]).toBe('');
    expect(JSON.parse(rows[1]![col('payload')]!)).toMatchObject({ nested: { text: 'x,y "z"' } });
    expect(rows[1]![col('occurred_at')]).toBe('2026-03-01T00:00:00.123000Z');

    const empty = await start({ from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z', format: 'csv', target: { kind: 'object', key: 'exports/empty.csv' } });
    expect(await empty.result()).toMatchObject({ rows: 0, parts: 0 });
    expect(await readFile(path.join(dir, 'exports', 'empty.csv'), 'utf8')).toBe(CSV_HEADER);
  });

  it('posts parts to a webhook and resumes a failed attempt from its heartbeat without duplicates', async () => {
    const received: Received[] = [];
    let failedOnce = false;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const part = req.headers['x-durasync-export-part'] as string | undefined;
        const status = part === '3' && !failedOnce ? 503 : 200;
        if (status === 503) failedOnce = true;
        received.push({ part, complete: req.headers['x-durasync-export-complete'] as string | undefined, exportId: req.headers['x-durasync-export'] as string | undefined, contentType: req.headers['content-type'], status, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const handle = await start({ from: FROM, to: TO, format: 'ndjson', target: { kind: 'webhook', url }, chunkSize: 50, partsPerActivity: 5 });
      const result = await handle.result();
      expect(result).toMatchObject({ rows: IN_RANGE, parts: 5 });
      // Parts 1 and 2 were heartbeated before part 3 failed: the retry started at part 3.
      expect(received.map((r) => `${r.part ?? 'complete'}:${r.status}`)).toEqual(['1:200', '2:200', '3:503', '3:200', '4:200', '5:200', 'complete:200']);
      const parts = received.filter((r) => r.part && r.status === 200);
      expect(parts.every((r) => r.exportId === handle.workflowId && r.contentType === 'application/x-ndjson')).toBe(true);
      const ids = parts.flatMap((r) => r.body.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id));
      expect(ids).toEqual(expected.map((e) => e.id));
      const complete = received[received.length - 1]!;
      expect(complete.complete).toBe('true');
      expect(JSON.parse(complete.body)).toMatchObject({ exportId: handle.workflowId, rows: IN_RANGE, parts: 5, format: 'ndjson', bytes: result.bytes });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('continues as new with its cursor and totals, and the export is the same', async () => {
    const handle = await start({ from: FROM, to: TO, format: 'ndjson', target: { kind: 'object', key: 'exports/can.ndjson' }, chunkSize: 100, partsPerActivity: 1, activitiesPerRun: 1 });
    const result = await handle.result();
    expect(result).toMatchObject({ exportId: handle.workflowId, rows: IN_RANGE, parts: 3 });
    const text = await readFile(path.join(dir, 'exports', 'can.ndjson'), 'utf8');
    expect(text.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(expected.map((e) => e.id));
    const first = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    if (process.env.DURASYNC_RECORD_HISTORIES) {
      await writeFile(path.join(__dirname, 'histories', 'export-events-continued.json'), historyToJSON(await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory()));
    }
  });

  it('ends a part at maxPartBytes and resumes an attempt from the heartbeat details it is given', async () => {
    // Pages of 30 rows (about 10 KB of ndjson) against a 3000-byte cap: every part is one page.
    const activities = createExportActivities({ store: deps.store, objects, logger: createLogger({ level: 'silent' }), maxPartBytes: 3000, pageRows: 30 });
    const input = { exportId: 'export:mock', from: FROM, to: TO, format: 'ndjson' as const, target: { kind: 'object' as const, key: 'exports/mock.ndjson' }, chunkSize: 100, parts: 2, after: null, totals: { parts: 0, rows: 0, bytes: 0 } };
    const first = new MockActivityEnvironment();
    const beats: unknown[] = [];
    first.on('heartbeat', (d: unknown) => beats.push(d));
    const one = await first.run<[ExportChunkInput], ExportChunkResult, Chunk>(activities.exportEventsChunk, input);
    expect(one).toMatchObject({ done: false, totals: { parts: 2, rows: 60 } });
    expect(beats[beats.length - 1]).toEqual({ cursor: one.cursor, totals: one.totals });

    // An attempt given the heartbeat details of part 2 writes part 3 onwards, from that cursor.
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { cursor: one.cursor, totals: one.totals } });
    const rest = await retry.run<[ExportChunkInput], ExportChunkResult, Chunk>(activities.exportEventsChunk, { ...input, parts: 10 });
    expect(rest).toMatchObject({ done: true, totals: { parts: 8, rows: IN_RANGE } });
    const keys = await objects.list('exports/mock.ndjson.parts/');
    expect(keys).toHaveLength(8);
    const ids: string[] = [];
    for (const key of keys) ids.push(...(await objects.get(key))!.toString('utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id));
    expect(ids).toEqual(expected.map((e) => e.id));
    await objects.delete(keys);
  });

  it('fails a bad input at once with InvalidExport naming the field', async () => {
    const handle = await start({ from: FROM, to: TO, format: 'xml' as 'csv', target: { kind: 'object', key: 'exports/x' } });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidExport');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect((cause as ApplicationFailure).message).toBe('invalid export: format: expected one of ndjson, csv, got "xml"');
  });

  it('client.export refuses a bad range with a TypeError and runs an export under the id given', async () => {
    const client = await createDurasyncClient({ config: loadConfig({ ...process.env, ...cliEnv }), connection: env.connection });
    try {
      await expect(client.export.events({ from: TO, to: FROM, format: 'csv', target: { kind: 'object', key: 'exports/sdk.csv' } })).rejects.toThrow(new TypeError(`from ${TO} is not before to ${FROM}`));
      const id = `sdk-${randomBytes(3).toString('hex')}`;
      const result = await client.export.run({ from: new Date(FROM), to: new Date(TO), format: 'csv', target: { kind: 'object', key: 'exports/sdk.csv' }, id });
      expect(result).toMatchObject({ exportId: `export:${id}`, rows: IN_RANGE, parts: 1, from: '2026-03-01T00:00:00.000Z' });
      expect(parseCsv(await readFile(path.join(dir, 'exports', 'sdk.csv'), 'utf8'))).toHaveLength(IN_RANGE + 1);
    } finally {
      await client.close();
    }
  });

  it('durasync export events: bad flags exit 2, a good run waits and prints the totals', async () => {
    const bad = await runDurasyncSplit(['export', 'events', '--from', FROM, '--to', TO, '--format', 'xml', '--object', 'exports/c.csv'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('durasync export events: --format: expected one of ndjson, csv, got "xml"');
    const neither = await runDurasyncSplit(['export', 'events', '--from', FROM, '--to', TO, '--format', 'csv'], cliEnv);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--object <key> or --url <url> is required/);
    const badTime = await runDurasyncSplit(['export', 'events', '--from', 'yesterday', '--to', TO, '--format', 'csv', '--object', 'exports/c.csv'], cliEnv);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/--from: expected an ISO time/);

    const good = await runDurasyncSplit(['export', 'events', '--from', FROM, '--to', TO, '--format', 'csv', '--object', 'exports/cli.csv', '--chunk-size', '100', '--wait'], cliEnv);
    expect(good.stderr).toMatch(/progress: export:/);
    expect(good.code).toBe(0);
    expect(good.stdout.trim()).toMatch(/^exported 230 events in 3 parts to object exports\/cli\.csv \(\d[\d,]* bytes, csv\)$/);
    expect(parseCsv(await readFile(path.join(dir, 'exports', 'cli.csv'), 'utf8')).length).toBe(IN_RANGE + 1);
  });
});
