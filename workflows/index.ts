/**
 * Every workflow durasync runs; the worker bundles this module. Workflow code is deterministic and
 * imports only @temporalio/workflow, @temporalio/common and pure modules of this folder (lint-enforced).
 */
export { canary } from './canary';
export type { CanaryResult } from './canary';
export { progressQuery } from './progress';
export type { Progress } from './progress';
