import { createStore, type Store } from '../../lib/db/store';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { describeStoreContract } from './store-contract';

/** PgStore on the real PostgreSQL, one cloned database per test. */
describeStoreContract('PgStore on PostgreSQL', 'pg', {
  async open() {
    const db: TestDatabase = await createTestDatabase();
    const stores: Store[] = [];
    const open = (): Store => {
      const store = createStore({ databaseUrl: db.url, poolMax: 4 });
      stores.push(store);
      return store;
    };
    return {
      store: open(),
      openAnother: open,
      async close() {
        await Promise.all(stores.map((store) => store.close()));
        await db.drop();
      },
    };
  },
});
