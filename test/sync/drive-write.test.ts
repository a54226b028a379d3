import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { createDriveClient, uploadOptions } from '../../lib/providers/google';
import { writeDriveFile, type DriveWriteInput } from '../../lib/sync/drive-write';

/** Retry-safe Drive writes through the real googleapis client against the emulator. */
describe('Drive writes for a sync run', () => {
  let drive: DriveEmulator;
  let input: (content: string, sourceSha: string) => DriveWriteInput;

  beforeAll(async () => {
    drive = await startDriveEmulator();
    const folderId = drive.seed.folder('notes').id;
    input = (content, sourceSha) => ({
      linkId: 'link-1',
      folderId,
      path: "docs/it's here.md",
      name: "it's here.md",
      content: Buffer.from(content),
      mimeType: 'text/markdown',
      sourceSha,
      uploadOptions: uploadOptions({ rootUrl: drive.url }),
    });
  });

  afterAll(async () => {
    await drive?.close();
  });

  it('creates a file once: a retried write finds it by its appProperties instead of creating a second one', async () => {
    const { accessToken } = drive.seed.token({ refreshToken: 'r1' });
    const client = createDriveClient(accessToken, { rootUrl: drive.url });
    const first = await writeDriveFile(client, input('# v1\n', 'sha-1'));
    expect(first).toMatchObject({ created: true, unchanged: false });
    // The same write again, as a retried activity whose first answer was lost would make it.
    const retry = await writeDriveFile(client, input('# v1\n', 'sha-1'));
    expect(retry).toMatchObject({ fileId: first.fileId, created: false, unchanged: true });
    const named = drive.inspect.files().filter((f) => f.name === "it's here.md");
    expect(named).toHaveLength(1);
    expect(drive.inspect.calls().filter((c) => c.method === 'POST' && c.path.includes('/upload/'))).toHaveLength(1);
  });

  it('updates the content in place when the source changes, keeping one file', async () => {
    const { accessToken } = drive.seed.token({ refreshToken: 'r2' });
    const client = createDriveClient(accessToken, { rootUrl: drive.url });
    const before = await writeDriveFile(client, input('# v1\n', 'sha-1'));
    const after = await writeDriveFile(client, input('# v2\n', 'sha-2'));
    expect(after).toMatchObject({ fileId: before.fileId, created: false, unchanged: false });
    expect(drive.inspect.content(after.fileId)?.toString()).toBe('# v2\n');
    expect(drive.inspect.files().filter((f) => f.name === "it's here.md")).toHaveLength(1);
  });
});
