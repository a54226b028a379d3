import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { subscribed } from './hooks';
import type { DeliveryRecord, HookState } from './hooks';
import { nowIso } from './shapes';
import type { RepoState } from './shapes';
import type { Ids } from './world';

/** GitHub gives a hook 10 seconds to answer. */
const TIMEOUT_MS = 10_000;
/** The part of an answer kept in the delivery log. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const USER_AGENT = `GitHub-Hookshot/${randomBytes(4).toString('hex').slice(0, 7)}`;

export interface HookshotOptions {
  /** Called after each delivery is recorded (the state changed). */
  onRecorded(): void;
  /** How long a hook has to answer. Default: 10 s, GitHub's. */
  timeoutMs?: number;
}

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v ?? '')]));
}

/** One POST without keep-alive; rejects with `timed out` or the connection's error. */
function post(url: string, headers: Record<string, string>, body: string, options: { timeoutMs: number; signal: AbortSignal; insecure: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers, agent: false, signal: options.signal, ...(options.insecure ? { rejectUnauthorized: false } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ statusCode: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8') });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error('timed out')), options.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

/**
 * Delivers webhook events as GitHub's Hookshot does: signed POSTs to each subscribed hook, in order
 * per hook, never blocking the call that caused them, a 10 s timeout and no automatic retry; every
 * attempt is recorded in the hook's delivery log.
 */
export class Hookshot {
  private readonly queues = new Map<number, Promise<void>>();
  private readonly stop = new AbortController();

  constructor(
    private readonly ids: Ids,
    private readonly options: HookshotOptions,
  ) {}

  /** Queues `event` for every hook of the repository that takes it. */
  emit(repo: RepoState, event: string, payload: Record<string, unknown>): void {
    for (const hook of repo.hooks) if (subscribed(hook, event)) this.deliver(repo, hook, event, payload);
  }

  /** Queues one delivery of `event` to `hook`. */
  deliver(repo: RepoState, hook: HookState, event: string, payload: Record<string, unknown>): void {
    const json = JSON.stringify(payload);
    const body = hook.config.contentType === 'form' ? `payload=${encodeURIComponent(json)}` : json;
    const guid = randomUUID();
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      'content-type': hook.config.contentType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-github-event': event,
      'x-github-delivery': guid,
      'x-github-hook-id': String(hook.id),
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': String(repo.id),
      connection: 'close',
    };
    if (hook.config.secret) {
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', hook.config.secret).update(body).digest('hex')}`;
      headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', hook.config.secret).update(body).digest('hex')}`;
    }
    const action = typeof payload.action === 'string' ? payload.action : null;
    this.enqueue(hook, { guid, event, action, redelivery: false, request: { headers, body } });
  }

  /** Sends a logged delivery again, same guid and body, as `POST .../deliveries/{id}/attempts` does. */
  redeliver(hook: HookState, record: DeliveryRecord): void {
    this.enqueue(hook, { guid: record.guid, event: record.event, action: record.action, redelivery: true, request: structuredClone(record.request) });
  }

  /** Resolves once every queued delivery has been attempted. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all(this.queues.values());
  }

  /** Aborts what is in flight and drops what is queued (neither is recorded); resolves when nothing runs. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.queues.values());
  }

  private enqueue(hook: HookState, d: Pick<DeliveryRecord, 'guid' | 'event' | 'action' | 'redelivery' | 'request'>): void {
    if (this.stop.signal.aborted) return;
    const id = this.ids.next('delivery');
    const previous = this.queues.get(hook.id) ?? Promise.resolve();
    const next = previous.then(() => this.attempt(hook, { ...d, id }));
    this.queues.set(hook.id, next);
    void next.then(() => {
      if (this.queues.get(hook.id) === next) this.queues.delete(hook.id);
    });
  }

  private async attempt(hook: HookState, d: Pick<DeliveryRecord, 'id' | 'guid' | 'event' | 'action' | 'redelivery' | 'request'>): Promise<void> {
    if (this.stop.signal.aborted) return;
    const started = performance.now();
    const deliveredAt = nowIso();
    let answer: Answer | undefined;
    let failure = '';
    try {
      answer = await post(hook.config.url, d.request.headers, d.request.body, {
        timeoutMs: this.options.timeoutMs ?? TIMEOUT_MS,
        signal: this.stop.signal,
        insecure: hook.config.insecureSsl === '1',
      });
    } catch (err) {
      if (this.stop.signal.aborted) return;
      failure = (err as Error).message === 'timed out' ? 'timed out' : 'failed to connect to host';
    }
    const statusCode = answer?.statusCode ?? 0;
    const status = answer ? (statusCode >= 200 && statusCode < 300 ? 'OK' : `Invalid HTTP Response: ${statusCode}`) : failure;
    const duration = Math.round((performance.now() - started) / 10) / 100;
    hook.deliveries.push({ ...d, deliveredAt, duration, status, statusCode, response: { headers: answer?.headers ?? {}, body: answer?.body ?? '' } });
    hook.lastResponse = { code: answer ? statusCode : null, status: 'active', message: status };
    this.options.onRecorded();
  }
}
