import fc from 'fast-check';
import { durableIntake, settleAccepted, fuzzBranchChanges, fuzzCli, fuzzCliEnv, fuzzConfig, fuzzIntakeAccept, fuzzJobBridge, fuzzWebhooks, fuzzWorkflowInputs, startFuzzStack, type FuzzStack } from './reliability/helpers-fuzz';

/**
 * The fast subset of the hostile-input fuzzing (test/reliability/fuzz.reliability.ts runs the
 * same properties with many more runs): configuration values, webhook requests, branch change
 * batches, garbage workflow inputs and CLI arguments, against a real ingestion worker, ingress,
 * Temporal and Postgres. fast-check shrinks and prints the first input the product mishandles.
 */
describe('hostile input (fast fuzz subset)', () => {
  let stack: FuzzStack;

  beforeAll(async () => {
    // A fixed seed: the normal suite checks the same inputs every run (a regression test); the
    // reliability suite explores new ones each run. FUZZ_SEED overrides it.
    fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED ?? 20261122) });
    stack = await startFuzzStack({ maxBodyBytes: 16 * 1024 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('every bad configuration value is a one-line ConfigError naming its variable', () => {
    const counts = fuzzConfig(300);
    expect(counts.cases).toBe(300);
    expect(counts.rejected).toBeGreaterThan(50);
  });

  it('hostile webhook requests get a clear 4xx/503 or a 202 whose workflow exists, and the ingress stays up', async () => {
    const accepted: string[] = [];
    const counts = await fuzzWebhooks(stack.target, stack.env.client, 60, accepted);
    expect(counts.cases).toBe(60);
    // Some requests are rejected, each with a status from the list (checked in the property).
    expect(counts.cases - counts.accepted).toBeGreaterThan(0);
    // With the ingestion worker polling, a sample of the accepted deliveries is stored or dead-lettered, none stuck.
    const settled = await settleAccepted(stack.env.client, stack.deps.db.url, accepted.slice(0, 5), 20_000);
    expect(settled.stored + settled.deadLettered).toBe(Math.min(5, accepted.length));
  }, 60_000);

  it('hostile change batches get a clear 400/404/413, and every accepted change (over HTTP and through accept()) is in the durable intake', async () => {
    const counts = await fuzzBranchChanges(stack.ingress.url, stack.branchId, 60);
    expect(counts.cases).toBe(60);
    expect(counts.acceptedBatches).toBeGreaterThan(0);
    const direct = await fuzzIntakeAccept(stack.intake, stack.branchId, 40);
    expect(direct.refused).toBeGreaterThan(0);
    expect(await durableIntake(stack.deps.db.url, stack.branchId)).toEqual({
      batches: counts.acceptedBatches + direct.acceptedBatches,
      changes: counts.acceptedChanges + direct.acceptedChanges,
    });
  }, 60_000);

  it('workflows started with garbage input fail fast with their non-retryable failure type', async () => {
    const counts = await fuzzWorkflowInputs(stack.env.client, stack.taskQueue, 3, 15_000);
    expect(Object.keys(counts).sort()).toEqual(['dailyAnalytics', 'exportEvents', 'ingestSource', 'processWebhookEvent']);
  }, 60_000);

  it('sync_jobs rows with hostile kinds and payloads each end succeeded or failed with a one-line reason, no workflow left running', async () => {
    const counts = await fuzzJobBridge(stack, 12, 45_000);
    expect(counts.succeeded + counts.failed).toBe(counts.enqueued);
  }, 60_000);

  it('fuzzed CLI flags exit 0, 1 or 2 with one line on stderr, never a stack trace', async () => {
    const counts = await fuzzCli(4, stack.cliEnv());
    expect(counts.cases).toBe(4);
  }, 60_000);

  it('a hostile configuration value makes the CLI exit 1 with one line naming the variable', async () => {
    const counts = await fuzzCliEnv(4, stack.cliEnv());
    expect(counts.cases).toBe(4);
  }, 60_000);
});
