import type { drive_v3 } from 'googleapis/build/src/apis/drive';
import type { DriveChange, DriveListing } from '../../workflows/sync/types';

/**
 * The folder tree under a link's Drive folder, as lib/sync/drive-read.ts lists it: how a Drive
 * file maps to a path, the breadth-first scan (resumable from a checkpoint), path resolution of a
 * single file by walking its parents, and the comparison with the link's file map.
 */

/** The Drive calls reading (and the small writes of drive-read.ts) use; a drive_v3.Drive satisfies it. */
export interface DriveReadApi {
  files: Pick<drive_v3.Resource$Files, 'list' | 'get' | 'export' | 'update' | 'create'>;
  changes: Pick<drive_v3.Resource$Changes, 'list' | 'getStartPageToken'>;
}

/** What the file map knows of a Drive file (from sync_files). */
export interface KnownDriveFile {
  path: string;
  fileId: string;
  md5: string | null;
  revision: string | null;
}

export const FOLDER_MIME = 'application/vnd.google-apps.folder';
export const DOC_MIME = 'application/vnd.google-apps.document';
export const DEFAULT_PAGE_SIZE = 1000;

/** What listing keeps of a Drive file. `revision`: headRevisionId, or a Google Doc's `version`. */
export interface DriveEntry {
  id: string;
  name: string;
  mimeType: string;
  /** Its (first) parent; null for files without one (shared with the user, My Drive's root). */
  parent: string | null;
  md5: string | null;
  revision: string | null;
  trashed: boolean;
  /** The path durasync tagged a folder it created with (appProperties durasyncPath), if any. */
  syncPath?: string | null;
}

/** Fields of a file that listing reads (files.list, changes.list). */
export const ENTRY_FIELDS = 'id,name,mimeType,md5Checksum,headRevisionId,version,parents,trashed,appProperties';

/** A value inside a Drive query string literal. */
export const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function toEntry(file: drive_v3.Schema$File): DriveEntry | null {
  if (!file.id || !file.mimeType) return null;
  const isDoc = file.mimeType === DOC_MIME;
  return {
    id: file.id,
    name: file.name ?? '',
    mimeType: file.mimeType,
    parent: file.parents?.[0] ?? null,
    md5: file.md5Checksum ?? null,
    revision: (isDoc ? file.version : file.headRevisionId) ?? null,
    trashed: file.trashed ?? false,
    ...(file.mimeType === FOLDER_MIME && file.appProperties?.['durasyncPath'] ? { syncPath: file.appProperties['durasyncPath'] } : {}),
  };
}

/** folder, Google Doc (exported as markdown), plain file, or skipped (sheets, slides, forms, shortcuts...). */
export function kindOf(mimeType: string): 'folder' | 'doc' | 'file' | 'skip' {
  if (mimeType === FOLDER_MIME) return 'folder';
  if (mimeType === DOC_MIME) return 'doc';
  return mimeType.startsWith('application/vnd.google-apps.') ? 'skip' : 'file';
}

/** A Drive name as one path segment: `/` becomes `_` (as do `.` and `..`, which are not names in a repository). */
export function segment(name: string): string {
  const safe = name.replace(/\//g, '_');
  return safe === '' || safe === '.' || safe === '..' ? safe.replace(/\./g, '_') || '_' : safe;
}

export const joinPath = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);

/** A file's name in the tree: a Google Doc's ends in `.md`. */
export const entryName = (entry: Pick<DriveEntry, 'name' | 'mimeType'>) => segment(entry.name) + (entry.mimeType === DOC_MIME ? '.md' : '');

/**
 * The change a file at `path` makes to the file map, or null when the map already has it there
 * with the same content (md5; a Google Doc's `version`): how durasync's own uploads are not echoed back.
 */
export function compare(entry: DriveEntry, path: string, known: KnownDriveFile | undefined): DriveChange | null {
  const isDoc = entry.mimeType === DOC_MIME;
  if (known && known.path === path && (isDoc ? known.revision === entry.revision : known.md5 === entry.md5)) return null;
  return {
    kind: 'upsert',
    path,
    fileId: entry.id,
    mimeType: entry.mimeType,
    md5: isDoc ? null : entry.md5,
    revision: entry.revision,
    isDoc,
    ...(known && known.path !== path ? { previousPath: known.path } : {}),
  };
}

const byPath = (a: DriveChange, b: DriveChange) =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : 0;

/** The first `limit` changes by path (then file id), and whether any were left out. */
export function firstByPath(changes: DriveChange[], limit: number): { changes: DriveChange[]; dropped: boolean } {
  const sorted = [...changes].sort(byPath);
  const kept = sorted.slice(0, Math.max(0, limit));
  return { changes: kept, dropped: kept.length < sorted.length };
}

/** Counts the Drive calls of one listing (`apiCalls`), failed ones included. */
export class CallCounter {
  count = 0;
  run<T>(call: () => Promise<T>): Promise<T> {
    this.count += 1;
    return call();
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { status?: unknown; code?: unknown; response?: { status?: unknown } } | null;
  return e?.status === 404 || e?.response?.status === 404 || e?.code === 404 || e?.code === '404';
}

/** The link's file map by file id, with each entry's index in `known` (the scan's `seen` bitset). */
export class KnownFiles {
  private readonly byId = new Map<string, { file: KnownDriveFile; index: number }>();
  constructor(readonly files: KnownDriveFile[]) {
    files.forEach((file, index) => this.byId.set(file.fileId, { file, index }));
  }
  get(fileId: string) {
    return this.byId.get(fileId);
  }
  get size(): number {
    return this.files.length;
  }
}

/**
 * Where a breadth-first scan of the tree stands. `seen` marks the `known` entries (by index in the
 * input's `known`, which a retried activity receives unchanged) the scan met, as a base64 bitset;
 * `changes` holds only the first `limit` upserts by path, so the checkpoint stays small whatever the
 * size of the tree.
 */
export interface ScanCheckpoint {
  mode: 'scan';
  /** The changes page token the listing answers as `nextCursor`, taken before the scan began. */
  nextCursor: string;
  /** Folders still to list, breadth first, as [folder id, path]; the first is being listed. */
  queue: Array<[string, string]>;
  /** The next page of the first queued folder; null: its first page. */
  pageToken: string | null;
  changes: DriveChange[];
  /** Upserts were left out of `changes` for the limit. */
  dropped: boolean;
  seen: string;
}

export const startScan = (nextCursor: string, folderId: string): ScanCheckpoint => ({
  mode: 'scan',
  nextCursor,
  queue: [[folderId, '']],
  pageToken: null,
  changes: [],
  dropped: false,
  seen: '',
});

export interface TreeContext {
  drive: DriveReadApi;
  calls: CallCounter;
  known: KnownFiles;
  limit: number;
  pageSize: number;
  onCheckpoint?: (checkpoint: ScanCheckpoint) => void;
}

/**
 * Lists the whole tree from where `checkpoint` stands, one files.list page at a time (checkpointed
 * after each), and compares it with the file map: unknown, moved or changed files are upserts,
 * known files not met are deletes.
 */
export async function scanTree(ctx: TreeContext, checkpoint: ScanCheckpoint): Promise<DriveListing> {
  const state = structuredClone(checkpoint);
  const seen = Buffer.alloc(Math.ceil(ctx.known.size / 8));
  Buffer.from(state.seen, 'base64').copy(seen);
  while (state.queue.length > 0) {
    const [folderId, dir] = state.queue[0] ?? ['', ''];
    const page = await ctx.calls.run(() =>
      ctx.drive.files.list({
        q: `${quoted(folderId)} in parents and trashed = false`,
        pageSize: ctx.pageSize,
        fields: `nextPageToken,files(${ENTRY_FIELDS})`,
        ...(state.pageToken ? { pageToken: state.pageToken } : {}),
      }),
    );
    const found: DriveChange[] = [];
    for (const file of page.data.files ?? []) {
      const entry = toEntry(file);
      if (!entry || entry.trashed) continue;
      const kind = kindOf(entry.mimeType);
      if (kind === 'folder') state.queue.push([entry.id, joinPath(dir, segment(entry.name))]);
      if (kind !== 'doc' && kind !== 'file') continue;
      const known = ctx.known.get(entry.id);
      if (known) seen[known.index >> 3] = (seen[known.index >> 3] ?? 0) | (1 << (known.index & 7));
      const change = compare(entry, joinPath(dir, entryName(entry)), known?.file);
      if (change) found.push(change);
    }
    const kept = firstByPath([...state.changes, ...found], ctx.limit);
    state.changes = kept.changes;
    state.dropped ||= kept.dropped;
    if (page.data.nextPageToken) {
      state.pageToken = page.data.nextPageToken;
    } else {
      state.queue.shift();
      state.pageToken = null;
    }
    state.seen = seen.toString('base64');
    ctx.onCheckpoint?.(structuredClone(state));
  }
  const deletes = ctx.known.files
    .filter((_file, index) => ((seen[index >> 3] ?? 0) & (1 << (index & 7))) === 0)
    .map((file): DriveChange => ({ kind: 'delete', path: file.path, fileId: file.fileId }));
  const result = firstByPath([...state.changes, ...deletes], ctx.limit);
  return { changes: result.changes, nextCursor: state.nextCursor, truncated: state.dropped || result.dropped, apiCalls: ctx.calls.count };
}

/**
 * Paths of folders in the tree, found by walking parents up to the link's folder with files.get
 * and cached for the call: null for a folder outside the tree (or under a trashed folder, or gone).
 */
export class FolderPaths {
  private readonly cache = new Map<string, string | null>();

  constructor(
    private readonly ctx: Pick<TreeContext, 'drive' | 'calls'>,
    rootFolderId: string,
  ) {
    this.cache.set(rootFolderId, '');
  }

  async pathOf(folderId: string, depth = 0): Promise<string | null> {
    if (this.cache.has(folderId)) return this.cache.get(folderId) ?? null;
    let path: string | null = null;
    const folder = await this.get(folderId);
    if (folder && !folder.trashed && folder.mimeType === FOLDER_MIME && folder.parent && depth < 100) {
      const parentPath = await this.pathOf(folder.parent, depth + 1);
      path = parentPath === null ? null : joinPath(parentPath, segment(folder.name));
    }
    this.cache.set(folderId, path);
    return path;
  }

  private async get(fileId: string): Promise<DriveEntry | null> {
    try {
      const res = await this.ctx.calls.run(() => this.ctx.drive.files.get({ fileId, fields: 'id,name,parents,mimeType,trashed' }));
      return toEntry(res.data);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}

/**
 * Whether a folder outside the tree holds a file of the map somewhere below it (a folder moved out
 * of the tree takes its files along, and the feed reports only the folder). Lists its subtree
 * (trashed items included, the link's own folder excluded) until a known file turns up. Each page
 * spends one of `budget.calls`; with none left it answers true, which costs a full scan but never
 * misses a file.
 */
export async function holdsKnownFile(ctx: TreeContext, folderId: string, rootFolderId: string, budget: { calls: number }): Promise<boolean> {
  const queue = [folderId];
  let pageToken: string | undefined;
  while (queue.length > 0) {
    if (budget.calls <= 0) return true;
    budget.calls -= 1;
    const page = await ctx.calls.run(() =>
      ctx.drive.files.list({ q: `${quoted(queue[0] ?? '')} in parents`, pageSize: ctx.pageSize, fields: 'nextPageToken,files(id,mimeType)', ...(pageToken ? { pageToken } : {}) }),
    );
    for (const file of page.data.files ?? []) {
      if (file.id && ctx.known.get(file.id)) return true;
      if (file.id && file.mimeType === FOLDER_MIME && file.id !== rootFolderId) queue.push(file.id);
    }
    pageToken = page.data.nextPageToken ?? undefined;
    if (!pageToken) queue.shift();
  }
  return false;
}
