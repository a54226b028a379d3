import type { CreateScheduleOptions } from './schedules';

/** When a job's schedule runs, as the SDK's schedule() methods take it: exactly one of `every` and `cron`. */
export interface JobScheduleTiming {
  every?: string;
  cron?: string;
  /** Default: false. */
  paused?: boolean;
  note?: string;
}

/**
 * schedules.create() options of a durasync job on a timetable (sync.schedule(), ingest.schedule(),
 * analytics.schedule()): overlap SKIP: a run still in progress when the next is due makes the
 * schedule skip that one rather than run two alongside each other.
 */
export function jobScheduleOptions(
  job: Pick<CreateScheduleOptions, 'scheduleId' | 'workflowType' | 'args' | 'queue' | 'typedSearchAttributes'>,
  { every, cron, paused = false, note }: JobScheduleTiming,
): CreateScheduleOptions {
  return {
    ...job,
    ...(every !== undefined ? { every } : {}),
    ...(cron !== undefined ? { cron } : {}),
    overlap: 'SKIP',
    paused,
    ...(note ? { note } : {}),
  };
}
