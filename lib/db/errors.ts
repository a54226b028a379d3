/**
 * Typed errors of the store layer. Both adapters map what their transport reports (a pg
 * DatabaseError, a PostgREST error body) to these classes in one place, by SQLSTATE code, never by
 * message text. The SQL functions raise their own codes with a JSON DETAIL (see
 * supabase/migrations/0002_core_functions.sql); the typed fields come from that JSON.
 */

/** SQLSTATE codes raised by durasync's SQL functions. */
export const SQLSTATE = {
  notFound: 'DS404',
  conflict: 'DS409',
  branchSeqGap: 'DS412',
  invalidArgument: 'DS422',
} as const;

/** Base of every store error: `code` is the SQLSTATE or PostgREST code when there is one. */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The row an operation needs does not exist (a branch, a sync job...). */
export class NotFoundError extends StoreError {
  override readonly name: string = 'NotFoundError';
  constructor(
    message: string,
    readonly resource: string,
    readonly id: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options?.code ?? SQLSTATE.notFound, options);
  }
}

/**
 * The operation contradicts what is stored: a job not in a state that allows it, a job claimed by
 * another worker, a branch name taken with another parent, a unique key taken.
 */
export class ConflictError extends StoreError {
  override readonly name: string = 'ConflictError';
  constructor(
    message: string,
    readonly details: {
      resource?: string;
      id?: string;
      /** Why, e.g. `state`, `owner`, `parent`, `unique`. */
      reason?: string;
      /** The current state of the resource, when the reason is `state`. */
      state?: string;
    },
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options?.code ?? SQLSTATE.conflict, options);
  }
}

/** A branch delta was committed out of order: `seq` must be `headSeq + 1`. Nothing was written. */
export class BranchSeqGapError extends StoreError {
  override readonly name: string = 'BranchSeqGapError';
  constructor(
    message: string,
    readonly branchId: string,
    readonly seq: number,
    readonly headSeq: number,
    options?: { cause?: unknown },
  ) {
    super(message, SQLSTATE.branchSeqGap, options);
  }
}

/** An argument was refused by the database (bad value, failed check constraint, invalid uuid...). */
export class InvalidArgumentError extends StoreError {
  override readonly name: string = 'InvalidArgumentError';
  constructor(
    message: string,
    readonly argument: string | undefined,
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options?.code ?? SQLSTATE.invalidArgument, options);
  }
}

/** The database (or the API in front of it) could not be reached or is not serving: retryable. */
export class StoreUnavailableError extends StoreError {
  override readonly name: string = 'StoreUnavailableError';
}

/** The database answered with something the store cannot read (a missing column, a bad type). */
export class UnexpectedResultError extends StoreError {
  override readonly name: string = 'UnexpectedResultError';
}

/** The fields every transport reports for a database error. */
export interface DatabaseErrorFields {
  code?: string | null;
  message: string;
  details?: string | null;
  hint?: string | null;
}

/**
 * Maps a database error, as pg or PostgREST reports it, to a typed store error keeping the
 * original as `cause`.
 */
export function errorFromDatabase(fields: DatabaseErrorFields, cause: unknown): StoreError {
  const code = fields.code ?? undefined;
  const detail = parseDetail(fields.details);
  const options = { cause, code };
  switch (code) {
    case SQLSTATE.notFound:
      return new NotFoundError(fields.message, text(detail.resource) ?? 'unknown', text(detail.id) ?? '', options);
    case SQLSTATE.conflict:
      return new ConflictError(fields.message, pickConflict(detail), options);
    case SQLSTATE.branchSeqGap:
      return new BranchSeqGapError(
        fields.message,
        text(detail.branchId) ?? '',
        num(detail.seq) ?? Number.NaN,
        num(detail.headSeq) ?? Number.NaN,
        { cause },
      );
    case SQLSTATE.invalidArgument:
      return new InvalidArgumentError(fields.message, text(detail.argument), options);
    case undefined:
      return new StoreError(fields.message, undefined, { cause });
    default:
      break;
  }
  if (code === '23505' || code === '23503' || code === '23P01') {
    return new ConflictError(fields.message, { reason: code === '23503' ? 'reference' : 'unique' }, options);
  }
  if (code === '23502' || code === '23514' || code.startsWith('22')) {
    return new InvalidArgumentError(fields.message, undefined, options);
  }
  if (isUnavailableSqlState(code)) return new StoreUnavailableError(fields.message, code, { cause });
  return new StoreError(fields.message, code, { cause });
}

/** Connection failures, shutdowns and resource exhaustion: worth retrying later. */
export function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || code === '57P01' || code === '57P02' || code === '57P03';
}

function parseDetail(details: string | null | undefined): Record<string, unknown> {
  if (!details || !details.startsWith('{')) return {};
  try {
    const parsed: unknown = JSON.parse(details);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function pickConflict(detail: Record<string, unknown>): ConflictError['details'] {
  return { resource: text(detail.resource), id: text(detail.id), reason: text(detail.reason), state: text(detail.state) };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}
