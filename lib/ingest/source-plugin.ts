import type { Logger } from '../logger';
import type { GithubSettings } from '../providers/github';
import type { ApiQueueName } from '../queues';
import type { SettingsReader } from '../settings';

/**
 * A source of pulled events for `ingestSource` (workflows/ingestion/ingest-source.ts): an id, a
 * config it validates, and a page fetcher with a cursor. Adding a source is one file in
 * lib/ingest/sources/ exporting a SourcePlugin, plus its line in lib/ingest/sources/index.ts.
 *
 * The workflow calls fetchPage() in a heartbeating activity on the plugin's `queue` (an API queue
 * paced by the server, or `ingestion`), first with `page: null`, then with each `nextPage` until
 * it is null; events are stored as they come (once per source and external id, and once per
 * occurrence key across webhooks and pulls); the cursor of the last page is saved when the pull
 * completes, and the next pull starts from it. A failed or cancelled pull saves nothing: the next
 * one starts again from the old cursor, and events it stored already are found, not stored twice.
 */
export interface SourcePlugin<Config = unknown, Cursor = unknown> {
  /** events.source of what it pulls, e.g. `github`; the `--source` of the CLI. */
  readonly id: string;
  /** One line for `durasync ingest sources`. */
  readonly about: string;
  /** Where fetchPage runs: a provider's API queue (server-side rate limit) or `ingestion`. */
  readonly queue: ApiQueueName | 'ingestion';
  /** The config from the CLI or a schedule, checked; throws InvalidSourceConfigError (one line naming the field). */
  parseConfig(raw: unknown): Config;
  /** What the config pulls, stable across runs: the cursor's key and part of the workflow id, e.g. `repo:owner/name`. */
  scope(config: Config): string;
  /** One page. See SourcePage for what each field means. */
  fetchPage(input: FetchPageInput<Config, Cursor>, ctx: SourceContext): Promise<SourcePage<Cursor>>;
}

export interface FetchPageInput<Config, Cursor> {
  config: Config;
  /** The cursor the last completed pull saved; null on the first pull. The same on every page of a pull. */
  cursor: Cursor | null;
  /** null: the first page; otherwise a previous page's nextPage. */
  page: string | null;
  /** Only events at or after this time (a backfill); null: since the cursor. */
  since: Date | null;
}

/** An event as pulled, shaped like the provider's webhook of the same event (so one normaliser reads both). */
export interface PulledEvent {
  /** The provider's id of the event: events.external_id. */
  externalId: string;
  /** The webhook's event name, e.g. `push`, `issues`. */
  type: string;
  payload: Record<string, unknown>;
  occurredAt: Date;
}

export interface SourcePage<Cursor> {
  events: PulledEvent[];
  /** The page after this one, or null when this pull is done. Opaque to everything but the plugin. */
  nextPage: string | null;
  /** What to save when the pull completes (the last page's wins). */
  cursor: Cursor;
  /** Nothing new since the cursor (e.g. HTTP 304 to a conditional request), or the provider asked us to wait. */
  notModified?: boolean;
  /** How long the provider asks pollers to wait between pulls (GitHub's X-Poll-Interval). */
  pollIntervalSeconds?: number;
}

/** What a plugin gets from the worker: credentials, provider settings, a logger, heartbeats. */
export interface SourceContext {
  /**
   * An access token for `provider`: the stored token of `userId` (refreshed when needed), or the
   * deployment's own (e.g. GITHUB_TOKEN) when `userId` is undefined. Never log or return it.
   */
  accessToken(provider: string, userId?: string): Promise<string>;
  providers: { github: GithubSettings };
  logger: Logger;
  /** Records progress; a worker that stops heartbeating is replaced after the heartbeat timeout. */
  heartbeat(details?: unknown): void;
  now(): Date;
  /**
   * Run-time settings (lib/settings.ts), cached by the worker: a plugin reads its own at
   * `source:<id>` (e.g. ingest.page_size, provider.rate_per_second). Absent: the defaults.
   */
  settings?: SettingsReader;
}

/** A config a plugin refuses: the message is one line naming the field. */
export class InvalidSourceConfigError extends Error {
  override readonly name = 'InvalidSourceConfigError';
}
