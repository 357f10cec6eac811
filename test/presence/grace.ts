// No false leaves: a user whose last page disconnects (or is dropped by the
// engine) and who comes back within the grace period never left: no leave or
// join, no user_list change; the login log still records the old clientId's
// logout and the new one's login, and online time agrees with it (a gap of a
// second or more between them is not online time). A real leave takes effect
// when the grace expires, as of the time the user was last seen.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import { auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient } from '../support/presence-server';
import { loggedSessionsMs, loginRows, onlineTimes, userInfoList } from './sql-helpers';

const GRACE_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;

export function graceScenarios(backend: Backend): void {
  describe(`leave grace period (${backend})`, () => {
    let server: PresenceServer;
    const clients: TestClient[] = [];
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, gc: 1, leaveGrace: GRACE_MS / 1000, userListWindow: 50 });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    /** Joins one user in a fresh room; records every join, leave and user_list message of that room from then on. */
    async function watchedRoom(uid: number) {
      counter += 1;
      const room = `/grace/room${counter}x${process.pid}`;
      const time = `/grace/lesson${counter}x${process.pid}`;
      const first = onlineClient(server.url, auth(uid, `user${uid}`, room, time));
      clients.push(first);
      const firstId = await first.connected();
      await eventually(async () => (await userInfoList(server, room)) === `[${uid}]`, 5000, 'joined');
      await server.handle.settled();
      const startedAt = JSON.parse((await onlineTimes(server, uid))!)[`${time}_started_at`] as string;
      const events: string[] = [];
      const onJoin = (e: { room: string }) => e.room === room && events.push('join');
      const onLeave = (e: { room: string }) => e.room === room && events.push('leave');
      server.handle.on('join', onJoin);
      server.handle.on('leave', onLeave);
      const lists: unknown[] = [];
      const listener = new faye.Client(server.url);
      await listener.subscribe(`${room}/user_list`, (data) => lists.push(data));
      return {
        room, time, first, firstId, startedAt, events, lists,
        async stop() {
          server.handle.off('join', onJoin);
          server.handle.off('leave', onLeave);
          await listener.disconnect();
        },
      };
    }

    test('a reload within the grace period is no leave and no join', async () => {
      const w = await watchedRoom(11);
      await w.first.disconnect();
      await sleep(300);
      const reloaded = onlineClient(server.url, auth(11, 'user11', w.room, w.time));
      clients.push(reloaded);
      const newId = await reloaded.connected();
      await sleep(GRACE_MS + 1000);
      await server.handle.settled();
      assert.deepEqual(w.events, [], 'no leave, no join');
      assert.deepEqual(w.lists, [], 'no user_list message');
      assert.equal(await userInfoList(server, w.room), '[11]');
      assert.equal(JSON.parse((await onlineTimes(server, 11))!)[`${w.time}_started_at`], w.startedAt, 'the timer never stopped');
      assert.deepEqual((await loginRows(server, [w.firstId])).map((r) => r.status), [1, 0], 'old clientId logged out');
      assert.deepEqual((await loginRows(server, [newId])).map((r) => r.status), [1], 'new clientId logged in');
      await w.stop();
    });

    test('a re-handshake after the server forgot the client is no leave and no join', async () => {
      const w = await watchedRoom(12);
      // The engine drops the client (as after a too-long network hiccup); the
      // page is alive, gets "401::Unknown client" and handshakes again.
      server.handle.adapter._server._engine.destroyClient(w.firstId);
      await eventually(() => Boolean(w.first.clientId()) && w.first.clientId() !== w.firstId, 10_000, 'new clientId');
      const newId = w.first.clientId()!;
      await eventually(async () => (await loginRows(server, [newId])).length === 1, 10_000, 'new login');
      await sleep(GRACE_MS + 500);
      await server.handle.settled();
      assert.deepEqual(w.events, []);
      assert.deepEqual(w.lists, []);
      assert.equal(await userInfoList(server, w.room), '[12]');
      assert.deepEqual((await loginRows(server, [w.firstId])).map((r) => r.status), [1, 0]);
      // Online time follows the login log: from the old clientId's last
      // sighting (its logout) to the new one's login the page was not seen.
      const counted = (await server.handle.onlineTime(12, w.time)).totalSeconds * 1000;
      const logged = await loggedSessionsMs(server, [w.firstId, newId]);
      assert.ok(Math.abs(counted - logged) <= 2000, `online time ${counted} ms, login log sessions ${logged} ms (1 s per session)`);
      await w.stop();
    });

    test('a real leave takes effect after the grace period, as of when the user was last seen', async () => {
      const w = await watchedRoom(13);
      await sleep(1100);
      const leftAt = Date.now();
      await w.first.disconnect();
      await sleep(GRACE_MS / 2);
      await server.handle.settled();
      assert.equal(await userInfoList(server, w.room), '[13]', 'still listed during the grace period');
      assert.deepEqual(w.events, []);
      await eventually(async () => (await userInfoList(server, w.room)) === '[]', GRACE_MS + 3000, 'left after the grace');
      await server.handle.settled();
      assert.deepEqual(w.events, ['leave']);
      await eventually(() => w.lists.length === 1, 3000, 'one user_list');
      assert.deepEqual(w.lists, [{ count: 0, user_list: [] }]);
      const times = JSON.parse((await onlineTimes(server, 13))!);
      assert.equal(times[`${w.time}_started_at`], undefined);
      // _started_at is local time of this process (the server's default zone), whole seconds.
      const st = w.startedAt;
      const started = new Date(+st.slice(0, 4), +st.slice(4, 6) - 1, +st.slice(6, 8), +st.slice(8, 10), +st.slice(10, 12), +st.slice(12, 14)).getTime();
      const honest = Math.floor((leftAt + 300 - started) / 1000);
      assert.ok(times[`${w.time}_spended`] <= honest, `counted ${times[`${w.time}_spended`]} s, at most ${honest}: the grace period is not online time`);
      await w.stop();
    });
  });
}
