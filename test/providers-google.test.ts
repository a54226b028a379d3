import { Readable } from 'node:stream';
import { startDriveEmulator, type DriveEmulator } from '../emulators/drive';
import { createDriveClient, uploadOptions } from '../lib/providers/google';
import { providerFailure } from '../lib/providers/failures';

/** The product's Drive client against the emulator: uploads land there, failures are classified once. */
describe('Drive client', () => {
  let drive: DriveEmulator;

  beforeAll(async () => {
    drive = await startDriveEmulator();
  });

  afterAll(async () => {
    await drive?.close();
  });

  it('uploads through the configured root URL when given uploadOptions, and finds the file by its appProperties', async () => {
    const { accessToken } = drive.seed.token({ refreshToken: 'r-upload' });
    const settings = { rootUrl: drive.url };
    const client = createDriveClient(accessToken, settings);
    const created = await client.files.create(
      {
        requestBody: { name: 'notes.md', parents: [drive.inspect.rootId()], appProperties: { durasyncLink: 'l1', durasyncPath: 'notes.md' } },
        media: { mimeType: 'text/markdown', body: Readable.from(['# hello\n']) },
        fields: 'id, md5Checksum',
      },
      uploadOptions(settings),
    );
    expect(created.data.md5Checksum).toMatch(/^[0-9a-f]{32}$/);
    const found = await client.files.list({ q: "appProperties has { key='durasyncPath' and value='notes.md' } and trashed = false", fields: 'files(id)' });
    expect(found.data.files?.map((f) => f.id)).toEqual([created.data.id]);
  });

  it('does not retry by itself: a 429 reaches the activity edge once, classified as RateLimited with its Retry-After', async () => {
    const { accessToken } = drive.seed.token({ refreshToken: 'r-limit' });
    drive.faults.set({ rateLimitBurst: { count: 1, retryAfterSec: 4 } });
    drive.inspect.clearCalls();
    const failure = await createDriveClient(accessToken, { rootUrl: drive.url })
      .files.list({ q: 'trashed = false' })
      .then(() => undefined, (err: unknown) => providerFailure('google', 'files.list', err));
    expect(failure).toMatchObject({ type: 'RateLimited', nonRetryable: false, nextRetryDelay: 4000 });
    expect(drive.inspect.calls()).toHaveLength(1);
    drive.faults.reset();
  });
});
