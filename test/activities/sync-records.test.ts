import { Client as PgClient } from 'pg';
import { createSyncRecordActivities } from '../../activities/sync/records';
import { createStore, type Store } from '../../lib/db/store';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/** The sync workflows' bookkeeping activities on the real Postgres. */
describe('sync record activities', () => {
  let db: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createStore({ databaseUrl: db.url, poolMax: 2 });
  });

  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('finishing a run clears its staging and sweeps staging left a day ago by runs that never ended', async () => {
    const { link } = await store.createSyncLink({ driveFolderId: 'folder-sweep', githubRepo: 'acme/notes', userId: 'u1' });
    const file = (path: string) => ({ path, content: Buffer.from(path), sha256: `h-${path}` });
    await store.stageSyncContent(link.id, 'finished/drive', [file('a.md')]);
    await store.stageSyncContent(link.id, 'abandoned/drive', [file('b.md')]);
    await store.stageSyncContent(link.id, 'running/github', [file('c.md')]);
    const pg = new PgClient({ connectionString: db.url });
    await pg.connect();
    try {
      await pg.query(`update sync_staged_content set created_at = now() - interval '25 hours' where run_id = 'abandoned/drive'`);
    } finally {
      await pg.end();
    }

    await createSyncRecordActivities({ store }).finishSyncRun({ linkId: link.id, runId: 'finished', driveCursor: '7', conflicts: [] });

    expect(await store.getStagedContent('finished/drive')).toEqual([]);
    expect(await store.getStagedContent('abandoned/drive')).toEqual([]);
    expect((await store.getStagedContent('running/github')).map((f) => f.path)).toEqual(['c.md']);
    expect(await store.getSyncLink(link.id)).toMatchObject({ driveCursor: '7' });
  });
});
