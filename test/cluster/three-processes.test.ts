// needs: mysql, redis
// Three presence servers in three real processes share one MariaDB database and
// one Redis namespace, and real Faye clients are spread across them: a user is
// one user wherever their tabs are, user_list reaches every process, and
// "is this client still alive" is decided for the whole cluster, by before_leave
// as much as by GC.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { bayeux, closeClient, collect, fayeClient } from '../engine/servers';
import { loginRows, userInfoList } from '../presence/sql-helpers';
import { clientIdsByUser, onlineUids, reportsOf, sqlReader, startCluster, type Cluster, type ServerProcess } from './processes';
import { sleep } from '../support/wait';
import { EngineKeys } from '../../lib/stores/keys';

let roomCounter = 0;
function freshChannels() {
  roomCounter += 1;
  return { room: `/classes/${roomCounter}${process.pid}`, time: `/courses/7/lessons/${roomCounter}${process.pid}` };
}

/** Clients of one describe block, closed after it whatever happened. */
function clientPool() {
  const tabs: TestClient[] = [];
  const listeners: any[] = [];
  return {
    async tab(server: ServerProcess, wire: ReturnType<typeof auth>, transport: 'long-polling' | 'websocket') {
      const client = onlineClient(server.url, wire, { transport });
      tabs.push(client);
      return { client, id: await client.connected() };
    },
    /** A plain Faye client (no auth, not tracked) collecting what arrives on `channel`. */
    async listen(server: ServerProcess, channel: string) {
      const client = fayeClient(server.url, 'long-polling');
      listeners.push(client);
      return collect(client, channel);
    },
    async close() {
      for (const tab of tabs) tab.vanish();
      for (const listener of listeners) await closeClient(listener);
    },
  };
}

describe('three server processes, one user with tabs on two of them, GC', () => {
  const timeout = 1;
  const gc = 1;
  let cluster: Cluster;
  const clients = clientPool();
  let sql: ReturnType<typeof sqlReader>;

  before(async () => {
    cluster = await startCluster(3, { timeout, gc, userListWindow: 50 });
    sql = sqlReader(cluster);
  });
  after(async () => {
    await clients.close();
    await cluster?.close();
  });

  test('a user with tabs on two processes counts once; user_list reaches subscribers on every process', async () => {
    const { room, time } = freshChannels();
    const [p0, p1] = cluster.processes;
    const lists = await Promise.all(cluster.processes.map((p) => clients.listen(p, `${room}/user_list`)));
    const last = (list: unknown[]) => list[list.length - 1];

    const tab1 = await clients.tab(p0!, auth(470700, 'mvj3', room, time), 'long-polling');
    const tab2 = await clients.tab(p1!, auth(470700, 'mvj3', room, time), 'websocket');
    const both = [tab1.id, tab2.id].sort();

    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), { 470700: both });
      assert.deepEqual(await clientIdsByUser(cluster, time), { 470700: both });
      assert.equal((await loginRows(sql, both)).length, 2);
      return true;
    }, 5000, 'both tabs tracked');
    assert.equal(await userInfoList(sql, room), '[470700]', 'the uid is in the MySQL list once');
    assert.deepEqual((await loginRows(sql, both)).map((r) => r.status), [1, 1]);
    await eventually(() => {
      for (const list of lists) assert.deepEqual(last(list), { count: 1, user_list: [470700] });
      return true;
    }, 5000, 'user_list with one user on every process');

    await tab1.client.disconnect();
    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), { 470700: [tab2.id] });
      assert.deepEqual((await loginRows(sql, [tab1.id])).map((r) => r.status), [1, 0]);
      return true;
    }, 5000, 'the first tab gone');
    assert.equal(await userInfoList(sql, room), '[470700]', 'closing one tab keeps the user');

    await tab2.client.disconnect();
    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), {});
      assert.deepEqual(await clientIdsByUser(cluster, time), {});
      assert.equal(await userInfoList(sql, room), '[]');
      return true;
    }, 5000, 'both tabs gone');
    const rows = await loginRows(sql, both);
    for (const id of both) assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status), [1, 0], `login rows of ${id} pair`);

    await eventually(() => {
      for (const list of lists) assert.deepEqual(last(list), { count: 0, user_list: [] });
      return true;
    }, 5000, 'the final user_list on every process');
    const inRoom = reportsOf(cluster.reports, 'presence').filter((r) => r.room === room);
    assert.equal(inRoom.filter((r) => r.event === 'join').length, 1, 'one join in the whole cluster');
    assert.equal(inRoom.filter((r) => r.event === 'leave').length, 1, 'one leave in the whole cluster');
  });

  test('a client that vanishes is collected by whichever process sweeps, and leaves exactly once', async (t) => {
    const { room, time } = freshChannels();
    const [p0, , p2] = cluster.processes;
    const stays = await clients.tab(p0!, auth(1, 'admin', room, time), 'websocket');
    const vanishes = await clients.tab(p2!, auth(2, 'iceskysl', room, time), 'long-polling');
    await eventually(async () => (await onlineUids(sql, room)).join() === '1,2', 5000, 'both online');

    vanishes.client.vanish();
    const vanishedAt = Date.now();
    const bound = (gc + 2 * timeout) * 1000;
    const margin = 1500; // SQL writes and process scheduling after the sweep
    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), { 1: [stays.id] });
      assert.deepEqual((await loginRows(sql, [vanishes.id])).map((r) => r.status), [1, 0]);
      assert.equal(await userInfoList(sql, room), '[1]');
      return true;
    }, bound + margin + 2000, 'the vanished client cleaned up');
    const cleanupMs = Date.now() - vanishedAt;
    t.diagnostic(`cleaned up ${cleanupMs} ms after the client vanished (bound gc + 2 × timeout = ${bound} ms, margin ${margin} ms)`);
    assert.ok(cleanupMs <= bound + margin, `cleanup took ${cleanupMs} ms`);

    await sleep(2 * gc * 1000); // every process sweeps at least once more
    const destroyed = reportsOf(cluster.reports, 'engine').filter((r) => r.clientId === vanishes.id);
    assert.equal(destroyed.length, 1, `destroyed once in the cluster, not ${destroyed.map((r) => r.from).join(', ')}`);
    assert.equal(destroyed[0]!.reason, 'timeout');
    assert.ok(destroyed[0]!.lastSeen! <= vanishedAt, 'reported as last seen before it vanished');
    const departures = reportsOf(cluster.reports, 'presence').filter((r) => r.clientId === vanishes.id && (r.event === 'depart' || r.event === 'leave'));
    assert.deepEqual(departures.map((r) => [r.event, r.from, r.reason]), [['depart', destroyed[0]!.from, 'timeout'], ['leave', destroyed[0]!.from, 'timeout']]);
    t.diagnostic(`swept by ${destroyed[0]!.from}`);
    assert.equal((await loginRows(sql, [vanishes.id])).length, 2, 'one login and one logout row');
    assert.deepEqual(await clientIdsByUser(cluster, room), { 1: [stays.id] }, 'the live client stays');
  });
});

describe('three server processes, a page\'s last message handled by another process than its long-poll', () => {
  // A long timeout: anything that leaves within it was decided by before_leave or
  // /meta/disconnect, not by GC, and a held long-poll pings only every 4 s.
  const timeout = 4;
  const beforeLeaveDelay = 1;
  let cluster: Cluster;
  const clients = clientPool();
  let sql: ReturnType<typeof sqlReader>;

  before(async () => {
    cluster = await startCluster(3, { timeout, gc: 1, beforeLeaveDelay });
    sql = sqlReader(cluster);
  });
  after(async () => {
    await clients.close();
    await cluster?.close();
  });

  test('a page alive on one process stays, a closed one leaves, when another process receives before_leave', async () => {
    const { room, time } = freshChannels();
    const [p0, p1] = cluster.processes;
    const aliveAuth = auth(11, 'stays', room, time);
    const goneAuth = auth(12, 'goes', room, time);
    // Long-polling: their /meta/connect is held on P0 while P1 decides.
    const alive = await clients.tab(p0!, aliveAuth, 'long-polling');
    const gone = await clients.tab(p0!, goneAuth, 'long-polling');
    await eventually(async () => (await loginRows(sql, [alive.id, gone.id])).length === 2, 5000, 'both tracked');
    await sleep(300); // both connects are held on P0 now

    // A load balancer sent each page's last publish to P1: a raw Bayeux POST,
    // as the browser client sends it (clientId and auth on the message).
    gone.client.vanish();
    const sentAt = Date.now();
    const replies = await Promise.all([
      bayeux(p1!.url, [{ channel: '/faye_online/before_leave', clientId: alive.id, data: {}, auth: aliveAuth, id: '1' }]),
      bayeux(p1!.url, [{ channel: '/faye_online/before_leave', clientId: gone.id, data: {}, auth: goneAuth, id: '2' }]),
    ]);
    for (const [reply] of replies) assert.equal(reply.successful, true, JSON.stringify(reply));

    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), { 11: [alive.id] });
      assert.deepEqual((await loginRows(sql, [gone.id])).map((r) => r.status), [1, 0]);
      // The event follows the SQL writes, over IPC.
      return reportsOf(cluster.reports, 'presence').some((r) => r.clientId === gone.id && r.event === 'depart');
    }, 5000, 'the closed page gone');
    const decidedWithin = Date.now() - sentAt;
    assert.ok(decidedWithin < 2 * timeout * 1000, `decided after ${decidedWithin} ms, before any GC could`);

    const departures = reportsOf(cluster.reports, 'presence').filter((r) => r.clientId === gone.id && r.event === 'depart');
    assert.equal(departures.length, 1);
    assert.equal(departures[0]!.from, 'P1', 'the process that received before_leave decided');
    assert.equal(departures[0]!.reason, 'before_leave');
    assert.ok(departures[0]!.at >= sentAt && departures[0]!.at <= sentAt + 500, 'left as of its before_leave');

    // Well past the check: the live page answered the nudge (its held connect on
    // P0 was returned from P1) and is still there.
    await sleep(Math.max(0, sentAt + beforeLeaveDelay * 1000 + 1500 - Date.now()));
    assert.deepEqual(await clientIdsByUser(cluster, room), { 11: [alive.id] });
    assert.deepEqual((await loginRows(sql, [alive.id])).map((r) => r.status), [1], 'no logout for the live page');
    assert.equal(reportsOf(cluster.reports, 'presence').filter((r) => r.clientId === alive.id && r.event === 'depart').length, 0);
    const lastPing = Number(await cluster.backing.redis!.redis.zscore(new EngineKeys(cluster.namespace).clients, alive.id));
    assert.ok(lastPing > sentAt, 'the live page reconnected after before_leave');
    assert.equal(await userInfoList(sql, room), '[11]');
    assert.equal(reportsOf(cluster.reports, 'engine').filter((r) => r.clientId === gone.id).length, 1, 'destroyed once');
  });

  test('a page whose /meta/disconnect reaches another process leaves as of that moment, not its last long-poll', async () => {
    const { room, time } = freshChannels();
    const [p0, p1] = cluster.processes;
    const wire = auth(13, 'closes', room, time);
    const page = await clients.tab(p0!, wire, 'long-polling');
    await eventually(async () => (await loginRows(sql, [page.id])).length === 1, 5000, 'tracked');
    await sleep(2000); // its /meta/connect is held on P0: no ping since it arrived

    // Its last request, routed to P1 by a load balancer.
    page.client.vanish();
    const sentAt = Date.now();
    const [reply] = await bayeux(p1!.url, [{ channel: '/meta/disconnect', clientId: page.id, auth: wire, id: '3' }]);
    assert.equal(reply.successful, true, JSON.stringify(reply));

    const departure = await eventually(
      () => reportsOf(cluster.reports, 'presence').find((r) => r.clientId === page.id && r.event === 'depart'),
      5000, 'departed',
    );
    assert.equal(departure.from, 'P1');
    assert.equal(departure.reason, 'disconnect');
    assert.ok(departure.at >= sentAt, `left as of ${sentAt - departure.at} ms before its /meta/disconnect`);
    assert.deepEqual((await loginRows(sql, [page.id])).map((r) => r.status), [1, 0]);
  });
});
