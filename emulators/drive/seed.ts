import type { GoogleAuthorization, OAuthClient } from './authorize';
import type { OAuthTokens } from './oauth';
import { FOLDER, GOOGLE_DOC, toResource } from './store';
import type { DriveStore, FileResource } from './store';

/** One API request as the emulator answered it; status 0 when the connection was dropped. */
export interface CallRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** The file the path names (`/files/:id...`), if any. */
  fileId?: string;
}

/** Direct writes, as a user editing in Drive would make them: each appends to the change log. */
export interface DriveSeed {
  /** A folder under `parentId` (default: My Drive's root). */
  folder(name: string, parentId?: string): FileResource;
  /** A binary/text file; `mimeType` defaults to text/plain for strings, application/octet-stream for Buffers. */
  file(input: { name: string; parentId?: string; content: string | Buffer; mimeType?: string; appProperties?: Record<string, string> }): FileResource;
  /** A Google Doc holding `markdown`. */
  doc(input: { name: string; parentId?: string; markdown: string; appProperties?: Record<string, string> }): FileResource;
  /** Edits a file (content, rename, move, trash, appProperties) as the Drive UI would. */
  update(
    fileId: string,
    change: { name?: string; content?: string | Buffer; trashed?: boolean; addParents?: string[]; removeParents?: string[]; appProperties?: Record<string, string | null> },
  ): FileResource;
  /** Deletes permanently (a folder with its contents). */
  remove(fileId: string): void;
  /** Registers `refreshToken` for the token endpoint and mints an access token for it directly. */
  token(input: { refreshToken: string; expiresInSec?: number }): { accessToken: string };
  /** Registers an OAuth client for the authorization and token endpoints (`durasync connect google`). */
  oauthClient(client: OAuthClient): void;
}

export interface DriveInspect {
  /** The id `root` stands for. */
  rootId(): string;
  /** Every file and folder (the root excluded), full resources, in creation order. */
  files(): FileResource[];
  /** A file's bytes (a Doc's markdown); undefined for folders or unknown ids. */
  content(fileId: string): Buffer | undefined;
  /** API calls so far (token endpoint excluded), oldest first. */
  calls(): CallRecord[];
  /** Forgets recorded calls. */
  clearCalls(): void;
  /** Refresh grants answered (successful or not) for `refreshToken`. */
  grants(refreshToken: string): number;
  /**
   * The untrashed files (not folders) below a folder, path relative to it -> file id, `/`-joined
   * names as they are (a Google Doc by its name, without an extension).
   */
  paths(folderId: string): Map<string, string>;
}

export function createSeed(store: DriveStore, tokens: OAuthTokens, calls: CallRecord[], authorization: GoogleAuthorization): { seed: DriveSeed; inspect: DriveInspect } {
  const seed: DriveSeed = {
    folder: (name, parentId) => toResource(store.create({ name, mimeType: FOLDER, parents: parentId ? [parentId] : undefined })),
    file: ({ name, parentId, content, mimeType, appProperties }) =>
      toResource(
        store.create({
          name,
          mimeType: mimeType ?? (typeof content === 'string' ? 'text/plain' : 'application/octet-stream'),
          parents: parentId ? [parentId] : undefined,
          appProperties,
          content: Buffer.from(content),
        }),
      ),
    doc: ({ name, parentId, markdown, appProperties }) =>
      toResource(store.create({ name, mimeType: GOOGLE_DOC, parents: parentId ? [parentId] : undefined, appProperties, content: Buffer.from(markdown) })),
    update: (fileId, { content, ...rest }) =>
      toResource(store.update(fileId, { ...rest, ...(content !== undefined ? { content: Buffer.from(content) } : {}) })),
    remove: (fileId) => store.delete(fileId),
    token: ({ refreshToken, expiresInSec }) => ({ accessToken: tokens.mint(refreshToken, expiresInSec).accessToken }),
    oauthClient: (client) => authorization.addClient(client),
  };
  const inspect: DriveInspect = {
    rootId: () => store.rootId,
    files: () => store.all().map(toResource),
    content: (fileId) => {
      try {
        return store.get(fileId).content;
      } catch {
        return undefined;
      }
    },
    calls: () => calls.map((c) => ({ ...c })),
    clearCalls: () => {
      calls.length = 0;
    },
    grants: (refreshToken) => tokens.grants(refreshToken),
    paths: (folderId) => {
      const files = store.all();
      const byId = new Map(files.map((f) => [f.id, f]));
      const pathOf = (id: string, depth = 0): string | null => {
        if (id === folderId) return '';
        const f = byId.get(id);
        const parent = f?.parents[0];
        if (!f || f.trashed || !parent || depth > 100) return null;
        const base = pathOf(parent, depth + 1);
        return base === null ? null : base ? `${base}/${f.name}` : f.name;
      };
      const out = new Map<string, string>();
      for (const f of files) {
        if (f.trashed || f.mimeType === FOLDER) continue;
        const path = pathOf(f.id);
        if (path) out.set(path, f.id);
      }
      return out;
    },
  };
  return { seed, inspect };
}
