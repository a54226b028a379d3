const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` on one line: line breaks and other control characters as their JSON escapes (`\n`, `\u001b`). */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A configuration value is missing or invalid. The message names the variable and stays on one
 * line whatever the value held (a value quoted into the problem cannot break it).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problem: string;
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${oneLine(problem)}`);
    this.problem = oneLine(problem);
  }
}
