import { STATUS_CODES } from 'node:http';
import { DOCS, GithubApiError } from './errors';

/** Failures to inject, each consumed by the requests it hits. */
export interface GithubFaults {
  /** Delay before every answer, replacing the emulator's `latencyMs`. */
  latencyMs?: number;
  /** The next `count` calls answer `status` (default 403) with `retry-after` and GitHub's secondary-rate-limit message. */
  secondaryLimit?: { count: number; retryAfterSec: number; status?: 403 | 429 };
  /** The next N calls answer 502, 503, 502, ... */
  status5xx?: number;
  /** The next N calls get their socket destroyed without an answer. */
  dropConnections?: number;
  /** The next `count` calls matching `method` and `route` (a template such as `/repos/{owner}/{repo}/git/trees`) answer `status`. */
  failOn?: { method: string; route: string; status: number; count: number };
  /** A concurrent push (one new commit) lands on the ref just before the next ref update of this repository ("owner/name"). */
  moveRefBeforeNextUpdate?: string;
}

/** Holds the armed faults and decides, per call, which one fires. */
export class FaultState {
  private faults: GithubFaults = {};
  private fives = 0;

  set(faults: GithubFaults): void {
    this.faults = { ...this.faults, ...structuredClone(faults) };
  }

  reset(): void {
    this.faults = {};
    this.fives = 0;
  }

  latency(fallback: number): number {
    return this.faults.latencyMs ?? fallback;
  }

  takeDrop(): boolean {
    if (!this.faults.dropConnections) return false;
    this.faults.dropConnections--;
    return true;
  }

  /** The repository whose next ref update must first see a concurrent push, if `fullName` is it (consumed). */
  takeMoveRef(fullName: string): boolean {
    if (this.faults.moveRefBeforeNextUpdate?.toLowerCase() !== fullName.toLowerCase()) return false;
    delete this.faults.moveRefBeforeNextUpdate;
    return true;
  }

  /** The injected error answer for this call, if one fires. */
  take(method: string, route: string, requestId: string): GithubApiError | undefined {
    const f = this.faults;
    if (f.secondaryLimit && f.secondaryLimit.count > 0) {
      f.secondaryLimit.count--;
      const status = f.secondaryLimit.status ?? 403;
      return new GithubApiError(
        status,
        `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
        DOCS.secondaryRateLimit,
        undefined,
        { 'retry-after': String(f.secondaryLimit.retryAfterSec) },
      );
    }
    if (f.status5xx) {
      f.status5xx--;
      const status = this.fives++ % 2 === 0 ? 502 : 503;
      return new GithubApiError(status, status === 502 ? 'Server Error' : 'Service Unavailable', DOCS.root);
    }
    if (f.failOn && f.failOn.count > 0 && f.failOn.method.toUpperCase() === method && f.failOn.route === route) {
      f.failOn.count--;
      const status = f.failOn.status;
      const message = status === 404 ? 'Not Found' : status === 422 ? 'Validation Failed' : status >= 500 ? 'Server Error' : (STATUS_CODES[status] ?? 'Error');
      return new GithubApiError(status, message, DOCS.root);
    }
    return undefined;
  }
}
