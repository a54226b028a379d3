import { diffTrees } from './routes-repo';
import { repoJson } from './shapes';
import type { RepoState } from './shapes';

/** Webhook payloads as GitHub sends them: `push`, `issues`, `ping`, with their `repository` and `sender`. */

const NO_COMMIT = '0'.repeat(40);
/** GitHub lists at most 2048 commits in a push payload. */
const MAX_PUSH_COMMITS = 2048;
const ZEN = ['Keep it logically awesome.', 'Design for failure.', 'Speak like a human.', 'Non-blocking is better than blocking.', 'Favor focus over features.'];

export interface Who {
  login: string;
  id: number;
}

/** A user as webhook payloads show `sender`. */
export function userJson(api: string, who: Who): Record<string, unknown> {
  return {
    login: who.login,
    id: who.id,
    node_id: Buffer.from(`User:${who.id}`).toString('base64').replace(/=+$/, ''),
    avatar_url: `https://avatars.githubusercontent.com/u/${who.id}?v=4`,
    gravatar_id: '',
    url: `${api}/users/${who.login}`,
    html_url: `https://github.com/${who.login}`,
    type: 'User',
    site_admin: false,
  };
}

/** The `repository` of a payload: the REST shape, with the owner's own id. */
export function repositoryJson(api: string, repo: RepoState, ownerId: number): Record<string, unknown> {
  const json = repoJson({ api, repo });
  return { ...json, owner: { ...userJson(api, { login: repo.owner, id: ownerId }), name: repo.owner } };
}

/** A ref update: `before`/`after` undefined for a created/deleted ref. */
export interface RefUpdate {
  ref: string;
  before: string | undefined;
  after: string | undefined;
  pusher: { name: string; email: string };
  sender: Who;
  ownerId: number;
  /** Every other ref's commit at the time of the push: a new branch lists only commits none of them has. */
  otherHeads: string[];
}

function commitPayload(repo: RepoState, sha: string): Record<string, unknown> {
  const { store } = repo;
  const c = store.commit(sha);
  if (!c) throw new Error(`not a commit: ${sha}`);
  const parent = c.parents[0] ? store.commit(c.parents[0])?.tree : undefined;
  const changes = diffTrees(store, parent, c.tree);
  const files = (status: string) => changes.filter((f) => f.status === status || (f.status === 'renamed' && status === 'added')).map((f) => f.filename);
  const removed = [...files('removed'), ...changes.filter((f) => f.status === 'renamed').map((f) => f.previous?.filename ?? '')];
  return {
    id: sha,
    tree_id: c.tree,
    distinct: true,
    message: c.message,
    timestamp: c.committer.date,
    url: `https://github.com/${repo.fullName}/commit/${sha}`,
    author: { name: c.author.name, email: c.author.email },
    committer: { name: c.committer.name, email: c.committer.email },
    added: files('added'),
    removed,
    modified: files('modified'),
  };
}

/** The `push` payload of a ref update. */
export function pushPayload(api: string, repo: RepoState, push: RefUpdate): Record<string, unknown> {
  const { store } = repo;
  const created = push.before === undefined;
  const deleted = push.after === undefined;
  const forced = !created && !deleted && !store.isAncestor(push.before as string, push.after as string);
  let shas: string[] = [];
  if (push.after) {
    const known = new Set((created ? push.otherHeads : [push.before as string]).flatMap((h) => store.ancestors(h)));
    shas = store.ancestors(push.after).filter((sha) => !known.has(sha)).reverse();
  }
  const commits = shas.slice(-MAX_PUSH_COMMITS).map((sha) => commitPayload(repo, sha));
  const short = (sha: string | undefined) => (sha ?? NO_COMMIT).slice(0, 12);
  const name = push.ref.replace(/^refs\/(heads|tags)\//, '');
  const baseRef = created && push.after ? `refs/heads/${[...store.refs].find(([r, sha]) => r !== push.ref && r.startsWith('refs/heads/') && sha === push.after)?.[0].slice(11) ?? ''}` : undefined;
  const repository = repositoryJson(api, repo, push.ownerId);
  const epoch = (iso: unknown) => Math.floor(Date.parse(String(iso)) / 1000);
  return {
    ref: push.ref,
    before: push.before ?? NO_COMMIT,
    after: push.after ?? NO_COMMIT,
    repository: { ...repository, created_at: epoch(repository.created_at), pushed_at: epoch(repository.pushed_at), master_branch: repo.defaultBranch },
    pusher: { ...push.pusher },
    sender: userJson(api, push.sender),
    created,
    deleted,
    forced,
    base_ref: baseRef && baseRef !== 'refs/heads/' ? baseRef : null,
    compare: created ? `https://github.com/${repo.fullName}/compare/${name}` : `https://github.com/${repo.fullName}/compare/${short(push.before)}...${short(push.after)}`,
    commits,
    head_commit: push.after ? (commits[commits.length - 1] ?? commitPayload(repo, push.after)) : null,
  };
}

/** The `ping` payload sent when a hook is created (and on `POST /hooks/{id}/pings`). */
export function pingPayload(api: string, repo: RepoState, hook: Record<string, unknown>, sender: Who, ownerId: number): Record<string, unknown> {
  return {
    zen: ZEN[Number(hook.id) % ZEN.length],
    hook_id: hook.id,
    hook,
    repository: repositoryJson(api, repo, ownerId),
    sender: userJson(api, sender),
  };
}
