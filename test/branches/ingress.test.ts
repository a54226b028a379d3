import { branchRoutes } from '../../client/ingress';
import { ChangeIntake, DeltaFlusher } from '../../lib/branches/intake';
import { matchRoute, startHttpServer, type RunningServer } from '../../lib/http';
import { createLogger } from '../../lib/logger';
import { change } from '../helpers/branches';
import { openTestDeps, type TestDeps } from '../helpers/deps';

const logger = createLogger({ level: 'silent' });

describe('HTTP routes with path parameters', () => {
  const routes = {
    '/health': { GET: () => undefined },
    '/branches/:branchId/changes': { POST: () => undefined },
    '/branches/:branchId': { GET: () => undefined },
  };

  it('matches exact paths first, then :name segments, decoding them', () => {
    expect(matchRoute(routes, '/health')).toMatchObject({ key: '/health', params: {} });
    expect(matchRoute(routes, '/branches/abc/changes')).toMatchObject({ key: '/branches/:branchId/changes', params: { branchId: 'abc' } });
    expect(matchRoute(routes, '/branches/a%20b')).toMatchObject({ key: '/branches/:branchId', params: { branchId: 'a b' } });
  });

  it('matches no empty segment, no extra segment and no bad escape', () => {
    expect(matchRoute(routes, '/branches//changes')).toBeUndefined();
    expect(matchRoute(routes, '/branches/abc/changes/more')).toBeUndefined();
    expect(matchRoute(routes, '/branches/%E0%A4%A')).toBeUndefined();
  });
});

describe('POST /branches/:branchId/changes', () => {
  let deps: TestDeps;
  let server: RunningServer;
  let intake: ChangeIntake;
  const signals: string[] = [];

  beforeAll(async () => {
    deps = await openTestDeps();
    intake = new ChangeIntake({
      store: deps.store,
      flusher: new DeltaFlusher({ signal: async (branchId) => void signals.push(branchId), logger, flushChanges: 1 }),
      logger,
    });
    server = await startHttpServer({ name: 'ingress', host: '127.0.0.1', port: 0, logger, routes: branchRoutes({ store: deps.store, intake, maxBodyBytes: 64 * 1024 }) });
  });
  afterAll(async () => {
    await server?.close();
    await intake?.close();
    await deps?.close();
  });

  const post = (branchId: string, body: string, contentType = 'application/x-ndjson') =>
    fetch(`${server.url}/branches/${branchId}/changes`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const pending = (branchId: string) => deps.store.pendingBranchBatches({ branchId, maxChanges: 1000, maxBytes: 1 << 20 });

  it('answers 202 with the batch once it is durable (NDJSON and JSON array)', async () => {
    const { branch } = await deps.store.createBranch({ name: 'ingress-1' });
    const ndjson = [change('a', 'insert', { v: 1 }), change('a', 'update', { v: 2 })].map((c) => JSON.stringify(c)).join('\n');
    const res = await post(branch.id, ndjson);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { branchId: string; batchId: string; accepted: number };
    expect(body).toEqual({ branchId: branch.id, batchId: expect.stringMatching(/^\d+$/) as string, accepted: 2 });
    const array = await post(branch.id, JSON.stringify([change('b', 'insert', { v: 1 })]), 'application/json');
    expect(array.status).toBe(202);
    expect((await pending(branch.id)).map((b) => b.changeCount)).toEqual([2, 1]);
    expect(signals).toContain(branch.id);
  });

  it('refuses a malformed line with 400 naming it, and takes nothing of the request', async () => {
    const { branch } = await deps.store.createBranch({ name: 'ingress-2' });
    const good = JSON.stringify(change('a', 'insert', { v: 1 }));
    const res = await post(branch.id, `${good}\n${good}\n{"collection":"notes","documentId":"a","op":"update","ts":"2026-01-01T00:00:00Z"}\n${good}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'line 3: an update needs `after` or `patch`', line: 3 });
    const notJson = await post(branch.id, `${good}\n{oops`);
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { line: number }).line).toBe(2);
    expect(await pending(branch.id)).toEqual([]);
  });

  it('answers 404 for an unknown branch and 409 for an archived one', async () => {
    const body = JSON.stringify(change('a', 'insert', { v: 1 }));
    expect((await post('00000000-0000-4000-8000-000000000000', body)).status).toBe(404);
    expect((await post('not-a-uuid', body)).status).toBe(404);
    const { branch } = await deps.store.createBranch({ name: 'ingress-3' });
    await deps.store.archiveBranch(branch.id);
    const res = await post(branch.id, body);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toMatch(/archived/);
  });

  it('answers 413 past the body limit', async () => {
    const { branch } = await deps.store.createBranch({ name: 'ingress-4' });
    const line = JSON.stringify(change('a', 'insert', { text: 'x'.repeat(1000) }));
    const res = await post(branch.id, Array.from({ length: 100 }, () => line).join('\n'));
    expect(res.status).toBe(413);
    expect(await pending(branch.id)).toEqual([]);
  });
});
