import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError } from './errors';

/**
 * Payload encryption (AES-256-GCM) for everything durasync puts in Temporal: workflow inputs and
 * results, activity arguments, signals, queries, memos, failures' details. Used by workers and
 * clients when DURASYNC_ENCRYPTION_KEY is set; history at rest then holds only ciphertext.
 *
 * DURASYNC_ENCRYPTION_KEY is a comma-separated list of `<keyId>:<base64 of 32 bytes>`. The first key
 * encrypts; all of them decrypt, so keys rotate by putting a new key first and keeping the old ones
 * until no history needs them. Each encrypted payload names its key in its metadata.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/** Parses DURASYNC_ENCRYPTION_KEY; a ConfigError names the variable (never the key material). */
export function parseEncryptionKeys(raw: string, variable = 'DURASYNC_ENCRYPTION_KEY'): EncryptionKey[] {
  const keys = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, index) => {
      const colon = part.indexOf(':');
      const id = part.slice(0, colon);
      const key = Buffer.from(part.slice(colon + 1), 'base64');
      if (colon < 1 || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
        throw new ConfigError(variable, `key ${index + 1}: expected <keyId>:<base64 key>, with a key id of letters, digits and . _ -`);
      }
      if (key.length !== 32) throw new ConfigError(variable, `key "${id}": expected 32 bytes of base64 (openssl rand -base64 32), got ${key.length}`);
      return { id, key };
    });
  if (keys.length === 0) throw new ConfigError(variable, 'expected at least one <keyId>:<base64 key>');
  const ids = keys.map((k) => k.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate) throw new ConfigError(variable, `key id "${duplicate}" appears twice`);
  return keys;
}

/** A payload could not be decrypted: unknown key id, or tampered / corrupted ciphertext. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  constructor(
    readonly keyId: string,
    readonly reason: 'unknown-key' | 'bad-ciphertext',
  ) {
    super(reason === 'unknown-key' ? `payload encrypted with unknown key "${keyId}"` : `payload encrypted with key "${keyId}" failed authentication`);
  }
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly active: EncryptionKey;

  constructor(keys: EncryptionKey[]) {
    if (!keys[0]) throw new Error('EncryptionCodec needs at least one key');
    this.active = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(
      payloads.map((payload) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
        const plain = temporal.api.common.v1.Payload.encode(payload).finish();
        const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
        return {
          metadata: { [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(this.active.id) },
          data,
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(
      payloads.map((payload) => {
        const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
        if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload; // written before encryption was on
        const keyId = fromUtf8.decode(payload.metadata?.[KEY_ID_METADATA] ?? new Uint8Array());
        const key = this.byId.get(keyId);
        if (!key) throw new PayloadDecryptionError(keyId, 'unknown-key');
        const data = Buffer.from(payload.data ?? new Uint8Array());
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
          decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
          const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
          return temporal.api.common.v1.Payload.decode(plain);
        } catch {
          throw new PayloadDecryptionError(keyId, 'bad-ciphertext');
        }
      }),
    );
  }
}
