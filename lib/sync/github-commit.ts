import type { Octokit } from '@octokit/rest';

/**
 * Writes one sync run's changes to a branch as exactly one commit, safe to retry.
 *
 * Calls per run (no binary files, no concurrent push): 4, whatever the number of files.
 * 1. `repos.listCommits` on the branch (per_page 20): the head commit, its tree (the base tree) and
 *    the recent messages, in one call. A commit carrying this run's `Durasync-Run:` trailer means a
 *    previous attempt already committed: it is returned with `created: false`.
 * 2. `git.createBlob` (base64) per binary file only (not valid UTF-8, or containing NUL); text goes
 *    inline in the tree.
 * 3. `git.createTree` with `base_tree` (more than one, chained, only when the inline content exceeds
 *    `maxTreeRequestBytes`). A resulting tree equal to the base tree means nothing changed: no commit.
 * 4. `git.createCommit` with the head as its only parent, then `git.updateRef` with `force: false`.
 * A 422 from the ref update whose branch has indeed moved (a concurrent push) restarts at 1 on the new
 * head: at most `maxRounds` rounds, then a {@link BranchMovedError}. Any other error propagates
 * unchanged (Octokit's RequestError: the activity maps it with providerFailure).
 */

type Rest = Octokit['rest'];

/** The Octokit calls used; a real Octokit satisfies it structurally. */
export interface GithubCommitApi {
  rest: {
    git: Pick<Rest['git'], 'createBlob' | 'createTree' | 'createCommit' | 'updateRef'>;
    repos: Pick<Rest['repos'], 'listCommits'>;
  };
}

export interface FileChange {
  /** Repository-relative path, `/`-separated, e.g. `notes/2024/jan.md`. */
  path: string;
  /** The new content; null deletes the path. */
  content: Buffer | null;
  /** Mode 100755 instead of 100644. Default: false. */
  executable?: boolean;
}

export interface CommitChangesInput {
  owner: string;
  repo: string;
  /** Branch name without `refs/heads/`. */
  branch: string;
  /** Identifies the sync run; written as the `Durasync-Run:` trailer. */
  runId: string;
  message: string;
  /** Later entries for the same path win. */
  changes: FileChange[];
}

export interface CommitChangesResult {
  /** The run's commit; null when the changes changed nothing. */
  commitSha: string | null;
  /** False when a previous attempt already committed this run (or nothing changed). */
  created: boolean;
  /** GitHub calls made by this invocation, failed ones included. */
  apiCalls: number;
}

export interface CommitChangesOptions {
  /** Rounds (read, build, update) before giving up on a branch that keeps moving. Default: 3. */
  maxRounds?: number;
  /** Recent commits searched for the run's trailer. Default: 20. */
  trailerLookback?: number;
  /** Inline content per createTree request before starting another, chained one. Default: 16 MiB. */
  maxTreeRequestBytes?: number;
}

/** The branch moved under every one of `rounds` attempts; retrying later may succeed. */
export class BranchMovedError extends Error {
  override readonly name = 'BranchMovedError';
  constructor(
    readonly branch: string,
    readonly rounds: number,
    options?: { cause?: unknown },
  ) {
    super(`branch ${branch} moved during each of ${rounds} commit attempts`, options);
  }
}

export const RUN_TRAILER = 'Durasync-Run';

/** The message with the run trailer appended as its last line. */
export function messageWithTrailer(message: string, runId: string): string {
  const body = message.trimEnd();
  return `${body}${body ? '\n\n' : ''}${RUN_TRAILER}: ${runId}`;
}

/** Whether a commit message carries the run's trailer (as a whole line). */
export function hasRunTrailer(message: string, runId: string): boolean {
  const wanted = `${RUN_TRAILER}: ${runId}`;
  return message.split(/\r?\n/).some((line) => line.trim() === wanted);
}

/** Binary: not valid UTF-8 (a round trip would alter it) or containing NUL. Such content needs a blob. */
export function isBinary(content: Buffer): boolean {
  if (content.includes(0)) return true;
  return !Buffer.from(content.toString('utf8'), 'utf8').equals(content);
}

type TreeEntry = { path: string; mode: '100644' | '100755'; type: 'blob'; sha: string | null } | { path: string; mode: '100644' | '100755'; type: 'blob'; content: string };

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

export async function commitChanges(github: GithubCommitApi, input: CommitChangesInput, options: CommitChangesOptions = {}): Promise<CommitChangesResult> {
  const { owner, repo, branch, runId } = input;
  if (!runId || /[\r\n]/.test(runId)) throw new Error('commitChanges: runId must be a non-empty single line');
  const maxRounds = Math.max(1, options.maxRounds ?? 3);
  const lookback = Math.min(100, Math.max(1, options.trailerLookback ?? 20));
  const maxTreeBytes = options.maxTreeRequestBytes ?? 16 * 1024 * 1024;
  const { git, repos } = github.rest;
  const message = messageWithTrailer(input.message, runId);
  let apiCalls = 0;
  const call = <T>(request: () => Promise<T>): Promise<T> => {
    apiCalls++;
    return request();
  };

  const byPath = new Map<string, FileChange>();
  for (const change of input.changes) byPath.set(change.path, change);
  const changes = [...byPath.values()];
  if (changes.length === 0) return { commitSha: null, created: false, apiCalls };

  // Binary blobs do not depend on the head: created once, reused by every round.
  const blobShas = new Map<string, string>();
  const readBranch = async () => (await call(() => repos.listCommits({ owner, repo, sha: branch, per_page: lookback }))).data;
  let recent = await readBranch();

  for (let round = 1; ; round++) {
    const head = recent[0];
    if (!head) throw new Error(`commitChanges: branch ${branch} of ${owner}/${repo} has no commits`);
    const done = recent.find((c) => hasRunTrailer(c.commit.message, runId));
    if (done) return { commitSha: done.sha, created: false, apiCalls };
    const baseTree = head.commit.tree.sha;

    // Build the tree entries, inline text in batches bounded by maxTreeBytes.
    const batches: TreeEntry[][] = [[]];
    let batchBytes = 0;
    for (const change of changes) {
      const mode = change.executable ? '100755' : '100644';
      let entry: TreeEntry;
      let bytes = 0;
      if (change.content === null) {
        entry = { path: change.path, mode, type: 'blob', sha: null };
      } else if (isBinary(change.content)) {
        let sha = blobShas.get(change.path);
        if (!sha) {
          const content = change.content.toString('base64');
          sha = (await call(() => git.createBlob({ owner, repo, content, encoding: 'base64' }))).data.sha;
          blobShas.set(change.path, sha);
        }
        entry = { path: change.path, mode, type: 'blob', sha };
      } else {
        entry = { path: change.path, mode, type: 'blob', content: change.content.toString('utf8') };
        bytes = change.content.length;
      }
      const current = batches[batches.length - 1] as TreeEntry[];
      if (current.length > 0 && batchBytes + bytes > maxTreeBytes) {
        batches.push([entry]);
        batchBytes = bytes;
      } else {
        current.push(entry);
        batchBytes += bytes;
      }
    }
    let tree = baseTree;
    for (const batch of batches) {
      const base = tree;
      tree = (await call(() => git.createTree({ owner, repo, base_tree: base, tree: batch }))).data.sha;
    }
    if (tree === baseTree) return { commitSha: null, created: false, apiCalls };

    const { data: commit } = await call(() => git.createCommit({ owner, repo, message, tree, parents: [head.sha] }));
    try {
      await call(() => git.updateRef({ owner, repo, ref: `heads/${branch}`, sha: commit.sha, force: false }));
      return { commitSha: commit.sha, created: true, apiCalls };
    } catch (err) {
      // 422 "Update is not a fast forward": the branch moved since it was read. Any other
      // failure, and a 422 on a branch that did not move (seen on the next read), propagates.
      if (statusOf(err) !== 422) throw err;
      if (round >= maxRounds) throw new BranchMovedError(branch, maxRounds, { cause: err });
      recent = await readBranch();
      if (recent[0]?.sha === head.sha) throw err;
      // The next round checks the trailer on the new head, then rebuilds on it.
    }
  }
}
