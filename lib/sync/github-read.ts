import type { Octokit } from '@octokit/rest';
import type { GithubChange, GithubListing } from '../../workflows/sync/types';

/**
 * Reads what changed on a branch since the link's cursor (the last synced commit), below the link's
 * folder, and downloads blobs. Paths in and out are relative to `basePath`.
 *
 * Calls per listing:
 * - cursor === head: 1 (`git.getRef`).
 * - Incremental: 2 (`git.getRef`, `repos.compareCommitsWithBasehead` `<cursor>...<head>`), whatever
 *   the number of files, while the compare answer is complete.
 * - Full tree (initial sync, or the fallback): `git.getRef`, `git.getCommit` (its tree),
 *   `git.getTree` recursive; when GitHub truncates that answer (100,000 entries / 7 MB), one
 *   non-recursive `git.getTree` per directory on the way to `basePath` and below it.
 * The incremental path falls back to the full tree when the compare cannot be trusted to be
 * complete: the cursor is not an ancestor of the head (status `diverged` or `behind`: a force push),
 * the cursor commit is gone (404: history rewritten), the answer has no `files`, or 300 or more of
 * them (GitHub silently caps the list at 300), or a changed file without a sha.
 *
 * Echo suppression: an upsert whose sha equals the file map's sha for that path is dropped (this is
 * how durasync's own commits are not synced back), and so is a delete of a path the map does not
 * have. The full tree lists every blob under `basePath` and diffs it with the map, so it also
 * repairs a map that drifted.
 *
 * `limit`: changes are sorted by path and cut after `limit`, with `truncated: true`. The listing's
 * `head` is then not a cursor to store: the caller syncs these changes and lists again from the same
 * cursor; with the map updated, the synced changes are suppressed and the next ones come up.
 *
 * Not visible incrementally: a compare entry carries no mode, so a symlink or submodule added after
 * the cursor is listed as a file (the full tree skips them). Any error other than the 404 above
 * propagates unchanged (Octokit's RequestError: the activity maps it with providerFailure).
 */

type Rest = Octokit['rest'];

/** The Octokit calls used; a real Octokit satisfies it structurally. */
export interface GithubReadApi {
  rest: {
    git: Pick<Rest['git'], 'getRef' | 'getCommit' | 'getTree' | 'getBlob'>;
    repos: Pick<Rest['repos'], 'compareCommitsWithBasehead'>;
  };
}

/** A file of the link's file map: path relative to basePath, and its blob sha when known. */
export interface KnownGithubFile {
  path: string;
  sha: string | null;
}

export interface ListGithubChangesInput {
  owner: string;
  repo: string;
  /** Branch name without `refs/heads/`. */
  branch: string;
  /** The link's folder in the repository: '' for the root, no leading or trailing '/'. */
  basePath: string;
  /** The last synced commit sha; null for the initial sync. */
  cursor: string | null;
  known: KnownGithubFile[];
  /** At most this many changes (at least 1); more set `truncated`. */
  limit: number;
}

/** GitHub lists at most this many files in a compare, without saying it left some out. */
export const COMPARE_FILES_CAP = 300;
/** Non-recursive tree reads in flight at once while walking a truncated tree. */
const WALK_CONCURRENCY = 8;

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** The path relative to basePath, or undefined when the path is not below it. */
function relativeTo(basePath: string, path: string): string | undefined {
  if (basePath === '') return path;
  return path.startsWith(`${basePath}/`) && path.length > basePath.length + 1 ? path.slice(basePath.length + 1) : undefined;
}

interface TreeItem {
  path?: string;
  mode?: string;
  type?: string;
  sha?: string;
}

/** A regular file: a blob that is not a symlink (submodules are type `commit`, directories `tree`). */
const isFile = (e: TreeItem): boolean => e.type === 'blob' && e.mode !== '120000' && typeof e.sha === 'string';

export async function listGithubChanges(github: GithubReadApi, input: ListGithubChangesInput): Promise<GithubListing> {
  const { owner, repo, branch, cursor } = input;
  const basePath = input.basePath.replace(/^\/+|\/+$/g, '');
  if (!Number.isInteger(input.limit) || input.limit < 1) throw new Error(`listGithubChanges: limit must be a positive integer, got ${String(input.limit)}`);
  const { git, repos } = github.rest;
  let apiCalls = 0;
  const call = <T>(request: () => Promise<T>): Promise<T> => {
    apiCalls++;
    return request();
  };
  const known = new Map<string, string | null>(input.known.map((f) => [f.path, f.sha]));

  const { data: ref } = await call(() => git.getRef({ owner, repo, ref: `heads/${branch}` }));
  const head = ref.object.sha;
  const result = (changes: GithubChange[]): GithubListing => {
    const sorted = [...changes].sort(byPath);
    return { head, changes: sorted.slice(0, input.limit), truncated: sorted.length > input.limit, apiCalls };
  };
  if (cursor === head) return result([]);

  /** Every file under basePath at the head (relative path -> blob sha), diffed with the map. */
  const fullTree = async (): Promise<GithubChange[]> => {
    const { data: commit } = await call(() => git.getCommit({ owner, repo, commit_sha: head }));
    const files = await listFiles(commit.tree.sha);
    const changes: GithubChange[] = [];
    for (const [path, sha] of files) if (known.get(path) !== sha) changes.push({ kind: 'upsert', path, sha });
    for (const path of known.keys()) if (!files.has(path)) changes.push({ kind: 'delete', path });
    return changes;
  };

  const listFiles = async (rootTree: string): Promise<Map<string, string>> => {
    const files = new Map<string, string>();
    const { data: full } = await call(() => git.getTree({ owner, repo, tree_sha: rootTree, recursive: '1' }));
    if (!full.truncated) {
      for (const e of full.tree) {
        const rel = relativeTo(basePath, e.path);
        if (rel !== undefined && isFile(e)) files.set(rel, e.sha);
      }
      return files;
    }
    // Truncated: the entries given are right but some are missing. Find basePath's tree (in the
    // partial answer, or one level at a time), then read it and every subtree below non-recursively.
    let start: string | undefined = rootTree;
    if (basePath !== '') {
      start = full.tree.find((e) => e.path === basePath && e.type === 'tree')?.sha;
      if (start === undefined) {
        start = rootTree;
        for (const name of basePath.split('/')) {
          const entries = await readTree(start);
          start = entries.find((e) => e.path === name && e.type === 'tree')?.sha;
          if (start === undefined) break;
        }
      }
    }
    if (start === undefined) return files; // basePath is not a directory at the head: no files.
    let level: Array<{ sha: string; prefix: string }> = [{ sha: start, prefix: '' }];
    while (level.length > 0) {
      const next: Array<{ sha: string; prefix: string }> = [];
      for (let i = 0; i < level.length; i += WALK_CONCURRENCY) {
        const batch = level.slice(i, i + WALK_CONCURRENCY);
        const answers = await Promise.all(batch.map((dir) => readTree(dir.sha)));
        answers.forEach((entries, j) => {
          const prefix = (batch[j] as { prefix: string }).prefix;
          for (const e of entries) {
            if (e.path === undefined || e.sha === undefined) continue;
            if (e.type === 'tree') next.push({ sha: e.sha, prefix: `${prefix}${e.path}/` });
            else if (isFile(e)) files.set(`${prefix}${e.path}`, e.sha);
          }
        });
      }
      level = next;
    }
    return files;
  };

  /** One directory's entries. A truncated answer here cannot be completed: fail rather than delete what is missing. */
  const readTree = async (sha: string): Promise<TreeItem[]> => {
    const { data } = await call(() => git.getTree({ owner, repo, tree_sha: sha }));
    if (data.truncated) throw new Error(`listGithubChanges: GitHub truncated the non-recursive listing of tree ${sha} in ${owner}/${repo}`);
    return data.tree;
  };

  if (cursor === null) return result(await fullTree());

  const compare = await call(() => repos.compareCommitsWithBasehead({ owner, repo, basehead: `${cursor}...${head}` })).then(
    (answer) => answer.data,
    (err: unknown) => {
      // The cursor commit no longer exists (history rewritten and collected) or shares no history.
      if (statusOf(err) === 404) return null;
      throw err;
    },
  );
  if (!compare || compare.status === 'diverged' || compare.status === 'behind') return result(await fullTree());
  const files = compare.files;
  if (!files || files.length >= COMPARE_FILES_CAP) return result(await fullTree());

  const changes = new Map<string, GithubChange>();
  const upsert = (path: string, sha: string, previousPath?: string) => {
    if (known.get(path) === sha) return; // already synced: an echo of durasync's own commit
    changes.set(path, { kind: 'upsert', path, sha, ...(previousPath !== undefined ? { previousPath } : {}) });
  };
  const remove = (path: string) => {
    if (known.has(path) && !changes.has(path)) changes.set(path, { kind: 'delete', path });
  };
  for (const file of files) {
    const path = relativeTo(basePath, file.filename);
    const previous = file.previous_filename === undefined ? undefined : relativeTo(basePath, file.previous_filename);
    switch (file.status) {
      case 'unchanged':
        break;
      case 'removed':
        if (path !== undefined) remove(path);
        break;
      case 'renamed':
        if (path === undefined) {
          if (previous !== undefined) remove(previous); // moved out of the link's folder
          break;
        }
        if (!file.sha) return result(await fullTree());
        upsert(path, file.sha, previous);
        break;
      default: // added, modified, changed, copied
        if (path === undefined) break;
        if (!file.sha) return result(await fullTree());
        upsert(path, file.sha);
    }
  }
  return result([...changes.values()]);
}

/** A blob's bytes, exactly (binary-safe). */
export async function downloadGithubBlob(github: GithubReadApi, input: { owner: string; repo: string; sha: string }): Promise<Buffer> {
  const { data } = await github.rest.git.getBlob({ owner: input.owner, repo: input.repo, file_sha: input.sha });
  let bytes: Buffer;
  if (data.encoding === 'base64') bytes = Buffer.from(data.content, 'base64');
  else if (data.encoding === 'utf-8' || data.encoding === 'utf8') bytes = Buffer.from(data.content, 'utf8');
  else throw new Error(`downloadGithubBlob: unexpected encoding ${String(data.encoding)} for blob ${input.sha}`);
  if (typeof data.size === 'number' && data.size !== bytes.length) {
    throw new Error(`downloadGithubBlob: blob ${input.sha} decoded to ${String(bytes.length)} bytes, GitHub says ${String(data.size)}`);
  }
  return bytes;
}
