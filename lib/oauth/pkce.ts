import { createHash, randomBytes } from 'node:crypto';

/**
 * PKCE (RFC 7636) with S256, the only method durasync sends: a 43-character base64url verifier
 * (32 random bytes) and its challenge, `base64url(sha256(verifier))`.
 */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** The S256 challenge of `verifier`. */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** A fresh verifier and its challenge. */
export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256Challenge(verifier) };
}

/** A random `state` for one authorization request (CSRF protection). */
export function randomState(): string {
  return randomBytes(16).toString('base64url');
}
