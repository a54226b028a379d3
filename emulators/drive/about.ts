import { required } from './errors';
import { parseFields, pick } from './fields';
import type { ApiResult } from './api';

/** The emulator's signed-in Google user, whose Drive every token opens. */
export interface DriveUser {
  email: string;
  /** Default: the part of the email before `@`. */
  displayName?: string;
}

/** `GET /drive/v3/about`: as Drive, `fields` is required (400 otherwise); `user` only. */
export function about(url: URL, user: DriveUser): ApiResult {
  const fields = url.searchParams.get('fields');
  if (!fields) throw required('fields');
  const body = {
    kind: 'drive#about',
    user: { kind: 'drive#user', displayName: user.displayName ?? user.email.split('@')[0], me: true, permissionId: '00000000000000000001', emailAddress: user.email },
  };
  return { status: 200, json: pick(body, parseFields(fields)) };
}
