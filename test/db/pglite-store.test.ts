import { spawnEmbeddedPostgres, type SpawnedEmbeddedPostgres } from '../../lib/db/embedded-postgres-process';
import { migrate } from '../../lib/db/migrate';
import { createStore, type Store } from '../../lib/db/store';
import { describeStoreContract } from './store-contract';

/**
 * PgStore on embedded PGlite (in memory), one server for the suite: tests use unique keys. PGlite
 * runs in a child process (Jest's sandbox cannot load it).
 */
let pg: SpawnedEmbeddedPostgres | undefined;

describeStoreContract('PgStore on embedded PGlite', 'pg', {
  async setUp() {
    pg = await spawnEmbeddedPostgres();
    await migrate(pg.url);
  },
  async tearDown() {
    await pg?.close();
  },
  async open() {
    const url = pg?.url;
    if (!url) throw new Error('embedded postgres did not start');
    const stores: Store[] = [];
    const open = (): Store => {
      const store = createStore({ databaseUrl: url, poolMax: 4 });
      stores.push(store);
      return store;
    };
    return {
      store: open(),
      openAnother: open,
      async close() {
        await Promise.all(stores.map((store) => store.close()));
      },
    };
  },
});
