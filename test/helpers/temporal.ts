import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { findTemporalBinary } from '../../lib/tools';
import { registerSearchAttributes } from '../../workers/search-attributes';

/**
 * Temporal helpers for tests. The jest global setup runs one dev server for the whole run and
 * bundles the workflow code once; each test gets its own task queue and workflow ids.
 */

/** The dev server of this test run, as the SDK's test environment (client + native connection). */
export async function connectTestEnv(): Promise<TestWorkflowEnvironment> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run tests through jest (test/global-setup.ts)');
  return TestWorkflowEnvironment.createFromExistingServer({ address, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
}

/** A time-skipping test server (temporal-test-server from .tools, never downloaded), with durasync's search attributes. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: findTemporalBinary('temporal-test-server') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** The workflow bundle built once by the global setup (workflows/ with durasync's interceptors). */
export function testWorkflowBundle(): WorkflowBundleOption {
  const codePath = process.env.DURASYNC_TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('DURASYNC_TEST_WORKFLOW_BUNDLE is not set: run tests through jest (test/global-setup.ts)');
  return { codePath };
}

/** A task queue no other test uses. */
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/** A workflow id no other test uses. */
export function uniqueWorkflowId(name: string): string {
  return `test:${name}:${randomUUID()}`;
}
