import { ApplicationFailure } from '@temporalio/common';

/**
 * Provider failures mapped once, at the activity edge (STYLE.md, Errors): what the provider said
 * becomes an ApplicationFailure whose `type` says what happened and whether a retry can help.
 * - 400, 401, 403 (not a rate limit), 404, 409, 422: non-retryable (`BadRequest`, `Unauthorized`,
 *   `Forbidden`, `NotFound`, `Conflict`, `Unprocessable`);
 * - 429, GitHub's primary and secondary rate limits, Google's `rateLimitExceeded` /
 *   `userRateLimitExceeded`: retryable `RateLimited`, with `nextRetryDelay` from Retry-After or
 *   the rate-limit reset header;
 * - 5xx and network failures: retryable `ProviderUnavailable`.
 * Works on googleapis' GaxiosError and Octokit's RequestError by their fields (status, headers,
 * structured error reasons), never by message text; details carry no headers, bodies or tokens.
 */
export type Provider = 'github' | 'google';

export const FAILURE_TYPES = {
  badRequest: 'BadRequest',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  notFound: 'NotFound',
  conflict: 'Conflict',
  unprocessable: 'Unprocessable',
  rateLimited: 'RateLimited',
  unavailable: 'ProviderUnavailable',
} as const;

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const GOOGLE_RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded']);

interface ErrorShape {
  status?: number;
  code?: string | number;
  message?: string;
  cause?: unknown;
  headers?: Record<string, string | string[] | undefined>;
  response?: { status?: number; headers?: unknown; data?: unknown };
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, unknown>)[name] ?? (headers as Record<string, unknown>)[name.toLowerCase()];
  const first: unknown = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' || typeof first === 'number' ? String(first) : undefined;
}

function googleReason(data: unknown): string | undefined {
  const errors = (data as { error?: { errors?: Array<{ reason?: unknown }> } } | undefined)?.error?.errors;
  const reason = errors?.[0]?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

function networkCode(err: ErrorShape): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as ErrorShape).cause, depth++) {
    const code = (e as ErrorShape).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

/**
 * Milliseconds to wait before retrying, from Retry-After (seconds), else from the epoch-seconds
 * reset header when the rate limit is used up (`x-ratelimit-remaining: 0`). GitHub sends the reset
 * header on every answer: on a 5xx with quota left it is the end of the hourly window, not a reason
 * to wait, and the retry policy's backoff applies instead.
 */
export function retryDelayMs(headers: unknown, now = Date.now()): number | undefined {
  const after = header(headers, 'retry-after');
  if (after !== undefined && /^\d+(\.\d+)?$/.test(after)) return Math.max(1000, Math.round(Number(after) * 1000));
  const reset = header(headers, 'x-ratelimit-reset');
  if (header(headers, 'x-ratelimit-remaining') === '0' && reset !== undefined && /^\d+$/.test(reset)) return Math.max(1000, Number(reset) * 1000 - now);
  return undefined;
}

/** The ApplicationFailure for a provider error (or the error itself when it is one already). */
export function providerFailure(provider: Provider | (string & {}), operation: string, thrown: unknown): ApplicationFailure {
  if (thrown instanceof ApplicationFailure) return thrown;
  const err = (thrown ?? {}) as ErrorShape;
  const status = err.status ?? err.response?.status;
  const headers = err.response?.headers ?? err.headers;
  const details = { provider, operation, status: status ?? null };
  const fail = (type: string, nonRetryable: boolean, message: string, nextRetryDelay?: number) =>
    ApplicationFailure.create({ type, message: `${provider} ${operation}: ${message}`, nonRetryable, details: [details], ...(nextRetryDelay ? { nextRetryDelay } : {}) });

  if (status === undefined) {
    const code = networkCode(err);
    return fail(FAILURE_TYPES.unavailable, false, code ? `network failure (${code})` : `no answer (${err.message ?? 'unknown error'})`);
  }
  const rateLimited =
    status === 429 ||
    (status === 403 && (header(headers, 'x-ratelimit-remaining') === '0' || header(headers, 'retry-after') !== undefined || GOOGLE_RATE_REASONS.has(googleReason(err.response?.data) ?? '')));
  if (rateLimited) return fail(FAILURE_TYPES.rateLimited, false, `rate limited (${status})`, retryDelayMs(headers));
  if (status >= 500) return fail(FAILURE_TYPES.unavailable, false, `server error ${status}`, retryDelayMs(headers));
  const type =
    status === 401 ? FAILURE_TYPES.unauthorized
    : status === 403 ? FAILURE_TYPES.forbidden
    : status === 404 ? FAILURE_TYPES.notFound
    : status === 409 ? FAILURE_TYPES.conflict
    : status === 422 ? FAILURE_TYPES.unprocessable
    : FAILURE_TYPES.badRequest;
  return fail(type, true, `${status} ${(err.message ?? '').split('\n')[0]?.slice(0, 200)}`);
}
