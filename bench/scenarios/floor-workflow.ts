/**
 * The Temporal floor's workflow (bench/scenarios/floor.ts): `activities` no-op activities in turn,
 * nothing else; no interceptors, search attributes, queries or codec. Bundled on its own, so it
 * imports only @temporalio/workflow.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface FloorActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1m' });

export async function floorWorkflow(activities: number): Promise<void> {
  for (let i = 0; i < activities; i++) await noop();
}
