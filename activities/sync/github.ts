import { createGithubClient } from '../../lib/providers/github';
import { BranchMovedError, commitChanges, type FileChange } from '../../lib/sync/github-commit';
import { downloadGithubBlob, listGithubChanges } from '../../lib/sync/github-read';
import { ApplicationFailure } from '@temporalio/common';
import type { GithubListing, StagedFile } from '../../workflows/sync/types';
import { accessTokenFor, checkpoint, gitBlobSha, loadLink, markingUnauthorized, withHeartbeat, providerCall, repoPath, splitRepo, stageTransfers, stagingKey, SYNC_FAILURE_TYPES, type SyncActivityDeps } from './common';

/** A staged Drive file to commit at `path` (link-relative). */
export interface GithubTarget {
  path: string;
  /** Where its content is staged (run's Drive side); differs from `path` for a conflict copy. */
  stagedPath: string;
}

export interface CommitToGithubInput {
  linkId: string;
  runId: string;
  writes: GithubTarget[];
  /** Link-relative paths to delete. */
  deletes: string[];
  message: string;
}

export interface CommitToGithubResult {
  /** The run's commit, or null when nothing changed. */
  commitSha: string | null;
  /** False when an earlier attempt had already committed this run. */
  created: boolean;
  /** The blob sha of each written path (link-relative). */
  written: Array<{ path: string; sha: string }>;
  apiCalls: number;
}

/**
 * The activities that call GitHub; they run on the `github-api` task queue, paced by the server.
 */
export function createGithubActivities(deps: SyncActivityDeps) {
  const concurrency = deps.transferConcurrency ?? 8;

  async function githubFor(linkId: string) {
    const link = await loadLink(deps.store, linkId);
    const token = await accessTokenFor(deps, link, 'github');
    return { link, github: createGithubClient(token, deps.github), ...splitRepo(link.githubRepo) };
  }

  const activities = {
    /** The branch's changes under the link's path since its cursor (everything, on the first sync). */
    async listGithubChanges(input: { linkId: string; limit: number }): Promise<GithubListing> {
      const { link, github, owner, repo } = await githubFor(input.linkId);
      const known = (await deps.store.listSyncFiles(link.id)).filter((f) => !f.deleted).map((f) => ({ path: f.githubPath, sha: f.githubSha }));
      const knownPaths = new Set(known.map((f) => f.path));
      const listing = await providerCall('github', 'list changes', () =>
        listGithubChanges(github, { owner, repo, branch: link.githubBranch, basePath: link.githubPath, cursor: link.githubCursor, known, limit: input.limit }),
      );
      // A deletion of a path the map does not hold (e.g. one this link deleted itself) is nothing to sync.
      return { ...listing, changes: listing.changes.filter((c) => c.kind === 'upsert' || knownPaths.has(c.path)) };
    },

    /** Downloads blobs into the run's staging; answers their hashes. */
    async stageFromGithub(input: { linkId: string; runId: string; files: Array<{ path: string; sha: string }> }): Promise<StagedFile[]> {
      const { link, github, owner, repo } = await githubFor(input.linkId);
      const done = checkpoint<StagedFile[]>() ?? [];
      const key = stagingKey(input.runId, 'github');
      return withHeartbeat(done, (update) =>
        stageTransfers({
          items: input.files,
          done,
          concurrency,
          download: (file) => providerCall('github', 'download blob', () => downloadGithubBlob(github, { owner, repo, sha: file.sha })),
          stage: (files) => deps.store.stageSyncContent(link.id, key, files),
          update,
        }),
      );
    },

    /**
     * Commits the run's staged Drive contents and deletions as one commit on the link's branch,
     * with the run's trailer: a retried attempt finds its commit instead of making a second one.
     */
    async commitToGithub(input: CommitToGithubInput): Promise<CommitToGithubResult> {
      const { link, github, owner, repo } = await githubFor(input.linkId);
      const staged = new Map((await deps.store.getStagedContent(stagingKey(input.runId, 'drive'), [...new Set(input.writes.map((w) => w.stagedPath))])).map((f) => [f.path, f]));
      const written: CommitToGithubResult['written'] = [];
      const changes: FileChange[] = [];
      for (const target of input.writes) {
        const content = staged.get(target.stagedPath)?.content;
        if (!content) {
          throw ApplicationFailure.create({ type: SYNC_FAILURE_TYPES.stagingLost, nonRetryable: true, message: `staged content of ${target.stagedPath} is missing from run ${input.runId}` });
        }
        changes.push({ path: repoPath(link.githubPath, target.path), content });
        written.push({ path: target.path, sha: gitBlobSha(content) });
      }
      for (const path of input.deletes) changes.push({ path: repoPath(link.githubPath, path), content: null });
      const result = await withHeartbeat(null, () => providerCall('github', 'commit', async () => {
        try {
          return await commitChanges(github, { owner, repo, branch: link.githubBranch, runId: input.runId, message: input.message, changes });
        } catch (err) {
          // Pushed to during each of its rounds: retried, later, like any transient failure.
          if (err instanceof BranchMovedError) throw ApplicationFailure.create({ type: 'BranchMoved', message: err.message, nextRetryDelay: '5s' });
          throw err;
        }
      }));
      return { commitSha: result.commitSha, created: result.created, written, apiCalls: result.apiCalls };
    },
  };
  // A 401 means the stored GitHub token is no good: the link waits for its user to authorise again.
  return {
    listGithubChanges: markingUnauthorized(deps, 'github', (input: Parameters<typeof activities.listGithubChanges>[0]) => activities.listGithubChanges(input)),
    stageFromGithub: markingUnauthorized(deps, 'github', (input: Parameters<typeof activities.stageFromGithub>[0]) => activities.stageFromGithub(input)),
    commitToGithub: markingUnauthorized(deps, 'github', (input: Parameters<typeof activities.commitToGithub>[0]) => activities.commitToGithub(input)),
  };
}

export type GithubActivities = ReturnType<typeof createGithubActivities>;
