import type { IncomingMessage } from 'node:http';
import { backendError, rateLimitExceeded, userRateLimitExceeded } from './errors';
import type { DriveApiError } from './errors';

export interface FaultSettings {
  /** Delay before every answer (API and token endpoint). Default: the emulator's `latencyMs`, else 0. */
  latencyMs?: number;
  /** Probability (0..1) that an API call answers 503 backendError. Default: 0. */
  errorRate?: number;
  /** The next `count` API calls answer 429 rateLimitExceeded with `Retry-After: retryAfterSec`. */
  rateLimitBurst?: { count: number; retryAfterSec: number };
  /** The next N API calls answer 403 userRateLimitExceeded. */
  userRateLimit403?: number;
  /** The next N API calls answer 503 backendError. */
  status5xx?: number;
  /** The next N API requests have their socket destroyed without an answer. */
  dropConnections?: number;
}

export interface Faults {
  /** Merges `settings` into the current ones (counters replace, they do not add up). */
  set(settings: FaultSettings): void;
  /** Back to no faults and the emulator's own latency. */
  reset(): void;
}

export type FaultOutcome = { kind: 'drop' } | { kind: 'error'; error: DriveApiError } | undefined;

/** Fault injection for API calls, checked in order: drops, 429 bursts, 403s, 503s, error rate. */
export class FaultInjector implements Faults {
  private current: FaultSettings = {};

  constructor(private readonly baseLatencyMs: number) {}

  set(settings: FaultSettings): void {
    this.current = { ...this.current, ...settings };
  }

  reset(): void {
    this.current = {};
  }

  get latencyMs(): number {
    return this.current.latencyMs ?? this.baseLatencyMs;
  }

  /** Consumes one unit of the first armed fault, if any, for this API request. */
  next(_req: IncomingMessage): FaultOutcome {
    const c = this.current;
    if (c.dropConnections) {
      c.dropConnections -= 1;
      return { kind: 'drop' };
    }
    if (c.rateLimitBurst && c.rateLimitBurst.count > 0) {
      c.rateLimitBurst = { ...c.rateLimitBurst, count: c.rateLimitBurst.count - 1 };
      return { kind: 'error', error: rateLimitExceeded(c.rateLimitBurst.retryAfterSec) };
    }
    if (c.userRateLimit403) {
      c.userRateLimit403 -= 1;
      return { kind: 'error', error: userRateLimitExceeded() };
    }
    if (c.status5xx) {
      c.status5xx -= 1;
      return { kind: 'error', error: backendError() };
    }
    if (c.errorRate && Math.random() < c.errorRate) return { kind: 'error', error: backendError() };
    return undefined;
  }
}
