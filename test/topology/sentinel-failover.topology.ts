// Part of `npm run test:topology` (needs MariaDB, Redis and redis-server's sentinel mode).
// Three presence processes use Redis through Sentinel (one primary, one
// replica, three sentinels, all of the test's own). The primary is killed
// (SIGKILL) under traffic: the pages keep working without a reload, nothing
// published after the failover is lost, and presence converges, including the
// writes the replica never received (the asynchronous replication window).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type Redis from 'ioredis';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { closeClient, fayeClient } from '../engine/servers';
import { loginRows, onlineTimes } from '../presence/sql-helpers';
import { onlineUids, reportsOf, sqlReader, startCluster, type Cluster } from '../cluster/processes';
import { startSentinelSet, type SentinelSet } from './sentinel';
import { BIN, cli } from '../support/cli';
import { PresenceKeys } from '../../lib/stores/keys';
import { sleep } from '../support/wait';

const TIMEOUT = 10; // Faye's default
const GC = 5; // instead of 60 s, so that a departure lost with the primary is replayed within the test

describe('Redis failover through Sentinel under traffic', () => {
  let redis: SentinelSet;
  let cluster: Cluster;
  let sql: ReturnType<typeof sqlReader>;
  let reader: Redis;
  const pages: TestClient[] = [];
  const plain: any[] = [];

  before(async () => {
    redis = await startSentinelSet({ primary: 27201, replica: 27202, sentinels: [27211, 27212, 27213] });
    cluster = await startCluster(3, { timeout: TIMEOUT, gc: GC, leaveGrace: 5, userListWindow: 100 }, { redis: redis.url });
    sql = sqlReader(cluster);
    reader = redis.connect();
    reader.on('error', () => undefined); // it reconnects through the sentinels by itself
  });
  after(async () => {
    await Promise.all(pages.map((page) => page.disconnect().catch(() => undefined)));
    await Promise.all(plain.map((client) => closeClient(client)));
    reader?.disconnect();
    await cluster?.close();
    await redis?.stop();
  });

  const room = `/failover/room${process.pid}`;
  const time = `/failover/lesson${process.pid}`;

  function page(uid: number, process: number, transport: 'long-polling' | 'websocket'): TestClient {
    const client = onlineClient(cluster.processes[process]!.url, auth(uid, `u${uid}`, room, time), { transport });
    pages.push(client);
    return client;
  }

  async function clientIdsInRoom(): Promise<Record<string, string[]>> {
    const raw = await reader.hgetall(new PresenceKeys(cluster.namespace).channel(room));
    return Object.fromEntries(Object.entries(raw).map(([uid, json]) => [uid, (JSON.parse(json) as string[]).sort()]));
  }

  async function timerRunning(uid: number): Promise<boolean> {
    const times = await onlineTimes(sql, uid);
    return times !== undefined && JSON.parse(times)[`${time}_started_at`] != null;
  }

  test('pages keep working, messages after the failover all arrive, presence converges', async (t) => {
    const channel = `/failover/chat${process.pid}`;
    // Six pages, two on each process, half of them long-polling.
    const stay = [1, 2, 3, 4, 5, 6].map((uid) => page(uid, uid % 3, uid % 2 ? 'long-polling' : 'websocket'));
    await Promise.all(stay.map((p) => p.connected()));
    const received = stay.map(() => new Map<number, number>());
    await Promise.all(stay.map((p, i) => p.faye.subscribe(channel, (data: { n: number }) => {
      received[i]!.set(data.n, (received[i]!.get(data.n) ?? 0) + 1);
    })));
    await eventually(async () => (await onlineUids(sql, room)).join() === '1,2,3,4,5,6', 10_000, 'six pages online');

    // A page that will close while the replica does not listen.
    const leaving = page(7, 0, 'long-polling');
    const leavingId = await leaving.connected();
    await eventually(async () => (await onlineUids(sql, room)).includes(7), 10_000, 'the leaving page online');

    // Traffic: one publisher per process, a numbered message every 100 ms.
    const publishers = cluster.processes.map((p) => {
      const client = fayeClient(p.url, 'long-polling');
      plain.push(client);
      return client;
    });
    const publishedAt = new Map<number, number>();
    let n = 0;
    let publishing = true;
    const traffic = (async () => {
      while (publishing) {
        n += 1;
        publishedAt.set(n, Date.now());
        void publishers[n % publishers.length].publish(channel, { n });
        await sleep(100);
      }
    })();
    await sleep(1000);

    // The asynchronous replication window, made wide: the replica stops
    // listening (frozen, its link cut), a page joins and another one closes,
    // their SQL writes land, then the primary dies before the replica heard of them.
    execFileSync('kill', ['-STOP', String(redis.replica.child.pid)]);
    try {
      await reader.call('CLIENT', 'KILL', 'TYPE', 'replica');
      const joining = page(8, 1, 'websocket');
      const joiningFirstId = await joining.connected();
      await leaving.disconnect();
      await eventually(async () => {
        assert.deepEqual((await loginRows(sql, [joiningFirstId])).map((r) => r.status), [1]);
        assert.deepEqual((await loginRows(sql, [leavingId])).map((r) => r.status), [1, 0]);
        assert.ok((await onlineUids(sql, room)).includes(8));
        return true;
      }, 5000, 'the join and the logout written to SQL'); // the leave itself waits out the grace
      stay.push(joining);
      received.push(new Map());
      // Subscribing now would also be lost with the primary: page 8 is counted for presence only.
    } finally {
      await redis.primary.kill();
      execFileSync('kill', ['-CONT', String(redis.replica.child.pid)]);
    }
    const killedAt = Date.now();
    const oldPrimary = `127.0.0.1:${redis.primary.port}`;

    await eventually(async () => (await redis.primaryAddress()) !== oldPrimary, 30_000, 'sentinels promoted the replica');
    const failoverMs = Date.now() - killedAt;

    // Working again: every subscribed page receives a message published after the kill.
    const firstAfterKill = () => [...publishedAt].find(([, at]) => at > killedAt)?.[0] ?? Infinity;
    await eventually(() => received.slice(0, 6).every((inbox) => [...inbox.keys()].some((m) => m >= firstAfterKill())), 60_000, 'messages flow again');
    const recoveredMs = Date.now() - killedAt;
    await sleep(3000);
    publishing = false;
    await traffic;
    const lastSent = n;
    await eventually(() => received.slice(0, 6).every((inbox) => inbox.has(lastSent)), 20_000, 'the last message everywhere');
    await sleep(1000);

    const recoveredAt = killedAt + recoveredMs;
    let lostInOutage = 0;
    for (const [i, inbox] of received.slice(0, 6).entries()) {
      const duplicates = [...inbox].filter(([, count]) => count > 1).map(([m]) => m);
      assert.deepEqual(duplicates, [], `page ${i + 1} received duplicates`);
      const missing = [...publishedAt.keys()].filter((m) => !inbox.has(m) && m > 0);
      // Whatever was published while every process had Redis arrived; losses are
      // confined to the outage (messages on their way when the primary died).
      const outsideOutage = missing.filter((m) => publishedAt.get(m)! < killedAt - 1000 || publishedAt.get(m)! > recoveredAt);
      assert.deepEqual(outsideOutage, [], `page ${i + 1} lost messages outside the outage`);
      lostInOutage += missing.length;
    }
    t.diagnostic(`failover (kill → sentinels switched): ${failoverMs} ms; pages receiving again: ${recoveredMs} ms after the kill; ${lostInOutage} deliveries of ${lastSent * 6} missed, all within the outage`);

    // Presence converges on the truth: pages 1-6 and 8 are open, 7 closed.
    const expected = [1, 2, 3, 4, 5, 6, 8];
    await eventually(async () => {
      const ids = await clientIdsInRoom();
      assert.deepEqual(Object.keys(ids).map(Number).sort((a, b) => a - b), expected);
      for (const [i, p] of stay.entries()) assert.deepEqual(ids[String(expected[i])], [p.clientId()], `page ${expected[i]} by its current clientId`);
      assert.deepEqual(await onlineUids(sql, room), expected);
      assert.equal(await timerRunning(7), false, 'no timer runs for the closed page');
      for (const uid of expected) assert.equal(await timerRunning(uid), true, `timer of ${uid} runs`);
      return true;
    }, (2 * TIMEOUT + 2 * GC) * 1000 + 15_000, 'presence converged');
    const convergedMs = Date.now() - killedAt;
    t.diagnostic(`presence converged ${convergedMs} ms after the kill`);

    // Login rows: every clientId a page ever had that is gone has its logout.
    const allIds = new Set<string>();
    for (const report of reportsOf(cluster.reports, 'presence')) if (report.room === room && report.event === 'arrive') allIds.add(report.clientId);
    const current = new Set(stay.map((p) => p.clientId()!));
    await eventually(async () => {
      const rows = await loginRows(sql, [...allIds]);
      for (const id of allIds) {
        const statuses = rows.filter((r) => r.clientId === id).map((r) => r.status);
        assert.equal(statuses[0], 1, `${id} logged in`);
        if (current.has(id)) assert.deepEqual(statuses, [1], `${id} is open`);
        else assert.ok(statuses.length >= 2 && statuses.slice(1).every((s) => s === 0), `${id} logged out: ${statuses}`);
      }
      return true;
    }, 20_000, 'login rows');
  });

  test('faye-online serve takes the Sentinel URL from REDIS_URL, and names sentinels that do not answer', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      env: { PATH: process.env.PATH, DATABASE_URL: cluster.backing.databaseUrl, REDIS_URL: redis.url, FAYE_ONLINE_NAMESPACE: cluster.namespace },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk) => { stdout += chunk; });
    try {
      const origin = await eventually(() => /ready at (http:\/\/[^/ ]+)/.exec(stdout)?.[1], 20_000, 'serve ready');
      assert.match(stdout, new RegExp(`redis {5}redis\\+sentinel://127\\.0\\.0\\.1:27211,127\\.0\\.0\\.1:27212,127\\.0\\.0\\.1:27213/\\S+: answers`));
      const client = fayeClient(`${origin}/faye`, 'long-polling');
      plain.push(client);
      const message = new Promise((resolve) => void client.subscribe('/served/here', resolve));
      await sleep(500);
      await client.publish('/served/here', { ok: true });
      assert.deepEqual(await message, { ok: true });
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }

    const down = await cli(['serve', '--port', '0'], { DATABASE_URL: cluster.backing.databaseUrl, REDIS_URL: 'redis+sentinel://127.0.0.1:27299/nobody' });
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.match(down.stderr, /Redis at redis\+sentinel:\/\/127\.0\.0\.1:27299\/nobody does not answer .*\[REDIS_UNREACHABLE\]/);
  });
});
