// needs: mysql, redis
// One of three server processes is killed with SIGKILL: no close(), no
// /meta/disconnect, nothing. The survivors' GC finds its clients (their pings
// stopped), and each of them leaves once, timed at when it was last seen.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { loginRows, onlineTimes } from '../presence/sql-helpers';
import { clientIdsByUser, clientIdsInAllHashes, onlineUids, reportsOf, sqlReader, startCluster, type Cluster, type ServerProcess } from './processes';
import { sleep } from '../support/wait';

/** `_started_at` is "%Y%m%d%H%M%S" in the servers' time zone (UTC here). */
function startedAtMs(onlineTimesJson: string, timeChannel: string): number {
  const raw = (JSON.parse(onlineTimesJson) as Record<string, string>)[`${timeChannel}_started_at`]!;
  const [, y, mo, d, h, mi, s] = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(raw)!.map(Number);
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}

describe('a server process killed with SIGKILL', () => {
  const timeout = 1;
  const gc = 1;
  let cluster: Cluster;
  let sql: ReturnType<typeof sqlReader>;
  const tabs: TestClient[] = [];
  const tab = async (server: ServerProcess, uid: number, transport: 'long-polling' | 'websocket', room: string, time: string) => {
    const client = onlineClient(server.url, auth(uid, `user${uid}`, room, time), { transport });
    tabs.push(client);
    return { client, id: await client.connected(), uid };
  };

  before(async () => {
    cluster = await startCluster(3, { timeout, gc, userListWindow: 50, timeZone: 'UTC' });
    sql = sqlReader(cluster);
  });
  after(async () => {
    for (const client of tabs) client.vanish();
    await cluster?.close();
  });

  test('its clients are cleaned up by the survivors within gc + 2 × timeout, as of when they were last seen, each once', async (t) => {
    const room = `/classes/crash${process.pid}`;
    const time = `/courses/9/lessons/crash${process.pid}`;
    const [victim, p1, p2] = cluster.processes as [ServerProcess, ServerProcess, ServerProcess];

    // Three users only on the victim, one with a second tab on P1, one only on P2.
    const onVictim = [
      await tab(victim, 21, 'long-polling', room, time),
      await tab(victim, 22, 'websocket', room, time),
      await tab(victim, 23, 'long-polling', room, time),
      await tab(victim, 24, 'websocket', room, time),
    ];
    const secondTab = await tab(p1, 24, 'long-polling', room, time);
    const elsewhere = await tab(p2, 25, 'websocket', room, time);
    const deadIds = onVictim.map((c) => c.id);
    await eventually(async () => {
      assert.deepEqual(await onlineUids(sql, room), [21, 22, 23, 24, 25]);
      assert.equal((await loginRows(sql, [...deadIds, secondTab.id, elsewhere.id])).length, 6);
      return true;
    }, 5000, 'everyone online');
    const started = new Map<number, number>();
    for (const uid of [21, 22, 23]) started.set(uid, startedAtMs((await onlineTimes(sql, uid))!, time));

    await sleep(2500); // the sessions run for a while
    await victim.kill();
    const killedAt = Date.now(); // the process is gone: any ping of its clients happened before this
    // The pages whose server died: they could only retry the dead port, and then they close.
    for (const c of onVictim) c.client.vanish();

    const bound = (gc + 2 * timeout) * 1000;
    const margin = 1500; // SQL writes and process scheduling after the sweep
    await eventually(async () => {
      const remaining = await clientIdsInAllHashes(cluster);
      assert.deepEqual(deadIds.filter((id) => remaining.has(id)), [], 'no clientId of the dead process in any uid_to_clientIds hash');
      assert.equal((await loginRows(sql, deadIds)).filter((r) => r.status === 0).length, deadIds.length, 'a logout row each');
      // The events follow the SQL writes, over IPC.
      return reportsOf(cluster.reports, 'presence').filter((r) => r.event === 'depart' && deadIds.includes(r.clientId)).length === deadIds.length;
    }, bound + margin + 3000, 'the dead process\'s clients cleaned up');
    const cleanupMs = Date.now() - killedAt;
    t.diagnostic(`cleaned up ${cleanupMs} ms after the kill (bound gc + 2 × timeout = ${bound} ms, margin ${margin} ms)`);
    assert.ok(cleanupMs <= bound + margin, `cleanup took ${cleanupMs} ms`);

    assert.deepEqual(await clientIdsByUser(cluster, room), { 24: [secondTab.id], 25: [elsewhere.id] });
    assert.deepEqual(await clientIdsByUser(cluster, time), { 24: [secondTab.id], 25: [elsewhere.id] });
    assert.deepEqual(await onlineUids(sql, room), [24, 25], 'a user with a tab on a survivor stays');

    // Timers stop when each client was last seen (its last ping before the kill),
    // not when the loss was noticed a few seconds later.
    const departures = reportsOf(cluster.reports, 'presence').filter((r) => r.event === 'depart' && deadIds.includes(r.clientId));
    for (const departure of departures) {
      assert.equal(departure.reason, 'timeout');
      assert.ok(departure.at <= killedAt, `${departure.clientId} left as of ${killedAt - departure.at} ms before the kill`);
      assert.ok(departure.at >= killedAt - timeout * 1000 - 1000, `last seen ${killedAt - departure.at} ms before the kill: at most one long-poll earlier`);
      assert.ok(departure.receivedAt >= killedAt + 500, 'noticed later than it ended');
    }
    for (const uid of [21, 22, 23]) {
      const stored = JSON.parse((await onlineTimes(sql, uid))!) as Record<string, number>;
      const departedAt = departures.find((d) => d.uid === uid)!.at;
      const spent = stored[`${time}_spended`];
      assert.equal(stored[`${time}_started_at`], undefined, `timer of ${uid} stopped`);
      assert.equal(spent, Math.floor((departedAt - started.get(uid)!) / 1000), `timer of ${uid} ends when it was last seen`);
      assert.ok(spent! <= Math.floor((killedAt - started.get(uid)!) / 1000), `timer of ${uid} counts nothing after the kill (${spent} s)`);
    }
    assert.match((await onlineTimes(sql, 24))!, new RegExp(`"${time}_started_at"`), 'the timer of the user still online runs');

    // The GC lock (<ns>/locks/gc): one survivor sweeps at a time, so each dead
    // client is destroyed, and reported, exactly once in the cluster.
    await sleep(2 * gc * 1000); // every survivor sweeps at least once more
    const destroyed = reportsOf(cluster.reports, 'engine').filter((r) => deadIds.includes(r.clientId));
    assert.deepEqual(destroyed.map((r) => r.clientId).sort(), [...deadIds].sort(), 'each dead client destroyed once');
    assert.ok(destroyed.every((r) => r.reason === 'timeout' && r.from !== victim.name));
    const sweeps = reportsOf(cluster.reports, 'log').filter((r) => r.message === 'GC destroyed expired clients' && r.receivedAt >= killedAt);
    assert.equal(sweeps.reduce((sum, r) => sum + Number(r.fields.destroyed), 0), deadIds.length, 'the sweeps together destroyed each once');
    t.diagnostic(`destroyed by ${destroyed.map((r) => r.from).join(', ')}`);
    assert.equal(reportsOf(cluster.reports, 'presence').filter((r) => r.event === 'leave' && r.room === room).length, 3, 'users 21, 22, 23 left once each');
    assert.equal((await loginRows(sql, deadIds)).length, 2 * deadIds.length, 'one login and one logout row per dead client');
  });
});
