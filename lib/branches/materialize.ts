import { createHash } from 'node:crypto';
import { InvalidArgumentError, NotFoundError } from '../db/errors';
import type { Store } from '../db/store';
import type { ObjectStore } from '../objects';
import type { Change } from '../../workflows/branches/types';
import { DEFAULT_BROTLI_QUALITY, DeltaCorruptError, compressAsync, decodeDeltaAsync, frame, openFrameAsync, type DeltaCodec } from './delta-codec';

/**
 * A branch's documents at a seq: its parent's state at parentSeq (recursively), or its newest
 * snapshot at or before the seq, then every delta after that, each verified (the object's own
 * sha256 and the checksum committed in branch_deltas).
 */

/** Documents by `${collection}/${documentId}`. */
export type DocumentState = Map<string, Record<string, unknown>>;

export function documentKey(collection: string, documentId: string): string {
  return `${collection}/${documentId}`;
}

/**
 * Applies one change: insert sets the document (`after`; an existing one is replaced); update
 * replaces it with `after` when given, else merges `patch` into it (a `null` value removes the
 * key; a missing document starts empty); delete removes it (a missing one is fine).
 */
export function applyChange(state: DocumentState, change: Change): void {
  const key = documentKey(change.collection, change.documentId);
  switch (change.op) {
    case 'insert':
      state.set(key, { ...(change.after ?? {}) });
      return;
    case 'update': {
      if (change.after !== undefined) {
        state.set(key, { ...change.after });
        return;
      }
      const next: Record<string, unknown> = { ...(state.get(key) ?? {}) };
      for (const [field, value] of Object.entries(change.patch ?? {})) {
        if (value === null) delete next[field];
        else next[field] = value;
      }
      state.set(key, next);
      return;
    }
    case 'delete':
      state.delete(key);
      return;
  }
}

/** JSON with object keys sorted, recursively (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function sortedKeys(state: DocumentState): string[] {
  return [...state.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One line of the canonical serialisation of a state: `{"k":key,"d":document}` with sorted keys. */
function canonicalLine(key: string, doc: Record<string, unknown>): string {
  return `{"d":${canonicalJson(doc)},"k":${JSON.stringify(key)}}`;
}

/**
 * sha256 (hex) of the canonical serialisation of a state: one line per document in key order,
 * each `{"d":<document, keys sorted recursively>,"k":<key>}`, `\n`-separated. Equal states have
 * equal checksums whatever the order of inserts or of keys.
 */
export function stateChecksum(state: DocumentState): string {
  const hash = createHash('sha256');
  let first = true;
  for (const key of sortedKeys(state)) {
    hash.update((first ? '' : '\n') + canonicalLine(key, state.get(key)!));
    first = false;
  }
  return hash.digest('hex');
}

const SNAPSHOT_MAGIC = Buffer.from('DSS1', 'ascii');

export interface EncodedSnapshot {
  body: Buffer;
  /** stateChecksum of the documents (the header's sha256 is of these same bytes). */
  checksum: string;
  documentCount: number;
  rawBytes: number;
}

/**
 * A snapshot object: the delta format with magic `DSS1` around the canonical serialisation of the
 * state (so the header's sha256 is the stateChecksum), brotli by default.
 */
export async function encodeSnapshot(state: DocumentState, options?: { codec?: DeltaCodec; quality?: number }): Promise<EncodedSnapshot> {
  const raw = Buffer.from(sortedKeys(state).map((key) => canonicalLine(key, state.get(key)!)).join('\n'), 'utf8');
  const digest = createHash('sha256').update(raw).digest();
  const codec = options?.codec ?? 'br';
  const compressed = await compressAsync(raw, codec, options?.quality ?? (codec === 'br' ? DEFAULT_BROTLI_QUALITY : undefined));
  return { body: frame(SNAPSHOT_MAGIC, codec, digest, compressed), checksum: digest.toString('hex'), documentCount: state.size, rawBytes: raw.length };
}

/** Decodes a snapshot object, verifying its checksum; DeltaCorruptError otherwise. */
export async function decodeSnapshot(body: Buffer): Promise<{ documents: DocumentState; checksum: string }> {
  const { raw, checksum } = await openFrameAsync(body, SNAPSHOT_MAGIC, 'snapshot');
  const documents: DocumentState = new Map();
  const text = raw.toString('utf8');
  if (text !== '') {
    text.split('\n').forEach((line, i) => {
      let parsed: { k?: unknown; d?: unknown };
      try {
        parsed = JSON.parse(line) as { k?: unknown; d?: unknown };
      } catch (err) {
        throw new DeltaCorruptError(`snapshot line ${i + 1} is not JSON`, checksum, undefined, { cause: err });
      }
      if (typeof parsed.k !== 'string' || !parsed.d || typeof parsed.d !== 'object') {
        throw new DeltaCorruptError(`snapshot line ${i + 1} is not a document`, checksum);
      }
      documents.set(parsed.k, parsed.d as Record<string, unknown>);
    });
  }
  return { documents, checksum };
}

/** An object a branch row points at is not in object storage. */
export class MissingObjectError extends Error {
  override readonly name = 'MissingObjectError';
  constructor(readonly objectKey: string, what: string) {
    super(`${what}: object ${objectKey} is missing from object storage`);
  }
}

export interface MaterializeDeps {
  store: Pick<Store, 'getBranch' | 'listBranchDeltas' | 'latestBranchSnapshot'>;
  objects: ObjectStore;
}

export interface MaterializedBranch {
  seq: number;
  documents: DocumentState;
  checksum: string;
}

/** Objects fetched ahead of the one being applied. */
const PREFETCH = 4;
/** Parent chains deeper than this are refused (a cycle could only come from a damaged database). */
const MAX_DEPTH = 1000;

/**
 * The documents of a branch at `seq` (default: its head). NotFoundError for an unknown branch;
 * InvalidArgumentError for a seq outside 0..head; DeltaCorruptError for an object that fails its
 * checks or does not match its committed checksum; MissingObjectError for an object not stored.
 */
export async function materializeBranch(deps: MaterializeDeps, branchId: string, seq?: number): Promise<MaterializedBranch> {
  const documents = await stateAt(deps, branchId, seq, 0);
  const branchSeq = documents.seq;
  return { seq: branchSeq, documents: documents.state, checksum: stateChecksum(documents.state) };
}

async function stateAt(deps: MaterializeDeps, branchId: string, seq: number | undefined, depth: number): Promise<{ seq: number; state: DocumentState }> {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`branch ${branchId}: parent chain deeper than ${MAX_DEPTH}`, 'branchId');
  const branch = await deps.store.getBranch(branchId);
  if (!branch) throw new NotFoundError(`branch ${branchId} not found`, 'branch', branchId);
  const target = seq ?? branch.headSeq;
  if (!Number.isInteger(target) || target < 0 || target > branch.headSeq) {
    throw new InvalidArgumentError(`seq ${target} is outside 0..${branch.headSeq} of branch ${branchId}`, 'seq');
  }

  let state: DocumentState;
  let from: number;
  const snapshot = await deps.store.latestBranchSnapshot(branchId, target);
  if (snapshot) {
    const body = await deps.objects.get(snapshot.objectKey);
    if (!body) throw new MissingObjectError(snapshot.objectKey, `snapshot ${snapshot.seq} of branch ${branchId}`);
    const decoded = await decodeSnapshot(body);
    if (decoded.checksum !== snapshot.checksum) {
      throw new DeltaCorruptError(
        `snapshot ${snapshot.seq} of branch ${branchId}: object checksum ${decoded.checksum} is not the recorded ${snapshot.checksum}`,
        snapshot.checksum,
        decoded.checksum,
      );
    }
    state = decoded.documents;
    from = snapshot.seq;
  } else if (branch.parentId !== null) {
    state = (await stateAt(deps, branch.parentId, branch.parentSeq ?? undefined, depth + 1)).state;
    from = 0;
  } else {
    state = new Map();
    from = 0;
  }
  if (target === from) return { seq: target, state };

  const deltas = await deps.store.listBranchDeltas(branchId, { fromSeq: from + 1, toSeq: target });
  deltas.forEach((delta, i) => {
    if (delta.seq !== from + 1 + i) throw new MissingObjectError(`seq ${from + 1 + i}`, `branch ${branchId}: delta row ${from + 1 + i} is missing`);
  });
  if (deltas.length !== target - from) {
    throw new MissingObjectError(`seq ${from + deltas.length + 1}`, `branch ${branchId}: delta row ${from + deltas.length + 1} is missing`);
  }

  const fetches: Promise<Buffer | null>[] = [];
  const fetchAt = (i: number): Promise<Buffer | null> => {
    const delta = deltas[i];
    if (delta && fetches[i] === undefined) {
      fetches[i] = deps.objects.get(delta.objectKey);
      fetches[i].catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    }
    return fetches[i]!;
  };
  for (let i = 0; i < deltas.length; i++) {
    for (let j = i; j < Math.min(deltas.length, i + PREFETCH); j++) void fetchAt(j);
    const delta = deltas[i]!;
    const body = await fetchAt(i);
    if (!body) throw new MissingObjectError(delta.objectKey, `delta ${delta.seq} of branch ${branchId}`);
    const decoded = await decodeDeltaAsync(body);
    if (decoded.checksum !== delta.checksum) {
      throw new DeltaCorruptError(
        `delta ${delta.seq} of branch ${branchId}: object checksum ${decoded.checksum} is not the committed ${delta.checksum}`,
        delta.checksum,
        decoded.checksum,
      );
    }
    for (const change of decoded.changes) applyChange(state, change);
    fetches[i] = Promise.resolve(null); // release the body; never fetched again (j >= i + 1 from here)
  }
  return { seq: target, state };
}
