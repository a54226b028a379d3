/**
 * Every workflow durasync runs; the worker bundles this module. Workflow code is deterministic and
 * imports only @temporalio/workflow, @temporalio/common and pure modules of this folder (lint-enforced).
 */
export { canary } from './canary';
export type { CanaryResult } from './canary';
export { syncJob } from './sync-job';
export type { SyncJobInput, SyncJobResult } from './sync-job';
export { progressQuery } from './progress';
export type { Progress } from './progress';
export { syncLink, driveToGithub, githubToDrive, cancelSyncSignal } from './sync/sync-link';
export type { SyncLinkInput, SyncRunResult, SyncTotals } from './sync/sync-link';
export { scheduledSync } from './sync/scheduled-sync';
export type { ScheduledSyncInput, ScheduledSyncResult, ScheduledSyncSkipped } from './sync/scheduled-sync';
export { branchDeltas, compactBranch, cleanupBranch, changesSignal, flushUpdate, statsQuery, branchWorkflowId } from './branches/branch-deltas';
export type { BranchDeltasInput, CompactBranchInput, CompactBranchResult, CleanupBranchResult } from './branches/branch-deltas';
export type { BranchStats, Change, ChangesSignal, DeltaSummary } from './branches/types';
export { processWebhookEvent } from './ingestion/process-webhook-event';
export type { WebhookEventInput, WebhookEventResult, WebhookRetryOptions } from './ingestion/types';
export { dailyAnalytics, analyticsWorkflowId } from './ingestion/daily-analytics';
export type { DailyAnalyticsInput, DailyAnalyticsResult } from './ingestion/daily-analytics';
export { ingestSource } from './ingestion/ingest-source';
export type { IngestSourceInput, IngestSourceResult, IngestTotals } from './ingestion/types';
export { deliverNotifications, notificationWorkflowId } from './notifications';
export type { DeliverNotificationsInput, DeliverNotificationsResult } from './notifications';
export { exportEvents, exportWorkflowId } from './ingestion/export-events';
export type { ExportEventsInput, ExportEventsResult, ExportTarget, ExportFormat } from './ingestion/export-events';
