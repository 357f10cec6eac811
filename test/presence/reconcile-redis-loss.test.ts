// needs: mysql, redis
// After the Redis data is lost (FLUSHDB of this test's own Redis database),
// clients re-handshake, presence rebuilds itself from their next connects, and
// the reconciliation pass makes the MySQL records converge to the truth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Records } from '../../lib/records';
import { createTestDatabase } from '../support/mariadb';
import { auth, eventually, onlineClient, startPresenceServer, type Backing, type PresenceServer, type TestClient } from '../support/presence-server';
import { createTestRedis } from '../support/redis';
import { loginRows, onlineTimes, userInfoList } from './sql-helpers';

// Redis database 10 belongs to this file alone: it is flushed.
const FLUSHED_DB_URL = 'redis://127.0.0.1:6379/10';

let backing: Backing;
let server: PresenceServer;
const clients: TestClient[] = [];

before(async () => {
  const db = await createTestDatabase('loss');
  const redis = await createTestRedis(FLUSHED_DB_URL);
  backing = {
    backend: 'mysql+redis', db, redis, databaseUrl: db.url, namespace: redis.namespace,
    async release() {
      await redis.cleanup();
      await db.drop();
    },
  };
  server = await startPresenceServer('mysql+redis', { timeout: 1, gc: 1, reconcileInterval: 0 }, backing);
});

after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  await server.close();
  await backing.release();
});

test('Redis loses its data: clients come back, records converge, the lost clientIds are logged out', async () => {
  const room = '/loss/room';
  const time = '/loss/lesson';
  for (const uid of [1, 2]) clients.push(onlineClient(server.url, auth(uid, `u${uid}`, room, time), { transport: uid === 1 ? 'long-polling' : undefined }));
  const oldIds = await Promise.all(clients.map((c) => c.connected()));
  await eventually(async () => JSON.parse((await userInfoList(server, room)) ?? '[]').length === 2, 5000, 'both joined');
  const listBefore = (await userInfoList(server, room))!;
  // A stale entry written by "someone else": nobody with uid 99 is connected.
  await new Records({ sequelize: server.sequelize }).addToOnlineList(room, 99);
  await server.handle.settled();

  await backing.redis!.redis.flushdb();

  await eventually(() => clients.every((c, i) => c.clientId() && c.clientId() !== oldIds[i]), 10_000, 'clients re-handshook');
  const newIds = clients.map((c) => c.clientId()!);
  await eventually(async () => (await server.handle.members(room)).length === 2, 10_000, 'presence rebuilt from the new connects');
  await server.handle.settled();

  const report = await server.handle.reconcile();
  await server.handle.settled();
  assert.deepEqual([...report.orphanClientIds].sort(), [...oldIds].sort(), 'the lost clientIds depart');
  assert.deepEqual(report.lists, [{ room, added: [], removed: [99] }]);
  assert.equal(await userInfoList(server, room), listBefore, 'the same users, in the same order');
  for (const uid of [1, 2]) {
    assert.ok(JSON.parse((await onlineTimes(server, uid))!)[`${time}_started_at`], `timer of ${uid} still runs`);
  }
  const rows = await loginRows(server, [...oldIds, ...newIds]);
  for (const id of oldIds) assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status), [1, 0], `old ${id}: login and logout`);
  for (const id of newIds) assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status), [1], `new ${id}: login`);

  const again = await server.handle.reconcile();
  assert.deepEqual(again, { orphanClientIds: [], lists: [], timersStopped: [], engagementsStopped: [] }, 'a second pass has nothing to do');
});
