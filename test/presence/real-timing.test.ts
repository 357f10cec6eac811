// needs: mysql, redis
// Issue 13's first case once end to end, at the real defaults (Faye timeout
// 10 s, leave grace 5 s; only the engine's GC interval is short, to shorten the
// wait), with real Faye clients over HTTP on MariaDB and Redis. About 35 s.
//
// A long-polling page sends one /meta/connect and goes silent; the engine
// drops it two timeouts later; 1.5 s after that the same user comes back with
// a new page, stays 6 s and disconnects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import faye from 'faye';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { loggedSessionsMs, loginRows, userInfoList } from './sql-helpers';
import { sleep } from '../support/wait';

const ROOM = `/real/rooms/r${process.pid}`;
const LESSON = `/real/lessons/l${process.pid}`;
const UID = 91;

let server: PresenceServer;
let listener: faye.Client | undefined;
const clients: TestClient[] = [];
before(async () => {
  server = await startPresenceServer('mysql+redis', { timeout: 10, leaveGrace: 5, gc: 1 });
});
after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  await Promise.resolve(listener?.disconnect()).catch(() => undefined);
  await server.close();
});

test('a page dropped by the engine and a return within the grace: one join, one leave, no user_list flap, online time as the login log', { timeout: 90_000 }, async () => {
  const events: string[] = [];
  server.handle.on('join', (e) => e.room === ROOM && events.push('join'));
  server.handle.on('leave', (e) => e.room === ROOM && events.push('leave'));
  const lists: Array<{ count: number; user_list: number[] }> = [];
  listener = new faye.Client(server.url);
  await listener.subscribe(`${ROOM}/user_list`, (data: { count: number; user_list: number[] }) => lists.push(data));

  const silent = onlineClient(server.url, auth(UID, 'ann', ROOM, LESSON), { transport: 'long-polling' });
  clients.push(silent);
  const silentId = await silent.connected();
  await eventually(async () => (await userInfoList(server, ROOM)) === `[${UID}]`, 5000, 'joined');
  silent.vanish();

  // The engine drops it two timeouts after its last ping.
  await eventually(async () => (await loginRows(server, [silentId])).some((row) => row.status === 0), 40_000, 'the silent page is dropped');
  await sleep(1500);
  const back = onlineClient(server.url, auth(UID, 'ann', ROOM, LESSON), { transport: 'long-polling' });
  clients.push(back);
  const backId = await back.connected();
  await sleep(6000);
  await back.disconnect();
  await eventually(async () => (await userInfoList(server, ROOM)) === '[]', 15_000, 'left after the grace');
  await server.handle.settled();

  assert.deepEqual(events, ['join', 'leave'], 'no second join');
  await eventually(() => lists.length >= 2, 3000, 'the final user_list');
  assert.deepEqual(lists, [{ count: 1, user_list: [UID] }, { count: 0, user_list: [] }], 'no user_list without the user before the real leave');
  const time = await server.handle.onlineTime(UID, LESSON);
  assert.equal(time.runningSince, null);
  const logged = await loggedSessionsMs(server, [silentId, backId]);
  assert.ok(Math.abs(time.totalSeconds * 1000 - logged) <= 2000, `online time ${time.totalSeconds} s, login log sessions ${logged} ms`);
  assert.ok(time.totalSeconds <= 9, `${time.totalSeconds} s counted: the 20 s the page was unseen are not online time`);
});
