import { DOCS, notFound, unprocessable, validationFailed } from './errors';
import { MODES } from './git-store';
import type { FlatEntry, Mode } from './git-store';
import { base64Lines, gitCommitJson, nodeId, refJson, repoApi, signature } from './shapes';
import type { Route, RouteContext, RouteResult } from './shapes';

/** The git data API: refs, commits, trees, blobs. */

const fullRef = (ref: string): string => (ref.startsWith('refs/') ? ref : `refs/${ref}`);
const isSha = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{40}$/.test(v);

function treeJson(ctx: RouteContext, sha: string, recursive: boolean): RouteResult['body'] {
  const { store } = ctx.repo;
  const all = recursive ? store.walk(sha) : (store.tree(sha) ?? []).map((e) => ({ ...e, path: e.name }));
  // A recursive listing stops at GitHub's limit (100,000 entries) and says so with `truncated`.
  const truncated = recursive && all.length > ctx.limits.treeEntries;
  const entries = truncated ? all.slice(0, ctx.limits.treeEntries) : all;
  return {
    sha,
    url: `${repoApi(ctx)}/git/trees/${sha}`,
    tree: entries.map((e) => ({
      path: e.path,
      mode: e.mode,
      type: e.type,
      sha: e.sha,
      ...(e.type === 'blob' ? { size: store.blob(e.sha)?.length ?? 0, url: `${repoApi(ctx)}/git/blobs/${e.sha}` } : {}),
      ...(e.type === 'tree' ? { url: `${repoApi(ctx)}/git/trees/${e.sha}` } : {}),
    })),
    truncated,
  };
}

function decodeContent(content: unknown, encoding: unknown, doc: string): Buffer {
  if (typeof content !== 'string') throw validationFailed(doc, { resource: 'Blob', field: 'content', code: 'missing_field' });
  if (encoding === undefined || encoding === 'utf-8' || encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (encoding === 'base64') return Buffer.from(content, 'base64');
  throw validationFailed(doc, { resource: 'Blob', field: 'encoding', code: 'invalid', message: `encoding must be utf-8 or base64` });
}

/** Applies `POST /git/trees` entries to a flat path map (the base tree's files, or none). */
function applyTreeEntries(ctx: RouteContext, flat: Map<string, FlatEntry>, entries: unknown[]): void {
  const { store } = ctx.repo;
  const removeUnder = (path: string) => {
    for (const key of [...flat.keys()]) if (key === path || key.startsWith(`${path}/`)) flat.delete(key);
    // A file where a directory of the new path was is replaced, as git would.
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) flat.delete(parts.slice(0, i).join('/'));
  };
  for (const raw of entries) {
    const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const path = typeof e.path === 'string' ? e.path.replace(/^\/+|\/+$/g, '') : '';
    if (!path || path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw validationFailed(DOCS.trees, { resource: 'Tree', field: 'path', code: 'invalid', message: `invalid path ${String(e.path)}` });
    }
    if (typeof e.mode !== 'string' || !MODES.includes(e.mode)) {
      throw validationFailed(DOCS.trees, { resource: 'Tree', field: 'mode', code: 'invalid', message: `mode must be one of ${MODES.join(', ')}` });
    }
    const mode = e.mode as Mode;
    const type = e.type ?? (mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob');
    if ((mode === '040000') !== (type === 'tree') || (mode === '160000') !== (type === 'commit')) {
      throw validationFailed(DOCS.trees, { resource: 'Tree', field: 'type', code: 'invalid', message: `type ${JSON.stringify(type)} does not match mode ${mode}` });
    }
    if ('sha' in e && e.sha === null) {
      removeUnder(path);
      continue;
    }
    if (typeof e.content === 'string') {
      if (type !== 'blob') throw unprocessable('Invalid tree info: content is only allowed for blobs', DOCS.trees);
      removeUnder(path);
      flat.set(path, { mode, type: 'blob', sha: store.putBlob(Buffer.from(e.content, 'utf8')) });
      continue;
    }
    if (!isSha(e.sha)) throw validationFailed(DOCS.trees, { resource: 'Tree', field: 'sha', code: 'missing_field', message: 'either sha or content is required' });
    if (type === 'tree') {
      if (!store.tree(e.sha)) throw unprocessable(`tree.sha ${e.sha} is not a valid tree`, DOCS.trees);
      removeUnder(path);
      for (const [sub, entry] of store.flatten(e.sha)) flat.set(`${path}/${sub}`, entry);
    } else {
      if (type === 'blob' && !store.blob(e.sha)) throw unprocessable(`tree.sha ${e.sha} is not a valid blob`, DOCS.trees);
      removeUnder(path);
      flat.set(path, { mode, type: type === 'commit' ? 'commit' : 'blob', sha: e.sha });
    }
  }
}

export const gitRoutes: Route[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/ref/{ref}',
    handle(ctx) {
      const ref = fullRef(ctx.params.ref ?? '');
      const sha = ctx.repo.store.refs.get(ref);
      if (!sha) throw notFound(`${DOCS.refs}#get-a-reference`);
      return { status: 200, body: refJson(ctx, ref, sha) };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/refs',
    handle(ctx) {
      const { ref, sha } = ctx.body;
      if (typeof ref !== 'string' || !/^refs\/[^/]+\/.+/.test(ref)) throw unprocessable('Reference name is invalid', DOCS.createRef);
      if (!isSha(sha) || !ctx.repo.store.commit(sha)) throw unprocessable('Object does not exist', DOCS.createRef);
      if (ctx.repo.store.refs.has(ref)) throw unprocessable('Reference already exists', DOCS.createRef);
      ctx.repo.store.refs.set(ref, sha);
      ctx.activity.refUpdated(ctx.repo, { ref, before: undefined, after: sha, actor: ctx.user });
      return { status: 201, body: refJson(ctx, ref, sha), headers: { location: `${repoApi(ctx)}/git/${ref}` } };
    },
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/git/refs/{ref}',
    handle(ctx) {
      const ref = fullRef(ctx.params.ref ?? '');
      const { sha, force } = ctx.body;
      const { store } = ctx.repo;
      if (!isSha(sha) || !store.commit(sha)) throw unprocessable('Object does not exist', DOCS.updateRef);
      const current = store.refs.get(ref);
      if (!current) throw unprocessable('Reference does not exist', DOCS.updateRef);
      if (force !== true && !store.isAncestor(current, sha)) throw unprocessable('Update is not a fast forward', DOCS.updateRef);
      store.refs.set(ref, sha);
      if (sha !== current) ctx.activity.refUpdated(ctx.repo, { ref, before: current, after: sha, actor: ctx.user });
      return { status: 200, body: refJson(ctx, ref, sha) };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/commits/{commit_sha}',
    handle(ctx) {
      const sha = ctx.params.commit_sha ?? '';
      if (!ctx.repo.store.commit(sha)) throw notFound(`${DOCS.commits}#get-a-commit-object`);
      return { status: 200, body: gitCommitJson(ctx, sha) };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/commits',
    handle(ctx) {
      const { message, tree, parents = [] } = ctx.body;
      const { store } = ctx.repo;
      if (typeof message !== 'string') throw validationFailed(DOCS.commits, { resource: 'Commit', field: 'message', code: 'missing_field' });
      if (!isSha(tree) || !store.tree(tree)) throw unprocessable('Tree SHA does not exist', DOCS.commits);
      if (!Array.isArray(parents) || !parents.every((p) => isSha(p) && store.commit(p))) {
        throw unprocessable('Parent SHA does not exist or is not a commit object', DOCS.commits);
      }
      const author = signature(ctx.body.author);
      const committer = signature(ctx.body.committer, author);
      const sha = store.putCommit({ tree, parents: parents as string[], message, author, committer });
      return { status: 201, body: gitCommitJson(ctx, sha), headers: { location: `${repoApi(ctx)}/git/commits/${sha}` } };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/trees/{tree_sha}',
    handle(ctx) {
      const { store } = ctx.repo;
      const given = ctx.params.tree_sha ?? '';
      // GitHub accepts a tree sha, a commit sha or a ref name here.
      const commit = store.commit(given) ? given : store.resolve(given);
      const sha = store.tree(given) ? given : commit ? store.commit(commit)?.tree : undefined;
      if (!sha) throw notFound(`${DOCS.trees}#get-a-tree`);
      // Any value of `recursive` recurses, `0` and `false` included (GitHub's documented behaviour).
      const recursive = ctx.query.has('recursive');
      return { status: 200, body: treeJson(ctx, sha, recursive) };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/trees',
    handle(ctx) {
      const { store } = ctx.repo;
      const { base_tree: baseTree, tree } = ctx.body;
      if (!Array.isArray(tree)) throw validationFailed(DOCS.trees, { resource: 'Tree', field: 'tree', code: 'missing_field' });
      if (baseTree !== undefined && baseTree !== null && !(isSha(baseTree) && store.tree(baseTree))) {
        throw unprocessable('base_tree is not a valid tree oid', DOCS.trees);
      }
      const flat = store.flatten(typeof baseTree === 'string' ? baseTree : undefined);
      applyTreeEntries(ctx, flat, tree);
      const sha = store.buildTree(flat);
      return { status: 201, body: treeJson(ctx, sha, false), headers: { location: `${repoApi(ctx)}/git/trees/${sha}` } };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/git/blobs',
    handle(ctx) {
      const data = decodeContent(ctx.body.content, ctx.body.encoding, DOCS.blobs);
      const sha = ctx.repo.store.putBlob(data);
      const url = `${repoApi(ctx)}/git/blobs/${sha}`;
      return { status: 201, body: { sha, url }, headers: { location: url } };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/git/blobs/{file_sha}',
    handle(ctx) {
      const sha = ctx.params.file_sha ?? '';
      const data = ctx.repo.store.blob(sha);
      if (!data) throw notFound(`${DOCS.blobs}#get-a-blob`);
      return {
        status: 200,
        body: { sha, node_id: nodeId('Blob', sha), size: data.length, url: `${repoApi(ctx)}/git/blobs/${sha}`, content: base64Lines(data), encoding: 'base64' },
      };
    },
  },
];
