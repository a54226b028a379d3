import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { auth as googleAuth, drive as googleDrive } from 'googleapis/build/src/apis/drive';
import type { drive_v3 } from 'googleapis/build/src/apis/drive';
import { startDriveEmulator } from '../../emulators/drive';
import type { DriveEmulator } from '../../emulators/drive';

// The Drive emulator's stateFile: a workspace made through googleapis survives a restart.
const FOLDER = 'application/vnd.google-apps.folder';
const DOC = 'application/vnd.google-apps.document';
/** jest cannot run gaxios' dynamic import of node-fetch: hand it Node's fetch (see drive.test.ts). */
const fetchImplementation = (...args: Parameters<typeof fetch>) => fetch(...args);

let dir: string;
let stateFile: string;
const open: DriveEmulator[] = [];

async function start(): Promise<DriveEmulator> {
  const emulator = await startDriveEmulator({ stateFile });
  open.push(emulator);
  return emulator;
}

function client(emulator: DriveEmulator, accessToken: string): drive_v3.Drive {
  const auth = new googleAuth.OAuth2({ transporterOptions: { fetchImplementation } });
  auth.setCredentials({ access_token: accessToken });
  return googleDrive({ version: 'v3', rootUrl: emulator.url, retry: false, fetchImplementation, auth });
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-drive-state-'));
  stateFile = path.join(dir, 'drive.json');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

test('keeps files, contents, versions, change tokens and OAuth tokens across a restart', async () => {
  const first = await start();
  const { accessToken } = first.seed.token({ refreshToken: 'refresh-kept' });
  const drive = client(first, accessToken);
  const { data: folder } = await drive.files.create({ requestBody: { name: 'notes', mimeType: FOLDER }, fields: 'id' });
  const { data: doc } = await drive.files.create(
    {
      requestBody: { name: 'Spec', mimeType: DOC, parents: [folder.id as string], appProperties: { durasyncPath: 'Spec.md' } },
      media: { mimeType: 'text/markdown', body: '# Spec\n' },
      fields: 'id',
    },
    { rootUrl: first.url },
  );
  const png = Buffer.from([137, 80, 78, 71, 0, 255]);
  const { data: upload } = await drive.files.create({ requestBody: { name: 'logo.png', parents: [folder.id as string] }, media: { mimeType: 'image/png', body: Readable.from([png]) }, fields: 'id' }, { rootUrl: first.url });
  await drive.files.update({ fileId: upload.id as string, media: { mimeType: 'image/png', body: Readable.from([Buffer.concat([png, png])]) } }, { rootUrl: first.url });
  const { data: token } = await drive.changes.getStartPageToken({});
  const seeded = first.seed.file({ name: 'later.md', parentId: folder.id as string, content: 'later\n' });
  const before = first.inspect.files();
  const rootId = first.inspect.rootId();
  await first.close();

  const second = await start();
  expect(second.inspect.files()).toEqual(before);
  expect(second.inspect.rootId()).toBe(rootId);
  const again = client(second, accessToken);
  const { data: media } = await again.files.get({ fileId: upload.id as string, alt: 'media' }, { responseType: 'arraybuffer' });
  expect(Buffer.from(media as ArrayBuffer)).toEqual(Buffer.concat([png, png]));
  const { data: exported } = await again.files.export({ fileId: doc.id as string, mimeType: 'text/markdown' }, { responseType: 'text' });
  expect(exported).toBe('# Spec\n');
  const { data: meta } = await again.files.get({ fileId: doc.id as string, fields: 'appProperties,parents,version' });
  expect(meta).toEqual({ appProperties: { durasyncPath: 'Spec.md' }, parents: [folder.id], version: '1' });

  // A page token taken before the restart lists only what came after it, then what comes next.
  second.seed.update(seeded.id, { content: 'later v2\n' });
  const { data: changes } = await again.changes.list({ pageToken: token.startPageToken as string, fields: 'newStartPageToken,changes(fileId,file(version))' });
  expect(changes.changes?.map((c) => [c.fileId, c.file?.version])).toEqual([
    [seeded.id, '1'],
    [seeded.id, '2'],
  ]);

  // The refresh token still grants, counting the grants made before the restart.
  const auth = new googleAuth.OAuth2({ clientId: 'c', clientSecret: 's', endpoints: { oauth2TokenUrl: second.tokenUrl }, transporterOptions: { fetchImplementation } });
  auth.setCredentials({ refresh_token: 'refresh-kept' });
  expect((await auth.getAccessToken()).token).toMatch(/^ya29\.emu-/);
  expect(second.inspect.grants('refresh-kept')).toBe(1);
});

test('saves within 200 ms of a change, atomically, as a version 1 envelope', async () => {
  const emulator = await start();
  emulator.seed.folder('inbox');
  await new Promise((r) => setTimeout(r, 400));
  const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { version: number; emulator: string; parts: { files: { files: Array<{ name: string }> } } };
  expect(saved).toMatchObject({ version: 1, emulator: 'drive' });
  expect(readdirSync(dir)).toEqual(['drive.json']); // the temp file was renamed over it
  expect(saved.parts.files.files.map((f) => f.name)).toEqual(['My Drive', 'inbox']);
});

test('starts empty when the state file does not exist yet', async () => {
  const emulator = await start();
  expect(emulator.inspect.files()).toEqual([]);
});

test.each([
  ['not JSON', '{"version": 1, "emu'],
  ['of another version', '{"version": 2, "emulator": "drive", "parts": {}}'],
  ['of the GitHub emulator', '{"version": 1, "emulator": "github", "parts": {}}'],
  ['with a broken part', '{"version": 1, "emulator": "drive", "parts": {"files": {"rootId": "x", "lastMillis": 1, "files": "no", "log": []}}}'],
])('refuses a state file %s, naming it', async (_name, text) => {
  writeFileSync(stateFile, text);
  await expect(startDriveEmulator({ stateFile })).rejects.toThrow(`emulator state file ${stateFile} cannot be loaded`);
});
