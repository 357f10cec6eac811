// needs: mysql, redis
// Presence events in a cluster of server processes on one MariaDB database and
// one Redis namespace: the rows of a room's joins and leaves come in the room's
// order whichever process saw each change; a process killed (SIGKILL) after its
// events reached the outbox and before any drain loses none of them: another
// process drains them, and its reconciliation writes the leaves of the dead
// process's pages.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { addProcess, startCluster, type Cluster } from '../cluster/processes';
import { summary, type EventRow } from './scenarios';
import { PresenceKeys } from '../../lib/stores/keys';

describe('presence events in a cluster (MariaDB + Redis, real processes)', () => {
  const clusters: Cluster[] = [];
  const clients: TestClient[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await Promise.all(clusters.map((c) => c.close()));
  });

  async function rows(cluster: Cluster, channel: string): Promise<EventRow[]> {
    const [found] = await cluster.backing.db!.raw.query('SELECT * FROM faye_online_events WHERE channel = ? ORDER BY id', [channel]);
    return (found as EventRow[]).map((r) => ({ ...r, user_id: r.user_id === null ? null : Number(r.user_id), seq: r.seq === null ? null : Number(r.seq) }));
  }

  async function connect(url: string, uid: number, room: string): Promise<TestClient> {
    const client = onlineClient(url, auth(uid, `user${uid}`, room, `${room}/lesson`));
    clients.push(client);
    await client.connected();
    return client;
  }

  test('two processes: one row per join and leave, in the room\'s seq order, between occupied and vacated', async () => {
    const cluster = await startCluster(2, { timeout: 1, gc: 1, events: { drainInterval: 0.2 } });
    clusters.push(cluster);
    const [p0, p1] = cluster.processes;
    const room = '/cluster/events/room1';
    const a = await connect(p0.url, 470801, room);
    await eventually(async () => (await rows(cluster, room)).length === 2, 10_000, 'the first join and occupied');
    const b = await connect(p1.url, 470802, room);
    const a2 = await connect(p1.url, 470801, room);
    await eventually(async () => (await rows(cluster, room)).length === 3, 10_000, 'the second join');
    await b.disconnect();
    await eventually(async () => (await rows(cluster, room)).length === 4, 10_000, 'the first leave');
    await a.disconnect();
    await a2.disconnect();
    const found = await eventually(async () => {
      const r = await rows(cluster, room);
      return r.length === 6 ? r : null;
    }, 15_000, 'every event');
    assert.deepEqual(summary(found), ['join 470801 (connect)', 'occupied (connect)', 'join 470802 (connect)', 'leave 470802 (disconnect)', 'leave 470801 (disconnect)', 'vacated (disconnect)']);
    const seqs = found.map((r) => r.seq!);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] >= seqs[i - 1], `seq order: ${seqs.join(',')}`);
    assert.equal(new Set([seqs[0], seqs[2], seqs[3], seqs[4]]).size, 4);
  });

  test('a process killed between the outbox and the drain loses no event: another drains them, and reconciles its pages out', async () => {
    // Its drainer would wait an hour: the events stay in the outbox until it dies.
    const cluster = await startCluster(1, { timeout: 1, gc: 1, reconcileInterval: 1, events: { drainInterval: 3600 } });
    clusters.push(cluster);
    const [p0] = cluster.processes;
    const room = '/cluster/events/room2';
    const client = await connect(p0.url, 470803, room);
    const redis = cluster.backing.redis!.redis;
    await eventually(async () => (await redis.llen(new PresenceKeys(cluster.namespace).outbox)) >= 2, 10_000, 'join and occupied in the outbox');
    assert.deepEqual(await rows(cluster, room), [], 'not drained yet');
    client.vanish();
    await p0.kill();

    await addProcess(cluster, 'P1', { timeout: 1, gc: 1, reconcileInterval: 1, events: { drainInterval: 0.2 } });
    const found = await eventually(async () => {
      const r = await rows(cluster, room);
      return r.length >= 4 ? r : null;
    }, 20_000, 'the dead process\'s events and the leave reconciliation found');
    assert.deepEqual(summary(found).slice(0, 2), ['join 470803 (connect)', 'occupied (connect)']);
    assert.deepEqual(found.slice(2).map((r) => r.kind), ['leave', 'vacated']);
    assert.equal(found.filter((r) => r.kind === 'join').length, 1, 'each event once');
    // A drain removes its entries from the outbox once their rows are written: a moment after the rows show.
    await eventually(async () => (await redis.llen(new PresenceKeys(cluster.namespace).outbox)) === 0, 10_000, 'the outbox emptied');
    assert.equal((await rows(cluster, room)).length, found.length, 'no event written twice');
  });

  test('a process killed during a leave\'s grace period: reconciliation on another writes the leave as abandoned, as of the last sighting', async () => {
    const cluster = await startCluster(2, { timeout: 1, gc: 1, reconcileInterval: 1, leaveGrace: 1, events: { drainInterval: 0.2 } });
    clusters.push(cluster);
    const [p0] = cluster.processes;
    const room = '/cluster/events/room3';
    const client = await connect(p0.url, 470804, room);
    const redis = cluster.backing.redis!.redis;
    await eventually(async () => (await rows(cluster, room)).length === 2, 10_000, 'join and occupied');
    const before = Date.now();
    await client.disconnect();
    await eventually(async () => (await redis.hget(new PresenceKeys(cluster.namespace).leaving(room), '470804')) !== null, 10_000, 'the leave pending');
    await p0.kill();
    const found = await eventually(async () => {
      const r = await rows(cluster, room);
      return r.length >= 4 ? r : null;
    }, 40_000, 'the abandoned leave');
    assert.deepEqual(summary(found), ['join 470804 (connect)', 'occupied (connect)', 'leave 470804 (abandoned)', 'vacated (abandoned)']);
    assert.ok(Number(found[2].occurred_ms) <= before + 1000, 'as of when the page was last seen, not when reconciliation ran');
  });
});
