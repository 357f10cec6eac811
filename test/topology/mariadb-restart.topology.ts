// Part of `npm run test:topology` (needs MariaDB's mariadbd and mariadb-install-db, and Redis).
// Three presence processes write to a MariaDB of the test's own, which is
// restarted under traffic (kept down for a few seconds, as a slow restart or a
// failover is), then crashes (SIGKILL) and comes back: the writes of the pages
// that joined and left meanwhile wait and retry, and afterwards every list,
// timer and login row is right.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Sequelize } from 'sequelize';
import { openDatabase } from '../../lib/records';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { loginRows, onlineTimes, type SqlReader } from '../presence/sql-helpers';
import { onlineUids, reportsOf, startCluster, type Cluster } from '../cluster/processes';
import { closeClient, fayeClient } from '../engine/servers';
import { startOwnMariaDb, type OwnMariaDb } from './mariadb-server';
import { sleep } from '../support/wait';

const DOWN_MS = 6000;

describe('MariaDB restarts under traffic', () => {
  let mariadb: OwnMariaDb;
  let cluster: Cluster;
  let admin: Sequelize;
  let sql: SqlReader;
  const pages: TestClient[] = [];
  const plain: any[] = [];

  before(async () => {
    mariadb = await startOwnMariaDb(27301);
    const setup = openDatabase(mariadb.url('mysql'));
    try {
      await setup.query('CREATE DATABASE faye_online_restart DEFAULT CHARACTER SET utf8mb3');
    } finally {
      await setup.close();
    }
    cluster = await startCluster(3, { timeout: 10, gc: 60, leaveGrace: 5, beforeLeaveDelay: 3, userListWindow: 100 }, { database: mariadb.url('faye_online_restart') });
    admin = openDatabase(mariadb.url('faye_online_restart'), { sequelize: { pool: { max: 2 } } });
    sql = { query: async <T>(statement: string) => (await admin.query(statement))[0] as T[] };
  });
  after(async () => {
    await Promise.all(pages.map((page) => page.disconnect().catch(() => undefined)));
    await Promise.all(plain.map((client) => closeClient(client)));
    await cluster?.close();
    await admin?.close();
    await mariadb?.stop();
  });

  function page(uid: number, room: string, time: string, onProcess: number): TestClient {
    const client = onlineClient(cluster.processes[onProcess]!.url, auth(uid, `u${uid}`, room, time), { transport: uid % 2 ? 'long-polling' : 'websocket' });
    pages.push(client);
    return client;
  }

  async function timerRunning(uid: number, time: string): Promise<boolean> {
    const times = await onlineTimes(sql, uid);
    return times !== undefined && JSON.parse(times)[`${time}_started_at`] != null;
  }

  /** Lists, timers and login rows agree with which pages are open. */
  async function assertRecords(room: string, time: string, open: Map<number, string>, closed: Map<number, string>): Promise<void> {
    const openUids = [...open.keys()].sort((a, b) => a - b);
    assert.deepEqual(await onlineUids(sql, room), openUids);
    for (const uid of openUids) assert.equal(await timerRunning(uid, time), true, `timer of ${uid} runs`);
    for (const uid of closed.keys()) assert.equal(await timerRunning(uid, time), false, `timer of ${uid} stopped`);
    const rows = await loginRows(sql, [...open.values(), ...closed.values()]);
    for (const [uid, id] of open) assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status), [1], `login rows of open page ${uid}`);
    for (const [uid, id] of closed) assert.deepEqual(rows.filter((r) => r.clientId === id).map((r) => r.status), [1, 0], `login rows of closed page ${uid}`);
  }

  async function scenario(name: string, bounce: () => Promise<{ downMs: number }>, t: { diagnostic(message: string): void }) {
    const room = `/restart/${name}${process.pid}`;
    const time = `/restart/${name}lesson${process.pid}`;
    const open = new Map<number, string>();
    const closed = new Map<number, string>();
    const lists: Array<{ count: number; user_list: number[] }> = [];
    const listener = fayeClient(cluster.processes[0]!.url, 'websocket');
    plain.push(listener);
    await listener.subscribe(`${room}/user_list`, (list: { count: number; user_list: number[] }) => lists.push(list));
    const before = [1, 2, 3, 4].map((uid) => page(uid, room, time, uid % 3));
    const ids = await Promise.all(before.map((p) => p.connected()));
    ids.forEach((id, i) => open.set(i + 1, id));
    await eventually(async () => (await onlineUids(sql, room)).join() === '1,2,3,4', 10_000, 'four pages online');

    const bounced = bounce();
    await sleep(300); // the server is going down
    // Meanwhile: two pages open, one closes, one says before_leave and vanishes.
    const joining = [5, 6].map((uid) => page(uid, room, time, uid % 3));
    const joinedIds = await Promise.all(joining.map((p) => p.connected()));
    joinedIds.forEach((id, i) => open.set(5 + i, id));
    await before[0]!.disconnect();
    await before[1]!.faye.publish('/faye_online/before_leave', {});
    before[1]!.vanish();
    for (const uid of [1, 2]) {
      closed.set(uid, open.get(uid)!);
      open.delete(uid);
    }
    const { downMs } = await bounced;
    const backAt = Date.now();

    const openUids = [...open.keys()].sort((a, b) => a - b);
    await eventually(async () => {
      await assertRecords(room, time, open, closed);
      const last = lists[lists.length - 1];
      assert.deepEqual(last && { count: last.count, user_list: [...last.user_list].sort((a, b) => a - b) }, { count: openUids.length, user_list: openUids }, 'the last user_list');
      return true;
    }, 30_000, 'records right after the restart');
    t.diagnostic(`${name}: down ${downMs} ms; records right ${Date.now() - backAt} ms after it was back`);
    // Right, and stays right: no late duplicate from a retry.
    await sleep(2000);
    await assertRecords(room, time, open, closed);
    const inRoom = reportsOf(cluster.reports, 'presence').filter((r) => r.room === room);
    assert.deepEqual(inRoom.filter((r) => r.event === 'join').map((r) => r.uid).sort(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(inRoom.filter((r) => r.event === 'leave').map((r) => r.uid).sort(), [1, 2]);
  }

  test('a restart that keeps the database down for seconds loses no write', async (t) => {
    await scenario('restart', () => mariadb.restart(DOWN_MS), t);
  });

  test('a crash (SIGKILL) and recovery loses no write', async (t) => {
    await scenario('crash', () => mariadb.crashAndRestart(DOWN_MS), t);
  });

  test('no write was given up', () => {
    // A read for <room>/user_list may fail while the server is down (it is
    // logged once and tried again); writes must not fail.
    const failed = reportsOf(cluster.reports, 'log').filter((r) => r.level === 'error' && !r.message.startsWith('could not read the online list'));
    assert.deepEqual(failed.map((r) => r.message), []);
  });
});
