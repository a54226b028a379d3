import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Change } from '../../workflows/branches/types';

/**
 * The object format of a branch delta: a 37-byte header, then the compressed NDJSON of its
 * changes (one change per line, `\n`-separated, no trailing newline).
 *
 *   0..3   magic `DSD1`
 *   4      codec: 1 = brotli (`br`), 2 = gzip
 *   5..36  sha256 of the raw NDJSON (its hex is the delta's `checksum`)
 *   37..   compressed NDJSON
 *
 * Default: brotli at quality 5, chosen by measuring 5,000 updates spread over 50 documents, each
 * update carrying the document's before and after images (3.31 MB of NDJSON; the shape of
 * test/branches/delta-codec.test.ts), on Node 24, sync calls, mean of 3 runs, MB/s of raw NDJSON
 * (decompression figures are noisy, +-50%):
 *
 *   codec     ratio   compress MB/s   decompress MB/s   (patch-only updates, 0.82 MB: ratio, compress MB/s)
 *   br q1     17.7x        840             ~400           11.6x  420
 *   br q3     22.3x        365             ~850           12.3x  243
 *   br q4     22.8x        205             ~800           12.4x  194
 *   br q5     32.9x        171            ~1000+          16.5x  103
 *   br q6     34.2x        144            ~1200+          16.4x   87
 *   br q7     35.0x        121            ~1400+          16.2x   59
 *   br q9     35.9x         54            ~1700           16.0x   34
 *   br q11    41.4x          1            ~1500           22.0x    1
 *   gzip 1    15.9x        600            ~1000           10.7x  519
 *   gzip 6    22.1x        210            ~1400           13.1x  134
 *   gzip 9    24.0x         77            ~1000           14.6x   27
 *
 * Repeated updates repeat document images further back than gzip's 32 KiB window reaches;
 * brotli's 4 MiB window (LGWIN 22) does, and from quality 5 on (where its hash-chain matcher
 * starts) it finds them: 1.5x gzip -6's ratio at about gzip -6's speed, 1.4x gzip -9's at twice
 * its speed. Higher qualities gain 4-9% for 1.2-3x the CPU; quality 11 another 25% for 170x the
 * CPU: not worth an activity's time on every delta. gzip stays available (`codec: 'gzip'`) and
 * readable (the codec byte) for tools without brotli.
 */
export type DeltaCodec = 'br' | 'gzip';

export const DEFAULT_DELTA_CODEC: DeltaCodec = 'br';
/** Brotli quality (0-11) of the default; gzip's default level is 6. */
export const DEFAULT_BROTLI_QUALITY = 5;
export const DEFAULT_GZIP_LEVEL = 6;
/** Brotli window bits (10-24): 22 = 4 MiB, far enough back to reach a document's previous image. */
const BROTLI_WINDOW_BITS = 22;

const DELTA_MAGIC = Buffer.from('DSD1', 'ascii');
const HEADER_BYTES = 4 + 1 + 32;
const CODEC_BYTES: Record<DeltaCodec, number> = { br: 1, gzip: 2 };

/** A delta (or snapshot) object that fails its checks: bad magic, unknown codec, damaged data, wrong checksum. */
export class DeltaCorruptError extends Error {
  override readonly name = 'DeltaCorruptError';
  constructor(
    message: string,
    /** The checksum the object claims, when its header could be read. */
    readonly expectedChecksum?: string,
    readonly actualChecksum?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface EncodeDeltaOptions {
  /** Default: `br`. */
  codec?: DeltaCodec;
  /** Brotli quality 0-11 (default 5) or gzip level 1-9 (default 6). */
  quality?: number;
}

export interface EncodedDelta {
  /** The object to store. */
  body: Buffer;
  /** Size of the raw NDJSON. */
  rawBytes: number;
  /** sha256 (hex) of the raw NDJSON. */
  checksum: string;
  codec: DeltaCodec;
  changeCount: number;
}

export interface DecodedDelta {
  changes: Change[];
  checksum: string;
  codec: DeltaCodec;
}

/**
 * The raw NDJSON of changes: changes serialised one per line; a string is taken as NDJSON with its
 * blank lines (and `\r`) dropped, so `a\n\nb\n` and `a\nb` are the same delta.
 */
export function deltaNdjson(changes: Change[] | string): { ndjson: string; changeCount: number } {
  if (typeof changes !== 'string') return { ndjson: changes.map((c) => JSON.stringify(c)).join('\n'), changeCount: changes.length };
  const lines = changes.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
  return { ndjson: lines.join('\n'), changeCount: lines.length };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function zlibOptions(codec: DeltaCodec, quality: number | undefined, size: number): zlib.BrotliOptions & zlib.ZlibOptions {
  if (codec === 'br') {
    const q = quality ?? DEFAULT_BROTLI_QUALITY;
    if (!Number.isInteger(q) || q < 0 || q > 11) throw new RangeError(`brotli quality must be 0-11, got ${q}`);
    return {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: q,
        [zlib.constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
      },
    };
  }
  const level = quality ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level must be 1-9, got ${level}`);
  return { level };
}

/** Compresses `raw` with `codec` (sync). */
export function compress(raw: Buffer, codec: DeltaCodec, quality?: number): Buffer {
  const options = zlibOptions(codec, quality, raw.length);
  return codec === 'br' ? zlib.brotliCompressSync(raw, options) : zlib.gzipSync(raw, options);
}

const brotliCompressAsync = promisify(zlib.brotliCompress);
const gzipAsync = promisify(zlib.gzip);
const brotliDecompressAsync = promisify(zlib.brotliDecompress);
const gunzipAsync = promisify(zlib.gunzip);

/** Compresses `raw` with `codec` on libuv's thread pool. */
export async function compressAsync(raw: Buffer, codec: DeltaCodec, quality?: number): Promise<Buffer> {
  const options = zlibOptions(codec, quality, raw.length);
  return codec === 'br' ? brotliCompressAsync(raw, options) : gzipAsync(raw, options);
}

/** A framed object: magic, codec byte, the digest of the raw data, the compressed data. */
export function frame(magic: Buffer, codec: DeltaCodec, digest: Buffer, compressed: Buffer): Buffer {
  return Buffer.concat([magic, Buffer.from([CODEC_BYTES[codec]]), digest, compressed]);
}

interface Unframed {
  codec: DeltaCodec;
  checksum: string;
  compressed: Buffer;
}

/** Reads a frame's header; DeltaCorruptError when it is not one with `magic`. */
export function unframe(body: Buffer, magic: Buffer, what: string): Unframed {
  if (!Buffer.isBuffer(body) || body.length < HEADER_BYTES || !body.subarray(0, 4).equals(magic)) {
    throw new DeltaCorruptError(`not a ${what}: the header (${magic.toString('ascii')}) is missing`);
  }
  const byte = body[4];
  const codec = (Object.keys(CODEC_BYTES) as DeltaCodec[]).find((c) => CODEC_BYTES[c] === byte);
  if (!codec) throw new DeltaCorruptError(`${what} has an unknown codec byte ${byte}`);
  return { codec, checksum: body.subarray(5, HEADER_BYTES).toString('hex'), compressed: body.subarray(HEADER_BYTES) };
}

function decompressSync(frameInfo: Unframed, what: string): Buffer {
  try {
    return frameInfo.codec === 'br' ? zlib.brotliDecompressSync(frameInfo.compressed) : zlib.gunzipSync(frameInfo.compressed);
  } catch (err) {
    throw new DeltaCorruptError(`${what} does not decompress (${frameInfo.codec}): ${(err as Error).message}`, frameInfo.checksum, undefined, { cause: err });
  }
}

async function decompressAsyncFrame(frameInfo: Unframed, what: string): Promise<Buffer> {
  try {
    return await (frameInfo.codec === 'br' ? brotliDecompressAsync(frameInfo.compressed) : gunzipAsync(frameInfo.compressed));
  } catch (err) {
    throw new DeltaCorruptError(`${what} does not decompress (${frameInfo.codec}): ${(err as Error).message}`, frameInfo.checksum, undefined, { cause: err });
  }
}

/** Decompresses a frame and checks the raw data against the header's sha256. */
export function openFrame(body: Buffer, magic: Buffer, what: string): { raw: Buffer; codec: DeltaCodec; checksum: string } {
  const info = unframe(body, magic, what);
  return verified(info, decompressSync(info, what), what);
}

export async function openFrameAsync(body: Buffer, magic: Buffer, what: string): Promise<{ raw: Buffer; codec: DeltaCodec; checksum: string }> {
  const info = unframe(body, magic, what);
  return verified(info, await decompressAsyncFrame(info, what), what);
}

function verified(info: Unframed, raw: Buffer, what: string): { raw: Buffer; codec: DeltaCodec; checksum: string } {
  const actual = sha256Hex(raw);
  if (actual !== info.checksum) {
    throw new DeltaCorruptError(`${what} checksum mismatch: header says ${info.checksum}, data hashes to ${actual}`, info.checksum, actual);
  }
  return { raw, codec: info.codec, checksum: actual };
}

function parseNdjsonChanges(raw: Buffer): Change[] {
  const text = raw.toString('utf8');
  if (text === '') return [];
  return text.split('\n').map((line, i) => {
    try {
      return JSON.parse(line) as Change;
    } catch (err) {
      throw new DeltaCorruptError(`delta line ${i + 1} is not JSON: ${(err as Error).message}`, undefined, undefined, { cause: err });
    }
  });
}

function prepare(changes: Change[] | string, options: EncodeDeltaOptions | undefined) {
  const { ndjson, changeCount } = deltaNdjson(changes);
  const raw = Buffer.from(ndjson, 'utf8');
  const digest = createHash('sha256').update(raw).digest();
  return { raw, digest, changeCount, codec: options?.codec ?? DEFAULT_DELTA_CODEC };
}

/** Encodes changes (or their NDJSON) as a delta object (sync: blocks the thread while compressing). */
export function encodeDelta(changes: Change[] | string, options?: EncodeDeltaOptions): EncodedDelta {
  const { raw, digest, changeCount, codec } = prepare(changes, options);
  const body = frame(DELTA_MAGIC, codec, digest, compress(raw, codec, options?.quality));
  return { body, rawBytes: raw.length, checksum: digest.toString('hex'), codec, changeCount };
}

/** encodeDelta with the compression on libuv's thread pool (for activities: the event loop stays free). */
export async function encodeDeltaAsync(changes: Change[] | string, options?: EncodeDeltaOptions): Promise<EncodedDelta> {
  const { raw, digest, changeCount, codec } = prepare(changes, options);
  const body = frame(DELTA_MAGIC, codec, digest, await compressAsync(raw, codec, options?.quality));
  return { body, rawBytes: raw.length, checksum: digest.toString('hex'), codec, changeCount };
}

/** Decodes a delta object, verifying its sha256; DeltaCorruptError otherwise. */
export function decodeDelta(body: Buffer): DecodedDelta {
  const { raw, codec, checksum } = openFrame(body, DELTA_MAGIC, 'delta');
  return { changes: parseNdjsonChanges(raw), checksum, codec };
}

/** decodeDelta with the decompression on libuv's thread pool. */
export async function decodeDeltaAsync(body: Buffer): Promise<DecodedDelta> {
  const { raw, codec, checksum } = await openFrameAsync(body, DELTA_MAGIC, 'delta');
  return { changes: parseNdjsonChanges(raw), checksum, codec };
}
