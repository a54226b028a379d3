import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import type { DurasyncConfig } from './config';

/** Object storage for large data that travels by reference (deltas, snapshots, big payloads). */
export interface ObjectStore {
  readonly kind: 'local' | 'supabase';
  /** Writes (or overwrites) an object. */
  put(key: string, body: Buffer, contentType?: string): Promise<void>;
  /** The object, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** Removes objects; missing keys are fine. */
  delete(keys: string[]): Promise<void>;
  /** Keys under a prefix (e.g. `branches/<id>/`), sorted. */
  list(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A key refused before any I/O (absolute, `..`, empty segments...). */
export class InvalidObjectKeyError extends Error {
  override readonly name = 'InvalidObjectKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
  }
}

/** The storage backend failed (I/O error, HTTP error other than "not found"). */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  constructor(
    message: string,
    /** HTTP status (Supabase) when there was an answer; 0 when there was none. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const TEMP_PREFIX = '.durasync-tmp-';

/**
 * Checks a key: `/`-separated relative path segments, none empty, `.` or `..`, no backslash or
 * NUL, and no segment starting with the local store's temp prefix. Returns the segments.
 */
export function checkObjectKey(key: string): string[] {
  if (typeof key !== 'string' || key === '') throw new InvalidObjectKeyError(String(key), 'empty');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) throw new InvalidObjectKeyError(key, 'absolute keys are not allowed; use a relative path such as branches/<id>/deltas/1');
  if (key.includes('\\')) throw new InvalidObjectKeyError(key, 'use / as the separator, not \\');
  if (key.includes('\0')) throw new InvalidObjectKeyError(key, 'contains a NUL character');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '..') throw new InvalidObjectKeyError(key, '`..` segments are not allowed');
    if (segment === '' || segment === '.') throw new InvalidObjectKeyError(key, 'empty or `.` segments are not allowed');
    if (segment.startsWith(TEMP_PREFIX)) throw new InvalidObjectKeyError(key, `segments may not start with ${TEMP_PREFIX}`);
  }
  return segments;
}

/** Checks a list prefix: empty, or a key, or a key followed by `/`. */
function checkPrefix(prefix: string): void {
  if (prefix === '') return;
  checkObjectKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Objects as files under a folder (`npm run dev`, self-hosted single node, tests). Writes are
 * atomic (a temp file in the same folder, then rename), so a reader sees the old object or the new
 * one, never half of one.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private file(key: string): string {
    return path.join(this.root, ...checkObjectKey(key));
  }

  async put(key: string, body: Buffer, _contentType?: string): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(path.dirname(file), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, body);
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new ObjectStoreError(`cannot write object ${key}: ${(err as Error).message}`, undefined, { cause: err });
    }
  }

  async get(key: string): Promise<Buffer | null> {
    const file = this.file(key);
    try {
      return await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return null;
      throw new ObjectStoreError(`cannot read object ${key}: ${(err as Error).message}`, undefined, { cause: err });
    }
  }

  async delete(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.file(key)); // every key checked before anything is removed
    for (const file of files) {
      try {
        await rm(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw new ObjectStoreError(`cannot delete ${file}: ${(err as Error).message}`, undefined, { cause: err });
        continue;
      }
      await this.pruneEmptyFolders(path.dirname(file));
    }
  }

  /** Removes folders left empty by a delete, up to (not including) the root. */
  private async pruneEmptyFolders(folder: string): Promise<void> {
    let current = folder;
    while (current.startsWith(this.root + path.sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone): stop
      }
      current = path.dirname(current);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const keys: string[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw new ObjectStoreError(`cannot list ${dir}: ${(err as Error).message}`, undefined, { cause: err });
      }
      for (const entry of entries) {
        if (entry.name.startsWith(TEMP_PREFIX)) continue;
        const key = keyPrefix + entry.name;
        if (entry.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) await walk(path.join(dir, entry.name), key + '/');
        } else if (entry.isFile() && key.startsWith(prefix)) {
          keys.push(key);
        }
      }
    };
    await walk(folderKey ? path.join(this.root, ...folderKey.split('/')) : this.root, folderKey ? folderKey + '/' : '');
    return keys.sort(byCodeUnit);
  }

  async close(): Promise<void> {
    // nothing held open
  }
}

/** What supabase-js's storage-js reports for a failed call. */
interface StorageErrorLike {
  message: string;
  status?: number;
  statusCode?: string;
}

/** The most entries Supabase Storage's list returns per page, and the most prefixes per remove. */
const LIST_PAGE = 1000;
const REMOVE_BATCH = 1000;

export interface SupabaseObjectStoreOptions {
  url: string;
  serviceKey: string;
  bucket: string;
}

/**
 * Objects in a Supabase Storage bucket, through supabase-js (`storage.from(bucket)`): upload with
 * upsert, download, remove, list (walked recursively, since Storage lists one folder level at a
 * time). A missing bucket is created (private) on the first write.
 */
export class SupabaseObjectStore implements ObjectStore {
  readonly kind = 'supabase' as const;
  readonly bucket: string;
  private readonly client: ReturnType<typeof createClient>;
  private closed = false;

  constructor(options: SupabaseObjectStoreOptions) {
    this.bucket = options.bucket;
    this.client = createClient(options.url, options.serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    });
  }

  private files() {
    if (this.closed) throw new ObjectStoreError('the object store is closed');
    return this.client.storage.from(this.bucket);
  }

  async put(key: string, body: Buffer, contentType = 'application/octet-stream'): Promise<void> {
    checkObjectKey(key);
    const upload = () => this.files().upload(key, body, { upsert: true, contentType });
    let { error } = await upload();
    if (error && isBucketMissing(error)) {
      await this.createBucket();
      ({ error } = await upload());
    }
    if (error) throw storageError(`put ${key}`, error);
  }

  private async createBucket(): Promise<void> {
    const { error } = await this.client.storage.createBucket(this.bucket, { public: false });
    if (error && !isDuplicate(error)) throw storageError(`create bucket ${this.bucket}`, error);
  }

  async get(key: string): Promise<Buffer | null> {
    checkObjectKey(key);
    const { data, error } = await this.files().download(key);
    if (error) {
      if (isNotFound(error)) return null;
      throw storageError(`get ${key}`, error);
    }
    return Buffer.from(await data.arrayBuffer());
  }

  async delete(keys: string[]): Promise<void> {
    keys.forEach((key) => checkObjectKey(key));
    for (let i = 0; i < keys.length; i += REMOVE_BATCH) {
      const { error } = await this.files().remove(keys.slice(i, i + REMOVE_BATCH));
      if (error && !isBucketMissing(error)) throw storageError(`delete ${keys.length} objects`, error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const folder = slash >= 0 ? prefix.slice(0, slash) : '';
    const rest = prefix.slice(slash + 1);
    const keys: string[] = [];
    const walk = async (dir: string, search: string): Promise<void> => {
      for (let offset = 0; ; offset += LIST_PAGE) {
        const { data, error } = await this.files().list(dir, {
          limit: LIST_PAGE,
          offset,
          sortBy: { column: 'name', order: 'asc' },
          ...(search ? { search } : {}),
        });
        if (error) {
          if (isBucketMissing(error)) return;
          throw storageError(`list ${prefix}`, error);
        }
        for (const entry of data) {
          const key = dir ? `${dir}/${entry.name}` : entry.name;
          // Storage's search is a case-insensitive name prefix: keep the exact matches only.
          if (!entry.name.startsWith(search)) continue;
          if (entry.id === null) await walk(key, '');
          else keys.push(key);
        }
        if (data.length < LIST_PAGE) return;
      }
    };
    await walk(folder, rest);
    return keys.filter((key) => key.startsWith(prefix)).sort(byCodeUnit);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function isNotFound(error: StorageErrorLike): boolean {
  return error.status === 404 || error.statusCode === '404';
}

function isBucketMissing(error: StorageErrorLike): boolean {
  return isNotFound(error) && /bucket/i.test(error.message);
}

function isDuplicate(error: StorageErrorLike): boolean {
  return error.status === 409 || error.statusCode === '409';
}

function storageError(what: string, error: StorageErrorLike): ObjectStoreError {
  return new ObjectStoreError(`supabase storage: ${what}: ${error.message}`, error.status ?? 0, { cause: error });
}

/** The parts of the configuration createObjectStore reads (a whole DurasyncConfig will do). */
export interface ObjectStoreConfig {
  objects: DurasyncConfig['objects'];
  database: Pick<DurasyncConfig['database'], 'supabase'>;
}

/**
 * The object store for a configuration: Supabase Storage (bucket DURASYNC_OBJECTS_BUCKET) when
 * SUPABASE_URL is configured, else a folder (DURASYNC_OBJECTS_DIR).
 */
export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  const supabase = config.database.supabase;
  if (supabase) return new SupabaseObjectStore({ url: supabase.url, serviceKey: supabase.serviceKey, bucket: config.objects.bucket });
  return new LocalObjectStore(config.objects.dir);
}
