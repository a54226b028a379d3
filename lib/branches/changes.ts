import { z } from 'zod';
import type { Change } from '../../workflows/branches/types';

/**
 * Producers' change input: a JSON array of changes, or NDJSON (one change per line). Every change
 * is validated; one bad line refuses the whole body with a ChangeInputError naming the line.
 */

/** A body of changes was refused. `line`: 1-based line (NDJSON) or array index (JSON array). */
export class ChangeInputError extends Error {
  override readonly name = 'ChangeInputError';
  constructor(
    /** The problem, without the line prefix. */
    readonly problem: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;
const MAX_EPOCH_MS = 8.64e15;

const documentSchema = (field: string) =>
  z.record(z.string(), z.unknown(), { error: `${field} must be a JSON object` }).refine((v) => !Array.isArray(v), `${field} must be a JSON object`);

const changeSchema = z
  .object(
    {
      collection: z.string({ error: 'collection must be a non-empty string' }).min(1, 'collection must be a non-empty string'),
      documentId: z.string({ error: 'documentId must be a non-empty string' }).min(1, 'documentId must be a non-empty string'),
      op: z.enum(['insert', 'update', 'delete'], { error: 'op must be insert, update or delete' }),
      before: documentSchema('before').optional(),
      after: documentSchema('after').optional(),
      patch: documentSchema('patch').optional(),
      ts: z.union([z.string(), z.number()], { error: 'ts must be an ISO 8601 string or epoch milliseconds' }),
    },
    { error: 'a change must be a JSON object' },
  )
  .superRefine((change, ctx) => {
    if (change.op === 'insert' && change.after === undefined) ctx.addIssue({ code: 'custom', message: 'an insert needs `after`' });
    if (change.op === 'update' && change.after === undefined && change.patch === undefined) {
      ctx.addIssue({ code: 'custom', message: 'an update needs `after` or `patch`' });
    }
  })
  .transform((change, ctx): Change => {
    const ts = normaliseTs(change.ts);
    if (ts === undefined) {
      ctx.addIssue({ code: 'custom', message: `ts must be an ISO 8601 string or epoch milliseconds, got ${JSON.stringify(change.ts)}` });
      return z.NEVER;
    }
    const out: Change = { collection: change.collection, documentId: change.documentId, op: change.op, ts };
    if (change.before !== undefined) out.before = change.before;
    if (change.after !== undefined) out.after = change.after;
    if (change.patch !== undefined) out.patch = change.patch;
    return out;
  });

function normaliseTs(ts: string | number): string | undefined {
  if (typeof ts === 'number') {
    if (!Number.isFinite(ts) || Math.abs(ts) > MAX_EPOCH_MS) return undefined;
    return new Date(ts).toISOString();
  }
  if (!ISO_8601.test(ts.trim())) return undefined;
  const ms = Date.parse(ts.trim());
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Validates one parsed value as a change; `line` only names it in the error. */
export function validateChange(value: unknown, line: number): Change {
  const result = changeSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ChangeInputError(issue?.message ?? 'invalid change', line);
}

/** True for the content types of NDJSON / JSON Lines. */
function isNdjsonType(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl' || type === 'application/x-jsonlines' || type === 'application/jsonlines';
}

/**
 * Parses a body of changes: NDJSON when the content type says so (application/x-ndjson,
 * application/jsonl...), else a JSON array when the first non-blank character is `[`, else NDJSON.
 * Timestamps come back as ISO 8601 (UTC); unknown fields are dropped. Blank lines are skipped; an
 * empty body is no changes. Throws ChangeInputError for the first bad line (nothing is returned).
 */
export function parseChanges(body: string, contentType: string | undefined): Change[] {
  const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  if (!isNdjsonType(contentType) && text.trimStart().startsWith('[')) return parseArray(text);
  return parseNdjson(text);
}

function parseArray(text: string): Change[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const line = /line (\d+)/.exec(message)?.[1];
    throw new ChangeInputError(`the body is not valid JSON (${message})`, line ? Number(line) : 1);
  }
  if (!Array.isArray(parsed)) throw new ChangeInputError('expected a JSON array of changes', 1);
  return parsed.map((value, i) => validateChange(value, i + 1));
}

function parseNdjson(text: string): Change[] {
  const changes: Change[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new ChangeInputError(`not valid JSON (${(err as Error).message})`, i + 1);
    }
    changes.push(validateChange(parsed, i + 1));
  }
  return changes;
}

/** NDJSON of changes: one JSON object per line, `\n`-separated, no trailing newline ('' for none). */
export function serializeChanges(changes: readonly Change[]): string {
  return changes.map((change) => JSON.stringify(change)).join('\n');
}
