/**
 * Google API error bodies as the Drive v3 REST API sends them:
 * `{ "error": { "code", "message", "errors": [{ "domain", "reason", "message", "locationType"?, "location"? }], "status"? } }`.
 */
export interface GoogleErrorItem {
  domain: string;
  reason: string;
  message: string;
  locationType?: 'parameter' | 'header';
  location?: string;
}

export interface GoogleErrorBody {
  error: { code: number; message: string; errors: GoogleErrorItem[]; status?: string };
}

/** A failure that answers with Google's error body; thrown by handlers, sent by the server. */
export class DriveApiError extends Error {
  override readonly name = 'DriveApiError';
  constructor(
    readonly status: number,
    readonly item: GoogleErrorItem,
    readonly headers: Record<string, string> = {},
    readonly statusText?: string,
  ) {
    super(item.message);
  }

  get body(): GoogleErrorBody {
    const error: GoogleErrorBody['error'] = { code: this.status, message: this.item.message, errors: [this.item] };
    if (this.statusText) error.status = this.statusText;
    return { error };
  }
}

const param = (location: string) => ({ locationType: 'parameter' as const, location });

export const notFound = (fileId: string) =>
  new DriveApiError(404, { domain: 'global', reason: 'notFound', message: `File not found: ${fileId}.`, ...param('fileId') });

/** 400 `invalid`, as for a `q` Drive cannot parse or a bad page token. */
export const invalidValue = (location: string, message = 'Invalid Value') =>
  new DriveApiError(400, { domain: 'global', reason: 'invalid', message, ...param(location) });

export const invalidParameter = (location: string, message: string) =>
  new DriveApiError(400, { domain: 'global', reason: 'invalidParameter', message, ...param(location) });

export const required = (location: string) =>
  new DriveApiError(400, { domain: 'global', reason: 'required', message: 'Required parameter: ' + location, ...param(location) });

export const badRequest = (message: string, location?: string) =>
  new DriveApiError(400, { domain: 'global', reason: 'badRequest', message, ...(location ? param(location) : {}) });

export const fileNotDownloadable = () =>
  new DriveApiError(403, {
    domain: 'global',
    reason: 'fileNotDownloadable',
    message: 'Only files with binary content can be downloaded. Use Export with Docs Editors files.',
    ...param('alt'),
  });

export const fileNotExportable = () =>
  new DriveApiError(403, { domain: 'global', reason: 'fileNotExportable', message: 'Export only supports Docs Editors files.' });

export const fieldNotWritable = (field: string) =>
  new DriveApiError(403, {
    domain: 'global',
    reason: 'fieldNotWritable',
    message: `The resource body includes fields which are not directly writable. (${field}); use addParents and removeParents instead.`,
  });

export const loginRequired = () =>
  new DriveApiError(
    401,
    { domain: 'global', reason: 'required', message: 'Login Required.', locationType: 'header', location: 'Authorization' },
    { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
    'UNAUTHENTICATED',
  );

export const invalidCredentials = () =>
  new DriveApiError(
    401,
    { domain: 'global', reason: 'authError', message: 'Invalid Credentials', locationType: 'header', location: 'Authorization' },
    { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
    'UNAUTHENTICATED',
  );

export const rateLimitExceeded = (retryAfterSec: number) =>
  new DriveApiError(
    429,
    { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
    { 'retry-after': String(retryAfterSec) },
    'RESOURCE_EXHAUSTED',
  );

export const userRateLimitExceeded = () =>
  new DriveApiError(403, { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User Rate Limit Exceeded' }, {}, 'PERMISSION_DENIED');

export const backendError = () =>
  new DriveApiError(503, { domain: 'global', reason: 'backendError', message: 'Backend Error' }, {}, 'UNAVAILABLE');

export const cannotAddParent = () =>
  new DriveApiError(403, { domain: 'global', reason: 'cannotAddParent', message: 'Increasing the number of parents is not allowed.' });
