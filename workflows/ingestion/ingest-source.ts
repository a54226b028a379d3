import { ApplicationFailure, continueAsNew, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SourceActivities } from '../../activities/ingest-source';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncSource, DurasyncStatus } from '../search-attributes';
import { INGEST_KIND, INVALID_SOURCE, type IngestSourceInput, type IngestSourceResult, type IngestTotals } from './types';

/** Pages before continue-as-new, unless the input says otherwise. */
export const DEFAULT_MAX_PAGES_PER_RUN = 50;

// Bookkeeping on the ingestion queue: database calls, retried with backoff.
const RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 } as const;
const { prepareIngest } = proxyActivities<SourceActivities>({ startToCloseTimeout: '1m', retry: RETRY, summary: 'check the source config, load its cursor' });
const { saveIngestCursor } = proxyActivities<SourceActivities>({ startToCloseTimeout: '1m', retry: RETRY, summary: 'save where the pull stopped' });

/** The `ingestion`-queue prefix -> the same deployment's queue `name` (an API queue, or ingestion itself). */
function sameDeploymentQueue(name: string): string {
  const own = workflowInfo().taskQueue;
  const prefix = own.endsWith('ingestion') ? own.slice(0, -'ingestion'.length) : '';
  return `${prefix}${name}`;
}

/**
 * Pulls a source's new events (`ingest:<source>:<scope>`, or a schedule's id): a page at a time,
 * each fetched and stored by a heartbeating activity on the source's queue (GitHub: `github-api`),
 * the created events enriched (keywords, identity) on `ingestion`, and the cursor saved once the
 * last page is in. Long pulls continue as new every `maxPagesPerRun` pages. An unknown source or a
 * bad config fails at once (non-retryable `InvalidSource`); provider failures retry with backoff
 * (rate limits after the provider's reset).
 */
export async function ingestSource(input: IngestSourceInput): Promise<IngestSourceResult> {
  const { workflowId } = workflowInfo();
  let progress: Progress = { stage: 'preparing', message: `checking source ${input?.source}` };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  report(progress);
  if (typeof input?.source !== 'string' || typeof input.config !== 'object' || input.config === null) {
    throw ApplicationFailure.create({ type: INVALID_SOURCE, nonRetryable: true, message: 'ingestSource needs { source, config }' });
  }
  upsertSearchAttributes([
    { key: DurasyncKind, value: INGEST_KIND },
    { key: DurasyncSource, value: input.source },
  ]);

  const since = input.since ?? null;
  const prepared = input.resume ?? (await prepareIngest({ source: input.source, config: input.config }));
  const { scope, queue, cursor } = prepared;
  // The input's, else the setting ingest.pages_per_run that prepareIngest read (histories from
  // before it have no pagesPerRun); a continued run gets the first run's value in its input.
  const pagesPerRun = 'pagesPerRun' in prepared && typeof prepared.pagesPerRun === 'number' ? prepared.pagesPerRun : undefined;
  const maxPages = Math.max(1, input.maxPagesPerRun ?? pagesPerRun ?? DEFAULT_MAX_PAGES_PER_RUN);
  const totals: IngestTotals = input.resume?.totals ?? { pages: 0, fetched: 0, created: 0, duplicates: 0, enriched: 0 };
  const { pullSourcePage } = proxyActivities<SourceActivities>({
    taskQueue: sameDeploymentQueue(queue),
    startToCloseTimeout: '5m',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 10 },
    summary: `fetch and store a page of ${input.source} ${scope}`,
  });
  const { enrichEvents } = proxyActivities<SourceActivities>({ startToCloseTimeout: '5m', heartbeatTimeout: '1m', retry: RETRY, summary: 'record keywords and actors of new events' });

  let page: string | null = input.resume?.page ?? null;
  let pagesThisRun = 0;
  let notModified = false;
  let pollIntervalSeconds: number | null = null;
  let latestCursor: unknown = cursor;
  do {
    if (pagesThisRun >= maxPages && page !== null) {
      return continueAsNew<typeof ingestSource>({ ...input, maxPagesPerRun: maxPages, resume: { scope, queue, cursor, page, totals } });
    }
    report({ stage: 'pulling', done: totals.pages, message: `page ${totals.pages + 1} of ${input.source} ${scope}: ${totals.created} new so far` });
    const result = await pullSourcePage({ source: input.source, config: input.config, cursor, page, since });
    totals.pages++;
    pagesThisRun++;
    totals.fetched += result.fetched;
    totals.created += result.created.length;
    totals.duplicates += result.duplicates;
    notModified = result.notModified;
    pollIntervalSeconds = result.pollIntervalSeconds ?? pollIntervalSeconds;
    latestCursor = result.cursor;
    if (result.created.length > 0) totals.enriched += (await enrichEvents({ events: result.created })).enriched;
    page = result.nextPage;
  } while (page !== null);

  await saveIngestCursor({ source: input.source, scope, cursor: latestCursor, created: totals.created });
  const status = notModified && totals.fetched === 0 ? 'not_modified' : 'pulled';
  upsertSearchAttributes([{ key: DurasyncStatus, value: status }]);
  report({
    stage: 'done',
    done: totals.pages,
    total: totals.pages,
    message: notModified && totals.fetched === 0 ? `**nothing new** in ${input.source} ${scope}` : `**${totals.created} new event(s)** from ${input.source} ${scope} (${totals.duplicates} already stored, ${totals.pages} page(s))`,
  });
  return { workflowId, source: input.source, scope, ...totals, notModified: notModified && totals.fetched === 0, pollIntervalSeconds };
}
