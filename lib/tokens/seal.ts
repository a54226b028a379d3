import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey } from '../codec';

/**
 * Provider tokens at rest (Postgres, Redis): AES-256-GCM with a key from DURASYNC_TOKEN_KEY
 * (`<keyId>:<base64 32 bytes>[,<oldId>:<key>...]`, the first seals, all open). A sealed token is
 * `iv (12) | ciphertext | tag (16)`; the key id travels beside it (the row's `key_id`).
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed token names a key this process does not have, or does not authenticate. */
export class TokenKeyError extends Error {
  override readonly name = 'TokenKeyError';
  constructor(
    readonly keyId: string,
    readonly reason: 'unknown-key' | 'bad-ciphertext',
  ) {
    super(reason === 'unknown-key' ? `token sealed with unknown key "${keyId}" (add it to DURASYNC_TOKEN_KEY)` : `token sealed with key "${keyId}" failed authentication`);
  }
}

export function sealToken(plain: string, key: EncryptionKey): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  return Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
}

export function openToken(sealed: Buffer, keyId: string, keys: EncryptionKey[]): string {
  const key = keys.find((k) => k.id === keyId);
  if (!key) throw new TokenKeyError(keyId, 'unknown-key');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new TokenKeyError(keyId, 'bad-ciphertext');
  }
}
