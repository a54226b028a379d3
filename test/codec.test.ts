import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, parseEncryptionKeys, PayloadDecryptionError } from '../lib/codec';
import { ConfigError } from '../lib/errors';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('payload encryption codec', () => {
  const payload = defaultPayloadConverter.toPayload({ token: 'ghp_secret123', note: 'hello' });

  it('round-trips a payload and leaves no plaintext in the encrypted one', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    const [encrypted] = await codec.encode([payload]);
    expect(Buffer.from(encrypted!.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(encrypted!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(Buffer.from(encrypted!.data!).toString('latin1')).not.toContain('ghp_secret123');
    const [decrypted] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decrypted!)).toEqual({ token: 'ghp_secret123', note: 'hello' });
  });

  it('decrypts with an older key after rotation and encrypts with the first', async () => {
    const oldKey = key('old');
    const [byOld] = await new EncryptionCodec(parseEncryptionKeys(oldKey)).encode([payload]);
    const rotated = new EncryptionCodec(parseEncryptionKeys(`${key('new')},${oldKey}`));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([byOld!]))[0]!)).toEqual({ token: 'ghp_secret123', note: 'hello' });
    const [byNew] = await rotated.encode([payload]);
    expect(Buffer.from(byNew!.metadata!['encryption-key-id']!).toString()).toBe('new');
  });

  it('refuses a payload of an unknown key and a tampered payload with typed errors', async () => {
    const [encrypted] = await new EncryptionCodec(parseEncryptionKeys(key('k1'))).encode([payload]);
    await expect(new EncryptionCodec(parseEncryptionKeys(key('k2'))).decode([encrypted!])).rejects.toMatchObject({ name: 'PayloadDecryptionError', keyId: 'k1', reason: 'unknown-key' });
    const k = parseEncryptionKeys(key('k1'));
    const [mine] = await new EncryptionCodec(k).encode([payload]);
    const data = Buffer.from(mine!.data!);
    data[20] = data[20]! ^ 0xff;
    await expect(new EncryptionCodec(k).decode([{ ...mine!, data }])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('passes through payloads written before encryption was turned on', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    expect(await codec.decode([payload])).toEqual([payload]);
  });

  it.each([
    ['', 'expected at least one'],
    ['k1', 'expected <keyId>:<base64 key>'],
    [`k1:${randomBytes(16).toString('base64')}`, 'expected 32 bytes'],
    [`${key('a')},${key('a')}`, 'appears twice'],
  ])('refuses DURASYNC_ENCRYPTION_KEY=%j in one line without echoing key material', (raw, text) => {
    let err: unknown;
    try {
      parseEncryptionKeys(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain(text);
    const material = raw.split(',').map((p) => p.split(':')[1]).filter(Boolean);
    for (const m of material) expect((err as ConfigError).message).not.toContain(m);
  });
});
