import fc from 'fast-check';
import {
  durableIntake,
  fuzzBranchChanges,
  fuzzCli,
  fuzzCliEnv,
  fuzzConfig,
  fuzzIntakeAccept,
  fuzzJobBridge,
  fuzzWebhooks,
  fuzzWorkflowInputs,
  settleAccepted,
  startFuzzStack,
  writeFuzzResult,
  type FuzzStack,
} from './helpers-fuzz';

/**
 * Hostile input, at scale: the properties of test/fuzz.test.ts with many more runs, each scenario
 * writing its counts to RELIABILITY_RESULTS_DIR for docs/RELIABILITY.md. RELIABILITY_SCALE=ci runs
 * the reduced sizes. A failure is fast-check's shrunk counterexample: an input the product mishandled.
 */
const scale = process.env.RELIABILITY_SCALE === 'ci' ? 'ci' : 'full';
const RUNS = scale === 'ci'
  ? { config: 500, webhooks: 150, changes: 100, accept: 100, workflows: 8, cli: 12, settle: 10, jobs: 40, cliEnv: 12 }
  : { config: 3000, webhooks: 600, changes: 300, accept: 300, workflows: 25, cli: 40, settle: 40, jobs: 200, cliEnv: 40 };

// A new seed every run unless FUZZ_SEED pins one (CI does, so that a red run is about the change,
// not about which inputs the dice picked; run without it to search further).
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) });

describe(`hostile input (reliability, ${scale} scale)`, () => {
  let stack: FuzzStack;

  beforeAll(async () => {
    stack = await startFuzzStack({ maxBodyBytes: 64 * 1024 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  function record(scenario: string, started: number, injected: string[], checked: string[], counts: Record<string, number>): void {
    writeFuzzResult({ scenario, scale, injected, checked, counts: { ...counts, failuresFound: 0 }, durationMs: Date.now() - started, date: new Date().toISOString() });
  }

  it('configuration: every hostile value of every variable loads or is a one-line ConfigError naming it', () => {
    const started = Date.now();
    const counts = fuzzConfig(RUNS.config);
    expect(counts.rejected).toBeGreaterThan(RUNS.config / 10);
    record(
      'fuzz-config',
      started,
      ['one or two of 57 lib/config.ts variables set to hostile strings: control characters, unicode, prototype keys, 2 KB strings, negative/huge/fractional numbers, bad units, bad URLs and host:ports'],
      ['loadConfig either loads or throws a ConfigError (no other exception type)', 'the message is one line, starts with the variable and names a variable that was set'],
      counts,
    );
  });

  it('webhook ingress: hostile requests get a clear answer, the server stays up, and every accepted delivery is stored or dead-lettered', async () => {
    const started = Date.now();
    const accepted: string[] = [];
    const counts = await fuzzWebhooks(stack.target, stack.env.client, RUNS.webhooks, accepted);
    expect(counts.accepted).toBeGreaterThan(0);
    const sample = accepted.slice(0, RUNS.settle);
    const settled = await settleAccepted(stack.env.client, stack.deps.db.url, sample, 60_000);
    expect(settled.stored + settled.deadLettered).toBe(sample.length);
    record(
      'fuzz-webhooks',
      started,
      [
        'bodies: random bytes, hostile JSON with __proto__/constructor keys, 2000-deep arrays and objects, strings within 64 bytes of the body limit, empty and truncated JSON',
        'headers: valid, missing, garbage, duplicated, sha1/sha512/bare-hex and other-secret signatures; unicode, control-character and 201-character delivery ids; 5000-character event names; wrong content types',
        'paths and methods: unknown sources, __proto__, traversal, 3000-character paths; PUT and GET',
      ],
      [
        'every answer is 202, 400, 401, 404, 405, 413, 415 or 503 with a one-line JSON body; errors carry a message (never "internal error")',
        'GET /health/live answers 200 after every request',
        'every 202 names a workflow that exists',
        `a sample of ${sample.length} accepted deliveries, with a real ingestion worker: each completes (stored) or fails with a dead_letters row holding a reason, within 60 s`,
      ],
      { ...counts, sampled: sample.length, ...settled },
    );
  });

  it('branch change batches: hostile batches get a clear 400/404/413 and every accepted change is in the durable intake', async () => {
    const started = Date.now();
    const http = await fuzzBranchChanges(stack.ingress.url, stack.branchId, RUNS.changes);
    const direct = await fuzzIntakeAccept(stack.intake, stack.branchId, RUNS.accept);
    const durable = await durableIntake(stack.deps.db.url, stack.branchId);
    expect(durable).toEqual({ batches: http.acceptedBatches + direct.acceptedBatches, changes: http.acceptedChanges + direct.acceptedChanges });
    expect(http.acceptedBatches).toBeGreaterThan(0);
    record(
      'fuzz-branch-changes',
      started,
      [
        'POST /branches/:id/changes with JSON arrays, NDJSON and garbage text: bad ops, non-string/huge/unicode/__proto__ document ids, NaN/Infinity/out-of-range timestamps, non-object and 64 KB documents, __proto__ and constructor.prototype keys; unknown and malformed branch ids',
        'lib/branches/intake.ts accept() called directly with the same batches, as arrays and as NDJSON text',
      ],
      [
        'HTTP: every answer is 202, 400, 404 or 413 with a one-line JSON error; accept(): resolves or throws a one-line ChangeInputError',
        'Object.prototype is never polluted',
        'the durable intake (branch_change_batches) holds exactly the accepted batches and changes',
      ],
      {
        runs: http.runs + direct.runs,
        cases: http.cases + direct.cases,
        httpAcceptedBatches: http.acceptedBatches,
        httpAcceptedChanges: http.acceptedChanges,
        acceptAcceptedBatches: direct.acceptedBatches,
        acceptAcceptedChanges: direct.acceptedChanges,
        acceptRefused: direct.refused,
        durableBatches: durable.batches,
        durableChanges: durable.changes,
        ...Object.fromEntries(Object.entries(http).filter(([k]) => k.startsWith('status'))),
      },
    );
  });

  it('workflow inputs: garbage fails fast with the non-retryable failure type of each workflow, none hangs', async () => {
    const started = Date.now();
    const counts = await fuzzWorkflowInputs(stack.env.client, stack.taskQueue, RUNS.workflows, 20_000);
    const flat: Record<string, number> = {};
    for (const [workflowType, c] of Object.entries(counts)) {
      flat[`${workflowType}Cases`] = c.cases;
    }
    const cases = Object.values(counts).reduce((n, c) => n + c.cases, 0);
    record(
      'fuzz-workflow-inputs',
      started,
      ['processWebhookEvent, ingestSource, dailyAnalytics and exportEvents started directly with null, numbers, strings, arrays, {} and objects with wrong-typed or hostile fields, on a real ingestion worker'],
      ['each run fails within 20 s with a non-retryable ApplicationFailure of its type (InvalidEvent, InvalidSource, InvalidRange, InvalidExport) and a one-line message'],
      { runs: RUNS.workflows * 4, cases, ...flat },
    );
  });

  it('job payloads: sync_jobs rows with hostile kinds and payloads through the job bridge end with a clear outcome, never a stuck workflow', async () => {
    const started = Date.now();
    const counts = await fuzzJobBridge(stack, RUNS.jobs, 180_000);
    expect(counts.succeeded + counts.failed).toBe(counts.enqueued);
    record(
      'fuzz-job-payloads',
      started,
      ['sync_jobs rows with kinds canary, sync or hostile strings and payloads of hostile JSON, link ids that are not UUIDs or not links, bad directions, wrong-typed canary options; claimed by a JobBridge, run as syncJob on a real sync worker'],
      ['every row ends succeeded or failed within 180 s, a failure with a one-line last_error', 'no job:<id> workflow is left running', 'a row the store refuses at enqueue is refused with a one-line error'],
      counts,
    );
  });

  it('CLI: fuzzed flags and values exit 0, 1 or 2 with one line on stderr, never a stack trace', async () => {
    const started = Date.now();
    const counts = await fuzzCli(RUNS.cli, stack.cliEnv());
    record(
      'fuzz-cli',
      started,
      ['bin/durasync.js schedule create, ingest run, settings set, export events, branches create, changes push and sync with one flag given a hostile value (unicode, 2 KB, -1, NaN, 1e999, "--", bad dates) and sometimes an unknown flag'],
      ['exit code 0, 1 or 2', 'on failure stderr is one line (plus commander\'s "(run with --help for usage)" hint) and holds no stack trace'],
      counts,
    );
  });

  it('CLI environment: a hostile value of a configuration variable exits 1 with one line naming it', async () => {
    const started = Date.now();
    const counts = await fuzzCliEnv(RUNS.cliEnv, stack.cliEnv());
    record(
      'fuzz-cli-env',
      started,
      ['`durasync settings keys` with one lib/config.ts variable set to a hostile value (the values of the configuration property)'],
      ['exit 0, or exit 1 with one stderr line naming the variable and no stack trace'],
      counts,
    );
  });
});
