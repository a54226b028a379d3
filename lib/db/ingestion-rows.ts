import { reader, type Row } from './rows';
import type { EventSearchHit, Identity, IdentityMatchRule, IngestCursor, StoredEvent, TrackedKeyword } from './ingestion-types';

/** snake_case rows of the ingestion functions (0011_events.sql) -> store types; see rows.ts. */

const MATCH_RULES: readonly IdentityMatchRule[] = ['provider_id', 'same_email', 'same_login'];

/**
 * An event: the functions return it as a jsonb column `event`. PostgREST hands a function whose
 * only column is that one (get_event) back as the bare values, so a row may be the event itself.
 */
export function toStoredEvent(row: Row, fn: string): StoredEvent {
  const value = 'event' in row ? row.event : row;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reader(row, fn).fail('event', value);
  const r = reader(value as Row, fn);
  return {
    id: r.string('id'),
    source: r.string('source'),
    externalId: r.string('external_id'),
    kind: r.string('kind'),
    occurredAt: r.date('occurred_at'),
    type: r.stringOrNull('type'),
    action: r.stringOrNull('action'),
    repository: r.stringOrNull('repository'),
    title: r.stringOrNull('title'),
    body: r.stringOrNull('body'),
    actorIdentityId: r.stringOrNull('actor_identity_id'),
    payload: 'payload' in value ? r.json('payload') : null,
    payloadRef: r.stringOrNull('payload_ref'),
    processedAt: r.dateOrNull('processed_at'),
    occurrenceKey: 'occurrence_key' in value ? r.stringOrNull('occurrence_key') : null,
    createdAt: r.date('created_at'),
  };
}

export function toIngestCursor(row: Row, fn: string): IngestCursor {
  const r = reader(row, fn);
  return {
    source: r.string('source'),
    scope: r.string('scope'),
    cursor: r.json('cursor'),
    runs: r.int('runs'),
    lastCreated: r.int('last_created'),
    lastRunAt: r.dateOrNull('last_run_at'),
    updatedAt: r.date('updated_at'),
  };
}

export function toSearchHit(row: Row, fn: string): EventSearchHit {
  const rank = Number(reader(row, fn).json('rank'));
  return { event: toStoredEvent(row, fn), rank: Number.isFinite(rank) ? rank : 0 };
}

export function toIdentity(row: Row, fn: string): Identity {
  const r = reader(row, fn);
  const rule = r.string('match_rule');
  if (!(MATCH_RULES as readonly string[]).includes(rule)) r.fail('match_rule', rule);
  const confidence = Number(r.json('confidence'));
  if (!Number.isFinite(confidence)) r.fail('confidence', row.confidence);
  return {
    id: r.string('id'),
    provider: r.string('provider'),
    externalId: r.string('external_id'),
    login: r.stringOrNull('login'),
    email: r.stringOrNull('email'),
    displayName: r.stringOrNull('display_name'),
    canonicalId: r.stringOrNull('canonical_id'),
    confidence,
    matchRule: rule as IdentityMatchRule,
  };
}

export function toTrackedKeyword(row: Row, fn: string): TrackedKeyword {
  const r = reader(row, fn);
  return { id: r.string('id'), keyword: r.string('keyword'), enabled: r.bool('enabled') };
}
