import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StagedContent, Store, SyncLink } from '../../lib/db/store';
import type { StagedFile } from '../../workflows/sync/types';
import type { Logger } from '../../lib/logger';
import { FAILURE_TYPES, providerFailure, type Provider } from '../../lib/providers/failures';
import type { GithubSettings } from '../../lib/providers/github';
import type { GoogleSettings } from '../../lib/providers/google';
import { reconnectCommand, TokenMissingError, TokenRevokedError, type TokenService } from '../../lib/tokens/token-service';
import { isUuid } from '../../lib/ids';

/**
 * What the sync activities need, as narrow as they use it. The worker builds it once
 * (workers/activities.ts); tests build it over the emulators.
 */
export interface SyncActivityDeps {
  store: Store;
  /** Provider tokens by user; null when DURASYNC_TOKEN_KEY is not configured. */
  tokens: Pick<TokenService, 'accessToken'> | null;
  google: Pick<GoogleSettings, 'rootUrl'>;
  github: GithubSettings;
  logger: Logger;
  /** Downloads and uploads in flight at once inside one activity. Default: 8. */
  transferConcurrency?: number;
}

/** Failure types of the sync activities besides the provider ones (lib/providers/failures.ts). */
export const SYNC_FAILURE_TYPES = {
  linkNotFound: 'LinkNotFound',
  tokenRevoked: 'TokenRevoked',
  tokenMissing: 'TokenMissing',
  notConfigured: 'NotConfigured',
  stagingLost: 'StagingLost',
} as const;

/** The provider names tokens are stored under (provider_tokens.provider). */
export const TOKEN_PROVIDER = { google: 'google', github: 'github' } as const;

export async function loadLink(store: Store, linkId: string): Promise<SyncLink> {
  // Link ids are UUIDs: anything else names no link, now or after a retry.
  if (typeof linkId !== 'string' || !isUuid(linkId)) {
    throw ApplicationFailure.create({ type: SYNC_FAILURE_TYPES.linkNotFound, nonRetryable: true, message: `sync link id ${(JSON.stringify(linkId) ?? 'undefined').slice(0, 100)} is not a UUID` });
  }
  const link = await store.getSyncLink(linkId);
  if (!link) {
    throw ApplicationFailure.create({ type: SYNC_FAILURE_TYPES.linkNotFound, nonRetryable: true, message: `sync link ${linkId} does not exist` });
  }
  return link;
}

/**
 * The link owner's access token for a provider. A token the provider refused for good, or none
 * stored, marks the link `needs_reauth` and fails without retries: only the user can fix it.
 */
export async function accessTokenFor(deps: SyncActivityDeps, link: SyncLink, provider: keyof typeof TOKEN_PROVIDER): Promise<string> {
  if (!deps.tokens) {
    throw ApplicationFailure.create({
      type: SYNC_FAILURE_TYPES.notConfigured,
      nonRetryable: true,
      message: 'provider tokens are not configured on this worker: set DURASYNC_TOKEN_KEY',
    });
  }
  try {
    return await deps.tokens.accessToken(TOKEN_PROVIDER[provider], link.userId);
  } catch (err) {
    if (err instanceof TokenRevokedError || err instanceof TokenMissingError) {
      const type = err instanceof TokenRevokedError ? SYNC_FAILURE_TYPES.tokenRevoked : SYNC_FAILURE_TYPES.tokenMissing;
      const message = err instanceof TokenRevokedError
        ? `the ${provider} authorisation of user ${link.userId} was revoked: the link needs re-authorisation; reconnect with: ${reconnectCommand(provider, link.userId)}`
        : `no ${provider} token is stored for user ${link.userId}: the link needs authorisation; connect with: ${reconnectCommand(provider, link.userId)}`;
      await deps.store.setSyncLinkStatus(link.id, 'needs_reauth', message);
      deps.logger.warn({ linkId: link.id, provider, failure: type }, 'sync link needs re-authorisation');
      throw ApplicationFailure.create({ type, nonRetryable: true, message });
    }
    throw err;
  }
}

/**
 * Wraps a link's activity: when the provider refuses the stored token (401, `Unauthorized`), the
 * link is marked `needs_reauth` before the failure propagates, as for a revoked token. For tokens
 * that are not refreshed (GitHub's).
 */
export function markingUnauthorized<I extends { linkId: string }, R>(deps: Pick<SyncActivityDeps, 'store' | 'logger'>, provider: Provider, activity: (input: I) => Promise<R>): (input: I) => Promise<R> {
  return async (input) => {
    try {
      return await activity(input);
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === FAILURE_TYPES.unauthorized) {
        await deps.store.setSyncLinkStatus(input.linkId, 'needs_reauth', `${provider} refused the stored token (401): the link needs re-authorisation`);
        deps.logger.warn({ linkId: input.linkId, provider, failure: err.type }, 'sync link needs re-authorisation');
      }
      throw err;
    }
  };
}

/** Runs provider calls, mapping a failure once (providerFailure). */
export async function providerCall<T>(provider: Provider, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw providerFailure(provider, operation, err);
  }
}

/** The details of the last heartbeat of an earlier attempt of this activity, if any. */
export function checkpoint<T>(): T | undefined {
  const details = Context.current().info.heartbeatDetails as T | undefined;
  return details ?? undefined;
}

export function heartbeat(details?: unknown): void {
  Context.current().heartbeat(details);
}

/**
 * Heartbeats `details` now and then again every `everyMs` until `run` settles, so that a slow
 * provider call (a big upload, a commit of a large tree) does not look like a dead worker, while a
 * worker that really died is noticed within the heartbeat timeout. `update` replaces the details
 * sent (the activity's checkpoint); the SDK throttles what reaches the server.
 */
export async function withHeartbeat<T>(initial: unknown, run: (update: (details: unknown) => void) => Promise<T>, everyMs = 5000): Promise<T> {
  let details = initial;
  const update = (next: unknown) => {
    details = next;
    heartbeat(details);
  };
  heartbeat(details);
  const timer = setInterval(() => heartbeat(details), everyMs);
  try {
    return await run(update);
  } finally {
    clearInterval(timer);
  }
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Git's blob id of a content (what GitHub answers as the file's sha). */
export function gitBlobSha(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** `owner/name` -> { owner, repo }. */
export function splitRepo(fullName: string): { owner: string; repo: string } {
  const [owner, repo, extra] = fullName.split('/');
  if (!owner || !repo || extra !== undefined) {
    throw ApplicationFailure.create({ type: 'BadRequest', nonRetryable: true, message: `sync link repository "${fullName}" is not owner/name` });
  }
  return { owner, repo };
}

/** A link-relative path inside the repository. */
export function repoPath(basePath: string, path: string): string {
  const base = basePath.replace(/^\/+|\/+$/g, '');
  return base ? `${base}/${path}` : path;
}

/** Staging keys: a run stages what it read from each side under its own key. */
export function stagingKey(runId: string, side: 'drive' | 'github'): string {
  return `${runId}/${side}`;
}

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapPool<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** The MIME type a file gets in Drive, from its name. */
export function mimeTypeOf(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  const types: Record<string, string> = {
    md: 'text/markdown', markdown: 'text/markdown', txt: 'text/plain', csv: 'text/csv', json: 'application/json',
    html: 'text/html', yml: 'application/yaml', yaml: 'application/yaml', png: 'image/png', jpg: 'image/jpeg',
    jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', pdf: 'application/pdf',
  };
  return path.includes('.') ? (types[ext] ?? 'application/octet-stream') : 'application/octet-stream';
}

/**
 * Downloads `items` with `concurrency` transfers in flight and stages them in batches of
 * `batchSize`, recording each staged batch in `done` (the activity's checkpoint, passed to
 * `update`). Items already in `done` (staged by an earlier attempt) are skipped.
 */
export async function stageTransfers<T extends { path: string }>(options: {
  items: readonly T[];
  done: StagedFile[];
  concurrency: number;
  download: (item: T) => Promise<Buffer>;
  stage: (files: StagedContent[]) => Promise<unknown>;
  update: (done: StagedFile[]) => void;
  batchSize?: number;
}): Promise<StagedFile[]> {
  const { done, update } = options;
  const batchSize = options.batchSize ?? 25;
  const skip = new Set(done.map((f) => f.path));
  let buffer: StagedContent[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    const batch = buffer;
    buffer = [];
    flushing = flushing.then(async () => {
      if (batch.length === 0) return;
      await options.stage(batch);
      done.push(...batch.map((f) => ({ path: f.path, sha256: f.sha256, size: f.content.length })));
      update(done);
    });
    return flushing;
  };
  await mapPool(options.items.filter((item) => !skip.has(item.path)), options.concurrency, async (item) => {
    const content = await options.download(item);
    buffer.push({ path: item.path, content, sha256: sha256(content) });
    if (buffer.length >= batchSize) await flush();
  });
  await flush();
  return done;
}
