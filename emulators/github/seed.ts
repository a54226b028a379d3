import type { EventActor } from './events';
import { GitStore } from './git-store';
import type { FlatEntry } from './git-store';
import { nowIso } from './shapes';
import type { RepoState } from './shapes';

/** Files for a seeded commit: text, bytes, or null to delete the path. */
export type SeedFiles = Record<string, string | Buffer | null>;

export interface SeedRepoOptions {
  /** Default: main. */
  defaultBranch?: string;
  /** The initial commit's files. Default: none (an empty tree). */
  files?: Record<string, string | Buffer>;
  /** Default: true. */
  private?: boolean;
}

export interface SeedCommitOptions {
  /** Default: the repository's default branch. */
  branch?: string;
  files: SeedFiles;
  /** Default: "Update files". */
  message?: string;
  /** Default: "Seed User <seed@durasync.invalid>". */
  author?: { name: string; email: string };
  /**
   * Build on this commit instead of the branch head, then move the branch to the new commit anyway:
   * a force push when it is not a descendant of the head (history rewritten). Default: the head.
   */
  parent?: string;
  /** Who pushed, for the `PushEvent` the push records. Default: the author's name as a login ("Seed User" -> `seed-user`). */
  actor?: EventActor;
}

export interface SeedHookOptions {
  url: string;
  /** Signs deliveries (`X-Hub-Signature-256`). Default: none, unsigned. */
  secret?: string;
  /** Default: `['push']`. */
  events?: string[];
  /** Default: json. */
  contentType?: 'json' | 'form';
  /** Default: true. */
  active?: boolean;
}

export interface SeedIssueOptions {
  title: string;
  /** Default: none (null). */
  body?: string;
  /** Who opens it. Default: `seed-user`. */
  actor?: EventActor;
}

export function createRepo(fullName: string, id: number, options: SeedRepoOptions = {}): RepoState {
  const [owner, name, extra] = fullName.split('/');
  if (!owner || !name || extra !== undefined) throw new Error(`seed.repo: expected "owner/name", got "${fullName}"`);
  const repo: RepoState = {
    id,
    owner,
    name,
    fullName,
    defaultBranch: options.defaultBranch ?? 'main',
    private: options.private ?? true,
    createdAt: nowIso(),
    pushedAt: nowIso(),
    store: new GitStore(),
    events: [],
    issues: [],
    hooks: [],
  };
  pushCommit(repo, { files: options.files ?? {}, message: 'Initial commit' });
  return repo;
}

/** Commits files on top of a branch (creating it from the default branch if new) and moves the branch: a user's push. */
export function pushCommit(repo: RepoState, options: SeedCommitOptions): string {
  const { store } = repo;
  const ref = `refs/heads/${options.branch ?? repo.defaultBranch}`;
  if (options.parent !== undefined && !store.commit(options.parent)) throw new Error(`seed.commit: no commit ${options.parent}`);
  const parent = options.parent ?? store.refs.get(ref) ?? store.refs.get(`refs/heads/${repo.defaultBranch}`);
  const flat = store.flatten(parent ? store.commit(parent)?.tree : undefined);
  for (const [path, content] of Object.entries(options.files)) {
    for (const key of [...flat.keys()]) if (key === path || key.startsWith(`${path}/`)) flat.delete(key);
    if (content === null) continue;
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const entry: FlatEntry = { mode: '100644', type: 'blob', sha: store.putBlob(data) };
    flat.set(path, entry);
  }
  const who = { ...(options.author ?? { name: 'Seed User', email: 'seed@durasync.invalid' }), date: nowIso() };
  const sha = store.putCommit({
    tree: store.buildTree(flat),
    parents: parent ? [parent] : [],
    message: options.message ?? 'Update files',
    author: who,
    committer: who,
  });
  store.refs.set(ref, sha);
  return sha;
}
