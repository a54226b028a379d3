import { decodeDelta, decodeDeltaAsync, DeltaCorruptError, encodeDelta, encodeDeltaAsync, sha256Hex } from '../../lib/branches/delta-codec';
import { serializeChanges } from '../../lib/branches/changes';
import type { Change } from '../../workflows/branches/types';

/** `n` updates spread over `docs` documents, each with the document's before and after images. */
export function repeatedUpdates(n: number, docs: number): Change[] {
  const state = new Map<number, Record<string, unknown>>();
  let seed = 42;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let d = 0; d < docs; d++) {
    state.set(d, {
      id: `doc-${d}`,
      title: `Note number ${d} about ${['tea', 'maps', 'temporal', 'postgres'][d % 4]}`,
      status: 'draft',
      owner: `user-${d % 7}@example.com`,
      tags: ['notes', `t${d % 5}`],
      views: 0,
      score: 0.5,
      body: `Lorem ipsum dolor sit amet ${d}, consectetur adipiscing elit, sed do eiusmod tempor.`,
      updatedAt: new Date(1_700_000_000_000).toISOString(),
    });
  }
  const changes: Change[] = [];
  for (let i = 0; i < n; i++) {
    const d = Math.floor(rnd() * docs);
    const before = state.get(d)!;
    const patch = { views: (before.views as number) + 1, score: Math.round(rnd() * 1000) / 1000, updatedAt: new Date(1_700_000_000_000 + i * 1000).toISOString() };
    const after = { ...before, ...patch };
    state.set(d, after);
    changes.push({ collection: 'notes', documentId: `doc-${d}`, op: 'update', before, after, ts: patch.updatedAt });
  }
  return changes;
}

const sample: Change[] = [
  { collection: 'notes', documentId: 'a', op: 'insert', after: { title: 'é ✓ 𝄞', n: 1 }, ts: '2026-01-01T00:00:00.000Z' },
  { collection: 'notes', documentId: 'a', op: 'update', patch: { n: 2, gone: null }, ts: '2026-01-01T00:00:01.000Z' },
  { collection: 'notes', documentId: 'a', op: 'delete', ts: '2026-01-01T00:00:02.000Z' },
];

describe('delta codec', () => {
  it.each(['br', 'gzip'] as const)('round-trips changes with %s, with the sha256 of the NDJSON as checksum', (codec) => {
    const encoded = encodeDelta(sample, { codec });
    const ndjson = serializeChanges(sample);
    expect(encoded).toMatchObject({ codec, changeCount: 3, rawBytes: Buffer.byteLength(ndjson), checksum: sha256Hex(ndjson) });
    expect(encoded.body.subarray(0, 4).toString('ascii')).toBe('DSD1');
    expect(decodeDelta(encoded.body)).toEqual({ changes: sample, checksum: encoded.checksum, codec });
  });

  it('takes NDJSON as well, ignoring blank lines and a trailing newline, and empty input', async () => {
    const ndjson = serializeChanges(sample);
    const fromText = encodeDelta(`${ndjson.replace(/\n/g, '\n\n')}\n`);
    expect(fromText.checksum).toBe(encodeDelta(sample).checksum);
    expect(fromText.changeCount).toBe(3);
    expect(decodeDelta(fromText.body).changes).toEqual(sample);
    const empty = encodeDelta([]);
    expect(empty).toMatchObject({ changeCount: 0, rawBytes: 0 });
    expect(decodeDelta(empty.body).changes).toEqual([]);
    const asyncEncoded = await encodeDeltaAsync(ndjson, { codec: 'gzip', quality: 9 });
    expect(await decodeDeltaAsync(asyncEncoded.body)).toEqual({ changes: sample, checksum: fromText.checksum, codec: 'gzip' });
  });

  it('detects corruption: a flipped byte, a truncated body, a wrong checksum, a foreign object', async () => {
    const { body } = encodeDelta(repeatedUpdates(200, 5));
    const flipped = Buffer.from(body);
    flipped[flipped.length - 10]! ^= 0xff;
    expect(() => decodeDelta(flipped)).toThrow(DeltaCorruptError);
    await expect(decodeDeltaAsync(flipped)).rejects.toBeInstanceOf(DeltaCorruptError);
    expect(() => decodeDelta(body.subarray(0, body.length - 20))).toThrow(DeltaCorruptError);

    // valid compressed data under a header whose checksum does not match it
    const wrongSum = Buffer.from(body);
    wrongSum[5]! ^= 0x01;
    let caught: unknown;
    try {
      decodeDelta(wrongSum);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DeltaCorruptError);
    expect(caught).toMatchObject({ name: 'DeltaCorruptError', message: expect.stringMatching(/checksum mismatch/) as unknown });

    expect(() => decodeDelta(Buffer.from('{"not":"a delta"}'))).toThrow(/header \(DSD1\) is missing/);
    const badCodec = Buffer.from(body);
    badCodec[4] = 9;
    expect(() => decodeDelta(badCodec)).toThrow(/unknown codec byte 9/);
  });

  it('compresses 5,000 repeated updates over 50 documents at least 20x by default', () => {
    const changes = repeatedUpdates(5000, 50);
    const started = performance.now();
    const encoded = encodeDelta(changes);
    const ms = performance.now() - started;
    const ratio = encoded.rawBytes / encoded.body.length;
    const gzip = encodeDelta(changes, { codec: 'gzip' });
    process.stdout.write(`delta codec: ${(encoded.rawBytes / 1e6).toFixed(2)} MB raw, br ${ratio.toFixed(1)}x in ${ms.toFixed(0)} ms, gzip ${(gzip.rawBytes / gzip.body.length).toFixed(1)}x\n`);
    expect(encoded.codec).toBe('br');
    expect(ratio).toBeGreaterThanOrEqual(20);
    expect(encoded.body.length).toBeLessThan(gzip.body.length);
    expect(decodeDelta(encoded.body).changes).toHaveLength(5000);
  });
});
