/**
 * What crosses the boundary between the sync workflows and their activities: ids, paths, checksums
 * and cursors, never file contents or tokens. Contents travel through the store's staging area
 * (`stage_sync_content`), keyed by the run id, and only their sha256 and size cross here.
 * Pure types: imported by workflows/ and activities/ alike.
 */

/** Which way a run goes. `both` is syncLink. */
export type RunDirection = 'drive_to_github' | 'github_to_drive' | 'both';

/** A file changed in Drive since the link's cursor, by its repository path (relative to the link's path). */
export interface DriveChange {
  kind: 'upsert' | 'delete';
  /** Path relative to the link's folder, `/`-separated; a Google Doc's path ends in `.md`. */
  path: string;
  fileId: string;
  /** Set for upserts. */
  mimeType?: string;
  /** md5Checksum (null for Google Docs, which have none). */
  md5?: string | null;
  /** headRevisionId, or for Google Docs their `version`. */
  revision?: string | null;
  /** A Google Doc, exported as markdown. */
  isDoc?: boolean;
  /** A rename or move: the path the file had in the map. */
  previousPath?: string;
}

export interface DriveListing {
  changes: DriveChange[];
  /** The Drive changes page token to store once every change up to it is synced. */
  nextCursor: string;
  /** More changes than `limit`: the run syncs these, then continues as new. */
  truncated: boolean;
  /** Drive API calls made. */
  apiCalls: number;
}

/** A file changed on the GitHub branch since the link's cursor (path relative to the link's path). */
export interface GithubChange {
  kind: 'upsert' | 'delete';
  path: string;
  /** The blob sha, for upserts. */
  sha?: string;
  /** A rename: the path the file had before. */
  previousPath?: string;
}

export interface GithubListing {
  /** The branch head the listing was taken at: the cursor to store once synced. */
  head: string;
  changes: GithubChange[];
  truncated: boolean;
  apiCalls: number;
}

/** One staged file: its content sits in the store under (runId, path). */
export interface StagedFile {
  path: string;
  sha256: string;
  size: number;
}

/** A path changed on both sides since the last sync, and what the link's policy did with it. */
export interface SyncConflict {
  path: string;
  policy: 'keep-both' | 'drive-wins' | 'github-wins';
  /** keep-both: where the Drive version was kept. */
  keptAs?: string;
  /** What each side did: `edit` or `delete`. */
  drive: 'edit' | 'delete';
  github: 'edit' | 'delete';
}
