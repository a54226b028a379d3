import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The part of Supabase Storage (storage-api behind the gateway, `/storage/v1`) that supabase-js
 * `storage.createBucket()` and `storage.from(bucket)` `upload` / `update` / `download` / `remove`
 * / `list` call, in memory:
 *
 *   POST   /storage/v1/bucket                      {name|id, public}        -> 200 {name}
 *   POST   /storage/v1/object/list/:bucket          {prefix, limit, offset, sortBy, search}
 *                                                    -> 200 [{name, id, updated_at, created_at, last_accessed_at, metadata}]
 *                                                       one folder level; sub-folders with id null
 *   POST   /storage/v1/object/:bucket/:path         body, x-upsert            -> 200 {Id, Key}
 *   PUT    /storage/v1/object/:bucket/:path         body (object must exist)  -> 200 {Id, Key}
 *   GET    /storage/v1/object/[authenticated/]:bucket/:path                   -> 200 the bytes
 *   DELETE /storage/v1/object/:bucket               {prefixes: [...]}         -> 200 [deleted objects]
 *
 * Errors are storage-api's legacy ones: HTTP 400 with `{statusCode, error, message}` where
 * statusCode is the real status as a string ("404" Object not found / Bucket not found, "409"
 * Duplicate, "403" Unauthorized), which supabase-js reports as StorageApiError(status 400,
 * statusCode). Not emulated: RLS, signed and public URLs, move/copy, image transforms, listV2,
 * multipart form uploads.
 */

interface StoredObject {
  id: string;
  body: Buffer;
  contentType: string;
  cacheControl: string;
  createdAt: string;
  updatedAt: string;
}

interface Bucket {
  id: string;
  public: boolean;
  createdAt: string;
  objects: Map<string, StoredObject>;
}

export interface StorageEmulatorOptions {
  serviceKey: string;
  /** Buckets that exist from the start. Default: none. */
  buckets?: string[];
}

interface StorageErrorBody {
  statusCode: string;
  error: string;
  message: string;
}

class StorageHttpError extends Error {
  constructor(readonly body: StorageErrorBody) {
    super(body.message);
  }
}

const notFoundObject = (): StorageHttpError => new StorageHttpError({ statusCode: '404', error: 'not_found', message: 'Object not found' });
const notFoundBucket = (): StorageHttpError => new StorageHttpError({ statusCode: '404', error: 'Bucket not found', message: 'Bucket not found' });
const duplicate = (): StorageHttpError => new StorageHttpError({ statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });
const invalid = (message: string): StorageHttpError => new StorageHttpError({ statusCode: '400', error: 'Invalid Input', message });

export interface StorageEmulator {
  /** Handles a request whose path starts with `/storage/v1/`. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

export function createStorageEmulator(options: StorageEmulatorOptions): StorageEmulator {
  const buckets = new Map<string, Bucket>();
  const now = (): string => new Date().toISOString();
  const addBucket = (id: string, isPublic = false): Bucket => {
    const bucket: Bucket = { id, public: isPublic, createdAt: now(), objects: new Map() };
    buckets.set(id, bucket);
    return bucket;
  };
  for (const id of options.buckets ?? []) addBucket(id);

  const bucketOf = (id: string): Bucket => {
    const bucket = buckets.get(id);
    if (!bucket) throw notFoundBucket();
    return bucket;
  };

  const objectInfo = (bucket: Bucket, name: string, object: StoredObject) => ({
    bucket_id: bucket.id,
    name,
    id: object.id,
    owner: null,
    created_at: object.createdAt,
    updated_at: object.updatedAt,
    last_accessed_at: object.updatedAt,
    metadata: metadataOf(object),
  });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      checkAuth(req, options.serviceKey);
      await route(req, res, url);
    } catch (err) {
      if (err instanceof StorageHttpError) return sendJson(res, 400, err.body);
      throw err;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const rest = url.pathname.slice('/storage/v1/'.length);
    const segments = rest.split('/').map((s) => decodeURIComponent(s));

    if (rest === 'bucket' && method === 'POST') {
      const body = (await readJson(req)) as { id?: string; name?: string; public?: boolean };
      const id = body.id ?? body.name;
      if (!id || !/^[A-Za-z0-9._-]+$/.test(id)) throw invalid('Bucket name invalid');
      if (buckets.has(id)) throw duplicate();
      addBucket(id, body.public === true);
      return sendJson(res, 200, { name: id });
    }

    if (segments[0] !== 'object') throw new StorageHttpError({ statusCode: '404', error: 'Not Found', message: `Route ${method}:${url.pathname} not found` });

    if (segments[1] === 'list' && segments.length === 3 && method === 'POST') {
      const bucket = bucketOf(segments[2]!);
      const body = (await readJson(req)) as { prefix?: string; limit?: number; offset?: number; search?: string; sortBy?: { column?: string; order?: string } };
      return sendJson(res, 200, list(bucket, body));
    }

    if (method === 'DELETE' && segments.length === 2) {
      const bucket = bucketOf(segments[1]!);
      const body = (await readJson(req)) as { prefixes?: unknown };
      if (!Array.isArray(body.prefixes) || body.prefixes.some((p) => typeof p !== 'string')) throw invalid("body must have required property 'prefixes'");
      if (body.prefixes.length === 0 || body.prefixes.length > 1000) throw invalid('body/prefixes must NOT have fewer than 1 items or more than 1000 items');
      const deleted = [];
      for (const name of body.prefixes as string[]) {
        const object = bucket.objects.get(name);
        if (!object) continue;
        bucket.objects.delete(name);
        deleted.push(objectInfo(bucket, name, object));
      }
      return sendJson(res, 200, deleted);
    }

    const pathSegments = segments[1] === 'authenticated' && method === 'GET' ? segments.slice(2) : segments.slice(1);
    const [bucketId, ...nameParts] = pathSegments;
    const name = nameParts.join('/');
    if (!bucketId || name === '') throw invalid('The object name is missing');
    const bucket = bucketOf(bucketId);

    if (method === 'GET') {
      const object = bucket.objects.get(name);
      if (!object) throw notFoundObject();
      res.writeHead(200, {
        'Content-Type': object.contentType,
        'Content-Length': object.body.length,
        'Cache-Control': object.cacheControl,
        ETag: `"${metadataOf(object).eTag}"`,
        'Last-Modified': new Date(object.updatedAt).toUTCString(),
      });
      res.end(object.body);
      return;
    }

    if (method === 'POST' || method === 'PUT') {
      const existing = bucket.objects.get(name);
      if (method === 'POST' && existing && header(req, 'x-upsert') !== 'true') throw duplicate();
      if (method === 'PUT' && !existing) throw notFoundObject();
      const contentType = header(req, 'content-type') ?? 'application/octet-stream';
      if (contentType.startsWith('multipart/form-data')) throw invalid('multipart uploads are not emulated');
      const body = await readBody(req);
      const time = now();
      const object: StoredObject = {
        id: existing?.id ?? randomUUID(),
        body,
        contentType,
        cacheControl: header(req, 'cache-control') ?? 'max-age=3600',
        createdAt: existing?.createdAt ?? time,
        updatedAt: time,
      };
      bucket.objects.set(name, object);
      return sendJson(res, 200, { Id: object.id, Key: `${bucket.id}/${name}` });
    }

    throw new StorageHttpError({ statusCode: '404', error: 'Not Found', message: `Route ${method}:${url.pathname} not found` });
  }

  /** One folder level under `prefix`: objects there, and sub-folders (id null), sorted by name. */
  function list(bucket: Bucket, body: { prefix?: string; limit?: number; offset?: number; search?: string; sortBy?: { column?: string; order?: string } }) {
    let prefix = body.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    const search = (body.search ?? '').toLowerCase();
    const folders = new Set<string>();
    const files: ReturnType<typeof objectInfo>[] = [];
    for (const [name, object] of bucket.objects) {
      if (!name.startsWith(prefix)) continue;
      const rest = name.slice(prefix.length);
      const slash = rest.indexOf('/');
      const entry = slash >= 0 ? rest.slice(0, slash) : rest;
      if (!entry.toLowerCase().startsWith(search)) continue; // storage-api: ILIKE search || '%'
      if (slash >= 0) folders.add(entry);
      else files.push(objectInfo(bucket, entry, object));
    }
    const entries: Array<{ name: string; id: string | null; updated_at: string | null; created_at: string | null; last_accessed_at: string | null; metadata: Record<string, unknown> | null }> = [
      ...[...folders].map((name) => ({ name, id: null, updated_at: null, created_at: null, last_accessed_at: null, metadata: null })),
      ...files.map((f) => ({ name: f.name, id: f.id, updated_at: f.updated_at, created_at: f.created_at, last_accessed_at: f.last_accessed_at, metadata: f.metadata })),
    ];
    const column = body.sortBy?.column ?? 'name';
    const descending = body.sortBy?.order?.toLowerCase() === 'desc';
    entries.sort((a, b) => {
      const value = (entry: typeof a): string => {
        const v = (entry as Record<string, unknown>)[column];
        return typeof v === 'string' ? v : '';
      };
      const av = value(a);
      const bv = value(b);
      const order = av < bv ? -1 : av > bv ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      return descending ? -order : order;
    });
    const offset = Math.max(0, body.offset ?? 0);
    const limit = Math.max(0, body.limit ?? 100);
    return entries.slice(offset, offset + limit);
  }

  return { handle };
}

function metadataOf(object: StoredObject) {
  return {
    eTag: `${object.id.slice(0, 8)}-${object.body.length}`,
    size: object.body.length,
    mimetype: object.contentType,
    cacheControl: object.cacheControl,
    lastModified: object.updatedAt,
    contentLength: object.body.length,
    httpStatusCode: 200,
  };
}

/** storage-api checks the JWT in Authorization; the gateway checks apikey. */
function checkAuth(req: IncomingMessage, serviceKey: string): void {
  const authorization = header(req, 'authorization');
  const apikey = header(req, 'apikey');
  if (!authorization && !apikey) throw new StorageHttpError({ statusCode: '403', error: 'Unauthorized', message: 'headers must have required property \'authorization\'' });
  if (authorization !== `Bearer ${serviceKey}` || (apikey !== undefined && apikey !== serviceKey)) {
    throw new StorageHttpError({ statusCode: '403', error: 'Unauthorized', message: 'invalid signature' });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid('Body is not valid JSON');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
