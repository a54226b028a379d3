import type { Duration } from '@temporalio/common';

/**
 * The input of `processWebhookEvent` (workflow id `webhook:<source>:<deliveryId>`, `ingestion`
 * queue). The ingress server starts it by name with this contract; `retry` is optional and only
 * for starters that want another retry policy than the default.
 */
export interface WebhookEventInput {
  source: string;
  deliveryId: string;
  /** e.g. GitHub's X-GitHub-Event */
  event: string;
  /** the JSON body when <= 256 KB */
  payload?: unknown;
  /** object key (lib/objects.ts ObjectStore) when larger */
  payloadRef?: string;
  receivedAt: string;
  /** Retries of database and network failures. Default: 5 attempts, 1 s doubling up to 5 min. */
  retry?: WebhookRetryOptions;
}

export interface WebhookRetryOptions {
  /** Default: 5. */
  maximumAttempts?: number;
  /** A duration (`1s`, `500ms`) or milliseconds. Default: `1s`. */
  initialInterval?: Duration;
  /** Default: `5m`. */
  maximumInterval?: Duration;
  /** Default: 2. */
  backoffCoefficient?: number;
}

/** Who did it, as the provider names them: what identity resolution links. */
export interface EventActor {
  provider: string;
  externalId: string;
  login?: string;
  email?: string;
  name?: string;
}

export interface StoredEventSummary {
  eventId: string;
  /** false: the delivery was stored before (a duplicate). */
  created: boolean;
  /** e.g. `pull_request.opened`. */
  kind: string;
  repository: string | null;
  actor: EventActor | null;
}

export interface WebhookEventResult {
  workflowId: string;
  eventId: string;
  kind: string;
  created: boolean;
  keywords: { keyword: string; occurrences: number }[];
  identityId: string | null;
}

/** ApplicationFailure types of the ingestion activities. */
export const INGESTION_FAILURE_TYPES = {
  /** The payload cannot be read as the event it claims to be: never retried, dead-lettered. */
  invalidEvent: 'InvalidEvent',
} as const;

/** The workflow id of a delivery. */
export const webhookWorkflowId = (source: string, deliveryId: string): string => `webhook:${source}:${deliveryId}`;

/** The dead letter source of a webhook source. */
export const webhookDeadLetterSource = (source: string): string => `webhook:${source}`;

/** DurasyncKind of every ingestSource workflow. */
export const INGEST_KIND = 'ingest';

/**
 * The input of `ingestSource` (`ingestion` queue; id `ingest:<source>:<scope>`, or the schedule's).
 * `config` is the plugin's (lib/ingest/sources), e.g. `{ repo: 'owner/name' }` for `github`.
 */
export interface IngestSourceInput {
  /** A source plugin's id, e.g. `github`. */
  source: string;
  config: Record<string, unknown>;
  /** ISO time: pull only events at or after it, regardless of the saved cursor (a backfill). Default: from the cursor. */
  since?: string;
  /** Pages before the workflow continues as new (its history stays small). Default: 50. */
  maxPagesPerRun?: number;
  /** Carried over by continue-as-new; not for starters. */
  resume?: IngestResume;
}

export interface IngestTotals {
  pages: number;
  /** Events the pages held (after the cursor). */
  fetched: number;
  /** Stored for the first time. */
  created: number;
  /** Stored before: by an earlier pull, or by a webhook of the same occurrence. */
  duplicates: number;
  /** Created events whose keywords and actor were recorded. */
  enriched: number;
}

export interface IngestResume {
  scope: string;
  queue: string;
  /** The cursor the pull started from. */
  cursor: unknown;
  /** The next page to fetch. */
  page: string;
  totals: IngestTotals;
}

export interface IngestSourceResult extends IngestTotals {
  workflowId: string;
  source: string;
  scope: string;
  /** Nothing new (the provider said not modified, or asked us to wait). */
  notModified: boolean;
  pollIntervalSeconds: number | null;
}

/** The event of a pulled page the workflow enriches (created ones only). */
export interface PulledEventRef {
  eventId: string;
  actor: EventActor | null;
}

/** ApplicationFailure type of a source id or config that cannot be pulled (non-retryable). */
export const INVALID_SOURCE = 'InvalidSource';

/** The workflow id of a pull started by hand: `ingest:<source>:<scope>`. */
export const ingestWorkflowId = (source: string, scope: string): string => `ingest:${source}:${scope}`;
