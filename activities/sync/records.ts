import type { ConflictPolicy, Store, SyncDirection, SyncFileInput, SyncLinkStatus } from '../../lib/db/store';
import type { SyncConflict } from '../../workflows/sync/types';
import { loadLink, stagingKey } from './common';

/** Staged contents older than this belong to runs that never ended; finished runs sweep them. */
export const STAGING_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** What a sync workflow needs to know of its link: never a token, never a path of the user's disk. */
export interface LinkSummary {
  id: string;
  userId: string;
  direction: SyncDirection;
  conflictPolicy: ConflictPolicy;
  status: SyncLinkStatus;
  enabled: boolean;
  /** Whether each side was synced before (the run is incremental on that side). */
  driveCursor: boolean;
  githubCursor: boolean;
}

export interface FinishSyncRunInput {
  linkId: string;
  runId: string;
  /** Store only when every change up to it was synced (not for a truncated listing). */
  driveCursor?: string;
  githubCursor?: string;
  conflicts: SyncConflict[];
}

/**
 * The sync workflows' bookkeeping in the system of record; runs on the `sync` queue (no provider
 * call). Every write is an upsert, so a retried activity changes nothing twice.
 */
export function createSyncRecordActivities(deps: { store: Store }) {
  const { store } = deps;
  return {
    async loadSyncLink(linkId: string): Promise<LinkSummary> {
      const link = await loadLink(store, linkId);
      return {
        id: link.id,
        userId: link.userId,
        direction: link.direction,
        conflictPolicy: link.conflictPolicy,
        status: link.status,
        enabled: link.enabled,
        driveCursor: link.driveCursor !== null,
        githubCursor: link.githubCursor !== null,
      };
    },

    /**
     * Writes file map entries. Each entry is merged over what the map holds for its path, so a
     * side that did not change keeps its fields.
     */
    async recordSyncFiles(input: { linkId: string; files: SyncFileInput[] }): Promise<number> {
      if (input.files.length === 0) return 0;
      const current = new Map((await store.listSyncFiles(input.linkId)).map((f) => [f.githubPath, f]));
      const merged = input.files.map((entry) => {
        const before = current.get(entry.githubPath);
        if (entry.deleted) return { ...entry, driveFileId: null };
        if (!before || before.deleted) return entry;
        const { linkId: _l, syncedAt: _s, ...kept } = before;
        return { ...kept, ...entry, deleted: false };
      });
      return store.upsertSyncFiles(input.linkId, merged);
    },

    /** Ends a run: conflicts recorded, cursors moved (those given), staging cleared. */
    async finishSyncRun(input: FinishSyncRunInput): Promise<void> {
      await store.recordSyncConflicts(
        input.linkId,
        input.runId,
        input.conflicts.map((c) => ({ path: c.path, policy: c.policy, keptAs: c.keptAs ?? null, driveChange: c.drive, githubChange: c.github })),
      );
      await store.setSyncLinkCursors({ id: input.linkId, driveCursor: input.driveCursor, githubCursor: input.githubCursor });
      await clearRun(store, input.runId);
      // Runs that never ended (terminated, or their workflow reset) leave staging behind: a day on, it goes.
      await store.clearStagedContent({ olderThan: new Date(Date.now() - STAGING_MAX_AGE_MS) });
    },

    /** Drops a run's staged contents (a cancelled or failed run). */
    async clearSyncStaging(runId: string): Promise<number> {
      return clearRun(store, runId);
    },
  };
}

async function clearRun(store: Store, runId: string): Promise<number> {
  const drive = await store.clearStagedContent({ runId: stagingKey(runId, 'drive') });
  const github = await store.clearStagedContent({ runId: stagingKey(runId, 'github') });
  return drive + github;
}

export type SyncRecordActivities = ReturnType<typeof createSyncRecordActivities>;
