import type { JsonValue } from './types';

/** An event as stored: one row per (source, externalId) (migration 0011_events.sql). */
export interface StoredEvent {
  id: string;
  source: string;
  externalId: string;
  kind: string;
  occurredAt: Date;
  /** e.g. GitHub's X-GitHub-Event: push, issues... */
  type: string | null;
  /** The payload's action (opened, closed...), when it has one. */
  action: string | null;
  /** `owner/name`, when the event concerns a repository. */
  repository: string | null;
  title: string | null;
  body: string | null;
  actorIdentityId: string | null;
  /** The stored payload (`{}` when it lives in object storage; left out by searchEvents). */
  payload: JsonValue;
  payloadRef: string | null;
  /** When enrichment (keywords, identity) finished; null until then. */
  processedAt: Date | null;
  /**
   * What happened, independent of how it arrived (e.g. `push:owner/name:refs/heads/main:<sha>`):
   * a webhook and a pulled event of the same occurrence share it, and the second finds the first.
   * Null for types without a reliable key (deduplicated per delivery path only).
   */
  occurrenceKey: string | null;
  createdAt: Date;
}

export interface UpsertEventInput {
  source: string;
  externalId: string;
  kind: string;
  occurredAt: Date;
  /** Default: `{}`. */
  payload?: JsonValue;
  payloadRef?: string | null;
  type?: string | null;
  action?: string | null;
  repository?: string | null;
  title?: string | null;
  body?: string | null;
  /** See StoredEvent.occurrenceKey. Default: null. */
  occurrenceKey?: string | null;
}

/** One row of upsertEvents(), in input order. */
export interface UpsertedEventRef {
  eventId: string;
  externalId: string;
  /** false: stored before, by this path or the other (same occurrence key). */
  created: boolean;
}

/** Where a pulled feed stopped (`ingest_cursors`, 0013_pulled_events.sql). */
export interface IngestCursor {
  /** The source plugin's id, e.g. `github`. */
  source: string;
  /** What the plugin pulls, e.g. `repo:owner/name`. */
  scope: string;
  /** The plugin's own cursor, saved when a pull completes. */
  cursor: JsonValue;
  runs: number;
  /** Events the last completed pull stored for the first time. */
  lastCreated: number;
  lastRunAt: Date | null;
  updatedAt: Date;
}

export interface EventSearchHit {
  event: StoredEvent;
  /** ts_rank of the full-text match (tiny for a substring-only match). */
  rank: number;
}

/** How an identity was resolved to its canonical one. */
export type IdentityMatchRule = 'provider_id' | 'same_email' | 'same_login';

export interface Identity {
  id: string;
  provider: string;
  externalId: string;
  login: string | null;
  email: string | null;
  displayName: string | null;
  /** The identity this one is the same person as; null: it is canonical itself. */
  canonicalId: string | null;
  /** 1.0 provider id, 0.9 same email, 0.6 same login on another provider. */
  confidence: number;
  matchRule: IdentityMatchRule;
}

export interface LinkIdentityInput {
  provider: string;
  externalId: string;
  login?: string | null;
  email?: string | null;
  name?: string | null;
  /** Makes this identity the event's actor. */
  eventId?: string;
}

export interface TrackedKeyword {
  id: string;
  keyword: string;
  enabled: boolean;
}

export interface KeywordHit {
  keyword: string;
  occurrences: number;
}

export interface ListDeadLettersInput {
  /** Default: false (unresolved only). */
  includeResolved?: boolean;
  /** Only this source, e.g. `webhook:github`. */
  source?: string;
  /** Default: 100. */
  limit?: number;
}

/** One row of daily_metrics (migration 0012_daily_metrics.sql): a metric's value on a day (UTC). */
export interface DailyMetric {
  /** YYYY-MM-DD. */
  day: string;
  /** `events` or `events_by_type` (the metrics aggregateDailyMetrics computes). */
  metric: string;
  /** `''` (total), a source, or `<source>:<type>`. */
  dimension: string;
  value: number;
}

/** A range of days, YYYY-MM-DD, both included. */
export interface DayRange {
  from: string;
  to: string;
}
