import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { drive_v3 } from 'googleapis/build/src/apis/drive';

/**
 * Writes one file of a sync run into Drive, retry-safe: every file durasync writes carries
 * `appProperties` naming its link and repository path (and the GitHub blob it came from), and a
 * write first looks the file up by them. A retried activity whose earlier attempt created the file
 * (but lost the answer) finds it and updates it instead of creating a second one; content that is
 * already there is not uploaded again.
 */
export interface DriveWriteApi {
  files: Pick<drive_v3.Resource$Files, 'list' | 'get' | 'create' | 'update'>;
}

export const APP_PROPERTY = { link: 'durasyncLink', path: 'durasyncPath', sourceSha: 'durasyncSourceSha' } as const;

export interface DriveWriteInput {
  linkId: string;
  /** The Drive folder the file goes into (the link's folder or a subfolder). */
  folderId: string;
  /** Its path in the repository, relative to the link's path: the file's identity. */
  path: string;
  /** File name in Drive. */
  name: string;
  content: Buffer;
  mimeType: string;
  /** The GitHub blob sha the content came from. */
  sourceSha: string;
  /** Per-call options for uploads (lib/providers/google.ts uploadOptions). */
  uploadOptions?: { rootUrl?: string };
  /**
   * The Drive file the file map already ties to this path (or, for a rename, to its old path): it is
   * updated in place, moved into `folderId` if it lives elsewhere, and tagged; a Google Doc gets the
   * content imported. A file gone or trashed since falls back to the lookup by appProperties.
   */
  fileId?: string;
  /**
   * What the caller already knows of the file at this path (from listTaggedFiles): the file to
   * update, or null when no such file exists, which skips the lookup. Default: look it up.
   */
  known?: DriveFileMeta | null;
}

export interface DriveWriteResult {
  fileId: string;
  /** true: created by this call; false: found (from an earlier attempt or run) and updated or kept. */
  created: boolean;
  /** true when the file already had this content: nothing was uploaded. */
  unchanged: boolean;
  /** md5Checksum after the write (null for a Google Doc, which has none). */
  md5: string | null;
  /** headRevisionId, or a Google Doc's version: what the next listing compares. */
  revision: string | null;
}

/** A value inside a Drive query string literal. */
const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function findQuery(input: Pick<DriveWriteInput, 'linkId' | 'folderId' | 'path'>): string {
  return [
    `${quoted(input.folderId)} in parents`,
    'trashed = false',
    `appProperties has { key=${quoted(APP_PROPERTY.link)} and value=${quoted(input.linkId)} }`,
    `appProperties has { key=${quoted(APP_PROPERTY.path)} and value=${quoted(input.path)} }`,
  ].join(' and ');
}

const GOOGLE_DOC = 'application/vnd.google-apps.document';
const RESULT_FIELDS = 'id, md5Checksum, headRevisionId, version, mimeType';

export type DriveFileMeta = Pick<drive_v3.Schema$File, 'id' | 'md5Checksum' | 'headRevisionId' | 'version' | 'mimeType' | 'parents' | 'trashed' | 'name'>;

const revisionOf = (file: DriveFileMeta) => (file.mimeType === GOOGLE_DOC ? (file.version ?? null) : (file.headRevisionId ?? null));

/** The file the map names, or null when it is gone or trashed. */
async function knownFile(drive: DriveWriteApi, fileId: string): Promise<DriveFileMeta | null> {
  try {
    const { data } = await drive.files.get({ fileId, fields: `${RESULT_FIELDS}, parents, trashed, name` });
    return data.trashed ? null : data;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return null;
    throw err;
  }
}

export async function writeDriveFile(drive: DriveWriteApi, input: DriveWriteInput): Promise<DriveWriteResult> {
  const md5 = createHash('md5').update(input.content).digest('hex');
  const appProperties = { [APP_PROPERTY.link]: input.linkId, [APP_PROPERTY.path]: input.path, [APP_PROPERTY.sourceSha]: input.sourceSha };
  let existing: DriveFileMeta | null = input.known !== undefined ? input.known : input.fileId ? await knownFile(drive, input.fileId) : null;
  if (!existing && input.known === undefined) {
    const found = await drive.files.list({ q: findQuery(input), fields: `files(${RESULT_FIELDS}, parents, name)`, pageSize: 2 });
    existing = found.data.files?.[0] ?? null;
  }
  if (existing?.id) {
    const isDoc = existing.mimeType === GOOGLE_DOC;
    const moved = !(existing.parents ?? []).includes(input.folderId);
    // A Google Doc's name has no extension; a file's name is its path's last part.
    const name = isDoc ? input.name.replace(/\.md$/i, '') : input.name;
    if (!isDoc && existing.md5Checksum === md5 && !moved && existing.name === name) {
      return { fileId: existing.id, created: false, unchanged: true, md5, revision: revisionOf(existing) };
    }
    const updated = await drive.files.update(
      {
        fileId: existing.id,
        requestBody: { name, appProperties },
        media: { mimeType: isDoc ? 'text/markdown' : input.mimeType, body: Readable.from([input.content]) },
        fields: RESULT_FIELDS,
        ...(moved ? { addParents: input.folderId, removeParents: (existing.parents ?? []).join(',') || undefined } : {}),
      },
      input.uploadOptions ?? {},
    );
    return { fileId: existing.id, created: false, unchanged: false, md5: isDoc ? null : (updated.data.md5Checksum ?? md5), revision: revisionOf(updated.data) };
  }
  const created = await drive.files.create(
    { requestBody: { name: input.name, parents: [input.folderId], appProperties }, media: { mimeType: input.mimeType, body: Readable.from([input.content]) }, fields: RESULT_FIELDS },
    input.uploadOptions ?? {},
  );
  if (!created.data.id) throw new Error(`Drive created ${input.path} without answering its id`);
  return { fileId: created.data.id, created: true, unchanged: false, md5: created.data.md5Checksum ?? md5, revision: revisionOf(created.data) };
}

/**
 * Every untrashed file and folder durasync wrote for a link (by its appProperties), by path: one
 * paged query instead of a lookup per file. Folders come back separately (path -> id).
 */
export async function listTaggedFiles(
  drive: Pick<DriveWriteApi, 'files'>,
  linkId: string,
): Promise<{ files: Map<string, DriveFileMeta>; folders: Map<string, string>; apiCalls: number }> {
  const files = new Map<string, DriveFileMeta>();
  const folders = new Map<string, string>();
  let pageToken: string | undefined;
  let apiCalls = 0;
  do {
    apiCalls++;
    const { data } = await drive.files.list({
      q: `trashed = false and appProperties has { key=${quoted(APP_PROPERTY.link)} and value=${quoted(linkId)} }`,
      fields: `nextPageToken, files(${RESULT_FIELDS}, parents, name, appProperties)`,
      pageSize: 1000,
      ...(pageToken ? { pageToken } : {}),
    });
    for (const file of data.files ?? []) {
      const path = file.appProperties?.[APP_PROPERTY.path];
      if (!file.id || !path) continue;
      if (file.mimeType === 'application/vnd.google-apps.folder') folders.set(path, file.id);
      else if (!files.has(path)) files.set(path, file);
    }
    pageToken = data.nextPageToken ?? undefined;
  } while (pageToken);
  return { files, folders, apiCalls };
}
