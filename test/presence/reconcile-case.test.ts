// needs: mysql, redis
// A faye_channels row named in another case than the room whose list it holds
// (the gem accepted /rooms/aBx; MySQL finds that row for /rooms/abx too): the
// reconciliation pass read the store under the row's name, found nobody, and
// removed every user who was online in /rooms/abx.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';

let server: PresenceServer;
const clients: TestClient[] = [];
const legacy = `/case${process.pid}/rooms/aBx`;
const room = legacy.toLowerCase();

before(async () => {
  server = await startPresenceServer('mysql+redis', { reconcileInterval: 0 });
});

after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  await server.close();
});

test("reconciliation keeps the users of a room whose row the gem created in another case", async () => {
  await server.query(`INSERT INTO faye_channels (name, created_at, updated_at) VALUES ('${legacy}', NOW(), NOW())`);
  clients.push(onlineClient(server.url, auth(41, 'u41', room, `${room}/lesson`), { transport: 'long-polling' }));
  await clients[0].connected();
  await eventually(async () => (await server.handle.onlineUsers(room)).includes(41), 10_000, 'joined');
  const rows = await server.query<{ name: string }>(`SELECT c.name FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = '${room}'`);
  assert.deepEqual(rows.map((row) => row.name), [legacy], 'the list lives in the row the gem named');
  await server.handle.settled();

  const report = await server.handle.reconcile();
  await server.handle.settled();
  assert.deepEqual(report.lists, []);
  assert.deepEqual(await server.handle.onlineUsers(room), [41]);
});
