import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeDelta, DeltaCorruptError } from '../../lib/branches/delta-codec';
import { applyChange, decodeSnapshot, encodeSnapshot, materializeBranch, MissingObjectError, stateChecksum, type DocumentState } from '../../lib/branches/materialize';
import { createStore, InvalidArgumentError, NotFoundError, type Store } from '../../lib/db/store';
import { LocalObjectStore } from '../../lib/objects';
import type { Change } from '../../workflows/branches/types';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const ts = '2026-01-01T00:00:00.000Z';
const ins = (documentId: string, after: Record<string, unknown>, collection = 'notes'): Change => ({ collection, documentId, op: 'insert', after, ts });
const patch = (documentId: string, p: Record<string, unknown>): Change => ({ collection: 'notes', documentId, op: 'update', patch: p, ts });
const replace = (documentId: string, after: Record<string, unknown>): Change => ({ collection: 'notes', documentId, op: 'update', after, ts });
const del = (documentId: string): Change => ({ collection: 'notes', documentId, op: 'delete', ts });

describe('applyChange and stateChecksum', () => {
  it('inserts, patches (null removes a key), replaces and deletes documents', () => {
    const state: DocumentState = new Map();
    applyChange(state, ins('a', { title: 'A', n: 1, tags: ['x'] }));
    applyChange(state, ins('a', { title: 'A', n: 1 }, 'people'));
    applyChange(state, patch('a', { n: 2, tags: null, extra: { deep: true } }));
    expect(state.get('notes/a')).toEqual({ title: 'A', n: 2, extra: { deep: true } });
    expect(state.get('people/a')).toEqual({ title: 'A', n: 1 });
    applyChange(state, replace('a', { only: 'this' }));
    expect(state.get('notes/a')).toEqual({ only: 'this' });
    applyChange(state, patch('new', { created: 'by patch', gone: null }));
    expect(state.get('notes/new')).toEqual({ created: 'by patch' });
    applyChange(state, ins('a', { again: true }));
    expect(state.get('notes/a')).toEqual({ again: true });
    applyChange(state, del('a'));
    applyChange(state, del('never-was'));
    expect([...state.keys()].sort()).toEqual(['notes/new', 'people/a']);
  });

  it('does not let a later change mutate an earlier input', () => {
    const after = { n: 1 };
    const state: DocumentState = new Map();
    applyChange(state, ins('a', after));
    applyChange(state, patch('a', { n: 2 }));
    expect(after).toEqual({ n: 1 });
  });

  it('checksums states canonically: insertion order and key order do not matter, content does', () => {
    const one: DocumentState = new Map([
      ['notes/a', { x: 1, y: { b: 2, a: [1, { d: 1, c: 2 }] } }],
      ['notes/b', { z: null }],
    ]);
    const two: DocumentState = new Map([
      ['notes/b', { z: null }],
      ['notes/a', { y: { a: [1, { c: 2, d: 1 }], b: 2 }, x: 1 }],
    ]);
    expect(stateChecksum(one)).toBe(stateChecksum(two));
    expect(stateChecksum(one)).toMatch(/^[0-9a-f]{64}$/);
    two.set('notes/b', { z: 0 });
    expect(stateChecksum(one)).not.toBe(stateChecksum(two));
    expect(stateChecksum(new Map())).toBe(stateChecksum(new Map()));
  });

  it('round-trips snapshots with their checksum, and refuses a damaged one', async () => {
    const state: DocumentState = new Map([['notes/a', { é: '✓', n: [1, 2] }], ['x/y', {}]]);
    const encoded = await encodeSnapshot(state);
    expect(encoded).toMatchObject({ checksum: stateChecksum(state), documentCount: 2 });
    const decoded = await decodeSnapshot(encoded.body);
    expect(decoded.checksum).toBe(encoded.checksum);
    expect(decoded.documents).toEqual(state);
    const damaged = Buffer.from(encoded.body);
    damaged[damaged.length - 3]! ^= 0x55;
    await expect(decodeSnapshot(damaged)).rejects.toBeInstanceOf(DeltaCorruptError);
    await expect(decodeSnapshot(encodeDelta([]).body)).rejects.toThrow(/header \(DSS1\) is missing/);
  });
});

describe('materializeBranch on PgStore and LocalObjectStore', () => {
  let db: TestDatabase;
  let store: Store;
  let objects: LocalObjectStore;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase();
    store = createStore({ databaseUrl: db.url, poolMax: 4 });
    dir = await mkdtemp(path.join(tmpdir(), 'durasync-materialize-'));
    objects = new LocalObjectStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const deltaKey = (branchId: string, seq: number) => `branches/${branchId}/deltas/${seq}`;

  async function commit(branchId: string, seq: number, changes: Change[], checksumOverride?: string): Promise<void> {
    const encoded = encodeDelta(changes);
    const objectKey = deltaKey(branchId, seq);
    await objects.put(objectKey, encoded.body);
    await store.commitBranchDelta({ branchId, seq, objectKey, changeCount: encoded.changeCount, byteSize: encoded.body.length, checksum: checksumOverride ?? encoded.checksum, rawBytes: encoded.rawBytes, codec: encoded.codec });
  }

  async function snapshot(branchId: string, seq: number): Promise<void> {
    const { documents, checksum } = await materializeBranch({ store, objects }, branchId, seq);
    const encoded = await encodeSnapshot(documents);
    expect(encoded.checksum).toBe(checksum);
    const objectKey = `branches/${branchId}/snapshots/${seq}`;
    await objects.put(objectKey, encoded.body);
    await store.recordBranchSnapshot({ branchId, seq, objectKey, checksum, documentCount: encoded.documentCount });
  }

  function reference(...changeLists: Change[][]): DocumentState {
    const state: DocumentState = new Map();
    for (const list of changeLists) for (const change of list) applyChange(state, change);
    return state;
  }

  it('replays a parent chain from its fork points, using snapshots where there are some', async () => {
    const root = (await store.createBranch({ name: 'root' })).branch;
    const r1 = [ins('a', { v: 1 }), ins('b', { v: 1 }), ins('c', { v: 1 })];
    const r2 = [patch('a', { v: 2, note: 'r2' }), del('c')];
    const r3 = [replace('b', { v: 3 }), ins('d', { v: 3 })];
    await commit(root.id, 1, r1);
    await commit(root.id, 2, r2);

    const child = (await store.createBranch({ name: 'child', parentId: root.id })).branch; // forks at 2
    await commit(root.id, 3, r3); // after the fork: not the child's
    const c1 = [patch('a', { v: 'child' }), ins('e', { v: 'child' })];
    const c2 = [del('b')];
    await commit(child.id, 1, c1);
    await commit(child.id, 2, c2);

    const grandchild = (await store.createBranch({ name: 'grandchild', parentId: child.id, parentSeq: 1 })).branch;
    const g1 = [patch('e', { g: true })];
    await commit(grandchild.id, 1, g1);

    const rootHead = await materializeBranch({ store, objects }, root.id);
    expect(rootHead.seq).toBe(3);
    expect(rootHead.documents).toEqual(reference(r1, r2, r3));
    expect(rootHead.checksum).toBe(stateChecksum(reference(r1, r2, r3)));
    expect((await materializeBranch({ store, objects }, root.id, 0)).documents).toEqual(new Map());
    expect((await materializeBranch({ store, objects }, root.id, 2)).documents).toEqual(reference(r1, r2));

    expect((await materializeBranch({ store, objects }, child.id)).documents).toEqual(reference(r1, r2, c1, c2));
    expect((await materializeBranch({ store, objects }, child.id, 0)).documents).toEqual(reference(r1, r2));
    const grand = await materializeBranch({ store, objects }, grandchild.id);
    expect(grand).toEqual({ seq: 1, documents: reference(r1, r2, c1, g1), checksum: stateChecksum(reference(r1, r2, c1, g1)) });

    // Snapshots: root at 2, child at 1. With the objects of the deltas they cover gone, every
    // state at or after a snapshot still materialises, and reads before one fail loudly.
    await snapshot(root.id, 2);
    await snapshot(child.id, 1);
    await objects.delete([deltaKey(root.id, 1), deltaKey(root.id, 2), deltaKey(child.id, 1)]);
    expect((await materializeBranch({ store, objects }, root.id)).documents).toEqual(reference(r1, r2, r3));
    expect((await materializeBranch({ store, objects }, child.id)).documents).toEqual(reference(r1, r2, c1, c2));
    expect((await materializeBranch({ store, objects }, grandchild.id)).checksum).toBe(grand.checksum);
    await expect(materializeBranch({ store, objects }, root.id, 1)).rejects.toBeInstanceOf(MissingObjectError);
  });

  it('refuses a seq beyond the head, an unknown branch, and objects that do not match what was committed', async () => {
    const branch = (await store.createBranch({ name: 'checked' })).branch;
    await commit(branch.id, 1, [ins('a', { v: 1 })]);
    await expect(materializeBranch({ store, objects }, branch.id, 2)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(materializeBranch({ store, objects }, branch.id, -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(materializeBranch({ store, objects }, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);

    // a valid object whose checksum is not the committed one
    await commit(branch.id, 2, [ins('b', { v: 2 })], 'f'.repeat(64));
    await expect(materializeBranch({ store, objects }, branch.id)).rejects.toMatchObject({ name: 'DeltaCorruptError', message: expect.stringMatching(/delta 2 .* not the committed/) as unknown });
    expect((await materializeBranch({ store, objects }, branch.id, 1)).documents.size).toBe(1);

    // a damaged object
    const body = (await objects.get(deltaKey(branch.id, 1)))!;
    body[body.length - 2]! ^= 0xff;
    await objects.put(deltaKey(branch.id, 1), body);
    await expect(materializeBranch({ store, objects }, branch.id, 1)).rejects.toBeInstanceOf(DeltaCorruptError);

    // a missing object
    await objects.delete([deltaKey(branch.id, 1)]);
    await expect(materializeBranch({ store, objects }, branch.id, 1)).rejects.toThrow(/delta 1 of branch .*: object .* is missing/);

    // a snapshot whose object does not match its recorded checksum
    const other = (await store.createBranch({ name: 'snap' })).branch;
    await commit(other.id, 1, [ins('a', { v: 1 })]);
    const wrong = await encodeSnapshot(new Map([['notes/zzz', {}]]));
    await objects.put(`branches/${other.id}/snapshots/1`, wrong.body);
    await store.recordBranchSnapshot({ branchId: other.id, seq: 1, objectKey: `branches/${other.id}/snapshots/1`, checksum: 'e'.repeat(64), documentCount: 1 });
    await expect(materializeBranch({ store, objects }, other.id)).rejects.toMatchObject({ name: 'DeltaCorruptError', message: expect.stringMatching(/snapshot 1 .* not the recorded/) as unknown });
  });
});
