import { rm } from 'node:fs/promises';
import type { DevServer } from '../workers/temporal-dev-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __durasyncTemporal?: DevServer }).__durasyncTemporal?.stop();
  if (process.env.DURASYNC_TEST_WORKFLOW_BUNDLE) await rm(process.env.DURASYNC_TEST_WORKFLOW_BUNDLE, { force: true });
}
