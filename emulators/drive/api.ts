import type { IncomingMessage } from 'node:http';
import { badRequest, cannotAddParent, fieldNotWritable, fileNotDownloadable, fileNotExportable, invalidParameter, invalidValue, required } from './errors';
import { DEFAULT_FILE_FIELDS, parseFields, pick } from './fields';
import { compileOrderBy, compileQuery } from './query';
import { FOLDER, GOOGLE_DOC, isGoogleType, toResource } from './store';
import type { DriveStore, FileUpdate, StoredFile } from './store';
import { parseJsonObject, readRaw, readUpload } from './uploads';
import type { UploadBody } from './uploads';

/** What a handler answers: JSON (filtered by `fields` already) or bytes, or nothing (204). */
export type ApiResult = { status: number; json: unknown } | { status: number; bytes: Buffer; contentType: string } | { status: 204 };

const EXPORTS: Record<string, (markdown: string) => string> = {
  'text/markdown': (markdown) => markdown,
  'text/plain': (markdown) =>
    markdown
      .replace(/^```.*$/gm, '')
      .replace(/^#{1,6}\s+/gm, '')
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/(\*\*|__|\*|_|`)(.+?)\1/g, '$2'),
};

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw invalidValue(name, `Invalid value '${raw}'. Values must be within the range: [1, ${max}]`);
  return Math.min(value, max);
}

/** Applies `fields` (or Drive's default selection) to a response. */
function project(url: URL, body: Record<string, unknown>, defaults: string): unknown {
  const fields = url.searchParams.get('fields');
  return pick(body, parseFields(fields ?? defaults));
}

function fileJson(url: URL, file: StoredFile, status = 200): ApiResult {
  return { status, json: project(url, { ...toResource(file) }, DEFAULT_FILE_FIELDS) };
}

const encodePageToken = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64url');
function decodePageToken(token: string): number {
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!match?.[1]) throw invalidValue('pageToken');
  return Number(match[1]);
}

const asStringList = (raw: string | null) => (raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function stringRecord(value: unknown, field: string, allowNull: boolean): Record<string, string | null> | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`Invalid value for ${field}.`);
  for (const v of Object.values(value)) {
    if (typeof v !== 'string' && !(allowNull && v === null)) throw badRequest(`Invalid value for ${field}.`);
  }
  return value as Record<string, string | null>;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`Invalid value for ${field}.`);
  return value;
}

/** The Drive v3 files and changes endpoints over a DriveStore. */
export class DriveApi {
  constructor(private readonly store: DriveStore) {}

  listFiles(url: URL): ApiResult {
    const pageSize = intParam(url, 'pageSize', 100, 1000);
    const predicate = compileQuery(url.searchParams.get('q') ?? '', (id) => this.store.resolveId(id));
    const orderBy = url.searchParams.get('orderBy');
    const token = url.searchParams.get('pageToken');
    const offset = token ? decodePageToken(token) : 0;
    const matching = this.store.all().filter(predicate);
    if (orderBy) matching.sort(compileOrderBy(orderBy));
    const page = matching.slice(offset, offset + pageSize);
    const body: Record<string, unknown> = { kind: 'drive#fileList', incompleteSearch: false, files: page.map(toResource) };
    if (offset + pageSize < matching.length) body['nextPageToken'] = encodePageToken(offset + pageSize);
    return { status: 200, json: project(url, body, `kind,incompleteSearch,nextPageToken,files(${DEFAULT_FILE_FIELDS})`) };
  }

  getFile(url: URL, id: string): ApiResult {
    const file = this.store.get(id);
    const alt = url.searchParams.get('alt') ?? 'json';
    if (alt === 'json') return fileJson(url, file);
    if (alt !== 'media') throw invalidValue('alt');
    if (isGoogleType(file.mimeType)) throw fileNotDownloadable();
    return { status: 200, bytes: file.content ?? Buffer.alloc(0), contentType: file.mimeType };
  }

  exportFile(url: URL, id: string): ApiResult {
    const file = this.store.get(id);
    const mimeType = url.searchParams.get('mimeType');
    if (!mimeType) throw required('mimeType');
    if (file.mimeType !== GOOGLE_DOC) throw fileNotExportable();
    const convert = EXPORTS[mimeType];
    if (!convert) throw badRequest('The requested conversion is not supported.', 'convertTo');
    const text = convert((file.content ?? Buffer.alloc(0)).toString('utf8'));
    return { status: 200, bytes: Buffer.from(text), contentType: `${mimeType}; charset=utf-8` };
  }

  /** `POST /drive/v3/files` (metadata only) and `POST /upload/drive/v3/files`. */
  async createFile(req: IncomingMessage, url: URL, upload: boolean): Promise<ApiResult> {
    const body: UploadBody = upload
      ? await readUpload(req, url.searchParams.get('uploadType'))
      : { metadata: parseJsonObject(await readRaw(req)) };
    const { metadata, media } = body;
    const parents = metadata['parents'];
    if (parents !== undefined && (!Array.isArray(parents) || !parents.every((p) => typeof p === 'string'))) {
      throw badRequest('Invalid value for parents.');
    }
    if (Array.isArray(parents) && parents.length > 1) throw cannotAddParent();
    const mimeType = optionalString(metadata['mimeType'], 'mimeType') ?? media?.mimeType;
    if (media && mimeType === FOLDER) throw badRequest('Folders cannot have content.');
    const file = this.store.create({
      name: optionalString(metadata['name'], 'name') ?? 'Untitled',
      mimeType,
      parents,
      appProperties: stringRecord(metadata['appProperties'], 'appProperties', false) as Record<string, string> | undefined,
      content: media?.content,
    });
    return fileJson(url, file);
  }

  /** `PATCH /drive/v3/files/:id` (metadata) and `PATCH /upload/drive/v3/files/:id` (content). */
  async updateFile(req: IncomingMessage, url: URL, id: string, upload: boolean): Promise<ApiResult> {
    this.store.get(id);
    const { metadata, media } = upload
      ? await readUpload(req, url.searchParams.get('uploadType'))
      : { metadata: parseJsonObject(await readRaw(req)), media: undefined };
    if (metadata['parents'] !== undefined) throw fieldNotWritable('parents');
    const trashed = metadata['trashed'];
    if (trashed !== undefined && typeof trashed !== 'boolean') throw badRequest('Invalid value for trashed.');
    const update: FileUpdate = {
      name: optionalString(metadata['name'], 'name'),
      trashed,
      appProperties: stringRecord(metadata['appProperties'], 'appProperties', true),
      addParents: asStringList(url.searchParams.get('addParents')),
      removeParents: asStringList(url.searchParams.get('removeParents')),
      content: media?.content,
    };
    const current = this.store.get(id);
    if (update.content && current.mimeType === FOLDER) throw badRequest('Folders cannot have content.');
    const removed = new Set((update.removeParents ?? []).map((p) => this.store.get(p).id));
    const kept = current.parents.filter((p) => !removed.has(p));
    const added = (update.addParents ?? []).map((p) => this.store.get(p).id).filter((p) => !kept.includes(p));
    if (kept.length + added.length > 1) throw cannotAddParent();
    return fileJson(url, this.store.update(id, update));
  }

  deleteFile(id: string): ApiResult {
    this.store.delete(id);
    return { status: 204 };
  }

  startPageToken(): ApiResult {
    return { status: 200, json: { kind: 'drive#startPageToken', startPageToken: String(this.store.nextPosition()) } };
  }

  listChanges(url: URL): ApiResult {
    const token = url.searchParams.get('pageToken');
    if (!token) throw required('pageToken');
    const position = Number(token);
    if (!Number.isInteger(position) || position < 1 || position > this.store.nextPosition()) throw invalidParameter('pageToken', 'Invalid Value');
    const pageSize = intParam(url, 'pageSize', 100, 1000);
    const includeRemoved = url.searchParams.get('includeRemoved') !== 'false';
    const pending = this.store.changesFrom(position);
    const page = pending.slice(0, pageSize);
    const changes = page
      .filter((c) => includeRemoved || !c.removed)
      .map((c) => ({ kind: 'drive#change', changeType: 'file', fileId: c.fileId, removed: c.removed, time: c.time, ...(c.file ? { file: c.file } : {}) }));
    const body: Record<string, unknown> = { kind: 'drive#changeList', changes };
    const after = pending[pageSize];
    if (after) body['nextPageToken'] = String(after.position);
    else body['newStartPageToken'] = String(this.store.nextPosition());
    return {
      status: 200,
      json: project(url, body, `kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file(${DEFAULT_FILE_FIELDS}))`),
    };
  }
}
