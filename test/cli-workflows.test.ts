import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { findTemporalBinary } from '../lib/tools';
import { createDurasyncClient, type DurasyncClient } from '../client';
import { runDurasyncSplit } from './helpers/process';
import { uniqueWorkflowId } from './helpers/temporal';
import { startTestWorker, type TestWorker } from './helpers/worker';

/**
 * The generic workflow commands of the `durasync` CLI as child processes, against the test run's
 * Temporal dev server and a worker of the sync queue in this process (on a task queue prefix of its
 * own, passed to the CLI's environment).
 */
interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('durasync workflow commands', () => {
  const prefix = `cli-${randomUUID().slice(0, 8)}-`;
  let testWorker: TestWorker;
  let client: DurasyncClient;
  let tmp: string;

  /** Runs `durasync <args>` with the suite's prefix, stdout and stderr apart. */
  async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    return runDurasyncSplit(args, { DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_LOG_LEVEL: 'warn', DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE!, ...extraEnv });
  }

  /** The one JSON document a --json command printed. */
  const json = <T = Record<string, unknown>>(r: CliResult): T => JSON.parse(r.stdout) as T;
  const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';
  const heldCanary = (name: string) => client.workflows.start('canary', { args: [{ holdMs: 30_000 }], workflowId: uniqueWorkflowId(name) });

  beforeAll(async () => {
    testWorker = await startTestWorker({ prefix });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'durasync-cli-'));
    client = await createDurasyncClient({ config: testWorker.config });
  });

  afterAll(async () => {
    await client?.close();
    await testWorker?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('starts a workflow, waits with live progress on stderr, and prints its result', async () => {
    const [human, scripted, started] = await Promise.all([
      cli(['start', 'canary', '--input', '{"holdMs":1500}', '--wait']),
      cli(['--json', 'start', 'canary', '--input', '{}', '--id', uniqueWorkflowId('cli-start'), '--wait']),
      cli(['start', 'canary', '--json', '--queue', 'sync']),
    ]);
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/^started canary canary:\S+ \(run \S+\) on queue sync$/m);
    expect(human.stderr).toMatch(/^progress: probing: probing the database and cache/m);
    expect(human.stderr).toMatch(/^progress: done: ok$/m);
    expect(JSON.parse(human.stdout)).toMatchObject({ status: 'ok', workflowTaskQueue: `${prefix}sync` });

    expect(scripted.code).toBe(0);
    expect(scripted.stderr).not.toContain('progress:');
    const document = json<{ workflowId: string; runId: string; result: unknown }>(scripted);
    expect(document.workflowId).toMatch(/^test:cli-start:/);
    expect(document.runId).toMatch(/^[\w-]{36}$/);
    expect(document.result).toMatchObject({ status: 'ok' });

    expect(started.code).toBe(0);
    const { workflowId } = json<{ workflowId: string }>(started);
    await expect(client.workflows.result(workflowId)).resolves.toMatchObject({ status: 'ok' });
  });

  it('shows status, answers queries and delivers signals of a running workflow, then cancels it (result exits 4)', async () => {
    const { workflowId } = await heldCanary('cli-running');
    await expect(client.workflows.progress(workflowId)).resolves.toMatchObject({ stage: 'probing' });
    const [status, statusJson, query, queryJson, signal, signalJson] = await Promise.all([
      cli(['status', workflowId]),
      cli(['--json', 'status', workflowId]),
      cli(['query', workflowId, 'progress']),
      cli(['query', workflowId, 'progress', '--json']),
      cli(['signal', workflowId, 'nudge', '--input', '{"n":1}']),
      cli(['--json', 'signal', workflowId, 'nudge', '--input', '2', '--input', '"three"']),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`workflow   ${workflowId}`);
    expect(status.stdout).toMatch(/^status {5}RUNNING$/m);
    expect(status.stdout).toMatch(/^progress {3}probing: /m);
    expect(json(statusJson)).toMatchObject({ workflowId, type: 'canary', status: 'RUNNING', taskQueue: `${prefix}sync`, progress: { stage: 'probing' } });
    expect(query.code).toBe(0);
    expect(JSON.parse(query.stdout)).toMatchObject({ stage: 'probing' });
    expect(json(queryJson)).toMatchObject({ workflowId, query: 'progress', result: { stage: 'probing' } });
    expect(signal).toMatchObject({ code: 0, stdout: `signalled ${workflowId}: nudge\n` });
    expect(json(signalJson)).toEqual({ workflowId, signal: 'nudge' });
    const signalled = (await client.workflows.history(workflowId)).events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    expect(signalled).toHaveLength(2);

    const cancel = await cli(['cancel', workflowId]);
    expect(cancel).toMatchObject({ code: 0, stdout: `cancellation requested: ${workflowId}\n` });
    const [result, resultJson] = await Promise.all([cli(['result', workflowId]), cli(['--json', 'result', workflowId])]);
    expect(result.code).toBe(4);
    expect(lastLine(result.stderr)).toBe(`durasync result: workflow ${workflowId} cancelled: CancelledFailure: Workflow canceled`);
    expect(resultJson.code).toBe(4);
    expect(json(resultJson)).toMatchObject({ error: { name: 'DurasyncWorkflowFailedError', exitCode: 4, workflowId, status: 'CANCELLED', failureType: 'CancelledFailure' } });
  });

  it('terminates a workflow with a reason, and reports it terminated', async () => {
    const [first, second] = await Promise.all([heldCanary('cli-terminate'), heldCanary('cli-terminate-json')]);
    const [human, scripted] = await Promise.all([
      cli(['terminate', first.workflowId, '--reason', 'done testing']),
      cli(['--json', 'terminate', second.workflowId]),
    ]);
    expect(human).toMatchObject({ code: 0, stdout: `terminated: ${first.workflowId}\n` });
    expect(json(scripted)).toEqual({ workflowId: second.workflowId, terminated: true, reason: 'terminated with durasync terminate' });
    const result = await cli(['--json', 'result', first.workflowId]);
    expect(result.code).toBe(4);
    expect(json(result)).toMatchObject({ error: { status: 'TERMINATED', failureType: 'TerminatedFailure', causes: [{ name: 'TerminatedFailure', message: 'done testing' }] } });
  });

  it('lists workflows matching a visibility query, newest first, up to --limit', async () => {
    const ids = [uniqueWorkflowId('cli-list-a'), uniqueWorkflowId('cli-list-b')];
    for (const id of ids) await client.workflows.result((await client.workflows.start('canary', { args: [{}], workflowId: id })).workflowId);
    const query = `TaskQueue = "${prefix}sync" AND WorkflowId STARTS_WITH "test:cli-list-"`;
    for (let i = 0; (await client.workflows.list(query).toArray()).length < 2; i++) {
      if (i > 50) throw new Error('the workflows never became visible');
      await new Promise((r) => setTimeout(r, 200));
    }
    const [human, scripted, limited] = await Promise.all([
      cli(['list', '--query', query]),
      cli(['--json', 'list', '--query', query]),
      cli(['--json', 'list', '--query', query, '--limit', '1']),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toEqual([expect.stringContaining(ids[1]!), expect.stringContaining(ids[0]!)]);
    expect(human.stdout).toMatch(/^COMPLETED {3}canary {10}test:cli-list-b:/m);
    const listed = json<{ workflows: Array<Record<string, unknown>> }>(scripted).workflows;
    expect(listed.map((w) => w.workflowId)).toEqual([ids[1], ids[0]]);
    expect(listed[0]).toMatchObject({ type: 'canary', status: 'COMPLETED', taskQueue: `${prefix}sync` });
    expect([typeof listed[0]?.startTime, typeof listed[0]?.closeTime]).toEqual(['string', 'string']);
    expect(json<{ workflows: unknown[] }>(limited).workflows).toHaveLength(1);
  });

  it('exports a history as the Temporal CLI does, and replays the exported file (exit 0)', async () => {
    const workflowId = uniqueWorkflowId('cli-history');
    await client.workflows.start('canary', { args: [{}], workflowId });
    await client.workflows.result(workflowId);
    const [toDir, toStdout, temporalShow] = await Promise.all([
      cli(['history', 'export', workflowId, '-o', tmp]),
      cli(['--json', 'history', 'export', workflowId]),
      promisify(execFile)(findTemporalBinary('temporal'), ['workflow', 'show', '-w', workflowId, '-o', 'json', '--address', process.env.TEMPORAL_ADDRESS!]),
    ]);
    const file = path.join(tmp, `${encodeURIComponent(workflowId)}.json`);
    expect(toDir.code).toBe(0);
    const exported = JSON.parse(await readFile(file, 'utf8')) as { events: Array<{ eventId: string; eventType: string }> };
    expect(toDir.stdout).toBe(`wrote ${exported.events.length} events of ${workflowId} to ${file}\n`);
    expect(json(toStdout)).toEqual(exported);
    const fromTemporal = JSON.parse(temporalShow.stdout) as { events: Array<{ eventId: string; eventType: string }> };
    expect(exported.events.map((e) => [e.eventId, e.eventType])).toEqual(fromTemporal.events.map((e) => [e.eventId, e.eventType]));

    const [replay, replayJson] = await Promise.all([cli(['replay', file]), cli(['--json', 'replay', file, path.join(__dirname, 'histories')])]);
    expect(replay).toMatchObject({ code: 0, stdout: `ok    ${workflowId}  (${file})\n` });
    expect(replayJson.code).toBe(0);
    const recorded = readdirSync(path.join(__dirname, 'histories')).filter((f) => f.endsWith('.json')).sort();
    expect(json(replayJson)).toEqual({
      ok: true,
      histories: [
        { file, workflowId, ok: true },
        ...recorded.map((f) => ({ file: path.join(__dirname, 'histories', f), workflowId: f.replace(/\.json$/, ''), ok: true })),
      ],
    });
  });

  it('fails replay against changed workflow code with exit 4, naming the workflow id and the mismatching command', async () => {
    const workflowId = uniqueWorkflowId('cli-changed');
    await client.workflows.start('canary', { args: [{}], workflowId });
    await client.workflows.result(workflowId);
    const exported = await cli(['history', 'export', workflowId, '-o', tmp]);
    expect(exported.code).toBe(0);
    const file = path.join(tmp, `${encodeURIComponent(workflowId)}.json`);
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/changed-canary'), logger: new DefaultLogger('WARN') });
    const changedBundle = path.join(tmp, 'changed-canary-bundle.js');
    await writeFile(changedBundle, code);

    const [human, scripted] = await Promise.all([
      cli(['replay', file], { DURASYNC_WORKFLOW_BUNDLE: changedBundle }),
      cli(['--json', 'replay', file], { DURASYNC_WORKFLOW_BUNDLE: changedBundle }),
    ]);
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(new RegExp(`^FAIL  ${workflowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  \\(.*\\): DeterminismViolationError: .*Nondeterminism`, 'm'));
    expect(lastLine(human.stderr)).toMatch(new RegExp(`^durasync replay: ${workflowId}: determinism error: .*Nondeterminism error: .+`));
    expect(scripted.code).toBe(4);
    expect(json(scripted)).toMatchObject({ ok: false, histories: [{ workflowId, ok: false, determinismError: true, error: { name: 'DeterminismViolationError' } }] });
  });

  it('exits 2 for bad usage, naming the flag, and 3 for an unknown workflow or a missing file', async () => {
    const unknown = uniqueWorkflowId('cli-unknown');
    const [badJson, missingInputFile, badLimit, missingArg, status, statusJson, history, missingFile] = await Promise.all([
      cli(['start', 'canary', '--input', '{nope']),
      cli(['signal', 'some-id', 'nudge', '--input', `@${path.join(tmp, 'absent.json')}`]),
      cli(['list', '--limit', 'lots']),
      cli(['query', 'some-id']),
      cli(['status', unknown]),
      cli(['--json', 'status', unknown]),
      cli(['history', 'export', unknown]),
      cli(['replay', path.join(tmp, 'absent.json')]),
    ]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr.trim()).toMatch(/^durasync start: --input: expected JSON or @file holding JSON, got invalid JSON \(.+\)$/);
    expect(missingInputFile.code).toBe(2);
    expect(lastLine(missingInputFile.stderr)).toMatch(/^durasync signal: --input: cannot read .*absent\.json \(ENOENT\)$/);
    expect(badLimit.code).toBe(2);
    expect(lastLine(badLimit.stderr)).toBe('durasync list: --limit: expected a whole number of 1 or more, got "lots"');
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("missing required argument 'name'");
    expect(status.code).toBe(3);
    expect(lastLine(status.stderr)).toBe(`durasync status: workflow ${unknown} not found`);
    expect(statusJson.code).toBe(3);
    expect(json(statusJson)).toEqual({ error: { name: 'WorkflowNotFoundError', message: `workflow ${unknown} not found`, exitCode: 3, workflowId: unknown } });
    expect(history.code).toBe(3);
    expect(missingFile.code).toBe(3);
    expect(lastLine(missingFile.stderr)).toMatch(/^durasync replay: .*absent\.json: no such file or directory$/);
  });

  it('runs the canary with readable lines, or one JSON document with --json', async () => {
    const [human, scripted] = await Promise.all([cli(['canary', '--queue', 'sync']), cli(['--json', 'canary', '--queue', 'sync'])]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^canary ok on queue sync \\(task queue ${prefix}sync, worker \\d+@`));
    expect(human.stdout).toMatch(/^ {2}database \(pg\): ok, [\d.]+ ms$/m);
    expect(scripted.code).toBe(0);
    expect(json(scripted)).toMatchObject({ status: 'ok', workflowTaskQueue: `${prefix}sync`, database: { ok: true }, cache: { ok: true } });
  });
});
