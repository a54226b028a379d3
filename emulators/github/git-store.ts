import { createHash } from 'node:crypto';

/**
 * A content-addressed git object store for one repository, hashed exactly as git hashes loose
 * objects: sha1 of `<type> <byte length>\0<body>`, where a tree body is git's binary encoding
 * (`<mode> <name>\0<20-byte sha>` per entry, sorted as git sorts them) and a commit body is git's
 * text encoding (tree, parents, author, committer, blank line, message). The same content therefore
 * gets the same 40-hex SHA here as in `git hash-object` / `git mktree` / `git commit-tree`.
 */

export type Mode = '100644' | '100755' | '040000' | '120000' | '160000';
export const MODES: readonly string[] = ['100644', '100755', '040000', '120000', '160000'];

export interface TreeEntry {
  name: string;
  mode: Mode;
  type: 'blob' | 'tree' | 'commit';
  sha: string;
}

export interface Signature {
  name: string;
  email: string;
  /** ISO 8601, second precision, UTC (`2024-01-01T00:00:00Z`). */
  date: string;
}

export interface Commit {
  tree: string;
  parents: string[];
  message: string;
  author: Signature;
  committer: Signature;
  /** Creation order in this store, for newest-first logs without clock ties. */
  seq: number;
}

export type GitObject = { type: 'blob'; data: Buffer } | { type: 'tree'; entries: TreeEntry[] } | { type: 'commit'; commit: Commit };

/** A file in a flattened tree: full path → mode and sha. */
export interface FlatEntry {
  mode: Mode;
  type: 'blob' | 'commit';
  sha: string;
}

function hashObject(type: string, body: Buffer): string {
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]))
    .digest('hex');
}

/** git orders tree entries by name, comparing a subtree's name as if it ended in '/'. */
function sortKey(e: TreeEntry): string {
  return e.type === 'tree' ? `${e.name}/` : e.name;
}

function gitTime(date: string): string {
  return `${Math.floor(Date.parse(date) / 1000)} +0000`;
}

export class GitStore {
  readonly objects = new Map<string, GitObject>();
  /** Full ref names (`refs/heads/main`) → commit sha. */
  readonly refs = new Map<string, string>();
  /** The last commit's creation order (persist.ts saves and restores it). */
  seq = 0;

  putBlob(data: Buffer): string {
    const sha = hashObject('blob', data);
    if (!this.objects.has(sha)) this.objects.set(sha, { type: 'blob', data });
    return sha;
  }

  putTree(entries: TreeEntry[]): string {
    const sorted = [...entries].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
    const body = Buffer.concat(
      sorted.flatMap((e) => [Buffer.from(`${e.mode === '040000' ? '40000' : e.mode} ${e.name}\0`), Buffer.from(e.sha, 'hex')]),
    );
    const sha = hashObject('tree', body);
    if (!this.objects.has(sha)) this.objects.set(sha, { type: 'tree', entries: sorted });
    return sha;
  }

  putCommit(input: Omit<Commit, 'seq'>): string {
    const lines = [`tree ${input.tree}`, ...input.parents.map((p) => `parent ${p}`)];
    lines.push(`author ${input.author.name} <${input.author.email}> ${gitTime(input.author.date)}`);
    lines.push(`committer ${input.committer.name} <${input.committer.email}> ${gitTime(input.committer.date)}`);
    const sha = hashObject('commit', Buffer.from(`${lines.join('\n')}\n\n${input.message}`));
    if (!this.objects.has(sha)) this.objects.set(sha, { type: 'commit', commit: { ...input, seq: ++this.seq } });
    return sha;
  }

  blob(sha: string): Buffer | undefined {
    const o = this.objects.get(sha);
    return o?.type === 'blob' ? o.data : undefined;
  }

  tree(sha: string): TreeEntry[] | undefined {
    const o = this.objects.get(sha);
    return o?.type === 'tree' ? o.entries : undefined;
  }

  commit(sha: string): Commit | undefined {
    const o = this.objects.get(sha);
    return o?.type === 'commit' ? o.commit : undefined;
  }

  /** Every entry under a tree, subtrees included, with full paths, in git's order. */
  walk(treeSha: string, prefix = ''): Array<TreeEntry & { path: string }> {
    return (this.tree(treeSha) ?? []).flatMap((e) => {
      const path = prefix + e.name;
      return e.type === 'tree' ? [{ ...e, path }, ...this.walk(e.sha, `${path}/`)] : [{ ...e, path }];
    });
  }

  /** The files (and submodules) of a tree, keyed by full path. */
  flatten(treeSha: string | undefined): Map<string, FlatEntry> {
    const flat = new Map<string, FlatEntry>();
    if (!treeSha) return flat;
    for (const e of this.walk(treeSha)) if (e.type !== 'tree') flat.set(e.path, { mode: e.mode, type: e.type, sha: e.sha });
    return flat;
  }

  /** Builds (and stores) the nested trees of a flat path map; directories left empty vanish, as in git. */
  buildTree(flat: Map<string, FlatEntry>): string {
    const files: TreeEntry[] = [];
    const dirs = new Map<string, Map<string, FlatEntry>>();
    for (const [path, entry] of flat) {
      const slash = path.indexOf('/');
      if (slash < 0) {
        files.push({ name: path, ...entry });
        continue;
      }
      const dir = path.slice(0, slash);
      const sub = dirs.get(dir) ?? new Map<string, FlatEntry>();
      sub.set(path.slice(slash + 1), entry);
      dirs.set(dir, sub);
    }
    for (const [name, sub] of dirs) files.push({ name, mode: '040000', type: 'tree', sha: this.buildTree(sub) });
    return this.putTree(files);
  }

  /** The entry (file or tree) at a path in a tree; the root tree itself for ''. */
  lookup(treeSha: string, path: string): TreeEntry | undefined {
    let entry: TreeEntry | undefined = { name: '', mode: '040000', type: 'tree', sha: treeSha };
    for (const part of path.split('/').filter(Boolean)) {
      if (entry?.type !== 'tree') return undefined;
      entry = this.tree(entry.sha)?.find((e) => e.name === part);
    }
    return entry;
  }

  /** Commits reachable from `sha` (itself included), newest first. */
  ancestors(sha: string): string[] {
    const seen = new Set<string>();
    const stack = [sha];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      const c = this.commit(next);
      if (!c) continue;
      seen.add(next);
      stack.push(...c.parents);
    }
    return [...seen].sort((a, b) => (this.commit(b)?.seq ?? 0) - (this.commit(a)?.seq ?? 0));
  }

  isAncestor(ancestor: string, of: string): boolean {
    return this.ancestors(of).includes(ancestor);
  }

  /** The newest common ancestor of two commits, if any. */
  mergeBase(a: string, b: string): string | undefined {
    const fromA = new Set(this.ancestors(a));
    return this.ancestors(b).find((sha) => fromA.has(sha));
  }

  /** Resolves a branch name, tag name, full ref or (abbreviated) commit sha to a commit sha. */
  resolve(ref: string): string | undefined {
    for (const name of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
      const sha = this.refs.get(name);
      if (sha) return sha;
    }
    if (/^[0-9a-f]{40}$/.test(ref)) return this.commit(ref) ? ref : undefined;
    if (/^[0-9a-f]{7,39}$/.test(ref)) {
      const matches = [...this.objects.keys()].filter((k) => k.startsWith(ref) && this.commit(k));
      return matches.length === 1 ? matches[0] : undefined;
    }
    return undefined;
  }
}
