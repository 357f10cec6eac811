// needs: mysql, redis
// A room whose members come back a few hundred milliseconds apart (a restart
// of the server, a class starting) gets its <room>/user_list about every 2 s,
// not once per join, and the last list is the room's final list, as stored.
// Real Faye clients over HTTP and WebSocket (half of them long-polling, which
// answer every list with a new request), MariaDB and Redis, the default
// settings (userListWindow 100 ms, timeout 10 s, leave grace 5 s). About 10 s.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import faye from 'faye';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { userInfoList } from './sql-helpers';
import { sleep } from '../support/wait';

const ROOM = `/wave/rooms/r${process.pid}`;
const LESSON = `/wave/lessons/l${process.pid}`;
const UIDS = Array.from({ length: 12 }, (_, i) => 5100 + i);
const GAP_MS = 300;

let server: PresenceServer;
let listener: faye.Client | undefined;
const clients: TestClient[] = [];
before(async () => {
  server = await startPresenceServer('mysql+redis');
});
after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  await Promise.resolve(listener?.disconnect()).catch(() => undefined);
  await server.close();
});

test('12 pages joining 300 ms apart: a few lists, not one per join, and the last one is the stored list', { timeout: 60_000 }, async () => {
  const lists: Array<{ at: number; count: number; user_list: number[] }> = [];
  listener = new faye.Client(server.url);
  await listener.subscribe(`${ROOM}/user_list`, (data: { count: number; user_list: number[] }) => lists.push({ at: Date.now(), ...data }));

  const connected: Array<Promise<string>> = [];
  for (const [i, uid] of UIDS.entries()) {
    const client = onlineClient(server.url, auth(uid, `u${uid}`, ROOM, LESSON), { transport: i % 2 ? 'long-polling' : 'websocket' });
    clients.push(client);
    connected.push(client.connected());
    await sleep(GAP_MS);
  }
  await Promise.all(connected);
  const lastJoinAt = Date.now();
  await eventually(() => lists.at(-1)?.count === UIDS.length, 10_000, 'the final list');
  await sleep(2500); // nothing more comes once the room is quiet
  await server.handle.settled();

  // One per join (the joins are more than a window apart) would be 12; with a list at most every 2 s while the
  // room keeps changing, the first at once and the final one once it is quiet, 2 to 4 over these 3.6 s.
  assert.ok(lists.length >= 2 && lists.length <= 4, `${lists.length} lists: ${lists.map((l) => l.count).join(', ')}`);
  assert.equal(lists[0].count, 1, 'a quiet room\'s first change at once');
  assert.ok(lists.at(-1)!.at - lastJoinAt <= 2500, `the final list ${lists.at(-1)!.at - lastJoinAt} ms after the last join`);
  assert.deepEqual([...lists.at(-1)!.user_list].sort(), [...UIDS].sort());
  assert.equal(await userInfoList(server, ROOM), JSON.stringify(lists.at(-1)!.user_list), 'the last list is the stored one');
});
