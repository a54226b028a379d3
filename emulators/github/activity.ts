import type { Hookshot } from './deliveries';
import { recordEvent, recordPush } from './events';
import { hookJson } from './hooks';
import type { DeliveryRecord, HookState } from './hooks';
import { issueJson } from './issues';
import type { IssueState } from './issues';
import { pingPayload, pushPayload, repositoryJson, userJson } from './payloads';
import type { Who } from './payloads';
import { nowIso, repoApi } from './shapes';
import type { RepoState } from './shapes';
import type { GithubWorld } from './world';

/** A ref update as whoever made it tells it: the pusher's login, and the git identity GitHub shows as `pusher`. */
export interface RefUpdateInput {
  ref: string;
  /** Undefined: the ref is new. */
  before: string | undefined;
  after: string;
  actor: { login: string; id?: number };
  /** Default: the actor's login and `<login>@users.noreply.github.com`. */
  pusher?: { name: string; email: string };
}

/**
 * What happens after a change, as on GitHub: an event in the repository's Events feed and a
 * webhook delivery to each subscribed hook (`PushEvent`/`push`, `IssuesEvent`/`issues`, `ping`).
 */
export class Activity {
  constructor(
    private readonly world: GithubWorld,
    private readonly hookshot: Hookshot,
    private readonly api: () => string,
  ) {}

  private who(actor: { login: string; id?: number }): Who {
    return { login: actor.login, id: actor.id ?? this.world.accountId(actor.login) };
  }

  /** A branch or tag moved, was created (`before` undefined), or was force-pushed. */
  refUpdated(repo: RepoState, update: RefUpdateInput): void {
    const sender = this.who(update.actor);
    repo.pushedAt = nowIso();
    // A new branch lists only the commits no other ref has.
    const otherHeads = [...repo.store.refs].filter(([ref]) => ref !== update.ref).map(([, sha]) => sha);
    recordPush(repo, { ref: update.ref, before: update.before, head: update.after, actor: sender }, this.world);
    const pusher = update.pusher ?? { name: sender.login, email: `${sender.login}@users.noreply.github.com` };
    const payload = pushPayload(this.api(), repo, { ref: update.ref, before: update.before, after: update.after, pusher, sender, ownerId: this.world.accountId(repo.owner), otherHeads });
    this.hookshot.emit(repo, 'push', payload);
  }

  /** An issue was opened. */
  issueOpened(repo: RepoState, issue: IssueState): void {
    const ctx = { api: this.api(), repo };
    const json = issueJson(ctx, issue);
    recordEvent(repo, { type: 'IssuesEvent', payload: { action: 'opened', issue: json }, actor: issue.user }, this.world);
    const repository = repositoryJson(this.api(), repo, this.world.accountId(repo.owner));
    this.hookshot.emit(repo, 'issues', { action: 'opened', issue: json, repository, sender: userJson(this.api(), issue.user) });
  }

  /** A hook was created or asked for a ping. */
  ping(repo: RepoState, hook: HookState, sender: { login: string; id?: number }): void {
    const json = hookJson(repoApi({ api: this.api(), repo }), hook);
    this.hookshot.deliver(repo, hook, 'ping', pingPayload(this.api(), repo, json, this.who(sender), this.world.accountId(repo.owner)));
  }

  /** A logged delivery sent again (`POST .../deliveries/{id}/attempts`). */
  redeliver(hook: HookState, record: DeliveryRecord): void {
    this.hookshot.redeliver(hook, record);
  }
}
