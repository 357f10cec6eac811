// The Ruby gem's own test scenarios (test/test_faye-online.rb), ported to real
// Faye clients against a real server, plus the cases the gem never covered.
// Run against both backends by the two *.test.ts files beside this one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  auth, clientIdsByUser, eventually, onlineClient, startPresenceServer,
  type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { startTcpProxy } from '../support/tcp-proxy';
import { channelId, loginRows, onlineTimes, userInfoList } from './sql-helpers';
import { sleep } from '../support/wait';
import { PresenceKeys } from '../../lib/stores/keys';

let roomCounter = 0;
/** A fresh room and time channel per test, so tests share one server. */
function freshChannels() {
  roomCounter += 1;
  return { room: `/classes/${roomCounter}${process.pid}`, time: `/courses/5/lessons/${roomCounter}${process.pid}` };
}

export function presenceScenarios(backend: Backend): void {
  describe(`presence scenarios (${backend})`, () => {
    let server: PresenceServer;
    const clients: TestClient[] = [];
    const connect = async (wire: ReturnType<typeof auth>, transport?: 'long-polling' | 'websocket') => {
      const client = onlineClient(server.url, wire, { transport });
      clients.push(client);
      const id = await client.connected();
      return { client, id };
    };

    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, beforeLeaveDelay: 1.5, userListWindow: 50 });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    test('one user: connect, connect again, disconnect (the gem\'s test_one_user)', async () => {
      const { room, time } = freshChannels();
      const { client, id } = await connect(auth(470700, 'mvj3', room, time));

      await eventually(async () => (await loginRows(server, [id])).length === 1, 5000, 'login row');
      await server.handle.settled();
      assert.deepEqual(await clientIdsByUser(server, room), { 470700: [id] });
      assert.deepEqual(await clientIdsByUser(server, time), { 470700: [id] });
      assert.equal(await userInfoList(server, room), '[470700]');
      const [login] = await loginRows(server, [id]);
      assert.equal(login.status, 1);
      assert.equal(login.uid, 470700);
      assert.equal(login.channel_id, await channelId(server, time), 'login rows point at the time channel');
      if (server.redis) {
        assert.equal(await server.redis.redis.get(new PresenceKeys(server.namespace).status(id)), '1');
        const remembered = JSON.parse((await server.redis.redis.get(new PresenceKeys(server.namespace).auth(id)))!);
        assert.deepEqual(remembered, auth(470700, 'mvj3', room, time));
        // 2 weeks, as the gem's, once Faye answered the page's connect (a few minutes before that).
        const redis = server.redis.redis;
        await eventually(async () => (await redis.ttl(new PresenceKeys(server.namespace).auth(id))) > 1_209_000, 5000, 'full TTL');
      }

      // The same clientId connects again (a long-poll cycle of the 1 s timeout): nothing is added.
      server.sql.reset();
      await sleep(2500);
      await server.handle.settled();
      assert.equal((await loginRows(server, [id])).length, 1, 'still one login row');
      assert.deepEqual(await clientIdsByUser(server, room), { 470700: [id] });

      await client.disconnect();
      await eventually(async () => (await loginRows(server, [id])).length === 2, 5000, 'logout row');
      await server.handle.settled();
      assert.deepEqual(await clientIdsByUser(server, room), {});
      assert.deepEqual(await clientIdsByUser(server, time), {});
      assert.equal(await userInfoList(server, room), '[]');
      const rows = await loginRows(server, [id]);
      assert.deepEqual(rows.map((r) => r.status), [1, 0]);
    });

    test('more users join and leave in the gem\'s order (test_more_user): 2, 3, 5, 6, 8 log rows', async () => {
      const { room, time } = freshChannels();
      const ids: string[] = [];
      const step = async (rows: number, list: string) => {
        await eventually(async () => (await loginRows(server, ids)).length === rows, 5000, `${rows} log rows`);
        await server.handle.settled();
        assert.equal((await loginRows(server, ids)).length, rows);
        assert.equal(await userInfoList(server, room), list);
      };

      const a = await connect(auth(470700, 'mvj3', room, time));
      ids.push(a.id);
      await step(1, '[470700]');
      const b = await connect(auth(1, 'admin', room, time));
      ids.push(b.id);
      await step(2, '[470700,1]');

      await b.client.disconnect();
      await step(3, '[470700]');

      const b2 = await connect(auth(1, 'admin', room, time));
      ids.push(b2.id);
      await step(4, '[470700,1]');
      const c = await connect(auth(2, 'iceskysl', room, time));
      ids.push(c.id);
      await step(5, '[470700,1,2]');

      await a.client.disconnect();
      await step(6, '[1,2]');

      await b2.client.disconnect();
      await c.client.disconnect();
      await step(8, '[]');
    });

    test('online time: a session of over a second leaves _spended > 0 and no _started_at', async () => {
      const { room, time } = freshChannels();
      const uid = 900001 + roomCounter;
      const { client } = await connect(auth(uid, 'timer', room, time));
      await eventually(async () => (await onlineTimes(server, uid))?.includes(`"${time}_started_at":"`), 5000, 'timer started');
      const running = await server.handle.onlineTime(uid, time);
      assert.ok(running.runningSince instanceof Date);
      await sleep(2100);
      await client.disconnect();
      await eventually(async () => !(await onlineTimes(server, uid))?.includes('_started_at'), 5000, 'timer stopped');
      const stored = JSON.parse((await onlineTimes(server, uid))!);
      assert.ok(stored[`${time}_spended`] >= 2, `spent ${stored[`${time}_spended`]}`);
      assert.equal(stored[`${time}_started_at`], undefined);
      const total = await server.handle.onlineTime(uid, time);
      assert.equal(total.runningSince, null);
      assert.equal(total.totalSeconds, stored[`${time}_spended`]);
    });

    test('validation: current_user without uid is an error; auth without room_channel is not tracked', async () => {
      const { room, time } = freshChannels();
      const noUid = onlineClient(server.url, { room_channel: room, time_channel: time, current_user: { uname: 'mvj3' } }, { connectTimeoutMs: 1500 });
      clients.push(noUid);
      await assert.rejects(noUid.connected(), /did not connect/);
      assert.ok(noUid.errors.some((e) => /^401::Invalid auth - current_user needs uid and uname/.test(e)), noUid.errors.join('; '));
      await noUid.disconnect();

      const noRoom = await connect({ time_channel: time, current_user: { uid: 5, uname: 'x' } });
      await sleep(300);
      await server.handle.settled();
      assert.equal((await loginRows(server, [noRoom.id])).length, 0, 'not tracked');
      assert.deepEqual(await clientIdsByUser(server, time), {});
      assert.deepEqual(noRoom.client.errors, []);
    });

    test('a user with two tabs stays online and keeps the timer when one tab leaves; leaves once when both are gone', async () => {
      const { room, time } = freshChannels();
      const uid = 700 + roomCounter;
      const leaves: number[] = [];
      const onLeave = (e: { uid: number; room: string }) => e.room === room && leaves.push(e.uid);
      server.handle.on('leave', onLeave);
      const tab1 = await connect(auth(uid, 'two-tabs', room, time));
      const tab2 = await connect(auth(uid, 'two-tabs', room, time), 'long-polling');
      await eventually(async () => (await clientIdsByUser(server, room))[uid]?.length === 2, 5000, 'two clientIds');
      assert.deepEqual((await clientIdsByUser(server, room))[uid], [tab1.id, tab2.id]);

      await tab1.client.disconnect();
      await eventually(async () => (await loginRows(server, [tab1.id])).length === 2, 5000, 'tab 1 logged out');
      await server.handle.settled();
      assert.equal(await userInfoList(server, room), `[${uid}]`, 'still online');
      assert.ok((await server.handle.onlineTime(uid, time)).runningSince, 'timer still running');
      assert.deepEqual(leaves, []);

      await tab2.client.disconnect();
      await eventually(async () => (await userInfoList(server, room)) === '[]', 5000, 'left');
      await server.handle.settled();
      assert.deepEqual(leaves, [uid], 'one leave event');
      assert.equal((await server.handle.onlineTime(uid, time)).runningSince, null);
      assert.deepEqual((await loginRows(server, [tab1.id, tab2.id])).map((r) => r.status).sort(), [0, 0, 1, 1]);
      server.handle.off('leave', onLeave);
    });

    test('one user in two rooms and two time channels at once', async () => {
      const first = freshChannels();
      const second = freshChannels();
      const uid = 8000 + roomCounter;
      const p1 = await connect(auth(uid, 'both', first.room, first.time));
      const p2 = await connect(auth(uid, 'both', second.room, second.time));
      await eventually(async () => (await userInfoList(server, second.room)) === `[${uid}]`, 5000, 'in room 2');
      await eventually(async () => (await userInfoList(server, first.room)) === `[${uid}]`, 5000, 'in room 1');
      const times = JSON.parse((await onlineTimes(server, uid))!);
      assert.ok(times[`${first.time}_started_at`] && times[`${second.time}_started_at`], JSON.stringify(times));

      await p1.client.disconnect();
      await eventually(async () => (await userInfoList(server, first.room)) === '[]', 5000, 'left room 1');
      await server.handle.settled();
      assert.equal(await userInfoList(server, second.room), `[${uid}]`, 'still in room 2');
      const after1 = JSON.parse((await onlineTimes(server, uid))!);
      assert.equal(after1[`${first.time}_started_at`], undefined);
      assert.ok(after1[`${second.time}_started_at`]);
      await p2.client.disconnect();
    });

    test('a client that reconnects after a network drop keeps its presence, with one login', async () => {
      // Its own server with a longer timeout, behind a proxy whose network we cut.
      const own = await startPresenceServer(backend, { timeout: 3, userListWindow: 50 });
      const proxy = await startTcpProxy(own.port);
      try {
        const { room, time } = freshChannels();
        const uid = 9100 + roomCounter;
        const client = onlineClient(`http://127.0.0.1:${proxy.port}/faye`, auth(uid, 'flaky', room, time), { transport: 'long-polling' });
        const id = await client.connected();
        await eventually(async () => (await userInfoList(own, room)) === `[${uid}]`, 5000, 'joined');

        // The network is down for 1.5 s, less than the engine's 2 x timeout:
        // the client retries and comes back with the same clientId.
        proxy.cut();
        await sleep(1500);
        proxy.restore();
        await eventually(() => own.handle.members(room).then((m) => m.length === 1), 5000, 'still there');
        await sleep(3500);
        await own.handle.settled();
        assert.equal(client.clientId(), id, 'same clientId');
        assert.equal(await userInfoList(own, room), `[${uid}]`);
        assert.deepEqual((await loginRows(own, [id])).map((r) => r.status), [1], 'one login, no logout');

        await client.disconnect();
        await eventually(async () => (await loginRows(own, [id])).length === 2, 5000, 'logout');
      } finally {
        await proxy.close();
        await own.close();
      }
    });
  });
}
