import { defineQuery } from '@temporalio/workflow';

/**
 * Every durasync workflow answers the `progress` query, so that `durasync start --wait` and
 * `durasync status` show live progress for any workflow type.
 */
export interface Progress {
  /** What the workflow is doing now, e.g. `probing`, `uploading`, `done`. */
  stage: string;
  /** Units done and expected, when the workflow counts something. */
  done?: number;
  total?: number;
  /** One line for humans. */
  message?: string;
}

export const progressQuery = defineQuery<Progress>('progress');
