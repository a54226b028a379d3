import { DOCS, GithubApiError, notFound } from './errors';
import type { FlatEntry, GitStore } from './git-store';
import { base64Lines, commitJson, repoApi, repoJson } from './shapes';
import type { Route, RouteContext } from './shapes';

/** Repository, contents, commits and compare endpoints. */

function resolveOr404(ctx: RouteContext, ref: string, doc: string): string {
  const sha = ctx.repo.store.resolve(ref);
  if (!sha) throw new GithubApiError(404, `No commit found for the ref ${ref}`, doc);
  return sha;
}

function contentEntry(ctx: RouteContext, path: string, ref: string, e: { mode: string; type: string; sha: string }) {
  const type = e.type === 'tree' ? 'dir' : e.type === 'commit' ? 'submodule' : e.mode === '120000' ? 'symlink' : 'file';
  const self = `${repoApi(ctx)}/contents/${path}?ref=${encodeURIComponent(ref)}`;
  const git = `${repoApi(ctx)}/git/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`;
  const html = `https://github.com/${ctx.repo.fullName}/${e.type === 'tree' ? 'tree' : 'blob'}/${ref}/${path}`;
  return {
    type,
    size: e.type === 'blob' ? (ctx.repo.store.blob(e.sha)?.length ?? 0) : 0,
    name: path.split('/').pop() ?? path,
    path,
    sha: e.sha,
    url: self,
    git_url: git,
    html_url: html,
    download_url: type === 'file' ? `https://raw.githubusercontent.com/${ctx.repo.fullName}/${ref}/${path}` : null,
    _links: { self, git, html },
  };
}

/** Lines only in `a` (a multiset difference): a cheap stand-in for a diff's line counts. */
function linesOnlyIn(a: Buffer | undefined, b: Buffer | undefined): number {
  if (!a || a.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const line of (b?.toString('utf8') ?? '').split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
  let only = 0;
  for (const line of a.toString('utf8').split('\n')) {
    const n = counts.get(line) ?? 0;
    if (n > 0) counts.set(line, n - 1);
    else only++;
  }
  return only;
}

interface FileChange {
  filename: string;
  status: 'added' | 'modified' | 'removed' | 'renamed';
  sha: string;
  previous?: FlatEntry & { filename: string };
  before?: FlatEntry;
  after?: FlatEntry;
}

/** Files that differ between two trees; a removed and an added file with the same blob are a rename. */
export function diffTrees(store: GitStore, baseTree: string | undefined, headTree: string | undefined): FileChange[] {
  const base = store.flatten(baseTree);
  const head = store.flatten(headTree);
  const changes: FileChange[] = [];
  const removed = new Map<string, string[]>(); // blob sha -> removed paths
  for (const [path, before] of base) {
    if (head.has(path)) continue;
    removed.set(before.sha, [...(removed.get(before.sha) ?? []), path]);
  }
  for (const [path, after] of head) {
    const before = base.get(path);
    if (before && before.sha === after.sha && before.mode === after.mode) continue;
    if (before) {
      changes.push({ filename: path, status: 'modified', sha: after.sha, before, after });
      continue;
    }
    const from = removed.get(after.sha)?.shift();
    const previous = from === undefined ? undefined : base.get(from);
    if (from !== undefined && previous) changes.push({ filename: path, status: 'renamed', sha: after.sha, previous: { ...previous, filename: from }, after });
    else changes.push({ filename: path, status: 'added', sha: after.sha, after });
  }
  for (const paths of removed.values()) {
    for (const path of paths) {
      const before = base.get(path) as FlatEntry;
      changes.push({ filename: path, status: 'removed', sha: before.sha, before });
    }
  }
  return changes.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
}

function fileJson(ctx: RouteContext, headSha: string, change: FileChange) {
  const { store } = ctx.repo;
  const oldData = store.blob((change.before ?? change.previous)?.sha ?? '');
  const newData = store.blob(change.after?.sha ?? '');
  const additions = linesOnlyIn(newData, oldData);
  const deletions = linesOnlyIn(oldData, newData);
  const ref = headSha;
  return {
    sha: change.sha,
    filename: change.filename,
    status: change.status,
    additions,
    deletions,
    changes: additions + deletions,
    blob_url: `https://github.com/${ctx.repo.fullName}/blob/${ref}/${change.filename}`,
    raw_url: `https://github.com/${ctx.repo.fullName}/raw/${ref}/${change.filename}`,
    contents_url: `${repoApi(ctx)}/contents/${change.filename}?ref=${ref}`,
    ...(change.previous ? { previous_filename: change.previous.filename } : {}),
  };
}

function pageLink(ctx: RouteContext, path: string, page: number, rel: string): string {
  const q = new URLSearchParams(ctx.query);
  q.set('page', String(page));
  return `<${repoApi(ctx)}${path}?${q.toString()}>; rel="${rel}"`;
}

export const repoRoutes: Route[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}',
    handle: (ctx) => ({ status: 200, body: repoJson(ctx) }),
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/contents/{path}',
    handle(ctx) {
      const ref = ctx.query.get('ref') || ctx.repo.defaultBranch;
      const commit = ctx.repo.store.commit(resolveOr404(ctx, ref, DOCS.contents));
      const path = (ctx.params.path ?? '').replace(/^\/+|\/+$/g, '');
      const entry = commit && ctx.repo.store.lookup(commit.tree, path);
      if (!entry) throw notFound(DOCS.contents);
      if (entry.type === 'tree') {
        const list = ctx.repo.store.tree(entry.sha) ?? [];
        return { status: 200, body: list.map((e) => contentEntry(ctx, path ? `${path}/${e.name}` : e.name, ref, e)) };
      }
      const data = ctx.repo.store.blob(entry.sha) ?? Buffer.alloc(0);
      return { status: 200, body: { ...contentEntry(ctx, path, ref, entry), encoding: 'base64', content: base64Lines(data) } };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/commits',
    handle(ctx) {
      const { store } = ctx.repo;
      const from = resolveOr404(ctx, ctx.query.get('sha') || ctx.repo.defaultBranch, DOCS.listCommits);
      const path = (ctx.query.get('path') ?? '').replace(/^\/+|\/+$/g, '');
      const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? 30) || 30));
      const page = Math.max(1, Number(ctx.query.get('page') ?? 1) || 1);
      let shas = store.ancestors(from);
      if (path) {
        const at = (sha: string | undefined) => {
          const tree = sha ? store.commit(sha)?.tree : undefined;
          return tree ? store.lookup(tree, path)?.sha : undefined;
        };
        shas = shas.filter((sha) => at(sha) !== at(store.commit(sha)?.parents[0]));
      }
      const last = Math.max(1, Math.ceil(shas.length / perPage));
      const links: string[] = [];
      const headers: Record<string, string> = {};
      if (page < last) links.push(pageLink(ctx, '/commits', page + 1, 'next'), pageLink(ctx, '/commits', last, 'last'));
      if (page > 1) links.push(pageLink(ctx, '/commits', page - 1, 'prev'), pageLink(ctx, '/commits', 1, 'first'));
      const body = shas.slice((page - 1) * perPage, page * perPage).map((sha) => commitJson(ctx, sha));
      if (links.length > 0) headers.link = links.join(', ');
      return { status: 200, body, headers };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/compare/{basehead}',
    handle(ctx) {
      const { store } = ctx.repo;
      const [baseRef, headRef, extra] = (ctx.params.basehead ?? '').split('...');
      if (!baseRef || !headRef || extra !== undefined) throw notFound(DOCS.compare);
      const base = store.resolve(baseRef);
      const head = store.resolve(headRef);
      if (!base || !head) throw notFound(DOCS.compare);
      const mergeBase = store.mergeBase(base, head);
      if (!mergeBase) throw new GithubApiError(404, `No common ancestor between ${baseRef} and ${headRef}.`, DOCS.compare);
      const fromBase = new Set(store.ancestors(base));
      const fromHead = new Set(store.ancestors(head));
      const ahead = [...fromHead].filter((sha) => !fromBase.has(sha)).reverse(); // oldest first
      const behindBy = [...fromBase].filter((sha) => !fromHead.has(sha)).length;
      const status = ahead.length === 0 && behindBy === 0 ? 'identical' : behindBy === 0 ? 'ahead' : ahead.length === 0 ? 'behind' : 'diverged';
      const changes = diffTrees(store, store.commit(mergeBase)?.tree, store.commit(head)?.tree);
      const html = `https://github.com/${ctx.repo.fullName}/compare/${baseRef}...${headRef}`;
      return {
        status: 200,
        body: {
          url: `${repoApi(ctx)}/compare/${baseRef}...${headRef}`,
          html_url: html,
          permalink_url: `https://github.com/${ctx.repo.fullName}/compare/${base}...${head}`,
          diff_url: `${html}.diff`,
          patch_url: `${html}.patch`,
          base_commit: commitJson(ctx, base),
          merge_base_commit: commitJson(ctx, mergeBase),
          status,
          ahead_by: ahead.length,
          behind_by: behindBy,
          total_commits: ahead.length,
          commits: ahead.map((sha) => commitJson(ctx, sha)),
          // GitHub lists at most 300 changed files, with no sign that it left some out.
          files: changes.slice(0, ctx.limits.compareFiles).map((c) => fileJson(ctx, head, c)),
        },
      };
    },
  },
];
