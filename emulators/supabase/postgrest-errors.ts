/**
 * PostgREST's error responses, as the emulator reproduces them: the JSON body
 * `{ code, details, hint, message }` and the HTTP status PostgREST gives each SQLSTATE
 * (PostgREST's mapSQLtoHTTP, requests being authenticated as the service role).
 */

export interface PostgrestErrorBody {
  code: string;
  details: string | null;
  hint: string | null;
  message: string;
}

export interface PostgrestErrorResponse {
  status: number;
  body: PostgrestErrorBody;
  headers?: Record<string, string>;
}

/** HTTP status for a SQLSTATE raised while running the function. */
export function httpStatusForSqlState(code: string, message: string): number {
  const exact: Record<string, number> = {
    '23503': 409, // foreign_key_violation
    '23505': 409, // unique_violation
    '25006': 405, // read_only_sql_transaction
    '53400': 500, // configuration_limit_exceeded
    '57P01': 503, // admin_shutdown
    P0001: 400, // raise_exception, the default of RAISE
    '42883': 404, // undefined_function
    '42P01': 404, // undefined_table
    '42P17': 500, // invalid_object_definition (infinite recursion)
    '42501': 403, // insufficient_privilege, for an authenticated role
  };
  if (code === '21000') return message.endsWith('requires a WHERE clause') ? 400 : 500;
  if (code === '22023') return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400;
  const known = exact[code];
  if (known !== undefined) return known;
  if (code.startsWith('PT')) {
    const status = Number(code.slice(2));
    return Number.isInteger(status) && status >= 100 && status <= 599 ? status : 500;
  }
  const byClass: Record<string, number> = {
    '08': 503, '09': 500, '0L': 403, '0P': 403, '25': 500, '28': 403, '2D': 500, '38': 500, '39': 500,
    '3B': 500, '40': 500, '53': 503, '54': 500, '55': 500, '57': 500, '58': 500, F0: 500, HV: 500,
    P0: 500, XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

export function sqlError(fields: { code: string; message: string; detail?: string; hint?: string }): PostgrestErrorResponse {
  return {
    status: httpStatusForSqlState(fields.code, fields.message),
    body: { code: fields.code, details: fields.detail ?? null, hint: fields.hint ?? null, message: fields.message },
  };
}

/** No Authorization header: PostgREST with anonymous access disabled. */
export function tokenRequired(): PostgrestErrorResponse {
  return {
    status: 401,
    body: { code: 'PGRST302', details: null, hint: null, message: 'Anonymous access is disabled' },
    headers: { 'WWW-Authenticate': 'Bearer' },
  };
}

/** A key that is not the service key (PostgREST would fail to verify its signature). */
export function invalidToken(): PostgrestErrorResponse {
  const message = 'JWT cryptographic operation failed';
  return {
    status: 401,
    body: { code: 'PGRST301', details: null, hint: null, message },
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${message}"` },
  };
}

/** No function of that name takes exactly these named arguments. */
export function noSuchFunction(schema: string, fn: string, argumentKeys: string[]): PostgrestErrorResponse {
  const func = `${schema}.${fn}`;
  const keys = [...argumentKeys].sort();
  const params = keys.length ? `(${keys.join(', ')})` : ' without parameters';
  const searched = keys.length ? ` with parameter${keys.length > 1 ? 's' : ''} ${keys.join(', ')}` : ' without parameters';
  return {
    status: 404,
    body: {
      code: 'PGRST202',
      details: `Searched for the function ${func}${searched} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
      hint: null,
      message: `Could not find the function ${func}${params} in the schema cache`,
    },
  };
}

export function ambiguousFunction(schema: string, fn: string): PostgrestErrorResponse {
  return {
    status: 300,
    body: {
      code: 'PGRST203',
      details: null,
      hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      message: `Could not choose the best candidate function for ${schema}.${fn}`,
    },
  };
}

export function invalidBody(message: string): PostgrestErrorResponse {
  return { status: 400, body: { code: 'PGRST102', details: null, hint: null, message } };
}

export function invalidRpcMethod(method: string): PostgrestErrorResponse {
  return { status: 405, body: { code: 'PGRST101', details: null, hint: null, message: `Cannot use the ${method} method on RPC` } };
}

export function invalidPath(): PostgrestErrorResponse {
  return { status: 404, body: { code: 'PGRST125', details: null, hint: null, message: 'Invalid path specified in request URL' } };
}

export function unacceptableSchema(schema: string, exposed: string): PostgrestErrorResponse {
  return {
    status: 406,
    body: { code: 'PGRST106', details: null, hint: `Only the following schemas are exposed: ${exposed}`, message: `Invalid schema: ${schema}` },
  };
}

/** The database could not be reached. */
export function connectionError(details: string): PostgrestErrorResponse {
  return {
    status: 503,
    body: { code: 'PGRST000', details, hint: null, message: 'Database connection error. Retrying the connection.' },
  };
}
