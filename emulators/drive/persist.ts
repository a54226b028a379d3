import { savedList as list, savedRecord as record, type StatePart } from '../state-file';
import type { OAuthTokens, RefreshToken } from './oauth';
import type { ChangeEntry, DriveStore, StoredFile } from './store';

/** The Drive emulator's state parts: the files with their change log, and the OAuth token store. */

type SavedFile = Omit<StoredFile, 'content'> & { content?: string };

/** Files and folders (content as base64), the root's id, the change log (page tokens are positions in it) and the clock. */
export function driveStorePart(store: DriveStore): StatePart {
  return {
    key: 'files',
    snapshot: () => ({
      rootId: store.rootId,
      lastMillis: store.lastMillis,
      files: [...store.files.values()].map((f): SavedFile => ({ ...f, content: f.content?.toString('base64') })),
      log: store.log,
    }),
    restore(json) {
      const saved = record(json, 'files');
      if (typeof saved.rootId !== 'string' || typeof saved.lastMillis !== 'number') throw new Error('rootId or lastMillis is missing');
      const files = list(saved.files, 'files.files').map((raw, i): StoredFile => {
        const f = record(raw, `files.files[${i}]`) as unknown as SavedFile;
        if (typeof f.id !== 'string' || typeof f.name !== 'string' || !Array.isArray(f.parents)) throw new Error(`files.files[${i}] is not a file`);
        const { content, ...rest } = f;
        return { ...rest, ...(content !== undefined ? { content: Buffer.from(content, 'base64') } : {}) };
      });
      const log = list(saved.log, 'files.log') as ChangeEntry[];
      if (!files.some((f) => f.id === saved.rootId)) throw new Error(`the root folder ${saved.rootId} is not among the files`);
      store.rootId = saved.rootId;
      store.lastMillis = saved.lastMillis;
      store.files.clear();
      for (const f of files) store.files.set(f.id, f);
      store.log.splice(0, store.log.length, ...log);
    },
  };
}

/** Refresh tokens (with their grant counts and revocation) and the access tokens not yet expired. */
export function oauthTokensPart(tokens: OAuthTokens): StatePart {
  return {
    key: 'oauthTokens',
    snapshot: () => ({
      refreshTokens: [...tokens.refreshTokens],
      accessTokens: [...tokens.accessTokens].filter(([, expiry]) => expiry > Date.now()),
    }),
    restore(json) {
      const saved = record(json, 'oauthTokens');
      const refresh = list(saved.refreshTokens, 'oauthTokens.refreshTokens') as Array<[string, RefreshToken]>;
      const access = list(saved.accessTokens, 'oauthTokens.accessTokens') as Array<[string, number]>;
      tokens.refreshTokens.clear();
      for (const [token, entry] of refresh) tokens.refreshTokens.set(token, entry);
      tokens.accessTokens.clear();
      for (const [token, expiry] of access) if (expiry > Date.now()) tokens.accessTokens.set(token, expiry);
    },
  };
}
