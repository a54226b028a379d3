import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { drive_v3 } from 'googleapis';

/**
 * Writes one file of a sync run into Drive, retry-safe: every file durasync writes carries
 * `appProperties` naming its link and repository path (and the GitHub blob it came from), and a
 * write first looks the file up by them. A retried activity whose earlier attempt created the file
 * (but lost the answer) finds it and updates it instead of creating a second one; content that is
 * already there is not uploaded again.
 */
export interface DriveWriteApi {
  files: Pick<drive_v3.Resource$Files, 'list' | 'create' | 'update'>;
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
}

export interface DriveWriteResult {
  fileId: string;
  /** true: created by this call; false: found (from an earlier attempt or run) and updated or kept. */
  created: boolean;
  /** true when the file already had this content: nothing was uploaded. */
  unchanged: boolean;
  md5: string;
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

export async function writeDriveFile(drive: DriveWriteApi, input: DriveWriteInput): Promise<DriveWriteResult> {
  const md5 = createHash('md5').update(input.content).digest('hex');
  const appProperties = { [APP_PROPERTY.link]: input.linkId, [APP_PROPERTY.path]: input.path, [APP_PROPERTY.sourceSha]: input.sourceSha };
  const found = await drive.files.list({ q: findQuery(input), fields: 'files(id, md5Checksum, appProperties)', pageSize: 2 });
  const existing = found.data.files?.[0];
  const media = () => ({ mimeType: input.mimeType, body: Readable.from([input.content]) });
  if (existing?.id) {
    if (existing.md5Checksum === md5) {
      return { fileId: existing.id, created: false, unchanged: true, md5 };
    }
    const updated = await drive.files.update(
      { fileId: existing.id, requestBody: { name: input.name, appProperties }, media: media(), fields: 'id, md5Checksum' },
      input.uploadOptions ?? {},
    );
    return { fileId: existing.id, created: false, unchanged: false, md5: updated.data.md5Checksum ?? md5 };
  }
  const created = await drive.files.create(
    { requestBody: { name: input.name, parents: [input.folderId], appProperties }, media: media(), fields: 'id, md5Checksum' },
    input.uploadOptions ?? {},
  );
  if (!created.data.id) throw new Error(`Drive created ${input.path} without answering its id`);
  return { fileId: created.data.id, created: true, unchanged: false, md5: created.data.md5Checksum ?? md5 };
}
