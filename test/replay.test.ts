import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { testWorkflowBundle } from './helpers/temporal';

/**
 * Every history in test/histories/ (recorded from real runs: `temporal workflow show -w ID -o json`)
 * must replay against the current workflow code. A change that would break running workflows fails
 * here: guard it with `patched()` and keep the old history.
 */
const HISTORIES = path.join(__dirname, 'histories');
const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json')).sort();

async function* histories(names: string[]) {
  for (const name of names) {
    yield { workflowId: name, history: JSON.parse(readFileSync(path.join(HISTORIES, name), 'utf8')) as unknown };
  }
}

describe('replay of recorded histories', () => {
  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('replays every history in test/histories against the current workflow code', async () => {
    const results: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: testWorkflowBundle() }, histories(files))) {
      results.push({ workflowId: result.workflowId, error: result.error });
    }
    expect(results.map((r) => r.workflowId).sort()).toEqual(files);
    for (const r of results) expect({ workflowId: r.workflowId, error: r.error }).toEqual({ workflowId: r.workflowId, error: undefined });
  });

  it('detects a non-deterministic change to the canary workflow', async () => {
    const canaryHistory = files.find((f) => f.startsWith('canary'));
    expect(canaryHistory).toBeDefined();
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/changed-canary'), logger: new DefaultLogger('WARN') });
    const history = JSON.parse(readFileSync(path.join(HISTORIES, canaryHistory!), 'utf8')) as unknown;
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history)).rejects.toThrow(DeterminismViolationError);
  });

  it('proves the patched() change of the canary was needed: without the guard, histories recorded before it break', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/unguarded-canary'), logger: new DefaultLogger('WARN') });
    const before = JSON.parse(readFileSync(path.join(HISTORIES, 'canary-ok.json'), 'utf8')) as unknown;
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, before)).rejects.toThrow(DeterminismViolationError);
  });
});
