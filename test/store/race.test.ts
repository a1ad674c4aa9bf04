/** Concurrency: single-use OAuth states and conflicting creates under parallel requests. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createBackend, type BackendHandle } from '../helpers/backends.js';
import { openStore, type Store } from '../../src/store/index.js';

describe.each(BACKENDS)('store races (%s)', (name) => {
  let backend: BackendHandle;
  let store: Store;
  beforeAll(async () => {
    backend = await createBackend(name);
    store = await openStore(backend.postgresUrl ? { kind: 'postgres', url: backend.postgresUrl, schema: backend.postgresSchema! } : { kind: 'sqlite', path: join(backend.dataDir, 'db') });
  });
  afterAll(async () => {
    await store.close();
    await backend.cleanup();
  });

  it('an OAuth state taken by several callbacks at once is granted to exactly one', async () => {
    const u = await store.users.create({ username: 'racer', email: 'r@example.com' });
    for (let round = 0; round < 5; round++) {
      const state = `state-${round}`;
      await store.gitauth.saveState(state, 'gh', u.id, '/');
      const taken = await Promise.all(Array.from({ length: 6 }, () => store.gitauth.takeState(state, 60_000)));
      expect(taken.filter(Boolean)).toHaveLength(1);
    }
  });
});
