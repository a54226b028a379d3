import { ApplicationFailure, Context } from '@temporalio/activity';
import type { JsonValue, Store, UpsertEventInput } from '../lib/db/store';
import { InvalidSourceConfigError, type SourceContext, type SourcePlugin } from '../lib/ingest/source-plugin';
import { SOURCE_IDS, sourcePlugin } from '../lib/ingest/sources';
import type { Logger } from '../lib/logger';
import { settingsFor, type SettingsReader } from '../lib/settings';
import { providerFailure } from '../lib/providers/failures';
import type { GithubSettings } from '../lib/providers/github';
import { TokenMissingError, TokenRevokedError, type TokenService } from '../lib/tokens/token-service';
import { INVALID_SOURCE, type EventActor, type PulledEventRef } from '../workflows/ingestion/types';
import { InvalidEventError, normalizeEvent, normalizeGeneric, type NormalizedEvent } from './ingestion-github';

/**
 * The activities of `ingestSource`: prepareIngest, enrichEvents and saveIngestCursor on the
 * `ingestion` queue; pullSourcePage on the source plugin's queue (`github-api` for GitHub, so the
 * server paces it with the sync's GitHub calls). pullSourcePage stores what it fetched itself, so
 * pulled payloads never enter workflow history: the workflow sees event ids, actors and counts.
 */
export interface SourceActivityDeps {
  store: Pick<Store, 'getIngestCursor' | 'saveIngestCursor' | 'upsertEvents' | 'recordEventKeywords' | 'linkIdentity' | 'markEventsProcessed'> & Partial<Pick<Store, 'listSettings'>>;
  /** Run-time settings (ingest.pages_per_run, and the plugins' own). Default: the store's when it has listSettings (lib/settings.ts settingsFor). */
  settings?: SettingsReader;
  /** Users' provider tokens; null when DURASYNC_TOKEN_KEY is not set. */
  tokens: Pick<TokenService, 'accessToken'> | null;
  github: GithubSettings;
  /** GITHUB_TOKEN: the deployment's own GitHub token, for configs without a user. */
  githubToken?: string;
  logger: Logger;
}

export interface PullSourcePageInput {
  source: string;
  config: Record<string, unknown>;
  cursor: unknown;
  page: string | null;
  since: string | null;
}

export interface PullSourcePageResult {
  /** Events stored for the first time, to enrich. */
  created: PulledEventRef[];
  fetched: number;
  duplicates: number;
  nextPage: string | null;
  cursor: unknown;
  notModified: boolean;
  pollIntervalSeconds: number | null;
}

function invalidSource(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: INVALID_SOURCE, nonRetryable: true, message });
}

function pluginOf(source: string): SourcePlugin<unknown, unknown> {
  const plugin = sourcePlugin(source);
  if (!plugin) throw invalidSource(`unknown source "${source}": expected one of ${SOURCE_IDS.join(', ')}`);
  return plugin;
}

function configOf(plugin: SourcePlugin<unknown, unknown>, raw: unknown): unknown {
  try {
    return plugin.parseConfig(raw);
  } catch (err) {
    if (err instanceof InvalidSourceConfigError) throw invalidSource(err.message);
    throw err;
  }
}

/** A pulled event's columns: the webhook normaliser's, or generic when its payload is not what the normaliser expects. */
function normalizePulled(source: string, type: string, payload: Record<string, unknown>): NormalizedEvent {
  try {
    return normalizeEvent(source, type, payload);
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    return normalizeGeneric(source, type, payload);
  }
}

export function createSourceActivities(deps: SourceActivityDeps) {
  const { store, logger } = deps;
  const settings = deps.settings ?? (store.listSettings ? settingsFor(store as Pick<Store, 'listSettings'>, { logger }) : undefined);

  function contextFor(): SourceContext {
    return {
      async accessToken(provider, userId) {
        if (userId === undefined) {
          if (provider === 'github' && deps.githubToken) return deps.githubToken;
          throw ApplicationFailure.create({ type: 'NotConfigured', nonRetryable: true, message: `no ${provider} token: set GITHUB_TOKEN on the workers, or name a user whose token is stored` });
        }
        if (!deps.tokens) throw ApplicationFailure.create({ type: 'NotConfigured', nonRetryable: true, message: 'provider tokens are not configured on this worker: set DURASYNC_TOKEN_KEY' });
        try {
          return await deps.tokens.accessToken(provider, userId);
        } catch (err) {
          if (err instanceof TokenRevokedError) throw ApplicationFailure.create({ type: 'TokenRevoked', nonRetryable: true, message: `the ${provider} authorisation of user ${userId} was revoked` });
          if (err instanceof TokenMissingError) throw ApplicationFailure.create({ type: 'TokenMissing', nonRetryable: true, message: `no ${provider} token is stored for user ${userId}` });
          throw err;
        }
      },
      providers: { github: deps.github },
      logger,
      heartbeat: (details) => Context.current().heartbeat(details),
      now: () => new Date(),
      ...(settings ? { settings } : {}),
    };
  }

  return {
    /**
     * Checks the source and its config; answers the pull's scope, the queue its pages run on, the
     * saved cursor, and the setting ingest.pages_per_run at `source:<id>` (null without settings),
     * which the workflow uses when its input sets no maxPagesPerRun.
     */
    async prepareIngest(input: { source: string; config: Record<string, unknown> }): Promise<{ scope: string; queue: string; cursor: unknown; pagesPerRun: number | null }> {
      const plugin = pluginOf(input.source);
      const config = configOf(plugin, input.config);
      const scope = plugin.scope(config);
      const saved = await store.getIngestCursor(plugin.id, scope);
      const pagesPerRun = settings ? await settings.get('ingest.pages_per_run', `source:${plugin.id}`) : null;
      return { scope, queue: plugin.queue, cursor: saved?.cursor ?? null, pagesPerRun };
    },

    /** Fetches one page through the plugin and stores its events (once per external id and occurrence). */
    async pullSourcePage(input: PullSourcePageInput): Promise<PullSourcePageResult> {
      const plugin = pluginOf(input.source);
      const config = configOf(plugin, input.config);
      const since = input.since === null ? null : new Date(input.since);
      let page;
      try {
        page = await plugin.fetchPage({ config, cursor: input.cursor ?? null, page: input.page, since }, contextFor());
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        if (err instanceof InvalidSourceConfigError) throw invalidSource(err.message);
        throw providerFailure(plugin.id, 'pull events', err);
      }
      const rows: UpsertEventInput[] = [];
      const actors: (EventActor | null)[] = [];
      for (const event of page.events) {
        const normalized = normalizePulled(plugin.id, event.type, event.payload);
        rows.push({
          source: plugin.id,
          externalId: event.externalId,
          kind: normalized.kind,
          occurredAt: normalized.occurredAt ?? event.occurredAt,
          payload: event.payload as JsonValue,
          type: normalized.type,
          action: normalized.action,
          repository: normalized.repository,
          title: normalized.title,
          body: normalized.body,
          occurrenceKey: normalized.occurrenceKey,
        });
        actors.push(normalized.actor);
      }
      const stored = await store.upsertEvents(rows);
      const created = stored.flatMap((row, i) => (row.created ? [{ eventId: row.eventId, actor: actors[i] ?? null }] : []));
      logger.debug({ source: plugin.id, fetched: rows.length, created: created.length, notModified: page.notModified === true }, 'pulled a page of events');
      return {
        created,
        fetched: rows.length,
        duplicates: rows.length - created.length,
        nextPage: page.nextPage,
        cursor: page.cursor,
        notModified: page.notModified === true,
        pollIntervalSeconds: page.pollIntervalSeconds ?? null,
      };
    },

    /** Records tracked keywords and resolves the actor of each event, then marks them processed. Idempotent. */
    async enrichEvents(input: { events: PulledEventRef[] }): Promise<{ enriched: number; keywordHits: number }> {
      let keywordHits = 0;
      for (const [i, event] of input.events.entries()) {
        keywordHits += (await store.recordEventKeywords(event.eventId)).length;
        const { actor } = event;
        if (actor) await store.linkIdentity({ provider: actor.provider, externalId: actor.externalId, login: actor.login, email: actor.email, name: actor.name, eventId: event.eventId });
        if (i % 20 === 19) Context.current().heartbeat(i + 1);
      }
      await store.markEventsProcessed(input.events.map((e) => e.eventId));
      return { enriched: input.events.length, keywordHits };
    },

    /** Saves where a completed pull stopped. */
    async saveIngestCursor(input: { source: string; scope: string; cursor: unknown; created: number }): Promise<void> {
      await store.saveIngestCursor({ source: input.source, scope: input.scope, cursor: (input.cursor ?? {}) as JsonValue, created: input.created });
    },
  };
}

export type SourceActivities = ReturnType<typeof createSourceActivities>;
