import { savedList as list, savedRecord as record, type StatePart } from '../state-file';
import { GitStore } from './git-store';
import type { Commit, TreeEntry } from './git-store';
import type { RepoState } from './shapes';
import { FIRST_IDS } from './world';
import type { Account, Counters, GithubWorld } from './world';

/** The GitHub emulator's state parts: repositories (git objects, refs, feeds, issues, hooks), accounts, id counters. */

type SavedObject = { type: 'blob'; data: string } | { type: 'tree'; entries: TreeEntry[] } | { type: 'commit'; commit: Commit };
type SavedRepo = Omit<RepoState, 'store'> & { store: { seq: number; refs: Array<[string, string]>; objects: Array<[string, SavedObject]> } };
type SavedAccount = Omit<Account, 'repos'> & { repos?: string[] };

function saveRepo(repo: RepoState): SavedRepo {
  const objects = [...repo.store.objects].map(([sha, o]): [string, SavedObject] => [sha, o.type === 'blob' ? { type: 'blob', data: o.data.toString('base64') } : o]);
  return { ...repo, store: { seq: repo.store.seq, refs: [...repo.store.refs], objects } };
}

function loadRepo(raw: unknown, i: number): RepoState {
  const saved = record(raw, `repos[${i}]`) as unknown as SavedRepo;
  if (typeof saved.fullName !== 'string' || typeof saved.id !== 'number') throw new Error(`repos[${i}] is not a repository`);
  const store = new GitStore();
  const s = record(saved.store, `repos[${i}].store`) as unknown as SavedRepo['store'];
  for (const [sha, o] of list(s.objects, `repos[${i}].store.objects`) as Array<[string, SavedObject]>) {
    store.objects.set(sha, o.type === 'blob' ? { type: 'blob', data: Buffer.from(o.data, 'base64') } : o);
  }
  for (const [ref, sha] of list(s.refs, `repos[${i}].store.refs`) as Array<[string, string]>) store.refs.set(ref, sha);
  store.seq = s.seq;
  return { ...saved, pushedAt: saved.pushedAt ?? saved.createdAt, events: list(saved.events, 'events') as RepoState['events'], issues: saved.issues ?? [], hooks: saved.hooks ?? [], store };
}

/** Every repository with its git objects (blobs as base64), refs, events feed, issues, and hooks with their secrets and delivery logs. */
export function reposPart(world: GithubWorld): StatePart {
  return {
    key: 'repos',
    snapshot: () => [...world.repos.values()].map(saveRepo),
    restore(json) {
      const repos = list(json, 'repos').map(loadRepo);
      world.repos.clear();
      for (const repo of repos) world.repos.set(repo.fullName.toLowerCase(), repo);
    },
  };
}

/** Tokens (user, login, visible repositories, rate-limit window), organizations and logins' ids. */
export function accountsPart(world: GithubWorld): StatePart {
  return {
    key: 'accounts',
    snapshot: () => ({
      tokens: [...world.tokens].map(([token, a]): [string, SavedAccount] => [token, { ...a, repos: a.repos ? [...a.repos] : undefined }]),
      orgs: [...world.orgs.values()],
      accountIds: [...world.accountIds],
    }),
    restore(json) {
      const saved = record(json, 'accounts');
      const tokens = list(saved.tokens, 'accounts.tokens') as Array<[string, SavedAccount]>;
      const orgs = list(saved.orgs, 'accounts.orgs') as Array<{ id: number; login: string }>;
      const ids = list(saved.accountIds, 'accounts.accountIds') as Array<[string, number]>;
      world.tokens.clear();
      for (const [token, { repos, ...a }] of tokens) world.tokens.set(token, { ...a, ...(repos ? { repos: new Set(repos) } : {}) });
      world.orgs.clear();
      for (const org of orgs) world.orgs.set(org.login.toLowerCase(), org);
      world.accountIds.clear();
      for (const [login, id] of ids) world.accountIds.set(login, id);
    },
  };
}

/** The next id of each kind, so ids keep increasing after a restart. */
export function countersPart(world: GithubWorld): StatePart {
  return {
    key: 'counters',
    snapshot: () => ({ ...world.counters }),
    restore(json) {
      const saved = record(json, 'counters');
      for (const kind of Object.keys(FIRST_IDS) as Array<keyof Counters>) {
        const value = saved[kind];
        if (value === undefined) continue;
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`counters.${kind} is not an integer`);
        world.counters[kind] = Math.max(value, FIRST_IDS[kind]);
      }
    },
  };
}
