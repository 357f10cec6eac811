// Part of `npm run test:topology` (needs MariaDB, Redis and haproxy).
// HAProxy in front of three presence processes, round robin per request and no
// stickiness, at the default settings (timeout 10 s, leave grace 5 s,
// before_leave delay 3 s): a long-polling page's handshake, subscribe, held
// connects and publishes land on different processes; WebSocket pages stay on
// one. Every message still reaches every subscriber exactly once, presence is
// exact, and before_leave and the leave grace decide as on one process.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { closeClient, fayeClient } from '../engine/servers';
import { loginRows, userInfoList } from '../presence/sql-helpers';
import { clientIdsByUser, onlineUids, reportsOf, sqlReader, startCluster, type Cluster } from '../cluster/processes';
import { startHaproxy, type LoadBalancer } from './haproxy';
import { sleep } from '../support/wait';

const PORT = 27110;
const STATS_PORT = 27111;

describe('HAProxy round robin in front of three processes', () => {
  let cluster: Cluster;
  let balancer: LoadBalancer;
  let sql: ReturnType<typeof sqlReader>;
  const pages: TestClient[] = [];
  const plain: any[] = [];

  before(async () => {
    // The defaults (timeout 10, gc 60, leaveGrace 5, beforeLeaveDelay 3), spelled out
    // because the cluster's server process turns the leave grace off unless told.
    cluster = await startCluster(3, { timeout: 10, gc: 60, leaveGrace: 5, beforeLeaveDelay: 3, userListWindow: 100 });
    sql = sqlReader(cluster);
    balancer = await startHaproxy({ port: PORT, statsPort: STATS_PORT, backends: cluster.processes.map((p) => ({ name: p.name, port: p.port })) });
  });
  after(async () => {
    await Promise.all(pages.map((page) => page.disconnect().catch(() => undefined)));
    await Promise.all(plain.map((client) => closeClient(client)));
    await balancer?.stop();
    await cluster?.close();
  });

  function page(uid: number, room: string, time: string, transport: 'long-polling' | 'websocket'): TestClient {
    const client = onlineClient(balancer.url, auth(uid, `u${uid}`, room, time), { transport });
    pages.push(client);
    return client;
  }

  test('every message reaches every subscriber exactly once, and presence is exact', async () => {
    const room = `/lb/room${process.pid}`;
    const time = `/lb/lesson${process.pid}`;
    const channel = `/lb/chat${process.pid}`;
    const uids = [1, 2, 3, 4, 5, 6];
    const subscribers = uids.map((uid) => page(uid, room, time, uid % 2 ? 'long-polling' : 'websocket'));
    const ids = await Promise.all(subscribers.map((s) => s.connected()));
    const received = subscribers.map(() => new Map<string, number>());
    await Promise.all(subscribers.map((s, i) => s.faye.subscribe(channel, (data: { id: string }) => {
      received[i]!.set(data.id, (received[i]!.get(data.id) ?? 0) + 1);
    })));

    const publishers = [0, 1, 2].map((i) => {
      const client = fayeClient(balancer.url, i === 2 ? 'websocket' : 'long-polling');
      plain.push(client);
      return client;
    });
    const perPublisher = 40;
    const sent: string[] = [];
    await Promise.all(publishers.map(async (publisher, p) => {
      for (let n = 0; n < perPublisher; n += 1) {
        const id = `p${p}m${n}`;
        sent.push(id);
        await publisher.publish(channel, { id });
      }
    }));

    await eventually(() => received.every((inbox) => inbox.size === sent.length), 20_000, 'every message at every subscriber');
    await sleep(1000); // a duplicate would arrive within this
    for (const [i, inbox] of received.entries()) {
      const wrong = sent.filter((id) => inbox.get(id) !== 1).map((id) => `${id}×${inbox.get(id) ?? 0}`);
      assert.deepEqual(wrong, [], `subscriber ${uids[i]}: messages not received exactly once`);
      assert.equal(inbox.size, sent.length, `subscriber ${uids[i]} received only what was sent`);
    }

    await eventually(async () => {
      assert.deepEqual(await onlineUids(sql, room), uids);
      assert.deepEqual(await clientIdsByUser(cluster, room), Object.fromEntries(uids.map((uid, i) => [String(uid), [ids[i]!]])));
      assert.deepEqual((await loginRows(sql, ids)).map((r) => r.status), ids.map(() => 1));
      return true;
    }, 10_000, 'presence exact');
    const joins = reportsOf(cluster.reports, 'presence').filter((r) => r.room === room && r.event === 'join');
    assert.deepEqual(joins.map((r) => r.uid).sort((a, b) => a - b), uids, 'one join per user in the whole cluster');

    // The balancer really spread the requests over the three processes.
    const perServer = await balancer.requestsPerServer();
    for (const p of cluster.processes) assert.ok((perServer[p.name] ?? 0) > 10, `${p.name} served ${perServer[p.name]} requests`);
  });

  test('a reload within the leave grace is no leave, wherever its requests land', async () => {
    const room = `/lb/reload${process.pid}`;
    const time = `/lb/reloadlesson${process.pid}`;
    const first = page(21, room, time, 'long-polling');
    const firstId = await first.connected();
    await eventually(async () => (await userInfoList(sql, room)) === '[21]', 10_000, 'joined');

    // The page unloads: before_leave, then /meta/disconnect, then the new page
    // handshakes: three requests, balanced to whichever process is next.
    await first.faye.publish('/faye_online/before_leave', {});
    await first.disconnect();
    const second = page(21, room, time, 'long-polling');
    const secondId = await second.connected();

    await eventually(async () => {
      assert.deepEqual(await clientIdsByUser(cluster, room), { 21: [secondId] });
      assert.deepEqual((await loginRows(sql, [firstId])).map((r) => r.status), [1, 0]);
      assert.deepEqual((await loginRows(sql, [secondId])).map((r) => r.status), [1]);
      return true;
    }, 10_000, 'the new page took over');
    await sleep(5000 + 1000); // past the grace of the first page's departure
    assert.equal(await userInfoList(sql, room), '[21]', 'still in the MySQL list');
    const inRoom = reportsOf(cluster.reports, 'presence').filter((r) => r.room === room);
    assert.deepEqual(inRoom.filter((r) => r.event === 'join' || r.event === 'leave').map((r) => r.event), ['join'], 'one join, no leave');
  });

  test('before_leave of a closed page leaves it; a page that stays answers and stays', async () => {
    const room = `/lb/close${process.pid}`;
    const time = `/lb/closelesson${process.pid}`;
    const closing = page(31, room, time, 'long-polling');
    const staying = page(32, room, time, 'long-polling');
    const [closingId, stayingId] = await Promise.all([closing.connected(), staying.connected()]);
    await eventually(async () => (await onlineUids(sql, room)).join() === '31,32', 10_000, 'both online');

    // Both pages say they may be leaving; only one really goes (its network dies
    // right after the request), the other one cancelled its unload.
    await Promise.all([closing.faye.publish('/faye_online/before_leave', {}), staying.faye.publish('/faye_online/before_leave', {})]);
    closing.vanish();
    const sentAt = Date.now();

    const departure = await eventually(
      () => reportsOf(cluster.reports, 'presence').find((r) => r.clientId === closingId && r.event === 'depart'),
      15_000, 'the closed page departed',
    );
    assert.equal(departure.reason, 'before_leave');
    // Long before GC could have taken it (1.6 × timeout without a ping, then a 60 s sweep).
    assert.ok(departure.receivedAt - sentAt < 16_000, `decided ${departure.receivedAt - sentAt} ms after before_leave`);
    await eventually(async () => {
      assert.deepEqual(await onlineUids(sql, room), [32]);
      assert.deepEqual((await loginRows(sql, [closingId])).map((r) => r.status), [1, 0]);
      return true;
    }, 10_000, 'the closed page out of the list');

    await sleep(Math.max(0, sentAt + 3000 + 2000 - Date.now())); // past the before_leave delay
    assert.deepEqual(await clientIdsByUser(cluster, room), { 32: [stayingId] });
    assert.deepEqual((await loginRows(sql, [stayingId])).map((r) => r.status), [1], 'no logout for the staying page');
    const leaves = reportsOf(cluster.reports, 'presence').filter((r) => r.room === room && r.event === 'leave');
    assert.deepEqual(leaves.map((r) => r.uid), [31], 'one leave in the whole cluster');
  });
});
