import type { DriveChange, DriveListing } from '../../workflows/sync/types';
import { APP_PROPERTY } from './drive-write';
import {
  CallCounter, DEFAULT_PAGE_SIZE, ENTRY_FIELDS, FOLDER_MIME, FolderPaths, KnownFiles,
  compare, entryName, firstByPath, holdsKnownFile, isNotFound, joinPath, kindOf, quoted, scanTree, startScan, toEntry,
} from './drive-tree';
import type { DriveEntry, DriveReadApi, KnownDriveFile, ScanCheckpoint, TreeContext } from './drive-tree';

export type { DriveReadApi, KnownDriveFile, ScanCheckpoint } from './drive-tree';

/**
 * Reads a link's Drive folder for a sync run: what changed since the last sync (listDriveChanges),
 * file contents (downloadDriveFile), and the few writes sync makes besides uploads (folders,
 * trash, conflict-copy renames), all retry-safe.
 *
 * listDriveChanges, paths relative to the link's folder, `/`-separated, `/` in names replaced by `_`,
 * a Google Doc as `<name>.md` (other Google types: sheets, slides, forms, shortcuts, are skipped):
 * - Initial sync (no cursor): changes.getStartPageToken first (so nothing changed during the scan is
 *   missed; it is `nextCursor`), then a breadth-first files.list scan of the tree compared with the
 *   file map by file id. Unknown files are upserts, known ones at another path upserts with
 *   `previousPath`, known ones with another md5 (a Doc: `version`) upserts, known ones not met
 *   deletes; the same file at the same path with the same content is nothing, which is how
 *   durasync's own uploads are not echoed back.
 * - Incremental (a cursor): the changes feed from the cursor to its newStartPageToken (the
 *   `nextCursor`), the last change of each file kept. A removed or trashed file is a delete if the
 *   map knows it; otherwise its path is resolved by walking its parents up to the link's folder
 *   (files.get, cached per call) and compared as above; a known file now outside the tree is a delete.
 *   A change to a folder inside the tree (a rename, move or trash changes the path of everything
 *   below it, and the feed reports only the folder) makes it a full scan as in the initial case,
 *   with the feed's token as `nextCursor`: simple and correct. So does a folder outside the tree
 *   that holds a file of the map (moved out with it), found by listing its subtree.
 * - At most `limit` changes, the first by path; `truncated` when there were more. A truncated
 *   listing's `nextCursor` must not be stored: listing again from the same cursor, once the returned
 *   changes are in the map, answers the rest (the synced ones then compare equal).
 * - The listing calls `onCheckpoint` after every page; a retried activity passes the last one as
 *   `resume` and goes on from there instead of starting the scan or the feed over.
 */

/** Where the feed stands: pages read so far, reduced to the last change of each file that may matter. */
export interface FeedCheckpoint {
  mode: 'feed';
  /** The next page to read; null once read through. */
  pageToken: string | null;
  /** The feed's newStartPageToken, once read through. */
  nextCursor: string | null;
  entries: FeedEntry[];
}

/** A file's last state in the feed, or its removal (only kept for files of the map). */
export type FeedEntry = DriveEntry | { id: string; removed: true };

/** JSON-serialisable: the activity heartbeats it. */
export type DriveListCheckpoint = FeedCheckpoint | ScanCheckpoint;

export interface ListDriveChangesInput {
  /** The link's root folder. */
  folderId: string;
  /** Drive changes page token stored by the last sync; null: initial sync. */
  cursor: string | null;
  /** The link's file map (not deleted entries). */
  known: KnownDriveFile[];
  /** At most this many changes returned; more => truncated: true. */
  limit: number;
  /** From an earlier attempt's heartbeat. */
  resume?: DriveListCheckpoint;
  /** Called after each page (the activity heartbeats it). */
  onCheckpoint?: (checkpoint: DriveListCheckpoint) => void;
  /** files.list and changes.list page size. Default: 1000, Drive's maximum. */
  pageSize?: number;
}

/** Pages a full scan may spend looking for files of the map under folders outside the tree. */
const PROBE_CALLS = 20;

const removed = (entry: FeedEntry): entry is { id: string; removed: true } => 'removed' in entry;

export async function listDriveChanges(drive: DriveReadApi, input: ListDriveChangesInput): Promise<DriveListing> {
  const ctx: TreeContext = {
    drive,
    calls: new CallCounter(),
    known: new KnownFiles(input.known),
    limit: input.limit,
    pageSize: input.pageSize ?? DEFAULT_PAGE_SIZE,
    ...(input.onCheckpoint ? { onCheckpoint: input.onCheckpoint } : {}),
  };
  const resume = input.resume;
  if (resume?.mode === 'scan') return scanTree(ctx, resume);
  if (input.cursor === null) {
    const start = await ctx.calls.run(() => drive.changes.getStartPageToken({ fields: 'startPageToken' }));
    if (!start.data.startPageToken) throw new Error('Drive answered changes.getStartPageToken without a token');
    const scan = startScan(start.data.startPageToken, input.folderId);
    input.onCheckpoint?.(structuredClone(scan));
    return scanTree(ctx, scan);
  }
  const feed = await readFeed(ctx, input, resume?.mode === 'feed' ? resume : { mode: 'feed', pageToken: input.cursor, nextCursor: null, entries: [] });
  return fromFeed(ctx, input, feed);
}

/** Pages through changes.list to its newStartPageToken, keeping the last change of each file that may matter. */
async function readFeed(ctx: TreeContext, input: ListDriveChangesInput, checkpoint: FeedCheckpoint): Promise<FeedCheckpoint> {
  const state = structuredClone(checkpoint);
  const byId = new Map(state.entries.map((entry) => [entry.id, entry]));
  while (state.pageToken !== null) {
    const pageToken = state.pageToken;
    const page = await ctx.calls.run(() =>
      ctx.drive.changes.list({
        pageToken,
        pageSize: ctx.pageSize,
        includeRemoved: true,
        fields: `nextPageToken,newStartPageToken,changes(changeType,fileId,removed,file(${ENTRY_FIELDS}))`,
      }),
    );
    for (const change of page.data.changes ?? []) {
      if (change.changeType && change.changeType !== 'file') continue;
      const id = change.fileId ?? change.file?.id;
      if (!id) continue;
      byId.delete(id);
      const isKnown = ctx.known.get(id) !== undefined;
      const entry = change.removed || !change.file ? null : toEntry(change.file);
      if (!entry) {
        if (isKnown) byId.set(id, { id, removed: true });
        continue;
      }
      const kind = kindOf(entry.mimeType);
      // Unknown trashed files and skipped Google types never make a change; folders are looked at later.
      if (kind === 'skip' || (entry.trashed && !isKnown && kind !== 'folder')) continue;
      byId.set(id, entry);
    }
    state.entries = [...byId.values()];
    if (page.data.nextPageToken) {
      state.pageToken = page.data.nextPageToken;
    } else {
      if (!page.data.newStartPageToken) throw new Error('Drive ended the changes feed without a newStartPageToken');
      state.pageToken = null;
      state.nextCursor = page.data.newStartPageToken;
    }
    input.onCheckpoint?.(structuredClone(state));
  }
  return state;
}

async function fromFeed(ctx: TreeContext, input: ListDriveChangesInput, feed: FeedCheckpoint): Promise<DriveListing> {
  const nextCursor = feed.nextCursor ?? '';
  const folders = new FolderPaths(ctx, input.folderId);
  const budget = { calls: PROBE_CALLS };
  for (const entry of feed.entries) {
    if (removed(entry) || entry.mimeType !== FOLDER_MIME || entry.id === input.folderId) continue;
    const parentPath = entry.parent === null ? null : await folders.pathOf(entry.parent);
    const inTree = parentPath !== null;
    // A folder durasync created (tagged with its path) that is still at that path moved nothing:
    // its appearance in the feed is its creation by an earlier run, not a rename.
    if (inTree && !entry.trashed && entry.syncPath && joinPath(parentPath, entryName(entry)) === entry.syncPath) continue;
    if (inTree || (ctx.known.size > 0 && (await holdsKnownFile(ctx, entry.id, input.folderId, budget)))) {
      const scan = startScan(nextCursor, input.folderId);
      input.onCheckpoint?.(structuredClone(scan));
      return scanTree(ctx, scan);
    }
  }
  const changes: DriveChange[] = [];
  for (const entry of feed.entries) {
    const known = ctx.known.get(entry.id)?.file;
    const gone = (): void => {
      if (known) changes.push({ kind: 'delete', path: known.path, fileId: known.fileId });
    };
    if (removed(entry)) {
      gone();
      continue;
    }
    if (entry.mimeType === FOLDER_MIME) continue;
    const dir = entry.trashed || entry.parent === null ? null : await folders.pathOf(entry.parent);
    if (dir === null) {
      gone();
      continue;
    }
    const change = compare(entry, joinPath(dir, entryName(entry)), known);
    if (change) changes.push(change);
  }
  const result = firstByPath(changes, ctx.limit);
  return { changes: result.changes, nextCursor, truncated: result.dropped, apiCalls: ctx.calls.count };
}

/** A file's content: a Google Doc exported as markdown (Drive caps exports at 10 MB), any other file as stored. */
export async function downloadDriveFile(drive: DriveReadApi, change: Pick<DriveChange, 'fileId' | 'isDoc'>): Promise<Buffer> {
  const res = change.isDoc
    ? await drive.files.export({ fileId: change.fileId, mimeType: 'text/markdown' }, { responseType: 'arraybuffer' })
    : await drive.files.get({ fileId: change.fileId, alt: 'media' }, { responseType: 'arraybuffer' });
  const data: unknown = res.data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data);
  throw new Error(`Drive answered the content of ${change.fileId} as ${typeof data}`);
}

/**
 * The id of the folder at `dirPath` under the link's folder ('' is the folder itself), creating
 * missing folders level by level. Each level is looked up first, among the parent's untrashed
 * folders, by the appProperties durasync gives its folders (durasyncLink, durasyncPath) or by name,
 * so a retried activity whose earlier attempt created a folder finds it instead of creating a second
 * one. `cache` (path -> id) spares lookups across calls of one activity.
 */
export async function ensureDriveFolder(
  drive: DriveReadApi,
  input: { linkId: string; rootFolderId: string; dirPath: string; cache: Map<string, string> },
): Promise<string> {
  let parentId = input.rootFolderId;
  let path = '';
  for (const name of input.dirPath.split('/').filter(Boolean)) {
    path = joinPath(path, name);
    const cached = input.cache.get(path);
    if (cached) {
      parentId = cached;
      continue;
    }
    const ours = [
      `appProperties has { key=${quoted(APP_PROPERTY.link)} and value=${quoted(input.linkId)} }`,
      `appProperties has { key=${quoted(APP_PROPERTY.path)} and value=${quoted(path)} }`,
    ].join(' and ');
    const found = await drive.files.list({
      q: `${quoted(parentId)} in parents and trashed = false and mimeType = ${quoted(FOLDER_MIME)} and (name = ${quoted(name)} or (${ours}))`,
      fields: 'files(id,name,appProperties)',
      orderBy: 'createdTime',
      pageSize: 100,
    });
    const candidates = found.data.files ?? [];
    const existing =
      candidates.find((f) => f.appProperties?.[APP_PROPERTY.link] === input.linkId && f.appProperties?.[APP_PROPERTY.path] === path) ?? candidates[0];
    let id = existing?.id;
    if (!id) {
      const created = await drive.files.create({
        requestBody: { name, mimeType: FOLDER_MIME, parents: [parentId], appProperties: { [APP_PROPERTY.link]: input.linkId, [APP_PROPERTY.path]: path } },
        fields: 'id',
      });
      id = created.data.id;
      if (!id) throw new Error(`Drive created the folder ${path} without answering its id`);
    }
    input.cache.set(path, id);
    parentId = id;
  }
  return parentId;
}

/** Moves a file to the trash; one already trashed or gone (404) is fine. */
export async function trashDriveFile(drive: DriveReadApi, fileId: string): Promise<void> {
  try {
    await drive.files.update({ fileId, requestBody: { trashed: true }, fields: 'id' });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Renames a file and records its new repository path in its appProperties (keeping a conflict copy). */
export async function renameDriveFile(drive: DriveReadApi, input: { fileId: string; linkId: string; name: string; path: string }): Promise<void> {
  await drive.files.update({
    fileId: input.fileId,
    requestBody: { name: input.name, appProperties: { [APP_PROPERTY.link]: input.linkId, [APP_PROPERTY.path]: input.path } },
    fields: 'id',
  });
}
