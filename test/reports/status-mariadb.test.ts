// needs: mysql, redis
// The status report on MariaDB + Redis: real clients make users online, and
// hand-written leftovers (what a process that died mid-way leaves behind) are
// found as stale and removed by cleanup, both by a running server (liveness
// from its Faye engine) and without one (liveness from faye-redis' sorted set).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openOfflineReports } from '../../lib/reports';
import { Records } from '../../lib/records';
import { auth, clientIdsByUser, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { EngineKeys, PresenceKeys } from '../../lib/stores/keys';

const ROOM = '/classes/4';
const LESSON = '/courses/5/lessons/1';

describe('status report (mysql+redis)', () => {
  let server: PresenceServer;
  let records: Records;
  const clients: TestClient[] = [];
  let ann: string[] = [];
  let bob: string;

  const connect = async (uid: number, uname: string) => {
    const client = onlineClient(server.url, auth(uid, uname, ROOM, LESSON));
    clients.push(client);
    return client.connected();
  };
  const hash = (channel: string) => new PresenceKeys(server.namespace).channel(channel);

  before(async () => {
    server = await startPresenceServer('mysql+redis');
    records = new Records({ sequelize: server.sequelize });
    ann = [await connect(1, 'ann'), await connect(1, 'ann')];
    bob = await connect(2, 'bob');
    // A client's connect callback can run before the server handled its first
    // /meta/connect: wait until all three pages are tracked.
    await eventually(async () => {
      const byUser = await clientIdsByUser(server, ROOM);
      return byUser['1']?.length === 2 && byUser['2']?.length === 1 && (await server.handle.onlineUsers(ROOM)).length === 2;
    }, 10_000, 'three pages tracked');
    await server.handle.settled();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await server.close();
  });

  test('lists every room and time channel with its users, their clientIds and names, and the totals', async () => {
    const report = await server.handle.status();
    assert.deepEqual(report.totals, { users: 2, clientIds: 3, rooms: 1, timeChannels: 1 });
    assert.deepEqual(report.channels.map((c) => [c.channel, c.kind, c.userCount, c.clientIdCount]), [
      [ROOM, 'room', 2, 3],
      [LESSON, 'timeChannel', 2, 3],
    ]);
    const room = report.channels[0];
    assert.deepEqual(room.onlineList, [1, 2]);
    assert.deepEqual(room.users.map((u) => ({ ...u, clientIds: [...u.clientIds].sort() })), [
      { uid: 1, uname: 'ann', clientIds: [...ann].sort() },
      { uid: 2, uname: 'bob', clientIds: [bob] },
    ]);
    assert.deepEqual(report.stale, { clientIds: [], onlineListEntries: [] });
    assert.equal(report.cleanup, null);
  });

  test('a dead clientId left in a hash and a uid left in an online list are stale; cleanup removes only them', async () => {
    const redis = server.redis!.redis;
    // A user whose process died: clientIds in Redis and a uid in MySQL, no Faye client.
    await redis.hset(hash(ROOM), '9', JSON.stringify(['deadclient9']));
    await redis.hset(hash(LESSON), '9', JSON.stringify(['deadclient9']));
    await records.addToOnlineList(ROOM, 9);
    // A live user with one dead tab next to the live one.
    await redis.hset(hash(ROOM), '2', JSON.stringify([bob, 'deadclient2']));
    // A uid in a list with no clientIds at all (Redis was flushed).
    await records.addToOnlineList('/classes/77', 77);

    const found = await server.handle.status();
    assert.deepEqual(found.totals, { users: 2, clientIds: 3, rooms: 2, timeChannels: 1 });
    assert.deepEqual(found.stale.clientIds.sort((a, b) => a.channel.localeCompare(b.channel) || a.uid - b.uid), [
      { channel: ROOM, uid: 2, clientIds: ['deadclient2'] },
      { channel: ROOM, uid: 9, clientIds: ['deadclient9'] },
      { channel: LESSON, uid: 9, clientIds: ['deadclient9'] },
    ].sort((a, b) => a.channel.localeCompare(b.channel) || a.uid - b.uid));
    assert.deepEqual(found.stale.onlineListEntries, [{ room: ROOM, uid: 9 }, { room: '/classes/77', uid: 77 }]);
    assert.equal(await redis.hget(hash(ROOM), '9'), JSON.stringify(['deadclient9']), 'a report without cleanup changes nothing');

    const cleaned = await server.handle.status({ cleanup: true });
    assert.equal(cleaned.cleanup!.removedClientIds.length, 3);
    assert.deepEqual(cleaned.cleanup!.removedFromOnlineLists, [{ room: ROOM, uid: 9 }, { room: '/classes/77', uid: 77 }]);
    assert.deepEqual(await clientIdsByUser(server, ROOM), { 1: ann, 2: [bob] });
    assert.deepEqual(Object.keys(await clientIdsByUser(server, LESSON)), ['1', '2']);
    assert.deepEqual(await records.onlineList(ROOM), [1, 2]);
    assert.deepEqual(await records.onlineList('/classes/77'), []);

    const after = await server.handle.status();
    assert.deepEqual(after.stale, { clientIds: [], onlineListEntries: [] });
    assert.deepEqual(after.totals, { users: 2, clientIds: 3, rooms: 1, timeChannels: 1 });
  });

  test('without a running server, liveness comes from faye-redis\' <ns>/clients with a fresh score', async () => {
    const redis = server.redis!.redis;
    await redis.hset(hash(LESSON), '8', JSON.stringify(['oldclient8']));
    // Known to the engine's sorted set, but not pinged for a minute: not live (timeout 10 s → 16 s).
    await redis.zadd(new EngineKeys(server.namespace).clients, Date.now() - 60_000, 'oldclient8');
    const reports = await openOfflineReports({ databaseUrl: server.db!.url, redisUrl: server.redis!.url, namespace: server.namespace, graceMs: 0 });
    try {
      const report = await reports.status();
      assert.deepEqual(report.totals, { users: 2, clientIds: 3, rooms: 1, timeChannels: 1 });
      assert.deepEqual(report.stale.clientIds, [{ channel: LESSON, uid: 8, clientIds: ['oldclient8'] }]);
      const cleaned = await reports.status({ cleanup: true });
      assert.deepEqual(cleaned.cleanup, { removedClientIds: [{ channel: LESSON, uid: 8, clientIds: ['oldclient8'] }], removedFromOnlineLists: [] });
      assert.equal(await redis.hget(hash(LESSON), '8'), null);
    } finally {
      await reports.close();
      await redis.zrem(new EngineKeys(server.namespace).clients, 'oldclient8');
    }
  });

  test('cleanup leaves a departure in flight to the departure itself', async () => {
    // Between the report and its cleanup, the dead clientId's regular departure
    // handles it (here: the hash entry goes away); cleanup must not report it.
    const redis = server.redis!.redis;
    await redis.hset(hash(LESSON), '7', JSON.stringify(['leaving7']));
    const reports = await openOfflineReports({ databaseUrl: server.db!.url, redisUrl: server.redis!.url, namespace: server.namespace, graceMs: 300 });
    try {
      const pending = reports.status({ cleanup: true });
      setTimeout(() => void redis.hdel(hash(LESSON), '7'), 100);
      const report = await pending;
      assert.deepEqual(report.stale.clientIds, [{ channel: LESSON, uid: 7, clientIds: ['leaving7'] }]);
      assert.deepEqual(report.cleanup, { removedClientIds: [], removedFromOnlineLists: [] });
    } finally {
      await reports.close();
    }
  });
});
