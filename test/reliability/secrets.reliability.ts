import { randomBytes, randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import fc from 'fast-check';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { signBody } from '../../lib/webhooks/signature';
import { runDurasyncSplit } from '../helpers/process';
import { fuzzBranchChanges, fuzzCli, fuzzWebhooks, fuzzWorkflowInputs, secretForms, settleAccepted, startFuzzStack, writeFuzzResult, type FuzzStack } from './helpers-fuzz';

/**
 * Secrets: the suite runs webhook deliveries (signed with the secrets), hostile requests, change
 * batches, garbage workflow inputs and CLI children with every token and key in their
 * environment, then exports every workflow history of its task queues and every log line and
 * stderr line written, and finds none of the secrets in any form (as is, base64, base64url,
 * URL-encoded). Bad values of the secret variables are refused without being echoed.
 */
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const scale = process.env.RELIABILITY_SCALE === 'ci' ? 'ci' : 'full';
const RUNS = scale === 'ci' ? { webhooks: 60, changes: 30, workflows: 3, cli: 6, config: 200 } : { webhooks: 300, changes: 100, workflows: 8, cli: 20, config: 1000 };

/** The history as JSON with every payload's bytes decoded to text (and Longs as numbers). */
function historyText(events: HistoryEvent[]): string {
  const plain = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === 'object') {
      if (typeof (value as { toNumber?: unknown }).toNumber === 'function') return (value as { toString(): string }).toString();
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  };
  return JSON.stringify(plain(events));
}

/** The same history with payload bytes as base64 (what `temporal workflow show -o json` exports). */
function historyBase64(events: HistoryEvent[]): string {
  return JSON.stringify(events, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

describe(`secrets never reach a history or a log line (reliability, ${scale} scale)`, () => {
  let stack: FuzzStack;
  const stderr: string[] = [];

  beforeAll(async () => {
    stack = await startFuzzStack({ maxBodyBytes: 64 * 1024 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('a bad value of a secret variable is refused in one line that does not echo it', () => {
    const secretVars = ['DURASYNC_TOKEN_KEY', 'DURASYNC_ENCRYPTION_KEY'] as const;
    let cases = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.constantFrom(...secretVars), fc.string({ minLength: 12, maxLength: 60 }), fc.constantFrom('', 'k1:', 'k 1:', ':'), (variable, secret, prefix) => {
        cases++;
        const value = `${prefix}S3CRET${secret.replace(/[,:\s]/g, 'x')}`;
        try {
          loadConfig({ [variable]: value });
          return true;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          refused++;
          return !err.message.includes(value) && !err.message.includes(`S3CRET${secret.replace(/[,:\s]/g, 'x')}`);
        }
      }),
      { numRuns: RUNS.config },
    );
    expect(refused).toBeGreaterThan(0);
    writeFuzzResult({
      scenario: 'secrets-config-errors',
      scale,
      injected: ['DURASYNC_TOKEN_KEY and DURASYNC_ENCRYPTION_KEY set to malformed keys holding a marked secret'],
      checked: ['loadConfig refuses them with a ConfigError whose message does not contain the value or its secret part'],
      counts: { runs: RUNS.config, cases, refused, failuresFound: 0 },
      durationMs: 0,
      date: new Date().toISOString(),
    });
  });

  it('no token, key or secret in any history of the suite\'s task queues, any log line, or any CLI stderr', async () => {
    const started = Date.now();
    const { client } = stack.env;
    // Real traffic: signed deliveries from both sources, so the secrets were used.
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ ref: 'refs/heads/main', sender: { login: `u${i}` }, note: `delivery ${i}` });
      const github = await fetch(`${stack.ingress.url}/webhooks/github`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-github-delivery': randomUUID(), 'x-github-event': 'push', 'x-hub-signature-256': signBody(stack.target.githubSecret, body) },
      });
      expect(github.status).toBe(202);
      accepted.push(((await github.json()) as { workflowId: string }).workflowId);
      const { source } = stack.target;
      const acme = await fetch(`${stack.ingress.url}/webhooks/${source.name}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', [source.deliveryHeader]: randomUUID(), [source.eventHeader]: 'issue.created', [source.signatureHeader]: signBody(source.secret, body) },
      });
      expect(acme.status).toBe(202);
      accepted.push(((await acme.json()) as { workflowId: string }).workflowId);
    }
    // A request that carries a secret where none belongs: in the signature header of the other source.
    const leaky = await fetch(`${stack.ingress.url}/webhooks/github`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'x-github-delivery': randomUUID(), 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${stack.target.githubSecret}` },
    });
    expect(leaky.status).toBe(401);
    // Hostile traffic, garbage workflow inputs and CLI children with every secret in their environment.
    const webhookCounts = await fuzzWebhooks(stack.target, client, RUNS.webhooks, accepted);
    const changeCounts = await fuzzBranchChanges(stack.ingress.url, stack.branchId, RUNS.changes);
    const workflowCounts = await fuzzWorkflowInputs(client, stack.taskQueue, RUNS.workflows, 20_000);
    const cliCounts = await fuzzCli(RUNS.cli, stack.cliEnv(), stderr);
    for (const args of [['settings', 'list'], ['ingest', 'sources'], ['export', 'events', '--from', 'nope'], ['branches', 'list']]) {
      const { stderr: err, stdout } = await runDurasyncSplit(args, { DURASYNC_LOG_LEVEL: 'info', ...stack.cliEnv() });
      stderr.push(err, stdout);
    }
    const settled = await settleAccepted(client, stack.deps.db.url, accepted.slice(0, 20), 60_000);

    // Export every history of the suite's task queues (visibility is eventually consistent: wait for ours).
    const query = `TaskQueue = '${stack.taskQueue}' OR TaskQueue = '${stack.taskQueuePrefix}branch-delta'`;
    let executions: Array<{ workflowId: string; runId: string }> = [];
    for (let i = 0; i < 60; i++) {
      executions = [];
      for await (const wf of client.workflow.list({ query })) executions.push({ workflowId: wf.workflowId, runId: wf.runId });
      if (accepted.every((id) => executions.some((e) => e.workflowId === id))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(accepted.every((id) => executions.some((e) => e.workflowId === id))).toBe(true);
    const histories = await Promise.all(
      executions.map(async (e) => {
        const events = (await client.workflow.getHandle(e.workflowId, e.runId).fetchHistory()).events ?? [];
        return { ...e, texts: [historyText(events), historyBase64(events)] };
      }),
    );
    const logs = [...stack.logs];

    // The search is real: decoded histories hold the deliveries' bodies, the logs hold the accepted deliveries.
    expect(histories.some((h) => h.texts[0]!.includes('delivery 0'))).toBe(true);
    expect(logs.some((line) => line.includes('webhook accepted'))).toBe(true);

    const secrets = [...new Set(stack.secrets)];
    const forms = secrets.flatMap((s) => secretForms(s).map((form) => ({ secret: s, form })));
    const leaks: string[] = [];
    for (const { secret, form } of forms) {
      for (const h of histories) if (h.texts.some((t) => t.includes(form))) leaks.push(`${secret.slice(0, 10)}... in the history of ${h.workflowId}`);
      for (const line of logs) if (line.includes(form)) leaks.push(`${secret.slice(0, 10)}... in the log line ${line.slice(0, 200)}`);
      for (const text of stderr) if (text.includes(form)) leaks.push(`${secret.slice(0, 10)}... in CLI output ${text.slice(0, 200)}`);
    }
    expect(leaks).toEqual([]);

    writeFuzzResult({
      scenario: 'secrets',
      scale,
      injected: [
        `secrets in use: ${secrets.length} (GitHub and custom-source webhook secrets, GITHUB_TOKEN, GOOGLE_CLIENT_SECRET, DURASYNC_TOKEN_KEY, DURASYNC_ENCRYPTION_KEY, DURASYNC_CODEC_TOKEN, and the key parts of the two keys)`,
        '10 signed deliveries, one request carrying a webhook secret as its signature, the hostile webhook, change-batch, workflow-input and CLI fuzzing of fuzz.reliability.ts at a smaller size, 4 CLI reads with info logging',
      ],
      checked: [
        'every workflow history of the suite\'s task queues (client.workflow.list + fetchHistory), with payloads decoded to text and as base64',
        'every log line of the worker, change intake and ingress (pino at info), and all stdout/stderr of every CLI child',
        'none contains any secret, as is, base64, base64url or URL-encoded',
      ],
      counts: {
        secrets: secrets.length,
        forms: forms.length,
        histories: histories.length,
        historyBytes: histories.reduce((n, h) => n + h.texts[0]!.length, 0),
        logLines: logs.length,
        cliOutputs: stderr.length,
        webhookRequests: webhookCounts.cases + 11,
        changeBatches: changeCounts.cases,
        workflowInputs: Object.values(workflowCounts).reduce((n, c) => n + c.cases, 0),
        cliRuns: cliCounts.cases + 4,
        settledStored: settled.stored,
        settledDeadLettered: settled.deadLettered,
        leaks: leaks.length,
        failuresFound: 0,
      },
      durationMs: Date.now() - started,
      date: new Date().toISOString(),
    });
  }, 15 * 60_000);

  it('uses secrets that are random per run (the search cannot pass by accident)', () => {
    expect(stack.secrets.every((s) => s.length >= 16)).toBe(true);
    expect(stack.secrets).not.toContain(randomBytes(8).toString('hex'));
  });
});
