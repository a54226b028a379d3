import { ApplicationFailure } from '@temporalio/common';
import { ConflictError, InvalidArgumentError, NotFoundError, type JsonValue, type Store } from '../lib/db/store';

/** What the job activities need: the rows of sync_jobs. */
export interface JobActivityDeps {
  store: Pick<Store, 'getSyncJob' | 'finishSyncJob'>;
}

/** The most bytes of a job's payload (as JSON) that may enter workflow history: ids and options only. */
export const MAX_JOB_PAYLOAD_BYTES = 8 * 1024;

/** A row of sync_jobs as the `syncJob` workflow sees it. */
export interface LoadedSyncJob {
  id: string;
  kind: string;
  linkId: string | null;
  /** The row's payload; null when it was larger than MAX_JOB_PAYLOAD_BYTES (see payloadError). */
  payload: JsonValue;
  /** Set when the payload cannot be used: the job fails with this message. */
  payloadError?: string;
  status: string;
  /** How many times the row was claimed (a re-claim after a lease counts). */
  attempts: number;
}

export interface JobActivities {
  /** The job's row. Fails for good (SyncJobNotFound) when there is none. */
  loadSyncJob(jobId: string): Promise<LoadedSyncJob>;
  /**
   * Finishes the row: `succeeded` with `detail` as its result, or `failed` with `detail` (one line)
   * as its last error. Idempotent; a row already finished the other way fails for good (SyncJobConflict).
   */
  finishSyncJob(jobId: string, status: 'succeeded' | 'failed', detail?: JsonValue): Promise<{ status: string }>;
}

/** The store's refusals that a retry cannot change, as non-retryable failures; the rest as they are. */
function storeFailure(err: unknown): unknown {
  if (err instanceof NotFoundError) return ApplicationFailure.nonRetryable(err.message, 'SyncJobNotFound');
  if (err instanceof ConflictError) return ApplicationFailure.nonRetryable(err.message, 'SyncJobConflict');
  if (err instanceof InvalidArgumentError) return ApplicationFailure.nonRetryable(err.message, 'InvalidArgument');
  return err;
}

export function createJobActivities({ store }: JobActivityDeps): JobActivities {
  return {
    async loadSyncJob(jobId) {
      const job = await store.getSyncJob(jobId).catch((err: unknown) => {
        throw storeFailure(err);
      });
      if (!job) throw ApplicationFailure.nonRetryable(`sync job ${jobId} not found`, 'SyncJobNotFound');
      const size = Buffer.byteLength(JSON.stringify(job.payload ?? null), 'utf8');
      const tooLarge = size > MAX_JOB_PAYLOAD_BYTES;
      return {
        id: job.id,
        kind: job.kind,
        linkId: job.linkId,
        payload: tooLarge ? null : job.payload,
        ...(tooLarge ? { payloadError: `job payload is ${size} bytes, more than ${MAX_JOB_PAYLOAD_BYTES}: a payload carries ids and options only` } : {}),
        status: job.status,
        attempts: job.attempts,
      };
    },

    async finishSyncJob(jobId, status, detail) {
      const input =
        status === 'succeeded'
          ? { id: jobId, status, ...(detail === undefined ? {} : { result: detail }) }
          : { id: jobId, status, error: typeof detail === 'string' ? detail : JSON.stringify(detail ?? 'failed') };
      const job = await store.finishSyncJob(input).catch((err: unknown) => {
        throw storeFailure(err);
      });
      return { status: job.status };
    },
  };
}
