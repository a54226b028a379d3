import type { OrgState, RepoState } from './shapes';

/**
 * Everything one GitHub emulator holds, in one place so it can be saved and restored whole
 * (persist.ts): repositories, tokens, organizations, logins' ids and the id counters.
 */

/** A seeded token: its user, the repositories it sees (all when unset), and its rate-limit window. */
export interface Account {
  userId: number;
  /** The user's login: the pusher and sender of what the token does. */
  login: string;
  /** Epoch ms after which the token answers 401 (GitHub App user tokens); unset: never. */
  expiresAt?: number;
  repos?: Set<string>;
  used: number;
  reset: number;
}

/** The next id of each kind; ids only ever increase, across restarts too. */
export interface Counters {
  event: number;
  push: number;
  repo: number;
  account: number;
  user: number;
  hook: number;
  delivery: number;
  issue: number;
}

export const FIRST_IDS: Readonly<Counters> = {
  event: 40_000_000_000,
  push: 20_000_000_000,
  repo: 1000,
  account: 10_000,
  user: 1,
  hook: 500_000_000,
  delivery: 90_000_000_000,
  issue: 3_000_000_000,
};

/** Kinds whose ids GitHub keeps unique across all repositories: they increase across emulators in one process too. */
const GLOBAL_KINDS = ['event', 'push', 'repo', 'delivery'] as const;
const processNext: Partial<Counters> = {};

export class GithubWorld {
  readonly repos = new Map<string, RepoState>();
  readonly tokens = new Map<string, Account>();
  /** Organizations seeded with `seed.org`, by lower-cased login. */
  readonly orgs = new Map<string, OrgState>();
  /** Lower-cased login -> user or organization id (one id space, as GitHub's). */
  readonly accountIds = new Map<string, number>();
  readonly counters: Counters = { ...FIRST_IDS };

  /** Takes the next id of a kind. */
  next(kind: keyof Counters): number {
    const global = (GLOBAL_KINDS as readonly string[]).includes(kind);
    const id = global ? Math.max(this.counters[kind], processNext[kind] ?? 0) : this.counters[kind];
    this.counters[kind] = id + 1;
    if (global) processNext[kind] = id + 1;
    return id;
  }

  /** The id of a user or organization login, stable for the emulator's life. */
  accountId(login: string): number {
    const key = login.toLowerCase();
    const id = this.accountIds.get(key) ?? this.next('account');
    this.accountIds.set(key, id);
    return id;
  }
}

/** The ids a recorder takes: event ids, push ids, and logins' account ids. */
export type Ids = Pick<GithubWorld, 'next' | 'accountId'>;
