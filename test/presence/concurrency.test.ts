// needs: mysql, redis
// 50 pages of 10 users connect at once, then all leave at once: Redis hashes,
// the MySQL online list, timers and login rows must come out exactly right.
// Two servers share the database and Redis, so the races are between processes'
// worth of state too (each server has its own connections and caches).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  auth, clientIdsByUser, createBacking, eventually, onlineClient, startPresenceServer,
  type Backing, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { loginRows, onlineTimes, userInfoList } from './sql-helpers';

const ROOM = '/classes/race';
const TIME = '/courses/race/lessons/1';
const USERS = Array.from({ length: 10 }, (_, i) => 5000 + i);

let backing: Backing;
let servers: PresenceServer[];

before(async () => {
  backing = await createBacking('mysql+redis');
  servers = [await startPresenceServer('mysql+redis', { timeout: 5 }, backing), await startPresenceServer('mysql+redis', { timeout: 5 }, backing)];
});

after(async () => {
  for (const s of servers) await s.close();
  await backing.release();
});

test('50 clients of 10 users connecting and disconnecting at once end exactly right', async () => {
  const [a] = servers;
  const clients: Array<{ uid: number; client: TestClient }> = [];
  for (let i = 0; i < 50; i++) {
    const uid = USERS[i % 10];
    const server = servers[i % 2];
    clients.push({ uid, client: onlineClient(server.url, auth(uid, `user${uid}`, ROOM, TIME), { transport: i % 3 === 0 ? 'long-polling' : undefined }) });
  }
  const ids = await Promise.all(clients.map((c) => c.client.connected()));
  await eventually(async () => (await loginRows(a, ids)).length === 50, 15_000, '50 login rows');
  await Promise.all(servers.map((s) => s.handle.settled()));

  const byUser = await clientIdsByUser(a, ROOM);
  assert.deepEqual(Object.keys(byUser).map(Number).sort(), [...USERS].sort());
  for (const uid of USERS) {
    const expected = clients.map((c, i) => (c.uid === uid ? ids[i] : null)).filter(Boolean).sort();
    assert.deepEqual([...byUser[uid]].sort(), expected, `clientIds of ${uid} in the room`);
  }
  assert.deepEqual(await clientIdsByUser(a, TIME), byUser, 'time channel hash equals room hash');
  const list = JSON.parse((await userInfoList(a, ROOM))!) as number[];
  assert.deepEqual([...list].sort(), [...USERS].sort(), 'each user once in the MySQL list');
  for (const uid of USERS) {
    const times = JSON.parse((await onlineTimes(a, uid))!);
    assert.ok(times[`${TIME}_started_at`], `timer of ${uid} runs`);
  }
  const logins = await loginRows(a, ids);
  assert.equal(logins.filter((r) => r.status === 1).length, 50);
  assert.equal(new Set(logins.map((r) => r.clientId)).size, 50, 'one login per clientId');

  await Promise.all(clients.map((c) => c.client.disconnect()));
  await eventually(async () => (await loginRows(a, ids)).length === 100, 15_000, '100 log rows');
  await Promise.all(servers.map((s) => s.handle.settled()));

  assert.deepEqual(await clientIdsByUser(a, ROOM), {});
  assert.deepEqual(await clientIdsByUser(a, TIME), {});
  assert.equal(await userInfoList(a, ROOM), '[]');
  for (const uid of USERS) {
    const times = JSON.parse((await onlineTimes(a, uid))!);
    assert.equal(times[`${TIME}_started_at`], undefined, `timer of ${uid} stopped`);
    assert.equal(typeof times[`${TIME}_spended`], 'number');
  }
  const rows = await loginRows(a, ids);
  for (const id of ids) {
    assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status).sort(), [0, 1], `login and logout of ${id}`);
  }
  const [{ n }] = await a.query<{ n: number }>(`SELECT COUNT(*) AS n FROM faye_channel_online_lists`);
  assert.equal(Number(n), 1, 'one online-list row for the room');
});
