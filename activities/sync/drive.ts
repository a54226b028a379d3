import { createDriveClient, uploadOptions } from '../../lib/providers/google';
import { downloadDriveFile, ensureDriveFolder, listDriveChanges, renameDriveFile, trashDriveFile, type DriveListCheckpoint, type KnownDriveFile } from '../../lib/sync/drive-read';
import { listTaggedFiles, writeDriveFile } from '../../lib/sync/drive-write';
import type { DriveListing, StagedFile } from '../../workflows/sync/types';
import { accessTokenFor, checkpoint, loadLink, withHeartbeat, mapPool, mimeTypeOf, providerCall, stageTransfers, stagingKey, type SyncActivityDeps } from './common';

/** A Drive file to download and stage: `path` is where it goes, `fileId` what it is. */
export interface DriveSource {
  path: string;
  fileId: string;
  isDoc?: boolean;
}

/** A staged GitHub file to write into Drive at `path`. */
export interface DriveTarget {
  path: string;
  /** Where its content is staged (run's GitHub side). */
  stagedPath: string;
  /** The GitHub blob it came from (tagged on the Drive file). */
  sourceSha: string;
  /** A rename in GitHub: the path whose Drive file moves here. */
  previousPath?: string;
}

export interface WriteToDriveInput {
  linkId: string;
  runId: string;
  writes: DriveTarget[];
  /** Paths whose Drive files go to the trash. */
  trash: string[];
  /** keep-both conflicts: these Drive files keep their content and move to `to` first. */
  renames: Array<{ fileId: string; to: string; isDoc?: boolean }>;
}

export interface DriveWritten {
  path: string;
  fileId: string;
  md5: string | null;
  revision: string | null;
}

export interface WriteToDriveResult {
  written: DriveWritten[];
  trashed: string[];
  renamed: Array<{ path: string; fileId: string }>;
  created: number;
  unchanged: number;
}

const STAGE_BATCH = 25;

/**
 * The activities that call Google Drive; they run on the `drive-api` task queue, paced by the
 * server. Contents are staged in the store, never returned; each activity heartbeats its progress
 * and a retried attempt resumes from the last heartbeat.
 */
export function createDriveActivities(deps: SyncActivityDeps) {
  const concurrency = deps.transferConcurrency ?? 8;

  async function driveFor(linkId: string) {
    const link = await loadLink(deps.store, linkId);
    const token = await accessTokenFor(deps, link, 'google');
    return { link, drive: createDriveClient(token, deps.google) };
  }

  async function knownPaths(linkId: string) {
    return (await deps.store.listSyncFiles(linkId)).filter((f) => !f.deleted);
  }

  return {
    /** The link folder's changes since its cursor (everything, on the first sync), at most `limit`. */
    async listDriveChanges(input: { linkId: string; limit: number }): Promise<DriveListing> {
      const { link, drive } = await driveFor(input.linkId);
      const known: KnownDriveFile[] = (await knownPaths(link.id))
        .filter((f) => f.driveFileId)
        .map((f) => ({ path: f.githubPath, fileId: f.driveFileId!, md5: f.driveMd5, revision: f.driveRevision }));
      const resume = checkpoint<DriveListCheckpoint>();
      return withHeartbeat(resume, (update) =>
        providerCall('google', 'list changes', () =>
          listDriveChanges(drive, { folderId: link.driveFolderId, cursor: link.driveCursor, known, limit: input.limit, resume, onCheckpoint: update }),
        ),
      );
    },

    /** Downloads Drive files (Docs exported as markdown) into the run's staging; answers their hashes. */
    async stageFromDrive(input: { linkId: string; runId: string; files: DriveSource[] }): Promise<StagedFile[]> {
      const { link, drive } = await driveFor(input.linkId);
      const done = checkpoint<StagedFile[]>() ?? [];
      const key = stagingKey(input.runId, 'drive');
      return withHeartbeat(done, (update) =>
        stageTransfers({
          items: input.files,
          done,
          concurrency,
          download: (file) => providerCall('google', 'download', () => downloadDriveFile(drive, file)),
          stage: (files) => deps.store.stageSyncContent(link.id, key, files),
          update,
        }),
      );
    },

    /**
     * Writes staged GitHub contents into the link's folder (creating subfolders), moves conflict
     * copies aside first, and trashes deleted paths. Retry-safe: files are found by the map or by
     * their appProperties before anything is created.
     */
    async writeToDrive(input: WriteToDriveInput): Promise<WriteToDriveResult> {
      const { link, drive } = await driveFor(input.linkId);
      const map = new Map((await knownPaths(link.id)).map((f) => [f.githubPath, f]));
      // What this link already has in Drive, in one paged query: the files to update and the
      // folders to reuse, including those an earlier attempt of this activity created.
      const tagged = await providerCall('google', 'list tagged files', () => listTaggedFiles(drive, link.id));
      const folders = new Map(tagged.folders);
      const taggedById = new Map([...tagged.files.values()].map((f) => [f.id, f]));
      const pendingDirs = new Map<string, Promise<string>>();
      // One creation per folder even with uploads in parallel: parents first, each path once.
      const ensureDir = (dir: string): Promise<string> => {
        if (dir === '') return Promise.resolve(link.driveFolderId);
        const known = folders.get(dir);
        if (known) return Promise.resolve(known);
        let pending = pendingDirs.get(dir);
        if (!pending) {
          const parent = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
          pending = ensureDir(parent).then(() =>
            providerCall('google', 'create folder', () => ensureDriveFolder(drive, { linkId: link.id, rootFolderId: link.driveFolderId, dirPath: dir, cache: folders })),
          );
          pendingDirs.set(dir, pending);
        }
        return pending;
      };
      const folderOf = (path: string) => ensureDir(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
      const nameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);
      const previous = checkpoint<WriteToDriveResult>();
      const result: WriteToDriveResult = previous ?? { written: [], trashed: [], renamed: [], created: 0, unchanged: 0 };

      return withHeartbeat(result, async (update) => {
        // Conflict copies first: the Drive file keeps its content under the new name.
        for (const { fileId, to, isDoc } of input.renames.slice(result.renamed.length)) {
          // A Google Doc's name has no extension (its path adds `.md`).
          const name = isDoc ? nameOf(to).replace(/\.md$/i, '') : nameOf(to);
          await providerCall('google', 'rename', () => renameDriveFile(drive, { fileId, linkId: link.id, name, path: to }));
          result.renamed.push({ path: to, fileId });
          update(result);
        }
        const renamedAway = new Set(input.renames.map((r) => r.fileId));

        const pending = input.writes.slice(result.written.length);
        for (let start = 0; start < pending.length; start += STAGE_BATCH) {
          const batch = pending.slice(start, start + STAGE_BATCH);
          const staged = new Map((await deps.store.getStagedContent(stagingKey(input.runId, 'github'), batch.map((w) => w.stagedPath))).map((f) => [f.path, f]));
          const written = await mapPool(batch, concurrency, async (target) => {
            const content = staged.get(target.stagedPath)?.content;
            if (!content) throw new Error(`staged content of ${target.stagedPath} is missing from run ${input.runId}`);
            const mapped = map.get(target.previousPath ?? target.path)?.driveFileId ?? undefined;
            const knownId = mapped && !renamedAway.has(mapped) ? mapped : undefined;
            // The file to update: the map's (by id: it may be a file the user made, untagged), else
            // the one tagged with this path, else none (created without a lookup).
            const taggedHere = tagged.files.get(target.path);
            const known = knownId ? taggedById.get(knownId) : renamedAway.has(taggedHere?.id ?? '') ? null : (taggedHere ?? null);
            const folderId = await folderOf(target.path);
            const out = await providerCall('google', 'upload', () =>
              writeDriveFile(drive, {
                linkId: link.id,
                folderId,
                path: target.path,
                name: nameOf(target.path),
                content,
                mimeType: mimeTypeOf(target.path),
                sourceSha: target.sourceSha,
                uploadOptions: uploadOptions(deps.google),
                ...(knownId ? { fileId: knownId } : {}),
                ...(known !== undefined ? { known } : {}),
              }),
            );
            if (out.created) result.created++;
            if (out.unchanged) result.unchanged++;
            return { path: target.path, fileId: out.fileId, md5: out.md5, revision: out.revision };
          });
          result.written.push(...written);
          update(result);
        }

        for (const path of input.trash.slice(result.trashed.length)) {
          const fileId = map.get(path)?.driveFileId;
          if (fileId) await providerCall('google', 'trash', () => trashDriveFile(drive, fileId));
          result.trashed.push(path);
          update(result);
        }
        return result;
      });
    },
  };
}

export type DriveActivities = ReturnType<typeof createDriveActivities>;
