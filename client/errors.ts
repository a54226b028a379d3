import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError as SdkWorkflowNotFoundError,
  ScheduleAlreadyRunning as SdkScheduleAlreadyRunning,
  ScheduleNotFoundError as SdkScheduleNotFoundError,
} from '@temporalio/client';

/**
 * The typed errors of the durasync client SDK (client/index.ts). Each has `name` set and typed
 * fields; they are mapped from the Temporal SDK's errors by class (toDurasyncError), never by
 * message text, and keep the SDK's error as `cause`.
 */

/** No workflow execution with this id (or id and run id) exists in the namespace. */
export class WorkflowNotFoundError extends Error {
  override readonly name = 'WorkflowNotFoundError';
  /** The workflow id that was asked for. */
  readonly workflowId: string;
  /** The run id that was asked for, when one was. */
  readonly runId?: string;

  constructor(workflowId: string, runId?: string, options?: { cause?: unknown }) {
    super(`workflow ${workflowId}${runId ? ` (run ${runId})` : ''} not found`, options);
    this.workflowId = workflowId;
    if (runId) this.runId = runId;
  }
}

/** A start with a workflow id that a running workflow already has. */
export class WorkflowAlreadyRunningError extends Error {
  override readonly name = 'WorkflowAlreadyRunningError';
  /** The workflow id that is taken. */
  readonly workflowId: string;
  /** The workflow type of the execution that was refused. */
  readonly workflowType: string;

  constructor(workflowId: string, workflowType: string, options?: { cause?: unknown }) {
    super(`workflow ${workflowId} is already running`, options);
    this.workflowId = workflowId;
    this.workflowType = workflowType;
  }
}

/** No schedule with this id exists in the namespace (never created, or deleted). */
export class ScheduleNotFoundError extends Error {
  override readonly name = 'ScheduleNotFoundError';
  /** The schedule id that was asked for. */
  readonly scheduleId: string;

  constructor(scheduleId: string, options?: { cause?: unknown }) {
    super(`schedule ${scheduleId} not found`, options);
    this.scheduleId = scheduleId;
  }
}

/** A schedule create with an id that an existing (not deleted) schedule already has. */
export class ScheduleAlreadyExistsError extends Error {
  override readonly name = 'ScheduleAlreadyExistsError';
  /** The schedule id that is taken. */
  readonly scheduleId: string;

  constructor(scheduleId: string, options?: { cause?: unknown }) {
    super(`schedule ${scheduleId} already exists`, options);
    this.scheduleId = scheduleId;
  }
}

/** A sync of a link was asked for while a run of that link (workflow `sync:<linkId>`) is in progress. */
export class SyncAlreadyRunningError extends Error {
  override readonly name = 'SyncAlreadyRunningError';
  /** The link that is syncing. */
  readonly linkId: string;
  /** `sync:<linkId>`. */
  readonly workflowId: string;
  /** The run in progress. */
  readonly runId: string;

  constructor(linkId: string, runId: string, options?: { cause?: unknown }) {
    super(`link ${linkId} is already syncing (run ${runId})`, options);
    this.linkId = linkId;
    this.workflowId = `sync:${linkId}`;
    this.runId = runId;
  }
}

/** A sync run of the link was to be signalled (cancel) but none is in progress. */
export class SyncNotRunningError extends Error {
  override readonly name = 'SyncNotRunningError';
  /** The link asked for. */
  readonly linkId: string;
  /** `sync:<linkId>`. */
  readonly workflowId: string;

  constructor(linkId: string, options?: { cause?: unknown }) {
    super(`link ${linkId} is not syncing (no run of sync:${linkId} in progress)`, options);
    this.linkId = linkId;
    this.workflowId = `sync:${linkId}`;
  }
}

/** How a workflow that did not complete ended. */
export type WorkflowFailureStatus = 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'TIMED_OUT';

/** One link of a failure's cause chain, outermost first. */
export interface FailureCause {
  /** The SDK failure class: `ApplicationFailure`, `ActivityFailure`, `TerminatedFailure`, ... */
  name: string;
  message: string;
  /** ApplicationFailure only: its `type` (e.g. `GithubNotFound`). */
  type?: string;
  /** ApplicationFailure only: whether it was marked non-retryable. */
  nonRetryable?: boolean;
  /** ActivityFailure only: the activity type that failed. */
  activityType?: string;
}

/**
 * A workflow that ended without a result: failed, cancelled, terminated or timed out. `cause` is
 * the SDK's failure (TemporalFailure subclass) and `causes` its whole chain in plain data, e.g.
 * `ActivityFailure` -> `ApplicationFailure` (type `GithubNotFound`).
 */
export class DurasyncWorkflowFailedError extends Error {
  override readonly name = 'DurasyncWorkflowFailedError';
  /** The workflow id whose result was asked for. */
  readonly workflowId: string;
  /** How it ended. */
  readonly status: WorkflowFailureStatus;
  /** The class of the outermost failure: `ApplicationFailure`, `TerminatedFailure`, `CancelledFailure`, `TimeoutFailure`, ... */
  readonly failureType: string;
  /** The `type` of the innermost ApplicationFailure in the chain, when there is one. */
  readonly applicationFailureType?: string;
  /** The cause chain, outermost first. */
  readonly causes: FailureCause[];
  /** Whether the server would retry the workflow (the SDK's RetryState, e.g. `NON_RETRYABLE_FAILURE`). */
  readonly retryState: string;

  constructor(workflowId: string, sdkError: WorkflowFailedError) {
    const causes = causeChain(sdkError.cause);
    const first = causes[0];
    super(`workflow ${workflowId} ${statusOf(sdkError.cause).toLowerCase().replace('_', ' ')}: ${first ? `${first.name}: ${first.message}` : sdkError.message}`, {
      cause: sdkError.cause ?? sdkError,
    });
    this.workflowId = workflowId;
    this.status = statusOf(sdkError.cause);
    this.failureType = first?.name ?? 'unknown';
    const application = [...causes].reverse().find((c) => c.type !== undefined);
    if (application?.type) this.applicationFailureType = application.type;
    this.causes = causes;
    this.retryState = String(sdkError.retryState ?? 'UNSPECIFIED');
  }
}

/** The error classes of this module. */
export type DurasyncClientError =
  | WorkflowNotFoundError
  | WorkflowAlreadyRunningError
  | DurasyncWorkflowFailedError
  | ScheduleNotFoundError
  | ScheduleAlreadyExistsError
  | SyncAlreadyRunningError
  | SyncNotRunningError;

function statusOf(cause: Error | undefined): WorkflowFailureStatus {
  if (cause instanceof TerminatedFailure) return 'TERMINATED';
  if (cause instanceof CancelledFailure) return 'CANCELLED';
  if (cause instanceof TimeoutFailure) return 'TIMED_OUT';
  return 'FAILED';
}

/** The failure chain as plain data (at most 20 links), outermost first. */
export function causeChain(error: unknown): FailureCause[] {
  const chain: FailureCause[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 20) {
    const link: FailureCause = { name: current.name, message: current.message };
    if (current instanceof ApplicationFailure) {
      if (current.type) link.type = current.type;
      if (current.nonRetryable) link.nonRetryable = true;
    }
    if (current instanceof ActivityFailure) link.activityType = current.activityType;
    if (current instanceof ChildWorkflowFailure) link.message ||= `child workflow ${current.workflowType} failed`;
    chain.push(link);
    current = current.cause;
  }
  return chain;
}

/**
 * Maps an error of the Temporal SDK to durasync's typed error, by class: the SDK's
 * WorkflowNotFoundError, WorkflowExecutionAlreadyStartedError, WorkflowFailedError,
 * ScheduleNotFoundError and ScheduleAlreadyRunning. Anything else is returned as it is (coerced to
 * an Error keeping the original as `cause`). `workflowId`: the workflow (or schedule) id of the call.
 */
export function toDurasyncError(err: unknown, workflowId: string): Error {
  if (err instanceof SdkScheduleNotFoundError) return new ScheduleNotFoundError(err.scheduleId || workflowId, { cause: err });
  if (err instanceof SdkScheduleAlreadyRunning) return new ScheduleAlreadyExistsError(err.scheduleId || workflowId, { cause: err });
  if (err instanceof SdkWorkflowNotFoundError) return new WorkflowNotFoundError(err.workflowId || workflowId, err.runId, { cause: err });
  if (err instanceof WorkflowExecutionAlreadyStartedError) return new WorkflowAlreadyRunningError(err.workflowId || workflowId, err.workflowType, { cause: err });
  if (err instanceof WorkflowFailedError) return new DurasyncWorkflowFailedError(workflowId, err);
  if (err instanceof Error) return err;
  return new Error(String(err), { cause: err });
}
