import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFayeOnlineError } from '../../lib/errors';
import { MemoryStore } from '../../lib/stores/memory-store';
import { GRACE_MS, LIMIT, storeContract } from './contract';

storeContract('memory', async () => ({ store: new MemoryStore(LIMIT, GRACE_MS), cleanup: async () => undefined }));

test('the memory store refuses to check the Redis engine\'s clients (the caller asks the engine itself)', async () => {
  const store = new MemoryStore(LIMIT, GRACE_MS);
  const authJson = JSON.stringify({ room_channel: '/r', time_channel: '/l', current_user: { uid: 1, uname: 'a' } });
  await assert.rejects(
    store.arrive({ clientId: 'c', uid: 1, room: '/r', timeChannel: '/l', authJson, at: 0, engineClients: { key: 'faye/clients', aliveAfter: 0 } }),
    (error: unknown) => isFayeOnlineError(error, 'INVALID_ARGUMENT'),
  );
  assert.deepEqual([...(await store.clientIdsByUser('/r')).entries()], []);
});
