// user_list broadcasts, dead clients and before_leave, with real clients.
// Run against both backends by lifecycle-*.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { loginRows, onlineTimes, userInfoList } from './sql-helpers';
import faye from 'faye';
import { sleep } from '../support/wait';

let counter = 0;
const fresh = () => {
  counter += 1;
  return { room: `/life/${counter}x${process.pid}`, time: `/life/lessons/${counter}x${process.pid}` };
};

function transportOf(client: TestClient): string {
  return (client.faye as unknown as { _dispatcher: { connectionType?: string } })._dispatcher.connectionType ?? 'unknown';
}

export function lifecycleScenarios(backend: Backend): void {
  describe(`user_list (${backend})`, () => {
    const WINDOW = 300;
    let server: PresenceServer;
    const clients: TestClient[] = [];
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 2, userListWindow: WINDOW });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    test('carries the gem\'s payload exactly, at most one per window, and the last one is the final list', async () => {
      const { room, time } = fresh();
      const listener = new faye.Client(server.url);
      const received: Array<{ data: unknown }> = [];
      await listener.subscribe(`${room}/user_list`, (data) => received.push({ data }));
      // When the server published (the engine's 'publish' event): delivery
      // times at a long-polling receiver would add their own jitter.
      const sentAt: number[] = [];
      const onPublish = (_clientId: unknown, channel: string) => channel === `${room}/user_list` && sentAt.push(Date.now());
      server.handle.adapter.bind('publish', onPublish);

      const first = onlineClient(server.url, auth(1, 'first', room, time));
      clients.push(first);
      await first.connected();
      await eventually(() => received.length === 1, 5000, 'first user_list');
      assert.deepEqual(received[0].data, { count: 1, user_list: [1] });

      await sleep(WINDOW + 50);
      received.length = 0;
      const joinedAt: number[] = [];
      const onJoin = (e: { room: string }) => e.room === room && joinedAt.push(Date.now());
      server.handle.on('join', onJoin);
      const burst = Array.from({ length: 8 }, (_, i) => onlineClient(server.url, auth(10 + i, `u${i}`, room, time)));
      clients.push(...burst);
      await Promise.all(burst.map((c) => c.connected()));
      await server.handle.settled();
      await sleep(WINDOW * 2 + 100);
      server.handle.off('join', onJoin);
      // However the 8 joins spread in time (a loaded machine spreads them more),
      // the room gets at most one message per window they span, plus the first.
      const spread = Math.max(...joinedAt) - Math.min(...joinedAt);
      const allowed = Math.floor(spread / WINDOW) + 2;
      assert.equal(joinedAt.length, 8);
      assert.ok(received.length >= 1 && received.length <= allowed, `${received.length} messages for 8 joins spread over ${spread} ms (at most ${allowed})`);
      assert.equal(sentAt.length, received.length + 1, 'every publish was received');
      for (let i = 1; i < sentAt.length; i++) {
        assert.ok(sentAt[i] - sentAt[i - 1] >= WINDOW - 5, `published ${sentAt[i] - sentAt[i - 1]} ms apart`);
      }
      server.handle.adapter.unbind('publish', onPublish);
      const last = received[received.length - 1].data as { count: number; user_list: number[] };
      assert.deepEqual(Object.keys(last), ['count', 'user_list']);
      assert.equal(last.count, 9);
      assert.deepEqual([...last.user_list].sort((a, b) => a - b), [1, 10, 11, 12, 13, 14, 15, 16, 17]);
      assert.deepEqual(last.user_list, JSON.parse((await userInfoList(server, room))!), 'same order as user_info_list');
      await listener.disconnect();
    });

    test('clients cannot publish on user_list, presence or /faye_online/* channels; plain pub/sub is unaffected', async () => {
      const { room } = fresh();
      const client = new faye.Client(server.url);
      await assert.rejects(Promise.resolve(client.publish(`${room}/user_list`, { count: 0, user_list: [] })), /403/);
      await assert.rejects(Promise.resolve(client.publish(`${room}/presence`, { event: 'join' })), /403/);
      await assert.rejects(Promise.resolve(client.publish('/faye_online/anything', {})), /403/);

      const got: unknown[] = [];
      const listener = new faye.Client(server.url);
      await listener.subscribe('/chat/plain', (data) => got.push(data));
      await client.publish('/chat/plain', { text: 'hello' });
      await eventually(() => got.length === 1, 5000, 'plain message');
      assert.deepEqual(got, [{ text: 'hello' }]);
      await client.disconnect();
      await listener.disconnect();
    });

    test('auth is not relayed to other subscribers of a published message', async () => {
      const { room, time } = fresh();
      const seen: unknown[] = [];
      const listener = new faye.Client(server.url);
      listener.addExtension({
        incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
          if (message.channel === '/chat/private') seen.push(message);
          callback(message);
        },
      });
      await listener.subscribe('/chat/private', () => undefined);
      const sender = onlineClient(server.url, auth(77, 'sender', room, time));
      clients.push(sender);
      await sender.connected();
      await sender.faye.publish('/chat/private', { text: 'hi' });
      await eventually(() => seen.length === 1, 5000, 'delivered');
      assert.equal((seen[0] as Record<string, unknown>).auth, undefined);
      await listener.disconnect();
    });
  });

  describe(`dead clients and before_leave (${backend})`, () => {
    let server: PresenceServer;
    const clients: TestClient[] = [];
    before(async () => {
      // Faye destroys a silent client after 2 x timeout = 2 s (GC every second on Redis).
      server = await startPresenceServer(backend, { timeout: 1, gc: 1, beforeLeaveDelay: 1.5 });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    test('a client that vanishes without a word leaves, and its timer stops when it was last seen', async () => {
      const { room, time } = fresh();
      const uid = 4242;
      const client = onlineClient(server.url, auth(uid, 'ghost', room, time), { transport: 'long-polling' });
      clients.push(client);
      const id = await client.connected();
      await eventually(async () => (await userInfoList(server, room)) === `[${uid}]`, 5000, 'joined');
      const joinedAt = Date.now();
      await sleep(1500);
      const vanishedAt = Date.now();
      client.vanish();

      await eventually(async () => (await loginRows(server, [id])).length === 2, 10_000, 'logout after the engine timeout');
      const noticedAt = Date.now();
      await server.handle.settled();
      assert.equal(await userInfoList(server, room), '[]');
      const spent = JSON.parse((await onlineTimes(server, uid))!)[`${time}_spended`] as number;
      const honest = Math.ceil((vanishedAt - joinedAt) / 1000);
      // Faye ends a client 1.6 x timeout after its last /meta/connect, which was
      // held for up to one timeout before the page vanished: at least 0.6 s
      // here, wherever in its poll cycle the page was (less a little jitter).
      assert.ok(noticedAt - vanishedAt >= 500, `noticed ${noticedAt - vanishedAt} ms after vanishing`);
      assert.ok(spent <= honest, `timer counted ${spent} s; the client was last seen within ${honest} s of joining (noticed ${Math.round((noticedAt - joinedAt) / 1000)} s after)`);
      const logout = (await loginRows(server, [id])).find((r) => r.status === 0)!;
      const t = logout.t as unknown;
      const logoutAt = t instanceof Date ? t.getTime() : Date.parse(`${String(t).replace(' ', 'T')}Z`);
      assert.ok(logoutAt <= vanishedAt + 1000, `the logout row carries the last-seen time (logout at ${logout.t}, vanished at ${new Date(vanishedAt).toISOString()}, noticed at ${new Date(noticedAt).toISOString()})`);
    });

    for (const transport of ['long-polling', 'websocket'] as const) {
      test(`before_leave over ${transport}: a closed page leaves within the delay; a page whose close was cancelled stays`, async () => {
        const { room, time } = fresh();
        const leaving = onlineClient(server.url, auth(601, 'closes', room, time), { transport });
        const staying = onlineClient(server.url, auth(602, 'stays', room, time), { transport });
        clients.push(leaving, staying);
        const [leavingId, stayingId] = await Promise.all([leaving.connected(), staying.connected()]);
        await eventually(async () => JSON.parse((await userInfoList(server, room)) ?? '[]').length === 2, 5000, 'both joined');
        if (transport === 'websocket') {
          await eventually(() => transportOf(leaving) === 'websocket' && transportOf(staying) === 'websocket', 5000, 'on WebSocket');
        } else {
          assert.equal(transportOf(staying), 'long-polling');
        }

        const leaves: Array<{ uid: number; reason: string }> = [];
        const onLeave = (e: { uid: number; reason: string; room: string }) => e.room === room && leaves.push(e);
        server.handle.on('leave', onLeave);
        await leaving.faye.publish('/faye_online/before_leave', {});
        const closedAt = Date.now();
        leaving.vanish();
        await staying.faye.publish('/faye_online/before_leave', {});

        await eventually(async () => (await userInfoList(server, room)) === '[602]', 4000, 'the closed page left');
        const leftAfter = Date.now() - closedAt;
        await sleep(2500);
        await server.handle.settled();
        server.handle.off('leave', onLeave);
        assert.equal(await userInfoList(server, room), '[602]', 'the cancelled page is still online');
        assert.deepEqual(leaves, [{ ...leaves[0], uid: 601, reason: 'before_leave' }]);
        assert.ok(leftAfter < 3000, `left ${leftAfter} ms after closing (delay 1.5 s)`);
        assert.equal(staying.clientId(), stayingId, 'same clientId');
        assert.deepEqual((await loginRows(server, [stayingId])).map((r) => r.status), [1]);
        assert.deepEqual((await loginRows(server, [leavingId])).map((r) => r.status), [1, 0]);
      });
    }
  });
}
