import { startSupabaseEmulator } from '../../emulators/supabase/server';
import { createStore, type Store } from '../../lib/db/store';
import { createTestDatabase } from '../helpers/db';
import { describeStoreContract } from './store-contract';

const SERVICE_KEY = 'test-service-role-key';

/** SupabaseStore (supabase-js .rpc) on the PostgREST emulator, over one cloned database per test. */
describeStoreContract('SupabaseStore on the emulator', 'supabase', {
  async open() {
    const db = await createTestDatabase();
    const emulator = await startSupabaseEmulator({ databaseUrl: db.url, serviceKey: SERVICE_KEY });
    const stores: Store[] = [];
    const open = (): Store => {
      const store = createStore({ supabase: { url: emulator.url, serviceKey: SERVICE_KEY } });
      stores.push(store);
      return store;
    };
    return {
      store: open(),
      openAnother: open,
      async close() {
        await Promise.all(stores.map((store) => store.close()));
        await emulator.close();
        await db.drop();
      },
    };
  },
});
