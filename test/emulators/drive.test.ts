import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GaxiosError } from 'googleapis-common';
import { auth as googleAuth, drive as googleDrive } from 'googleapis/build/src/apis/drive';
import type { drive_v3 } from 'googleapis/build/src/apis/drive';
import { startDriveEmulator } from '../../emulators/drive';
import type { DriveEmulator } from '../../emulators/drive';

const FOLDER = 'application/vnd.google-apps.folder';
const md5 = (content: string | Buffer) => createHash('md5').update(content).digest('hex');

type OAuth2Client = InstanceType<typeof googleAuth.OAuth2>;

/**
 * gaxios loads node-fetch (ESM) with a dynamic import, which jest's CommonJS runtime refuses
 * ("A dynamic import callback was invoked without --experimental-vm-modules"): under jest every
 * gaxios user (googleapis and OAuth2Client) must be handed Node's own fetch.
 */
const fetchImplementation = (...args: Parameters<typeof fetch>) => fetch(...args);

/** googleapis pointed at the emulator; `retry: false` unless a test looks at the default retries. */
function driveClient(emulator: DriveEmulator, auth?: OAuth2Client, retry = false): drive_v3.Drive {
  return googleDrive({ version: 'v3', rootUrl: emulator.url, retry, fetchImplementation, ...(auth ? { auth } : {}) });
}

/** An OAuth2Client as product code builds it: client credentials, the emulator's endpoints. */
function oauthClient(emulator: DriveEmulator): OAuth2Client {
  return new googleAuth.OAuth2({
    clientId: 'emulator-client',
    clientSecret: 'emulator-secret',
    endpoints: { oauth2TokenUrl: emulator.tokenUrl, oauth2RevokeUrl: emulator.revokeUrl },
    // 0 is ignored (google-auth-library tests it for truthiness) and the default is 5 minutes.
    eagerRefreshThresholdMillis: 1,
    transporterOptions: { fetchImplementation },
  });
}

/** A client holding an access token minted directly, for tests that do not exercise OAuth. */
function tokenClient(emulator: DriveEmulator, retry = false): drive_v3.Drive {
  const auth = new googleAuth.OAuth2({ transporterOptions: { fetchImplementation } });
  auth.setCredentials({ access_token: emulator.seed.token({ refreshToken: 'seeded-refresh-token' }).accessToken });
  return driveClient(emulator, auth, retry);
}

async function failure(promise: Promise<unknown>): Promise<GaxiosError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GaxiosError);
    return err as GaxiosError;
  }
  throw new Error('expected the call to fail');
}

interface ErrorBody {
  error: { code: number; message: string; errors: Array<{ reason: string; location?: string; locationType?: string; domain: string }> };
}
/** gaxios answers a Fetch `Headers`; googleapis' types still say a plain object (its HTTP/2 path). */
const header = (headers: unknown, name: string) =>
  headers instanceof Headers ? headers.get(name) : (headers as Record<string, string> | undefined)?.[name];
const errorBody = (err: GaxiosError) => err.response?.data as ErrorBody;
const reasonOf = (err: GaxiosError) => errorBody(err).error.errors[0]?.reason;

describe('Google Drive v3 emulator through the real googleapis client', () => {
  let emulator: DriveEmulator;
  let drive: drive_v3.Drive;

  beforeEach(async () => {
    emulator = await startDriveEmulator();
    drive = tokenClient(emulator);
  });
  afterEach(async () => {
    await emulator.close();
  });

  test('lists a folder page by page with q, orderBy, pageSize and fields', async () => {
    const folder = emulator.seed.folder('notes');
    for (const name of ['e.md', 'c.md', 'a.md', 'd.md', 'b.md']) emulator.seed.file({ name, parentId: folder.id, content: `# ${name}` });
    emulator.seed.folder('sub', folder.id);
    const trashed = emulator.seed.file({ name: 'old.md', parentId: folder.id, content: 'x' });
    emulator.seed.update(trashed.id, { trashed: true });
    emulator.seed.file({ name: 'elsewhere.md', content: 'y' });

    const q = `'${folder.id}' in parents and trashed = false and mimeType != '${FOLDER}'`;
    const pages: drive_v3.Schema$File[][] = [];
    let pageToken: string | undefined;
    do {
      const res = await drive.files.list({ q, pageSize: 2, orderBy: 'name', pageToken, fields: 'nextPageToken, files(id, name, md5Checksum, size)' });
      expect(header(res.headers, 'content-type')).toBe('application/json; charset=UTF-8');
      pages.push(res.data.files ?? []);
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);

    expect(pages.map((p) => p.map((f) => f.name))).toEqual([['a.md', 'b.md'], ['c.md', 'd.md'], ['e.md']]);
    expect(Object.keys(pages[0]?.[0] ?? {}).sort()).toEqual(['id', 'md5Checksum', 'name', 'size']);
    expect(pages[0]?.[0]?.md5Checksum).toBe(md5('# a.md'));

    const defaults = await drive.files.list({ q: `name = 'a.md' or name = 'elsewhere.md'`, orderBy: 'name desc' });
    expect(defaults.data.files?.map((f) => f.name)).toEqual(['elsewhere.md', 'a.md']);
    expect(Object.keys(defaults.data.files?.[0] ?? {}).sort()).toEqual(['id', 'kind', 'mimeType', 'name']);
    const everything = await drive.files.list({ q: `'root' in parents and name = 'elsewhere.md'`, fields: '*' });
    expect(everything.data.files?.[0]).toMatchObject({ name: 'elsewhere.md', size: '1', parents: [emulator.inspect.rootId()], trashed: false, version: '1' });
  });

  test('answers 400 invalid for a query it cannot parse', async () => {
    const err = await failure(drive.files.list({ q: `fullText contains 'x'` }));
    expect(err.status).toBe(400);
    expect(errorBody(err).error.errors[0]).toMatchObject({ reason: 'invalid', location: 'q', locationType: 'parameter' });
  });

  test('gets the metadata and the bytes of a binary file and records each call', async () => {
    const content = Buffer.from([0, 1, 2, 250, 255]);
    const file = emulator.seed.file({ name: 'blob.bin', content });
    const meta = await drive.files.get({ fileId: file.id, fields: 'id,name,md5Checksum,size,headRevisionId,version' });
    expect(meta.data).toEqual({ id: file.id, name: 'blob.bin', md5Checksum: md5(content), size: '5', headRevisionId: file.headRevisionId, version: '1' });
    const media = await drive.files.get({ fileId: file.id, alt: 'media' }, { responseType: 'arraybuffer' });
    expect(Buffer.from(media.data as unknown as ArrayBuffer)).toEqual(content);
    expect(emulator.inspect.calls().filter((c) => c.fileId === file.id).map((c) => [c.method, c.status])).toEqual([['GET', 200], ['GET', 200]]);
  });

  test('exports a Google Doc as markdown or text and refuses alt=media on it with 403 fileNotDownloadable', async () => {
    const doc = emulator.seed.doc({ name: 'Plan', markdown: '# Plan\n\nShip **it**.\n' });
    const markdown = await drive.files.export({ fileId: doc.id, mimeType: 'text/markdown' }, { responseType: 'text' });
    expect(markdown.data).toBe('# Plan\n\nShip **it**.\n');
    const text = await drive.files.export({ fileId: doc.id, mimeType: 'text/plain' }, { responseType: 'text' });
    expect(text.data).toBe('Plan\n\nShip it.\n');
    const err = await failure(drive.files.get({ fileId: doc.id, alt: 'media' }));
    expect(err.status).toBe(403);
    expect(errorBody(err).error.errors[0]).toMatchObject({ domain: 'global', reason: 'fileNotDownloadable', location: 'alt' });
  });

  test('creates a Google Doc from uploaded markdown and replaces its text with a media update', async () => {
    const created = await drive.files.create(
      { requestBody: { name: 'Spec', mimeType: 'application/vnd.google-apps.document' }, media: { mimeType: 'text/markdown', body: '# Spec\n' }, fields: 'id,mimeType,md5Checksum' },
      { rootUrl: emulator.url },
    );
    expect(created.data).toEqual({ id: expect.any(String) as string, mimeType: 'application/vnd.google-apps.document' });
    const fileId = created.data.id ?? '';
    await drive.files.update({ fileId, media: { mimeType: 'text/markdown', body: '# Spec v2\n' } }, { rootUrl: emulator.url });
    const exported = await drive.files.export({ fileId, mimeType: 'text/markdown' }, { responseType: 'text' });
    expect(exported.data).toBe('# Spec v2\n');
  });

  test('sends uploads to www.googleapis.com unless rootUrl is also given per call', async () => {
    // googleapis builds the upload URL (mediaUrl) from the method options' rootUrl only; the
    // service-wide rootUrl is not applied to it. Product code must pass { rootUrl } per call.
    const requested: string[] = [];
    const auth = new googleAuth.OAuth2();
    auth.setCredentials({ access_token: 'never-sent' });
    const offline = googleDrive({
      version: 'v3',
      rootUrl: emulator.url,
      retry: false,
      auth,
      fetchImplementation: (input) => {
        requested.push(input instanceof Request ? input.url : String(input));
        return Promise.reject(new Error('blocked by the test'));
      },
    });
    await failure(offline.files.create({ requestBody: { name: 'x' }, media: { mimeType: 'text/plain', body: 'x' } }));
    expect(requested).toEqual([expect.stringMatching(/^https:\/\/www\.googleapis\.com\/upload\/drive\/v3\/files\?/)]);
  });

  test('creates files by multipart upload with appProperties and finds them again with appProperties has', async () => {
    const folder = await drive.files.create({ requestBody: { name: 'repo', mimeType: FOLDER }, fields: 'id' });
    const folderId = folder.data.id ?? '';
    const created = await drive.files.create({
      requestBody: { name: 'README.md', parents: [folderId], appProperties: { syncPath: 'README.md', repo: 'acme/notes' } },
      media: { mimeType: 'text/markdown', body: '# Notes\n' },
      fields: 'id,name,mimeType,md5Checksum,appProperties,parents',
    }, { rootUrl: emulator.url });
    expect(created.data).toMatchObject({ name: 'README.md', mimeType: 'text/markdown', md5Checksum: md5('# Notes\n'), parents: [folderId] });
    const streamed = await drive.files.create({
      requestBody: { name: 'logo.png', parents: [folderId] },
      media: { mimeType: 'image/png', body: Readable.from([Buffer.from([137, 80, 78, 71])]) },
      fields: 'id,size,mimeType',
    }, { rootUrl: emulator.url });
    expect(streamed.data).toMatchObject({ size: '4', mimeType: 'image/png' });
    expect(emulator.inspect.calls().filter((c) => c.path === '/upload/drive/v3/files').map((c) => c.query)).toEqual([
      expect.stringContaining('uploadType=multipart'),
      expect.stringContaining('uploadType=multipart'),
    ]);

    const found = await drive.files.list({
      q: `appProperties has { key='syncPath' and value='README.md' } and '${folderId}' in parents and trashed = false`,
      fields: 'files(id,appProperties)',
    });
    expect(found.data.files).toEqual([{ id: created.data.id, appProperties: { syncPath: 'README.md', repo: 'acme/notes' } }]);
  });

  test('updates content with a media upload, changing md5Checksum, headRevisionId and version', async () => {
    const file = emulator.seed.file({ name: 'a.md', content: 'v1' });
    const updated = await drive.files.update({ fileId: file.id, media: { mimeType: 'text/markdown', body: 'v2' }, fields: 'md5Checksum,headRevisionId,version,size' }, { rootUrl: emulator.url });
    expect(Object.keys(updated.data).sort()).toEqual(['headRevisionId', 'md5Checksum', 'size', 'version']);
    expect(updated.data).toMatchObject({ md5Checksum: md5('v2'), version: '2', size: '2' });
    expect(updated.data.headRevisionId).not.toBe(file.headRevisionId);
    expect(emulator.inspect.calls().at(-1)).toMatchObject({ method: 'PATCH', path: `/upload/drive/v3/files/${file.id}`, status: 200 });
    expect(emulator.inspect.content(file.id)?.toString()).toBe('v2');
  });

  test('renames and moves a file with PATCH addParents and removeParents, and refuses a second parent', async () => {
    const from = emulator.seed.folder('from');
    const to = emulator.seed.folder('to');
    const file = emulator.seed.file({ name: 'a.md', parentId: from.id, content: 'x' });
    const moved = await drive.files.update({ fileId: file.id, addParents: to.id, removeParents: from.id, requestBody: { name: 'b.md' }, fields: 'name,parents' });
    expect(moved.data).toEqual({ name: 'b.md', parents: [to.id] });
    const err = await failure(drive.files.update({ fileId: file.id, addParents: from.id }));
    expect(err.status).toBe(403);
    expect(reasonOf(err)).toBe('cannotAddParent');
  });

  test('trashes a file, then deletes it, after which it is not found', async () => {
    const file = emulator.seed.file({ name: 'gone.md', content: 'x' });
    await drive.files.update({ fileId: file.id, requestBody: { trashed: true } });
    const live = await drive.files.list({ q: 'trashed = false' });
    expect(live.data.files).toEqual([]);
    const bin = await drive.files.list({ q: 'trashed = true', fields: 'files(id,trashed)' });
    expect(bin.data.files).toEqual([{ id: file.id, trashed: true }]);
    const deleted = await drive.files.delete({ fileId: file.id });
    expect(deleted.status).toBe(204);
    const err = await failure(drive.files.get({ fileId: file.id }));
    expect(err.status).toBe(404);
    expect(errorBody(err)).toEqual({
      error: {
        code: 404,
        message: `File not found: ${file.id}.`,
        errors: [{ domain: 'global', reason: 'notFound', message: `File not found: ${file.id}.`, locationType: 'parameter', location: 'fileId' }],
      },
    });
  });

  test('reports creates, edits, moves, trashes and deletes in the changes feed from a start token', async () => {
    const folder = emulator.seed.folder('dest');
    const start = (await drive.changes.getStartPageToken()).data.startPageToken ?? '';
    const created = await drive.files.create({ requestBody: { name: 'a.md' }, media: { mimeType: 'text/markdown', body: 'v1' }, fields: 'id' }, { rootUrl: emulator.url });
    const id = created.data.id ?? '';
    emulator.seed.update(id, { content: 'edited in Drive' });
    await drive.files.update({ fileId: id, addParents: folder.id, removeParents: 'root' });
    await drive.files.update({ fileId: id, requestBody: { trashed: true } });
    await drive.files.delete({ fileId: id });

    const changes: drive_v3.Schema$Change[] = [];
    let pageToken = start;
    let newStart: string | undefined;
    while (!newStart) {
      const res = await drive.changes.list({ pageToken, pageSize: 2, fields: 'nextPageToken,newStartPageToken,changes(fileId,removed,changeType,file(parents,trashed,md5Checksum))' });
      changes.push(...(res.data.changes ?? []));
      newStart = res.data.newStartPageToken ?? undefined;
      pageToken = res.data.nextPageToken ?? '';
    }
    expect(changes).toEqual([
      { changeType: 'file', fileId: id, removed: false, file: { parents: [emulator.inspect.rootId()], trashed: false, md5Checksum: md5('v1') } },
      { changeType: 'file', fileId: id, removed: false, file: { parents: [emulator.inspect.rootId()], trashed: false, md5Checksum: md5('edited in Drive') } },
      { changeType: 'file', fileId: id, removed: false, file: { parents: [folder.id], trashed: false, md5Checksum: md5('edited in Drive') } },
      { changeType: 'file', fileId: id, removed: false, file: { parents: [folder.id], trashed: true, md5Checksum: md5('edited in Drive') } },
      { changeType: 'file', fileId: id, removed: true },
    ]);
    const quiet = await drive.changes.list({ pageToken: newStart });
    expect(quiet.data).toEqual({ kind: 'drive#changeList', changes: [], newStartPageToken: newStart });
    const withoutRemoved = await drive.changes.list({ pageToken: start, includeRemoved: false, fields: 'changes(removed)' });
    expect(withoutRemoved.data.changes?.every((c) => c.removed === false)).toBe(true);
  });

  test('refreshes the access token through OAuth2Client when it expires', async () => {
    emulator.seed.token({ refreshToken: 'refresh-1', expiresInSec: 1 });
    const auth = oauthClient(emulator);
    auth.setCredentials({ refresh_token: 'refresh-1' });
    const client = driveClient(emulator, auth);
    await client.files.list();
    await client.files.list();
    expect(emulator.inspect.grants('refresh-1')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.files.list();
    expect(emulator.inspect.grants('refresh-1')).toBe(2);
    expect(auth.credentials).toMatchObject({ token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/drive' });
  });

  test('fails with invalid_grant once the refresh token is revoked', async () => {
    emulator.seed.token({ refreshToken: 'refresh-2' });
    emulator.revoke('refresh-2');
    const auth = oauthClient(emulator);
    auth.setCredentials({ refresh_token: 'refresh-2' });
    const err = await failure(driveClient(emulator, auth).files.list());
    expect(err.status).toBe(400);
    expect(err.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    expect(emulator.inspect.grants('refresh-2')).toBe(1);
    expect(emulator.inspect.calls()).toEqual([]);
  });

  test('answers 401 with Google error bodies without a token and with an expired one', async () => {
    const missing = await failure(driveClient(emulator).files.list());
    expect(missing.status).toBe(401);
    expect(errorBody(missing).error.errors[0]).toMatchObject({ reason: 'required', location: 'Authorization', locationType: 'header' });
    const auth = new googleAuth.OAuth2({ transporterOptions: { fetchImplementation } });
    auth.setCredentials({ access_token: emulator.seed.token({ refreshToken: 'short', expiresInSec: 0 }).accessToken });
    const expired = await failure(driveClient(emulator, auth).files.list());
    expect(expired.status).toBe(401);
    expect(errorBody(expired).error).toMatchObject({ code: 401, message: 'Invalid Credentials', errors: [{ reason: 'authError' }] });
  });

  test('answers a rate-limit burst with 429 and Retry-After, then recovers', async () => {
    emulator.faults.set({ rateLimitBurst: { count: 2, retryAfterSec: 7 } });
    for (let i = 0; i < 2; i += 1) {
      const err = await failure(drive.files.list());
      expect(err.status).toBe(429);
      expect(header(err.response?.headers, 'retry-after')).toBe('7');
      expect(reasonOf(err)).toBe('rateLimitExceeded');
    }
    expect((await drive.files.list()).status).toBe(200);
  });

  test('answers 403 userRateLimitExceeded, 503 backendError and errorRate failures as configured', async () => {
    emulator.faults.set({ userRateLimit403: 1, status5xx: 1 });
    const limited = await failure(drive.files.list());
    expect([limited.status, reasonOf(limited), errorBody(limited).error.errors[0]?.domain]).toEqual([403, 'userRateLimitExceeded', 'usageLimits']);
    const unavailable = await failure(drive.files.list());
    expect([unavailable.status, reasonOf(unavailable)]).toEqual([503, 'backendError']);
    emulator.faults.set({ errorRate: 1 });
    expect((await failure(drive.files.list())).status).toBe(503);
    emulator.faults.reset();
    expect((await drive.files.list()).status).toBe(200);
  });

  test('drops connections without an answer, which the client sees as a network error', async () => {
    emulator.faults.set({ dropConnections: 1 });
    const err = await failure(drive.files.list());
    expect(err.response).toBeUndefined();
    expect(emulator.inspect.calls().at(-1)?.status).toBe(0);
    expect((await drive.files.list()).status).toBe(200);
  });

  test('adds the configured latency to every answer', async () => {
    emulator.faults.set({ latencyMs: 150 });
    const started = performance.now();
    await drive.files.list();
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });

  test('googleapis by default retries 429, 503 and dropped connections on GET but not 403s or a failed POST', async () => {
    const retrying = tokenClient(emulator, true);
    emulator.faults.set({ rateLimitBurst: { count: 1, retryAfterSec: 30 }, status5xx: 1, dropConnections: 1 });
    const started = performance.now();
    expect((await retrying.files.list()).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(10_000); // Retry-After: 30 is not honoured
    expect(emulator.inspect.calls().map((c) => c.status)).toEqual([0, 429, 503, 200]);

    emulator.inspect.clearCalls();
    emulator.faults.set({ userRateLimit403: 1 });
    expect((await failure(retrying.files.list())).status).toBe(403);
    emulator.faults.set({ status5xx: 1 });
    expect((await failure(retrying.files.create({ requestBody: { name: 'x' } }))).status).toBe(503);
    expect(emulator.inspect.calls().map((c) => [c.method, c.status])).toEqual([['GET', 403], ['POST', 503]]);
  });
});
