import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from '../lib/logger';

export const WORKFLOWS_PATH = require.resolve('../workflows');
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../workflows/interceptors')];

/**
 * The workflow code a worker runs: a prebuilt bundle (`npm run build`, DURASYNC_WORKFLOW_BUNDLE)
 * in production, else bundled from source once per process and shared by all of its workers.
 */
export async function loadWorkflowBundle(prebuiltPath: string | undefined, logger: Logger): Promise<WorkflowBundleOption> {
  if (prebuiltPath) return { codePath: path.resolve(prebuiltPath) };
  const started = Date.now();
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: quietBundlerLogger(logger),
  });
  logger.info({ ms: Date.now() - started, bytes: code.length }, 'workflow code bundled');
  return { code };
}

/** Writes the workflow bundle to `outFile` for production workers (`durasync build-workflows`). */
export async function writeWorkflowBundle(outFile: string, logger: Logger): Promise<number> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
    logger: quietBundlerLogger(logger),
  });
  await mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
  await writeFile(outFile, code);
  return code.length;
}

function quietBundlerLogger(logger: Logger) {
  const child = logger.child({ component: 'bundler' });
  return {
    log: (_level: string, message: string) => child.debug(message),
    trace: (message: string) => child.trace(message),
    debug: (message: string) => child.debug(message),
    info: (message: string) => child.debug(message),
    warn: (message: string, meta?: Record<string, unknown>) => child.warn(meta ?? {}, message),
    error: (message: string, meta?: Record<string, unknown>) => child.error(meta ?? {}, message),
  };
}
