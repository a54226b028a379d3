import { ApplicationFailure } from '@temporalio/common';
import { providerFailure, retryDelayMs } from '../lib/providers/failures';

// Error shapes as googleapis (GaxiosError: response.status/headers/data) and Octokit (RequestError:
// status, response.headers) raise them; the emulator suites check the same mapping end to end.
const octokit = (status: number, headers: Record<string, string> = {}) => Object.assign(new Error('Boom - https://docs.github.com/rest'), { name: 'HttpError', status, response: { headers } });
const gaxios = (status: number, reason?: string, headers: Record<string, string> = {}) =>
  Object.assign(new Error('Request failed'), { response: { status, headers, data: { error: { code: status, errors: reason ? [{ reason }] : [] } } } });

describe('provider failure mapping', () => {
  it.each([
    [400, 'BadRequest'],
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [404, 'NotFound'],
    [409, 'Conflict'],
    [422, 'Unprocessable'],
  ])('makes %i non-retryable with type %s', (status, type) => {
    const failure = providerFailure('github', 'git.createCommit', octokit(status));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type, nonRetryable: true });
    expect(failure.message).toMatch(new RegExp(`^github git.createCommit: ${status} `));
  });

  it('retries GitHub rate limits after the reset or Retry-After, primary and secondary', () => {
    const now = Date.now();
    const primary = providerFailure('github', 'repos.get', octokit(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(now / 1000) + 30) }));
    expect(primary).toMatchObject({ type: 'RateLimited', nonRetryable: false });
    expect(primary.nextRetryDelay).toBeGreaterThan(25_000);
    const secondary = providerFailure('github', 'git.createTree', octokit(403, { 'retry-after': '7' }));
    expect(secondary).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 7000 });
    expect(providerFailure('github', 'x', octokit(429, { 'retry-after': '2' }))).toMatchObject({ type: 'RateLimited', nextRetryDelay: 2000 });
  });

  it("retries Google's rate-limit reasons and 5xx, and keeps other 403s final", () => {
    expect(providerFailure('google', 'files.list', gaxios(403, 'userRateLimitExceeded'))).toMatchObject({ type: 'RateLimited', nonRetryable: false });
    expect(providerFailure('google', 'files.list', gaxios(403, 'insufficientFilePermissions'))).toMatchObject({ type: 'Forbidden', nonRetryable: true });
    expect(providerFailure('google', 'files.get', gaxios(503, 'backendError'))).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  });

  it('retries network failures found anywhere in the cause chain', () => {
    const err = Object.assign(new Error('request to http://127.0.0.1 failed'), { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    expect(providerFailure('google', 'files.create', err)).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false, message: 'google files.create: network failure (ECONNRESET)' });
  });

  it('keeps headers and bodies out of the failure, naming only provider, operation and status', () => {
    const failure = providerFailure('github', 'repos.get', octokit(404, { authorization: 'token ghp_secret' }));
    expect(JSON.stringify({ message: failure.message, details: failure.details })).not.toContain('ghp_secret');
    expect(failure.details).toEqual([{ provider: 'github', operation: 'repos.get', status: 404 }]);
  });

  it('reads Retry-After in seconds, and a reset header as epoch seconds', () => {
    expect(retryDelayMs({ 'retry-after': '3' })).toBe(3000);
    expect(retryDelayMs({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1000' }, 990_000)).toBe(10_000);
    // GitHub sends the reset on every answer: with quota left it is no reason to wait (a 5xx backs off instead).
    expect(retryDelayMs({ 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': '1000' }, 990_000)).toBeUndefined();
    expect(retryDelayMs({})).toBeUndefined();
  });
});
