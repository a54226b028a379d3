import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import pg from 'pg';
import { startIngressServer } from '../../client/ingress';
import { ChangeInputError } from '../../lib/branches/changes';
import { createChangeIntake, type ChangeIntake } from '../../lib/branches/intake';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import type { RunningServer } from '../../lib/http';
import { createLogger, type Logger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { LocalObjectStore } from '../../lib/objects';
import { signBody } from '../../lib/webhooks/signature';
import { JobBridge } from '../../workers/job-bridge';
import { createQueueWorker } from '../../workers/process';
import type { Change } from '../../workflows';
import { openTestDeps, type TestDeps } from '../helpers/deps';
import { runDurasyncSplit } from '../helpers/process';
import { connectTestEnv, testWorkflowBundle } from '../helpers/temporal';
import { recordResult } from './results';

/**
 * Hostile-input properties shared by the fast subset (test/fuzz.test.ts) and the reliability
 * suite (test/reliability/fuzz.reliability.ts): each takes its number of runs and returns counts,
 * and throws (via fast-check) with the shrunk counterexample on the first input the product
 * mishandles.
 */
export interface PropertyCounts {
  runs: number;
  cases: number;
  failuresFound: number;
  [key: string]: number;
}

export interface FuzzResult {
  scenario: string;
  scale: string;
  injected: string[];
  checked: string[];
  counts: Record<string, number>;
  durationMs: number;
  date: string;
}

const TITLES: Record<string, string> = {
  'fuzz-config': 'Hostile input: configuration values (loadConfig)',
  'fuzz-webhooks': 'Hostile input: webhook ingress',
  'fuzz-branch-changes': 'Hostile input: branch change batches',
  'fuzz-workflow-inputs': 'Hostile input: workflow inputs started directly',
  'fuzz-job-payloads': 'Hostile input: job payloads through the job bridge',
  'fuzz-cli': 'Hostile input: CLI flags',
  'fuzz-cli-env': 'Hostile input: CLI environment values',
  secrets: 'Secrets: histories, log lines and CLI output searched for every secret',
  'secrets-config-errors': 'Secrets: malformed keys are refused without being echoed',
};

/** Writes one result (`<scenario>.<scale>.json` in RELIABILITY_RESULTS_DIR) through results.ts, for report.ts. */
export function writeFuzzResult(result: FuzzResult): string {
  return recordResult({ ...result, title: TITLES[result.scenario] ?? result.scenario, scale: result.scale === 'ci' ? 'ci' : 'full' });
}

/** Strings a hostile client sends: control characters, unicode, prototype keys, huge-ish, injections. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', '', ' ', '\n', '\u0000', '../../etc/passwd', "'; drop table x; --", '${jndi:x}', 'NaN', 'Infinity', '-1', '1e309', '0x10', '%00', '\ud800', '😀'.repeat(50)),
  fc.string({ minLength: 300, maxLength: 2000 }),
);

/** Any JSON-ish value, nested, with prototype-pollution keys among the object keys. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** One line, no stack trace. */
export function isOneLine(text: string): boolean {
  return text.trim() !== '' && !text.trim().includes('\n') && !/\n\s+at /.test(text);
}

// ---------------------------------------------------------------------------------------------
// Configuration: every bad value of every variable is a one-line ConfigError naming it.

/** The variables of lib/config.ts with hostile values worth trying (the rest take any string). */
export const CONFIG_VARIABLES = [
  'DURASYNC_BRANCH_COMPACT_EVERY', 'DURASYNC_BRANCH_CONCURRENCY', 'DURASYNC_BRANCH_FLUSH_CHANGES', 'DURASYNC_BRANCH_FLUSH_INTERVAL',
  'DURASYNC_BRANCH_MAX_BATCH_BYTES', 'DURASYNC_BRANCH_MAX_BATCH_CHANGES', 'DURASYNC_BRANCH_MAX_BODY', 'DURASYNC_CODEC_CORS_ORIGINS',
  'DURASYNC_DB_POOL_MAX', 'DURASYNC_DEV_TEMPORAL', 'DURASYNC_DEV_UI_PORT', 'DURASYNC_EMBEDDED_PG_PORT', 'DURASYNC_ENCRYPTION_KEY',
  'DURASYNC_INGRESS_HOST', 'DURASYNC_INGRESS_PORT', 'DURASYNC_JOB_BATCH', 'DURASYNC_JOB_BRIDGE', 'DURASYNC_JOB_LEASE', 'DURASYNC_JOB_POLL_INTERVAL',
  'DURASYNC_LOG_LEVEL', 'DURASYNC_MANAGER_MAX_RESTARTS', 'DURASYNC_MANAGER_PROCESSES', 'DURASYNC_MANAGER_RESTART_BACKOFF', 'DURASYNC_MANAGER_RESTART_WINDOW',
  'DURASYNC_MAX_CONCURRENT_ACTIVITIES', 'DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS', 'DURASYNC_OPS_HOST', 'DURASYNC_OPS_PORT', 'DURASYNC_PRIORITY_BULK',
  'DURASYNC_PRIORITY_URGENT', 'DURASYNC_QUEUES', 'DURASYNC_QUEUE_RATES', 'DURASYNC_SETTINGS_TTL', 'DURASYNC_SHUTDOWN_GRACE', 'DURASYNC_TAIL',
  'DURASYNC_TAIL_PAGE', 'DURASYNC_TAIL_POLL_INTERVAL', 'DURASYNC_TASK_QUEUE_PREFIX', 'DURASYNC_TOKEN_KEY', 'DURASYNC_TOKEN_REFRESH_MARGIN',
  'DURASYNC_TUNER', 'DURASYNC_TUNER_TARGET_CPU', 'DURASYNC_TUNER_TARGET_MEM', 'DURASYNC_URGENT_WEBHOOK_EVENTS', 'DURASYNC_VERSIONING_BEHAVIOR',
  'DURASYNC_WEBHOOK_MAX_BODY', 'DURASYNC_WEBHOOK_SOURCES', 'DURASYNC_WEBHOOK_STREAM', 'DURASYNC_WEBHOOK_STREAM_BRIDGE', 'DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE',
  'DURASYNC_WORKER_MODE', 'DURASYNC_WORKER_VERSIONING', 'DATABASE_URL', 'REDIS_URL', 'SUPABASE_URL', 'TEMPORAL_ADDRESS', 'GITHUB_API_URL', 'GOOGLE_TOKEN_URL',
] as const;

const configValue: fc.Arbitrary<string> = fc.oneof(
  hostileString,
  fc.constantFrom('0', '-5', '1.5', '99999999999', '1e3', '10x', '5m', '-1s', '1 GB', '0b', 'true', 'yes', 'off', 'sync,nope', 'sync=abc', 'a=1=2', 'http://', 'postgres://x', '::1:99999', 'localhost:0', 'nope:70000'),
  fc.integer().map(String),
);

/**
 * loadConfig with one or two variables set to hostile values: it loads, or it throws a ConfigError
 * whose one-line message names a variable it was given. Any other exception fails the property.
 */
export function fuzzConfig(numRuns: number): PropertyCounts {
  let cases = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...CONFIG_VARIABLES), configValue), { minLength: 1, maxLength: 2 }), (pairs) => {
      cases++;
      const env: Record<string, string> = Object.fromEntries(pairs);
      try {
        loadConfig(env);
        return true;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`loadConfig(${JSON.stringify(env)}) threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
        rejected++;
        // The one line names the variable (a derived one such as a source's secret variable is named too).
        const named = Object.keys(env).some((name) => err.message.includes(name)) || /^[A-Z][A-Z0-9_]+/.test(err.variable);
        return isOneLine(err.message) && named && err.message.startsWith(err.variable);
      }
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, rejected, accepted: cases - rejected };
}

// ---------------------------------------------------------------------------------------------
// Webhook ingress.

/** Answers the webhook routes may give a hostile request (415: a form-encoded body, 405: a method the route has not). */
export const WEBHOOK_STATUSES = [202, 400, 401, 404, 405, 413, 415, 503];

export interface WebhookTarget {
  url: string;
  githubSecret: string;
  /** A custom source `name` with its secret and headers. */
  source: { name: string; secret: string; signatureHeader: string; deliveryHeader: string; eventHeader: string };
  maxBodyBytes: number;
  /** Appended to the valid delivery ids this target is sent, unique per stack. */
  deliveryTag: string;
}

interface HostileRequest {
  route: string;
  method: string;
  body: Buffer;
  headers: Record<string, string>;
}

const rarely = fc.constantFrom(false, false, false, false, false, false, false, true);

function hostileWebhookRequest(target: WebhookTarget): fc.Arbitrary<HostileRequest> {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    hostileJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.integer({ min: 1, max: 2000 }).map((depth) => Buffer.from('['.repeat(depth) + ']'.repeat(depth))),
    fc.integer({ min: 1, max: 2000 }).map((depth) => Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))),
    fc.integer({ min: -64, max: 64 }).map((d) => Buffer.from(JSON.stringify({ s: 'x'.repeat(Math.max(0, target.maxBodyBytes - 8 + d)) }))),
    fc.constantFrom('', '{"a":', 'null', '[]', '"str"', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}').map((s) => Buffer.from(s)),
  );
  // Weighted so that about one request in ten gets past every check and starts a workflow.
  // Valid ids carry the target's tag: suites share one Temporal server but not a database, and a
  // pinned seed draws the same ids in each, so an untagged id would find another suite's workflow.
  const deliveryId = fc.oneof(
    { weight: 6, arbitrary: fc.uuid().map((id) => `${id}.${target.deliveryTag}`) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.constantFrom('délivery-ü', '💥', 'a'.repeat(201), `ok-id.1:2_3.${target.deliveryTag}`) },
  );
  const event = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('push', 'issues', 'ping') }, { weight: 1, arbitrary: hostileString }, { weight: 1, arbitrary: fc.constant('e'.repeat(5000)) });
  const sigMode = fc.oneof({ weight: 7, arbitrary: fc.constant('valid') }, { weight: 3, arbitrary: fc.constantFrom('missing', 'garbage', 'wrong-alg', 'sha1', 'duplicated', 'other-secret', 'bare-hex') });
  const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1', '\u00e9/\u00e9');
  const route = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('/webhooks/github', `/webhooks/${target.source.name}`) },
    { weight: 1, arbitrary: fc.constantFrom('/webhooks/nope', '/webhooks/', '/webhooks/%2e%2e', '/webhooks/__proto__', '/webhooks/constructor', '/webhooks/github/extra', '/webhooks/' + 'x'.repeat(3000)) },
  );
  return fc
    .record({ route, method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'POST', 'PUT', 'GET'), body, deliveryId, event, sigMode, contentType, dropDelivery: rarely, dropEvent: rarely })
    .map((r) => {
      const custom = r.route === `/webhooks/${target.source.name}`;
      const secret = custom ? target.source.secret : target.githubSecret;
      const names = custom
        ? { sig: target.source.signatureHeader, delivery: target.source.deliveryHeader, event: target.source.eventHeader }
        : { sig: 'x-hub-signature-256', delivery: 'x-github-delivery', event: 'x-github-event' };
      const body = r.method === 'GET' ? Buffer.alloc(0) : r.body;
      const valid = signBody(secret, body);
      const headers: Record<string, string> = {};
      if (r.contentType) headers['content-type'] = r.contentType;
      const sig: Record<string, string | undefined> = {
        valid,
        missing: undefined,
        garbage: 'sha256=zz' + 'q'.repeat(62),
        'wrong-alg': 'sha512=' + valid.slice(7),
        sha1: 'sha1=' + valid.slice(7, 47),
        duplicated: `${valid}, ${valid}`,
        'other-secret': signBody('not-' + secret, body),
        'bare-hex': valid.slice(7),
      };
      if (sig[r.sigMode] !== undefined) headers[names.sig] = sig[r.sigMode]!;
      // Header values must be ByteStrings for fetch: non-latin1 text goes over as its UTF-8 bytes.
      if (!r.dropDelivery) headers[names.delivery] = toLatin1(r.deliveryId);
      if (!r.dropEvent) headers[names.event] = toLatin1(r.event);
      return { route: r.route, method: r.method, body, headers };
    });
}

function toLatin1(value: string): string {
  // HTTP clients refuse control characters in header values: those go over as '?'.
  return Buffer.from(value.replace(/[\x00-\x1f\x7f]/g, '?'), 'utf8').toString('latin1');
}

async function send(url: string, request: HostileRequest): Promise<{ status: number; text: string }> {
  const init: RequestInit = { method: request.method, headers: request.headers };
  if (request.method !== 'GET') init.body = request.body;
  const res = await fetch(url + request.route, init);
  return { status: res.status, text: await res.text() };
}

export interface WebhookFuzzCounts extends PropertyCounts {
  accepted: number;
}

/**
 * Hostile requests to the webhook routes: every answer is one of WEBHOOK_STATUSES with a one-line
 * JSON `{ error }` (or `{ workflowId, runId }` for a 202), the server answers /health/live after
 * each, and every 202's workflow exists. Returns the accepted workflow ids in `acceptedIds`.
 */
export async function fuzzWebhooks(target: WebhookTarget, client: Client, numRuns: number, acceptedIds: string[] = []): Promise<WebhookFuzzCounts> {
  let cases = 0;
  const byStatus: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(hostileWebhookRequest(target), async (request) => {
      cases++;
      const { status, text } = await send(target.url, request);
      byStatus[`status${status}`] = (byStatus[`status${status}`] ?? 0) + 1;
      if (!WEBHOOK_STATUSES.includes(status)) throw new Error(`answered ${status}: ${text.slice(0, 300)}`);
      if (!isOneLine(text)) throw new Error(`answer is not one line: ${text.slice(0, 300)}`);
      const answer = JSON.parse(text) as { error?: string; workflowId?: string };
      if (status === 202) {
        if (!answer.workflowId) throw new Error(`202 without a workflow id: ${text}`);
        await client.workflow.getHandle(answer.workflowId).describe();
        acceptedIds.push(answer.workflowId);
      } else if (typeof answer.error !== 'string' || answer.error === 'internal error') {
        throw new Error(`${status} without a clear error: ${text.slice(0, 300)}`);
      }
      const live = await fetch(`${target.url}/health/live`);
      if (live.status !== 200) throw new Error('the ingress stopped answering /health/live');
      return true;
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, accepted: acceptedIds.length, ...byStatus };
}

// ---------------------------------------------------------------------------------------------
// Branch change batches.

const pollutedDoc: fc.Arbitrary<unknown> = fc.constantFrom(
  JSON.parse('{"__proto__":{"polluted":true},"title":"x"}') as unknown,
  JSON.parse('{"constructor":{"prototype":{"polluted":true}}}') as unknown,
  { title: 'ok' },
);
/** A document: small, polluted, hostile, or large (up to 64 KB). */
const doc: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), hostileJson, { maxKeys: 3 }) },
  { weight: 2, arbitrary: pollutedDoc },
  { weight: 1, arbitrary: hostileJson },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((kb) => ({ body: 'x'.repeat(kb * 1024) })) },
);
const validTs = fc.oneof(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()), fc.integer({ min: 0, max: 4e12 }));
const hostileTs = fc.oneof(fc.constantFrom('NaN', 'not a time', '', 'Infinity', '2026-13-45', '9999999-01-01'), fc.constant(Number.NaN), fc.double(), fc.constant(null));
/** A change: usually well-formed (so batches get accepted), else with a hostile op, id, timestamp or document. */
const hostileChange: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ collection: fc.constantFrom('notes', 'tags'), documentId: fc.oneof(fc.uuid(), fc.constantFrom('__proto__', 'constructor', 'd'.repeat(1000), 'ü-😀')), op: fc.constantFrom('insert', 'update', 'delete'), ts: validTs, after: doc, patch: doc }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        op: fc.oneof(fc.constantFrom('insert', 'update', 'delete', 'upsert', '__proto__'), hostileString),
        documentId: fc.oneof(fc.uuid(), hostileString, fc.integer()),
        collection: fc.oneof(fc.constant('notes'), hostileString, fc.constant(null)),
        ts: fc.oneof(validTs, hostileTs),
        after: doc,
        before: doc,
        patch: doc,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: hostileJson },
);

/** A request body for POST /branches/:id/changes: a JSON array, NDJSON, or garbage. */
export const hostileChangeBody: fc.Arbitrary<{ body: string; contentType: string }> = fc.oneof(
  fc.array(hostileChange, { maxLength: 3 }).map((a) => ({ body: JSON.stringify(a), contentType: 'application/json' })),
  fc.array(hostileChange, { minLength: 1, maxLength: 3 }).map((a) => ({ body: a.map((c) => JSON.stringify(c) ?? 'undefined').join('\n'), contentType: 'application/x-ndjson' })),
  fc.tuple(hostileString, fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', '')).map(([body, contentType]) => ({ body, contentType })),
);

/**
 * Hostile batches to POST /branches/:branchId/changes (and to a bad branch id now and then):
 * 202/400/404/413 only, a one-line JSON error, and every 202's `accepted` counted; the caller
 * compares the total with the durable intake.
 */
export async function fuzzBranchChanges(url: string, branchId: string, numRuns: number): Promise<PropertyCounts & { acceptedChanges: number; acceptedBatches: number }> {
  let cases = 0;
  let acceptedChanges = 0;
  let acceptedBatches = 0;
  const byStatus: Record<string, number> = {};
  const badIds = fc.oneof({ weight: 8, arbitrary: fc.constant(branchId) }, { weight: 2, arbitrary: fc.constantFrom(randomUUID(), 'not-a-uuid', '__proto__', '%00', '..', 'x'.repeat(2000)) });
  await fc.assert(
    fc.asyncProperty(hostileChangeBody, badIds, async ({ body, contentType }, id) => {
      cases++;
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
      const res = await fetch(`${url}/branches/${encodeURIComponent(id)}/changes`, { method: 'POST', body, headers });
      const text = await res.text();
      byStatus[`status${res.status}`] = (byStatus[`status${res.status}`] ?? 0) + 1;
      if (![202, 400, 404, 413].includes(res.status)) throw new Error(`answered ${res.status} to ${body.slice(0, 200)}: ${text.slice(0, 300)}`);
      if (!isOneLine(text)) throw new Error(`answer is not one line: ${text.slice(0, 300)}`);
      const answer = JSON.parse(text) as { error?: string; accepted?: number };
      if (res.status === 202) {
        if (id !== branchId || typeof answer.accepted !== 'number' || answer.accepted < 1) throw new Error(`unexpected 202: ${text}`);
        acceptedChanges += answer.accepted;
        acceptedBatches++;
      } else if (typeof answer.error !== 'string' || answer.error === 'internal error') {
        throw new Error(`${res.status} without a clear error: ${text.slice(0, 300)}`);
      }
      if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype was polluted');
      return true;
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, acceptedChanges, acceptedBatches, ...byStatus };
}

// ---------------------------------------------------------------------------------------------
// Workflow inputs started directly.

/** The ApplicationFailure type in an error's cause chain (WorkflowFailedError -> ActivityFailure -> ApplicationFailure). */
export function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err, i = 0; e && i < 10; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof ApplicationFailure && e.type) return e;
  }
  return undefined;
}

export const WORKFLOW_GARBAGE: Record<string, { type: string; input: fc.Arbitrary<unknown> }> = {
  processWebhookEvent: {
    type: 'InvalidEvent',
    input: fc.oneof(
      fc.constantFrom(null, 0, 'x', [], {}, true),
      fc.record({ source: fc.oneof(fc.integer(), fc.constant(''), fc.constant(null)), deliveryId: hostileJson, event: hostileJson, receivedAt: hostileJson }),
      fc.record({ source: fc.constant('github'), deliveryId: fc.oneof(fc.integer(), fc.constant(''), fc.constant(null)), event: fc.constant('push'), receivedAt: fc.constant('nope') }),
    ),
  },
  ingestSource: {
    type: 'InvalidSource',
    input: fc.oneof(
      fc.constantFrom(null, 0, 'x', [], {}),
      fc.record({ source: fc.oneof(fc.constant('no-such-source'), fc.integer(), fc.constant('')), config: hostileJson }),
      fc.record({ source: fc.constant('github'), config: fc.oneof(fc.constant(null), fc.constant({}), fc.constant({ repo: '../x' }), fc.constant({ unknown: 1 }), fc.integer()) }),
    ),
  },
  dailyAnalytics: {
    type: 'InvalidRange',
    input: fc.oneof(
      fc.constantFrom(null, 0, 'x', [], {}),
      fc.record({ from: hostileString, to: hostileString }),
      fc.constant({ from: '2026-02-01', to: '2026-01-01' }),
      fc.record({ lastDays: fc.oneof(fc.constant(-1), fc.constant(0), fc.constant(Number.NaN), fc.constant('7'), fc.constant(1e9), fc.double({ min: 0.1, max: 0.9 })) }),
    ),
  },
  exportEvents: {
    type: 'InvalidExport',
    input: fc.oneof(
      fc.constantFrom(null, 0, 'x', [], {}),
      fc.record({ from: hostileString, to: hostileString, format: hostileString, target: hostileJson }),
      fc.record({
        from: fc.constant('2026-01-01T00:00:00Z'),
        to: fc.constant('2026-02-01T00:00:00Z'),
        format: fc.constant('ndjson'),
        target: fc.oneof(fc.constant({ kind: 'object', key: '../escape' }), fc.constant({ kind: 'object', key: '/abs' }), fc.constant({ kind: 'webhook', url: 'file:///etc/passwd' }), fc.constant({ kind: 'ftp' })),
      }),
    ),
  },
};

/**
 * Starts each workflow type with garbage input on `taskQueue` (a worker must poll it): each run
 * fails within `timeoutMs` with a non-retryable ApplicationFailure of the expected type.
 */
export async function fuzzWorkflowInputs(client: Client, taskQueue: string, numRuns: number, timeoutMs = 20_000): Promise<Record<string, PropertyCounts>> {
  const counts: Record<string, PropertyCounts> = {};
  for (const [workflowType, { type, input }] of Object.entries(WORKFLOW_GARBAGE)) {
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(input, async (garbage) => {
        cases++;
        const workflowId = `fuzz-${workflowType}-${randomUUID()}`;
        const handle = await client.workflow.start(workflowType, { taskQueue, workflowId, args: [garbage], workflowExecutionTimeout: timeoutMs * 3 });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${workflowType}(${JSON.stringify(garbage)?.slice(0, 200)}) still running after ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          await Promise.race([handle.result(), timeout]);
        } catch (err) {
          const failure = applicationFailureOf(err);
          if (failure?.type === type && failure.nonRetryable && isOneLine(failure.message)) return true;
          await handle.terminate('fuzz: unexpected outcome').catch(() => undefined);
          throw new Error(`${workflowType}(${JSON.stringify(garbage)?.slice(0, 200)}): expected ${type}, got ${failure?.type ?? (err as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
        throw new Error(`${workflowType}(${JSON.stringify(garbage)?.slice(0, 200)}) completed`);
      }),
      // The inputs that are not objects at all, always tried first.
      { numRuns, examples: [[null], [0], ['x'], [[]], [{}]] },
    );
    counts[workflowType] = { runs: numRuns, cases, failuresFound: 0 };
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// CLI arguments.

/** Commands with their flags: fuzzed values go to one flag, the rest stays valid-looking. */
export const CLI_COMMANDS: Array<{ args: string[]; flags: string[] }> = [
  { args: ['schedule', 'create', 'fuzz-schedule'], flags: ['--every', '--cron', '--link', '--kind'] },
  { args: ['ingest', 'run'], flags: ['--config', '--since', '--source'] },
  { args: ['settings', 'set', 'fuzz.key', '1'], flags: ['--scope', '--ttl'] },
  { args: ['export', 'events'], flags: ['--from', '--to', '--format', '--key', '--url'] },
  { args: ['branches', 'create'], flags: ['--name'] },
  { args: ['changes', 'push'], flags: ['--branch', '--file'] },
  { args: ['sync'], flags: ['--direction', '--link'] },
];

const COMMANDER_HINT = /^\((Did you mean .*\?|run with --help for usage)\)$/;

export const cliCase: fc.Arbitrary<string[]> = fc
  .tuple(fc.constantFrom(...CLI_COMMANDS), fc.nat(), fc.oneof(hostileString, fc.constantFrom('-1', '0', 'NaN', '1e999', '--', '-x', '{"a":', '[]', 'yesterday', '9999-99-99')), fc.boolean())
  .map(([command, i, value, extra]) => [...command.args, command.flags[i % command.flags.length]!, value.replace(/\0/g, ''), ...(extra ? ['--no-such-flag'] : [])]);

/**
 * Runs `durasync <fuzzed args>`: exit 0, 1 or 2, and on failure stderr is exactly one line with
 * no stack trace. `env` points the CLI at the suite's Temporal/Postgres; `stderrSink` collects
 * what it wrote (for the secrets search).
 */
export async function fuzzCli(numRuns: number, env: Record<string, string>, stderrSink: string[] = []): Promise<PropertyCounts & { exit2: number; exit1: number; exit0: number }> {
  let cases = 0;
  const exits = { exit0: 0, exit1: 0, exit2: 0 };
  await fc.assert(
    fc.asyncProperty(cliCase, async (args) => {
      cases++;
      const { code, stderr } = await runDurasyncSplit(args, { DURASYNC_LOG_LEVEL: 'warn', ...env });
      stderrSink.push(stderr);
      if (code !== 0 && code !== 1 && code !== 2) throw new Error(`durasync ${JSON.stringify(args)} exited ${code}: ${stderr.slice(0, 500)}`);
      exits[`exit${code}`]++;
      // commander's hints ("(Did you mean --link?)", "(run with --help for usage)") may follow the one error line.
      const error = stderr.split('\n').filter((line) => line.trim() !== '' && !COMMANDER_HINT.test(line.trim())).join('\n');
      if (code !== 0 && !isOneLine(error)) throw new Error(`durasync ${JSON.stringify(args)} exited ${code} with stderr: ${stderr.slice(0, 500)}`);
      return true;
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, ...exits };
}

/** The forms a secret could leak in: as is, base64 (standard and url), URL-encoded. */
export function secretForms(secret: string): string[] {
  return [...new Set([secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), encodeURIComponent(secret)])];
}

// ---------------------------------------------------------------------------------------------
// The stack under test: an ingestion worker, an ingress with webhooks and the branch change feed.

export interface FuzzStack {
  env: TestWorkflowEnvironment;
  deps: TestDeps;
  config: DurasyncConfig;
  /** The ingestion task queue the webhooks start on and the worker polls. */
  taskQueue: string;
  taskQueuePrefix: string;
  /** The sync task queue a second worker polls (job bridge workflows). */
  syncTaskQueue: string;
  logger: Logger;
  ingress: RunningServer;
  target: WebhookTarget;
  branchId: string;
  intake: ChangeIntake;
  /** Every log line the worker, the intake and the ingress wrote (pino JSON, at `info`). */
  logs: string[];
  /** Every secret the stack was given. */
  secrets: string[];
  /** Environment for a `durasync` CLI child on this stack's database, queues and secrets. */
  cliEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function startFuzzStack(options: { maxBodyBytes?: number } = {}): Promise<FuzzStack> {
  const env = await connectTestEnv();
  const deps = await openTestDeps();
  const objectsDir = await mkdtemp(path.join(os.tmpdir(), 'durasync-fuzz-'));
  const taskQueuePrefix = `fz${randomBytes(4).toString('hex')}-`;
  const githubSecret = `gh-whsec-${randomBytes(12).toString('hex')}`;
  const source = { name: 'acme', secret: `acme-whsec-${randomBytes(12).toString('hex')}`, signatureHeader: 'x-acme-signature', deliveryHeader: 'x-acme-delivery', eventHeader: 'x-acme-event' };
  const secretEnv: Record<string, string> = {
    GITHUB_WEBHOOK_SECRET: githubSecret,
    ACME_SECRET: source.secret,
    GITHUB_TOKEN: `ghp_${randomBytes(18).toString('hex')}`,
    GOOGLE_CLIENT_SECRET: `GOCSPX-${randomBytes(12).toString('hex')}`,
    DURASYNC_TOKEN_KEY: `v1:${randomBytes(32).toString('base64')}`,
    DURASYNC_ENCRYPTION_KEY: `k1:${randomBytes(32).toString('base64')}`,
    DURASYNC_CODEC_TOKEN: `codec-${randomBytes(16).toString('hex')}`,
  };
  const baseEnv = {
    DATABASE_URL: deps.db.url,
    DURASYNC_TASK_QUEUE_PREFIX: taskQueuePrefix,
    DURASYNC_OBJECTS_DIR: objectsDir,
    DURASYNC_SHUTDOWN_GRACE: '1s',
    DURASYNC_REDIS_PREFIX: deps.redisPrefix,
    REDIS_URL: deps.redisUrl,
  };
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  let config: DurasyncConfig;
  try {
    // The worker and ingress run without payload encryption, so that the histories searched for
    // secrets are plain text; the key still goes to every CLI child.
    config = loadConfig({ ...process.env, ...baseEnv, ...secretEnv, DURASYNC_ENCRYPTION_KEY: undefined });
  } catch {
    // A key format this checkout does not take: run without the optional keys (they are still searched for).
    config = loadConfig({ ...process.env, ...baseEnv, GITHUB_WEBHOOK_SECRET: githubSecret });
  }
  const objects = new LocalObjectStore(objectsDir);
  const worker = await createQueueWorker({
    connection: env.nativeConnection,
    config,
    queue: 'ingestion',
    bundle: testWorkflowBundle(),
    metrics: createMetrics(),
    deps: { store: deps.store, cache: deps.cache, logger, objects },
  });
  const syncWorker = await createQueueWorker({
    connection: env.nativeConnection,
    config,
    queue: 'sync',
    bundle: testWorkflowBundle(),
    metrics: createMetrics(),
    deps: { store: deps.store, cache: deps.cache, logger },
  });
  const running = Promise.all([worker.run(), syncWorker.run()]);
  const taskQueue = worker.options.taskQueue;
  const intake = createChangeIntake({ store: deps.store, client: env.client, config, logger: logger.child({ component: 'change-intake' }) });
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const ingress = await startIngressServer({
    host: '127.0.0.1',
    port: 0,
    logger,
    connection: env.connection,
    branches: { store: deps.store, intake, maxBodyBytes: 1024 * 1024 },
    webhooks: { client: env.client, taskQueue, objects, logger: logger.child({ component: 'webhooks' }), githubSecret, maxBodyBytes, sources: [{ ...source, secretVar: 'ACME_SECRET' }] },
  });
  const branchId = (await deps.store.createBranch({ name: `fuzz-${randomBytes(4).toString('hex')}` })).branch.id;
  return {
    env,
    deps,
    config,
    taskQueue,
    taskQueuePrefix,
    syncTaskQueue: syncWorker.options.taskQueue,
    logger,
    ingress,
    target: { url: ingress.url, githubSecret, source, maxBodyBytes, deliveryTag: randomUUID().slice(0, 8) },
    branchId,
    intake,
    logs,
    // Each secret, and the key part of the `<keyId>:<key>` variables.
    secrets: [...Object.values(secretEnv), secretEnv.DURASYNC_TOKEN_KEY!.slice(3), secretEnv.DURASYNC_ENCRYPTION_KEY!.slice(3)],
    cliEnv: () => ({ ...baseEnv, ...secretEnv, TEMPORAL_ADDRESS: config.temporal.address, TEMPORAL_NAMESPACE: config.temporal.namespace }),
    async close() {
      await ingress.close();
      await intake.close().catch(() => undefined);
      for (const w of [worker, syncWorker]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await objects.close();
      await deps.close();
      await env.teardown();
      await rm(objectsDir, { recursive: true, force: true });
    },
  };
}

/** Changes of `branchId` in the durable intake (branch_change_batches), as batches and changes. */
export async function durableIntake(databaseUrl: string, branchId: string): Promise<{ batches: number; changes: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ batches: string; changes: string | null }>('select count(*) as batches, sum(change_count) as changes from branch_change_batches where branch_id = $1', [branchId]);
    return { batches: Number(rows[0]!.batches), changes: Number(rows[0]!.changes ?? 0) };
  } finally {
    await client.end();
  }
}

/**
 * Each accepted delivery in `workflowIds` ends within `timeoutMs`: completed (the event is
 * stored), or failed with a dead_letters row naming the workflow and a reason. None stays running.
 */
export async function settleAccepted(client: Client, databaseUrl: string, workflowIds: string[], timeoutMs = 30_000): Promise<{ stored: number; deadLettered: number }> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const counts = { stored: 0, deadLettered: 0 };
  try {
    for (const workflowId of workflowIds) {
      const handle = client.workflow.getHandle(workflowId);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), timeoutMs)));
      let failure: unknown;
      const outcome = await Promise.race([
        handle.result().then(
          () => 'stored' as const,
          (err: unknown) => {
            failure = err;
            return 'failed' as const;
          },
        ),
        timeout,
      ]);
      clearTimeout(timer);
      if (outcome === 'stuck') throw new Error(`${workflowId} still running after ${timeoutMs} ms`);
      if (outcome === 'stored') {
        counts.stored++;
        continue;
      }
      const { rows } = await db.query<{ error_type: string; error_message: string }>('select error_type, error_message from dead_letters where workflow_id = $1', [workflowId]);
      if (rows.length !== 1 || !rows[0]!.error_message) {
        // Everything that tells why, for the report of a failing seed.
        const cause = (failure as { cause?: { message?: string; type?: string } } | undefined)?.cause;
        const byRef = await db.query('select source, ref, workflow_id, error_type, error_message from dead_letters where ref = $1', [workflowId.split(':').slice(2).join(':')]);
        throw new Error(`${workflowId} failed without a dead letter with a reason: ${String((failure as Error)?.message)} (cause ${cause?.type ?? ''}: ${cause?.message ?? ''}); rows by workflow id ${JSON.stringify(rows)}, by ref ${JSON.stringify(byRef.rows)}`);
      }
      counts.deadLettered++;
    }
  } finally {
    await db.end();
  }
  return counts;
}

/**
 * ChangeIntake.accept() called directly with hostile arrays and NDJSON text: it resolves (a
 * durable batch, counted) or throws a ChangeInputError with a one-line message naming the line;
 * nothing else. An unknown branch id may also be refused by the store, with a named error.
 */
export async function fuzzIntakeAccept(intake: Pick<ChangeIntake, 'accept'>, branchId: string, numRuns: number): Promise<PropertyCounts & { acceptedChanges: number; acceptedBatches: number; refused: number }> {
  let cases = 0;
  let acceptedChanges = 0;
  let acceptedBatches = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(hostileChangeBody, fc.boolean(), async ({ body }, asText) => {
      cases++;
      let input: Change[] | string = body;
      if (!asText) {
        try {
          input = JSON.parse(body) as Change[];
        } catch {
          input = body;
        }
      }
      try {
        const result = await intake.accept(branchId, input);
        if (result.accepted > 0) {
          acceptedChanges += result.accepted;
          acceptedBatches++;
        }
      } catch (err) {
        if (!(err instanceof ChangeInputError) || !isOneLine(err.message)) throw new Error(`accept threw ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 300)}`);
        refused++;
      }
      if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype was polluted');
      return true;
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, acceptedChanges, acceptedBatches, refused };
}

// ---------------------------------------------------------------------------------------------
// Job payloads through the job bridge.

const hostileJob = fc.record({
  kind: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('canary', 'sync') }, { weight: 1, arbitrary: hostileString }),
  payload: fc.oneof(
    hostileJson,
    fc.record({ linkId: fc.oneof(fc.uuid(), hostileString, fc.integer()), direction: fc.oneof(fc.constantFrom('github-to-drive', 'both'), hostileString) }, { requiredKeys: [] }),
    fc.record({ failAfter: hostileJson, sleep: hostileJson, steps: hostileJson }, { requiredKeys: [] }),
  ),
});

/**
 * `count` sync_jobs rows with hostile kinds and payloads (enqueueSyncJob refusing one is a clear
 * error too, counted), claimed by a JobBridge and run as syncJob workflows on a real sync worker:
 * every row ends succeeded or failed with a one-line reason within `timeoutMs`, and no `job:<id>`
 * workflow is left running.
 */
export async function fuzzJobBridge(stack: FuzzStack, count: number, timeoutMs = 90_000): Promise<PropertyCounts & { enqueued: number; refusedAtEnqueue: number; succeeded: number; failed: number }> {
  const seed = fc.readConfigureGlobal().seed ?? Date.now() % 2 ** 31;
  const jobs = fc.sample(hostileJob, { numRuns: count, seed });
  const ids: string[] = [];
  let refusedAtEnqueue = 0;
  for (const job of jobs) {
    try {
      ids.push((await stack.deps.store.enqueueSyncJob({ dedupKey: `fuzz-${randomUUID()}`, kind: job.kind, payload: (job.payload ?? null) as never })).job.id);
    } catch (err) {
      if (!isOneLine((err as Error).message)) throw new Error(`enqueueSyncJob threw a multi-line error: ${(err as Error).message}`);
      refusedAtEnqueue++;
    }
  }
  const bridge = new JobBridge({ client: stack.env.client, store: stack.deps.store, taskQueue: stack.syncTaskQueue, logger: stack.logger, pollIntervalMs: 100, leaseMs: 60_000, batchSize: 20 });
  bridge.start();
  let succeeded = 0;
  let failed = 0;
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await Promise.all(ids.map(async (id) => (await stack.deps.store.getSyncJob(id))!));
      const open = rows.filter((r) => r.status !== 'succeeded' && r.status !== 'failed');
      if (open.length === 0) {
        for (const row of rows) {
          if (row.status === 'succeeded') succeeded++;
          else if (!row.lastError || !isOneLine(row.lastError)) throw new Error(`job ${row.id} (${row.kind}) failed without a one-line reason: ${String(row.lastError)}`);
          else failed++;
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`jobs not finished after ${timeoutMs} ms (seed ${seed}): ${open.map((r) => `${JSON.stringify(r.kind).slice(0, 40)}:${r.status}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await bridge.stop();
  }
  // The workflow records the row's outcome in an activity and completes right after: give it that
  // moment (a loaded machine), then none may still be running.
  const closeBy = Date.now() + 30_000;
  for (const id of ids) {
    for (;;) {
      const description = await stack.env.client.workflow.getHandle(`job:${id}`).describe();
      if (description.status.name !== 'RUNNING') break;
      if (Date.now() > closeBy) throw new Error(`job:${id} still running 30 s after its row finished (seed ${seed})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { runs: count, cases: jobs.length, failuresFound: 0, enqueued: ids.length, refusedAtEnqueue, succeeded, failed };
}

/**
 * `durasync settings keys` (a command that loads the configuration) with one variable set to a
 * hostile value: exit 0, or exit 1 with one line on stderr naming the variable, never a stack trace.
 */
export async function fuzzCliEnv(numRuns: number, env: Record<string, string>, stderrSink: string[] = []): Promise<PropertyCounts & { exit0: number; exit1: number }> {
  let cases = 0;
  const exits = { exit0: 0, exit1: 0 };
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...CONFIG_VARIABLES.filter((v) => v !== 'DURASYNC_LOG_LEVEL')), configValue, async (variable, raw) => {
      cases++;
      // Environment values cannot hold NUL bytes.
      const value = raw.replace(/\0/g, '');
      const { code, stderr } = await runDurasyncSplit(['settings', 'keys'], { ...env, DURASYNC_LOG_LEVEL: 'warn', [variable]: value });
      stderrSink.push(stderr);
      if (code === 0) {
        exits.exit0++;
        return true;
      }
      if (code !== 1 || !isOneLine(stderr) || !stderr.includes(variable)) {
        throw new Error(`durasync settings keys with ${variable}=${JSON.stringify(value).slice(0, 80)} exited ${code}: ${stderr.slice(0, 500)}`);
      }
      exits.exit1++;
      return true;
    }),
    { numRuns },
  );
  return { runs: numRuns, cases, failuresFound: 0, ...exits };
}
