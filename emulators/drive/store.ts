import { createHash, randomBytes } from 'node:crypto';
import { notFound } from './errors';

export const FOLDER = 'application/vnd.google-apps.folder';
export const GOOGLE_DOC = 'application/vnd.google-apps.document';

/** A file or folder as the emulator keeps it; `toResource` turns it into Drive's JSON. */
export interface StoredFile {
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  trashed: boolean;
  createdTime: string;
  modifiedTime: string;
  appProperties: Record<string, string>;
  version: number;
  /** Bytes of a binary file, or the markdown of a Google Doc; absent for folders. */
  content?: Buffer;
  headRevisionId?: string;
}

/** The Drive v3 `File` resource (the subset the emulator models). */
export interface FileResource {
  kind: 'drive#file';
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  trashed: boolean;
  explicitlyTrashed: boolean;
  createdTime: string;
  modifiedTime: string;
  appProperties: Record<string, string>;
  version: string;
  md5Checksum?: string;
  size?: string;
  headRevisionId?: string;
}

export interface ChangeEntry {
  /** Position in the change log, from 1; a page token names the first position to read. */
  position: number;
  fileId: string;
  removed: boolean;
  time: string;
  /** The file as it was right after the change; absent when removed. */
  file?: FileResource;
}

export interface FileUpdate {
  name?: string;
  trashed?: boolean;
  /** Merged into the file's; a null value deletes the key. */
  appProperties?: Record<string, string | null>;
  addParents?: string[];
  removeParents?: string[];
  content?: Buffer;
}

export const isGoogleType = (mimeType: string) => mimeType.startsWith('application/vnd.google-apps.');

/** Drive-like ids: 33 URL-safe characters. */
export const newId = () => '1' + randomBytes(24).toString('base64url');

export function toResource(file: StoredFile): FileResource {
  const resource: FileResource = {
    kind: 'drive#file',
    id: file.id,
    name: file.name,
    mimeType: file.mimeType,
    parents: [...file.parents],
    trashed: file.trashed,
    explicitlyTrashed: file.trashed,
    createdTime: file.createdTime,
    modifiedTime: file.modifiedTime,
    appProperties: { ...file.appProperties },
    version: String(file.version),
  };
  if (!isGoogleType(file.mimeType) && file.content) {
    resource.md5Checksum = createHash('md5').update(file.content).digest('hex');
    resource.size = String(file.content.length);
    if (file.headRevisionId) resource.headRevisionId = file.headRevisionId;
  }
  return resource;
}

/**
 * The in-memory Drive: files by id, a root folder (`root` is its alias, as in Drive), and the
 * change log every mutation appends to (a page token is a position in it).
 */
export class DriveStore {
  /** The fields below are the store's whole state, read and replaced by persist.ts. */
  rootId = newId();
  readonly files = new Map<string, StoredFile>();
  readonly log: ChangeEntry[] = [];
  lastMillis = 0;

  constructor() {
    const now = this.now();
    this.files.set(this.rootId, {
      id: this.rootId, name: 'My Drive', mimeType: FOLDER, parents: [], trashed: false,
      createdTime: now, modifiedTime: now, appProperties: {}, version: 1,
    });
  }

  /** Strictly increasing timestamps, so modifiedTime orders changes even within a millisecond. */
  private now(): string {
    this.lastMillis = Math.max(Date.now(), this.lastMillis + 1);
    return new Date(this.lastMillis).toISOString();
  }

  resolveId(id: string): string {
    return id === 'root' ? this.rootId : id;
  }

  get(id: string): StoredFile {
    const file = this.files.get(this.resolveId(id));
    if (!file) throw notFound(id);
    return file;
  }

  /** Every file and folder but the root, in creation order. */
  all(): StoredFile[] {
    return [...this.files.values()].filter((f) => f.id !== this.rootId);
  }

  create(input: { name?: string; mimeType?: string; parents?: string[]; appProperties?: Record<string, string>; content?: Buffer }): StoredFile {
    const parents = (input.parents?.length ? input.parents : [this.rootId]).map((p) => this.get(p).id);
    const mimeType = input.mimeType ?? 'application/octet-stream';
    const now = this.now();
    const file: StoredFile = {
      id: newId(),
      name: input.name ?? 'Untitled',
      mimeType,
      parents,
      trashed: false,
      createdTime: now,
      modifiedTime: now,
      appProperties: { ...input.appProperties },
      version: 1,
    };
    if (mimeType !== FOLDER) {
      file.content = input.content ?? Buffer.alloc(0);
      if (!isGoogleType(mimeType)) file.headRevisionId = newId();
    }
    this.files.set(file.id, file);
    this.record(file);
    return file;
  }

  update(id: string, update: FileUpdate): StoredFile {
    const file = this.get(id);
    const parentIds = (ids: string[] | undefined) => (ids ?? []).map((p) => this.get(p).id);
    const removing = new Set(parentIds(update.removeParents));
    const adding = parentIds(update.addParents);
    file.parents = file.parents.filter((p) => !removing.has(p));
    for (const p of adding) if (!file.parents.includes(p)) file.parents.push(p);
    if (update.name !== undefined) file.name = update.name;
    if (update.trashed !== undefined) file.trashed = update.trashed;
    for (const [key, value] of Object.entries(update.appProperties ?? {})) {
      if (value === null) delete file.appProperties[key];
      else file.appProperties[key] = value;
    }
    if (update.content && file.mimeType !== FOLDER) {
      file.content = update.content;
      if (!isGoogleType(file.mimeType)) file.headRevisionId = newId();
    }
    file.version += 1;
    file.modifiedTime = this.now();
    this.record(file);
    return file;
  }

  /** Deletes permanently, with everything inside a folder (as Drive does for the owner). */
  delete(id: string): void {
    const file = this.get(id);
    for (const child of this.all().filter((f) => f.parents.includes(file.id))) this.delete(child.id);
    this.files.delete(file.id);
    this.log.push({ position: this.log.length + 1, fileId: file.id, removed: true, time: this.now() });
  }

  private record(file: StoredFile): void {
    this.log.push({ position: this.log.length + 1, fileId: file.id, removed: false, time: file.modifiedTime, file: toResource(file) });
  }

  /** The position the next change will take: what `changes/startPageToken` answers. */
  nextPosition(): number {
    return this.log.length + 1;
  }

  changesFrom(position: number): ChangeEntry[] {
    return this.log.slice(position - 1);
  }
}
