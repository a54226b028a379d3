import { ApplicationFailure } from '@temporalio/activity';
import type { JsonValue, RecordDeadLetterInput, Store } from '../lib/db/store';
import type { Logger } from '../lib/logger';
import type { ObjectStore } from '../lib/objects';
import { INGESTION_FAILURE_TYPES, type EventActor, type StoredEventSummary, type WebhookEventInput } from '../workflows/ingestion/types';
import { InvalidEventError, normalizeEvent } from './ingestion-github';

/**
 * The `ingestion` queue's activities for webhook deliveries (workflow processWebhookEvent). Each
 * is one or two SQL functions and idempotent: the event is upserted on (source, deliveryId),
 * keyword hits replace earlier counts, identities are upserted on (provider, id). A payload that
 * is not the event it claims to be fails non-retryably (`InvalidEvent`); database and object
 * store failures are thrown as they are, for the workflow's retry policy. Payloads are never logged.
 */
export interface IngestionDeps {
  store: Pick<Store, 'upsertEvent' | 'recordEventKeywords' | 'linkIdentity' | 'markEventsProcessed' | 'recordDeadLetter' | 'aggregateDailyMetrics'>;
  /** Where large payloads (payloadRef) are read, and dead-lettered inline payloads kept. Null: none configured. */
  objects: Pick<ObjectStore, 'get' | 'put'> | null;
  logger: Logger;
}

/** The input a dead letter keeps to re-run a delivery: never the payload itself. */
export type WebhookInputRef = Omit<WebhookEventInput, 'payload'>;

export interface RecordWebhookDeadLetterInput {
  input: WebhookEventInput;
  workflowId: string;
  runId: string;
  errorType: string;
  errorMessage: string;
  attempts?: number;
}

/** Where an inline payload of a dead-lettered delivery is kept, so that a retry has it. */
export const deadLetterPayloadKey = (source: string, deliveryId: string): string =>
  `dead-letters/webhook/${encodeURIComponent(source)}/${encodeURIComponent(deliveryId)}.json`;

function invalid(message: string, cause?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type: INGESTION_FAILURE_TYPES.invalidEvent, nonRetryable: true, message, cause: cause instanceof Error ? cause : undefined });
}

export function createIngestionActivities(deps: IngestionDeps) {
  const { store, objects, logger } = deps;

  async function readPayload(input: WebhookEventInput): Promise<unknown> {
    if (input.payloadRef === undefined) {
      if (input.payload === undefined) throw invalid(`delivery ${input.deliveryId} has neither payload nor payloadRef`);
      return input.payload;
    }
    if (!objects) throw invalid(`delivery ${input.deliveryId} has a payloadRef but no object store is configured`);
    const body = await objects.get(input.payloadRef);
    if (body === null) throw invalid(`payload object ${input.payloadRef} does not exist`);
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch (err) {
      throw invalid(`payload object ${input.payloadRef} is not JSON`, err);
    }
  }

  return {
    /** Reads the payload (inline or from the object store), normalises it and stores the event once. */
    async normalizeAndStore(input: WebhookEventInput): Promise<StoredEventSummary> {
      const payload = await readPayload(input);
      let normalized;
      try {
        normalized = normalizeEvent(input.source, input.event, payload);
      } catch (err) {
        if (err instanceof InvalidEventError) throw invalid(err.message, err);
        throw err;
      }
      const receivedAt = new Date(input.receivedAt);
      const { event, created } = await store.upsertEvent({
        source: input.source,
        externalId: input.deliveryId,
        kind: normalized.kind,
        occurredAt: normalized.occurredAt ?? (Number.isNaN(receivedAt.getTime()) ? new Date() : receivedAt),
        // A large payload stays in object storage; the row keeps its key.
        payload: input.payloadRef === undefined ? ((payload ?? null) as JsonValue) : {},
        payloadRef: input.payloadRef ?? null,
        type: normalized.type,
        action: normalized.action,
        repository: normalized.repository,
        title: normalized.title,
        body: normalized.body,
        occurrenceKey: normalized.occurrenceKey,
      });
      logger.debug({ source: input.source, deliveryId: input.deliveryId, kind: normalized.kind, created }, 'webhook event stored');
      return { eventId: event.id, created, kind: normalized.kind, repository: normalized.repository, actor: normalized.actor };
    },

    /** Records the tracked keywords found in the event (whole words, any case). */
    async extractKeywords(eventId: string): Promise<{ keyword: string; occurrences: number }[]> {
      return store.recordEventKeywords(eventId);
    },

    /** Links the actor to an identity (with confidence and rule) and makes it the event's actor. */
    async resolveIdentity(input: { eventId: string; actor: EventActor }): Promise<{ identityId: string; canonicalId: string | null; confidence: number; matchRule: string }> {
      const { actor } = input;
      const identity = await store.linkIdentity({ provider: actor.provider, externalId: actor.externalId, login: actor.login, email: actor.email, name: actor.name, eventId: input.eventId });
      return { identityId: identity.id, canonicalId: identity.canonicalId, confidence: identity.confidence, matchRule: identity.matchRule };
    },

    /** Marks the events enriched (events.processed_at), those not marked yet. */
    async markEventsProcessed(eventIds: string[]): Promise<number> {
      return store.markEventsProcessed(eventIds);
    },

    /**
     * Records a delivery given up on in dead_letters (source `webhook:<source>`, ref = deliveryId).
     * An inline payload is kept in the object store first, so the dead letter's input can re-run it.
     */
    async recordDeadLetter(input: RecordWebhookDeadLetterInput): Promise<{ deadLetterId: string }> {
      const { payload, retry: _retry, ...ref } = input.input;
      let inputRef: WebhookInputRef = ref;
      if (ref.payloadRef === undefined && payload !== undefined && objects) {
        const key = deadLetterPayloadKey(ref.source, ref.deliveryId);
        await objects.put(key, Buffer.from(JSON.stringify(payload)), 'application/json');
        inputRef = { ...ref, payloadRef: key };
      }
      const record: RecordDeadLetterInput = {
        source: `webhook:${ref.source}`,
        ref: ref.deliveryId,
        errorType: input.errorType,
        errorMessage: input.errorMessage.slice(0, 2000),
        details: { input: inputRef as unknown as JsonValue, workflowId: input.workflowId, inlinePayload: payload !== undefined },
        workflowId: input.workflowId,
        runId: input.runId,
        attempts: input.attempts,
      };
      const letter = await store.recordDeadLetter(record);
      logger.warn({ source: record.source, ref: record.ref, errorType: record.errorType, workflowId: input.workflowId }, 'webhook event dead-lettered');
      return { deadLetterId: letter.id };
    },

    /**
     * Recomputes the daily event metrics of from..to (inclusive, UTC) from the events (workflow
     * dailyAnalytics, one call per chunk of days). Idempotent: a re-run writes the same rows.
     */
    async aggregateDailyMetrics(range: { from: string; to: string }): Promise<{ from: string; to: string; rows: number }> {
      const rows = await store.aggregateDailyMetrics(range);
      logger.debug({ from: range.from, to: range.to, rows }, 'daily metrics aggregated');
      return { from: range.from, to: range.to, rows };
    },
  };
}

export type IngestionActivities = ReturnType<typeof createIngestionActivities>;
