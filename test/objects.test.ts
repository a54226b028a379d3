import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSupabaseEmulator, type SupabaseEmulator } from '../emulators/supabase/server';
import { loadConfig } from '../lib/config';
import { InvalidObjectKeyError, LocalObjectStore, SupabaseObjectStore, createObjectStore, type ObjectStore } from '../lib/objects';

const SERVICE_KEY = 'test-service-role-key';

interface Target {
  name: string;
  open(): Promise<{ store: ObjectStore; close(): Promise<void> }>;
}

let emulator: SupabaseEmulator;

beforeAll(async () => {
  // The storage endpoints need no database; the pool never connects.
  emulator = await startSupabaseEmulator({ databaseUrl: 'postgres://127.0.0.1:1/unused', serviceKey: SERVICE_KEY });
});
afterAll(async () => {
  await emulator.close();
});

let bucketCount = 0;
const targets: Target[] = [
  {
    name: 'LocalObjectStore',
    async open() {
      const dir = await mkdtemp(path.join(tmpdir(), 'durasync-objects-'));
      const store = new LocalObjectStore(dir);
      return { store, close: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'SupabaseObjectStore on the emulator',
    async open() {
      // a fresh bucket per test, created by the store on its first write
      const store = new SupabaseObjectStore({ url: emulator.url, serviceKey: SERVICE_KEY, bucket: `bucket-${++bucketCount}` });
      return { store, close: () => store.close() };
    },
  },
];

describe.each(targets)('$name', (target) => {
  let store: ObjectStore;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ store, close } = await target.open());
  });
  afterEach(async () => {
    await close();
  });

  it('writes, overwrites and reads objects byte-exact; a missing one is null', async () => {
    const binary = Buffer.from([0, 255, 1, 254, 10, 13, 0x44, 0x53]);
    await store.put('branches/b1/deltas/00000001.br', binary, 'application/octet-stream');
    expect(await store.get('branches/b1/deltas/00000001.br')).toEqual(binary);
    await store.put('branches/b1/deltas/00000001.br', Buffer.from('second'));
    expect((await store.get('branches/b1/deltas/00000001.br'))?.toString()).toBe('second');
    await store.put('empty', Buffer.alloc(0));
    expect(await store.get('empty')).toEqual(Buffer.alloc(0));
    expect(await store.get('branches/b1/deltas/missing')).toBeNull();
    expect(await store.get('nowhere/at/all')).toBeNull();
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    await store.put('big/one', big);
    expect((await store.get('big/one'))?.equals(big)).toBe(true);
  });

  it('lists keys under a prefix, recursively and sorted, by folder or by partial name', async () => {
    expect(await store.list('branches/')).toEqual([]);
    const keys = ['branches/b1/deltas/2', 'branches/b1/deltas/1', 'branches/b1/snapshots/1', 'branches/b10/deltas/1', 'branches/b2/x', 'other/y', 'top'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    expect(await store.list('branches/b1/')).toEqual(['branches/b1/deltas/1', 'branches/b1/deltas/2', 'branches/b1/snapshots/1']);
    expect(await store.list('branches/b1')).toEqual(['branches/b1/deltas/1', 'branches/b1/deltas/2', 'branches/b1/snapshots/1', 'branches/b10/deltas/1']);
    expect(await store.list('branches/b1/del')).toEqual(['branches/b1/deltas/1', 'branches/b1/deltas/2']);
    expect(await store.list('branches/b1/deltas/2')).toEqual(['branches/b1/deltas/2']);
    expect(await store.list('')).toEqual([...keys].sort());
    expect(await store.list('branches/nope/')).toEqual([]);
    // exact, case-sensitive prefixes
    await store.put('Branches/B1/x', Buffer.from('upper'));
    expect(await store.list('branches/B')).toEqual([]);
    expect(await store.list('Branches/')).toEqual(['Branches/B1/x']);
  });

  it('deletes objects, missing keys included, leaving the rest', async () => {
    for (const key of ['d/a', 'd/b', 'd/sub/c', 'e/a']) await store.put(key, Buffer.from(key));
    await store.delete(['d/a', 'd/sub/c', 'd/never-was']);
    await store.delete([]);
    expect(await store.list('')).toEqual(['d/b', 'e/a']);
    expect(await store.get('d/a')).toBeNull();
    await store.delete(['d/b', 'e/a']);
    expect(await store.list('')).toEqual([]);
  });

  it('refuses absolute keys, `..` and empty segments with a clear error before any I/O', async () => {
    for (const key of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', './a', 'a/', '', 'a\\b']) {
      await expect(store.put(key, Buffer.from('x'))).rejects.toBeInstanceOf(InvalidObjectKeyError);
    }
    await expect(store.get('../x')).rejects.toThrow(/invalid object key "\.\.\/x": `\.\.` segments are not allowed/);
    await expect(store.get('/abs')).rejects.toThrow(/absolute keys are not allowed/);
    await expect(store.delete(['ok', '../no'])).rejects.toBeInstanceOf(InvalidObjectKeyError);
    await expect(store.list('../')).rejects.toBeInstanceOf(InvalidObjectKeyError);
  });

  it('keeps concurrent writes of one key whole: the last one wins, never a mix', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024, i));
    await Promise.all(bodies.map((body) => store.put('race/key', body)));
    const read = await store.get('race/key');
    expect(bodies.some((body) => body.equals(read!))).toBe(true);
    expect(await store.list('race/')).toEqual(['race/key']);
  });
});

describe('LocalObjectStore files', () => {
  it('writes through a temp file and rename, leaving no temp files, and prunes emptied folders', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'durasync-objects-'));
    try {
      const store = new LocalObjectStore(dir);
      await store.put('a/b/c', Buffer.from('1'));
      expect(await readdir(path.join(dir, 'a', 'b'))).toEqual(['c']);
      await store.delete(['a/b/c']);
      expect(await readdir(dir)).toEqual([]);
      await expect(store.put('a/.durasync-tmp-x', Buffer.from('1'))).rejects.toBeInstanceOf(InvalidObjectKeyError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Supabase Storage emulator', () => {
  const headers = { apikey: SERVICE_KEY, Authorization: `Bearer ${SERVICE_KEY}` };

  it('answers as Supabase Storage does: legacy 400s with statusCode, upsert, bucket errors, auth', async () => {
    const base = `${emulator.url}/storage/v1`;
    const missingBucket = await fetch(`${base}/object/no-such-bucket/a`, { headers });
    expect(missingBucket.status).toBe(400);
    expect(await missingBucket.json()).toEqual({ statusCode: '404', error: 'Bucket not found', message: 'Bucket not found' });

    const created = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'raw', public: false }) });
    expect(await created.json()).toEqual({ name: 'raw' });
    const again = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'raw' }) });
    expect(await again.json()).toEqual({ statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });

    const upload = await fetch(`${base}/object/raw/dir/file.txt`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain', 'x-upsert': 'false' }, body: 'hello' });
    expect(upload.status).toBe(200);
    expect(await upload.json()).toMatchObject({ Key: 'raw/dir/file.txt', Id: expect.any(String) as unknown });
    const duplicate = await fetch(`${base}/object/raw/dir/file.txt`, { method: 'POST', headers: { ...headers, 'x-upsert': 'false' }, body: 'again' });
    expect(duplicate.status).toBe(400);
    expect(await duplicate.json()).toEqual({ statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });

    const download = await fetch(`${base}/object/raw/dir/file.txt`, { headers });
    expect(download.headers.get('content-type')).toBe('text/plain');
    expect(await download.text()).toBe('hello');
    const missing = await fetch(`${base}/object/raw/dir/nope.txt`, { headers });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ statusCode: '404', error: 'not_found', message: 'Object not found' });

    const listed = await fetch(`${base}/object/list/raw`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ prefix: '', limit: 100, offset: 0 }) });
    expect(await listed.json()).toEqual([{ name: 'dir', id: null, updated_at: null, created_at: null, last_accessed_at: null, metadata: null }]);

    const removed = await fetch(`${base}/object/raw`, { method: 'DELETE', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ prefixes: ['dir/file.txt', 'dir/none'] }) });
    expect(((await removed.json()) as Array<{ name: string }>).map((o) => o.name)).toEqual(['dir/file.txt']);

    const unauthorized = await fetch(`${base}/object/raw/dir/file.txt`, { headers: { apikey: 'wrong', Authorization: 'Bearer wrong' } });
    expect(unauthorized.status).toBe(400);
    expect(await unauthorized.json()).toMatchObject({ statusCode: '403', error: 'Unauthorized' });
  });

  it('reports a wrong key through SupabaseObjectStore as an ObjectStoreError', async () => {
    const store = new SupabaseObjectStore({ url: emulator.url, serviceKey: 'wrong', bucket: 'whatever' });
    await expect(store.get('a')).rejects.toMatchObject({ name: 'ObjectStoreError', message: expect.stringMatching(/invalid signature/) as unknown });
  });
});

describe('createObjectStore', () => {
  it('uses a folder under the data dir by default, and Supabase Storage when SUPABASE_URL is set', () => {
    const local = createObjectStore(loadConfig({ DURASYNC_DATA_DIR: '/tmp/ds-data' }));
    expect(local).toBeInstanceOf(LocalObjectStore);
    expect((local as LocalObjectStore).root).toBe('/tmp/ds-data/objects');
    expect((createObjectStore(loadConfig({ DURASYNC_OBJECTS_DIR: '/tmp/ds-objects' })) as LocalObjectStore).root).toBe('/tmp/ds-objects');
    const remote = createObjectStore(loadConfig({ SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_SERVICE_ROLE_KEY: 'k', DURASYNC_OBJECTS_BUCKET: 'deltas' }));
    expect(remote).toBeInstanceOf(SupabaseObjectStore);
    expect((remote as SupabaseObjectStore).bucket).toBe('deltas');
    expect(() => loadConfig({ DURASYNC_OBJECTS_BUCKET: 'no/slash' })).toThrow(/DURASYNC_OBJECTS_BUCKET: expected a bucket name/);
  });
});
