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
  processedAt: Date | null;
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
