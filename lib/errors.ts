/**
 * Coerces anything thrown into an Error, keeping the original as `cause` when it was not one.
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const err = new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${safeString(thrown)}`);
  (err as Error & { cause?: unknown }).cause = thrown;
  return err;
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A configuration value is missing or invalid. The message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}
