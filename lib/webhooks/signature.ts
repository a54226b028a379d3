import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 webhook signatures, compared in constant time. GitHub sends
 * `X-Hub-Signature-256: sha256=<hex>`; other sources may send the bare hex digest too.
 */
export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * True when `header` is a valid HMAC-SHA256 of `body` under `secret`. `sha1=` or any other
 * algorithm, several values, or a digest of the wrong length are refused. `allowBareHex` accepts
 * `<hex>` without the `sha256=` prefix.
 */
export function verifySignature(secret: string, body: Buffer, header: string | string[] | undefined, options: { allowBareHex?: boolean } = {}): boolean {
  if (typeof header !== 'string') return false;
  const match = (options.allowBareHex ? /^(?:sha256=)?([0-9a-fA-F]{64})$/ : /^sha256=([0-9a-fA-F]{64})$/).exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}
