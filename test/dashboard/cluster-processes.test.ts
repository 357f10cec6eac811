// needs: mysql, redis
// The dashboard across a cluster of two real server processes (the built
// package, test/cluster/server-process.js) on one MariaDB database and Redis
// namespace: either process's dashboard shows the users of both, health names
// both processes by pid, and the last reconciliation reaches it through the
// heartbeats whichever process ran it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, eventually, onlineClient, type TestClient } from '../support/presence-server';
import { startCluster, type Cluster, type ServerProcess } from '../cluster/processes';
import { HEARTBEAT_MS } from '../../lib/dashboard/health';

const ROOM = '/classes/procs';
const LESSON = '/courses/8/lessons/1';

describe('dashboard across two server processes', () => {
  let cluster: Cluster;
  const clients: TestClient[] = [];

  before(async () => {
    cluster = await startCluster(2, { dashboard: true });
  });

  after(async () => {
    for (const client of clients) await client.disconnect();
    await cluster?.close();
  });

  const data = async (server: ServerProcess, path: string) =>
    (await fetch(`http://127.0.0.1:${server.port}/faye-online/data/${path}`, { headers: { 'x-dashboard': 'open' } })).json();

  test('members who came through either process, and both processes by pid', async () => {
    const [p0, p1] = cluster.processes;
    const ann = onlineClient(p0.url, auth(21, 'ann', ROOM, LESSON));
    const bob = onlineClient(p1.url, auth(22, 'bob', ROOM, LESSON));
    clients.push(ann, bob);
    await Promise.all([ann.connected(), bob.connected()]);
    for (const server of [p0, p1]) {
      const members = await eventually(async () => {
        const page = await data(server, `members?room=${ROOM}`);
        return page.total === 2 ? page : null;
      }, 10_000, `${server.name} shows both members`);
      // They connected at the same time through different processes: either may have come first.
      assert.deepEqual(members.rows.map((r: { uname: string }) => r.uname).sort(), ['ann', 'bob']);
    }
    const health = await data(p0, 'health');
    assert.deepEqual(health.processes.map((p: { pid: number }) => p.pid).sort(), [p0.child.pid, p1.child.pid].sort());
  });

  test('the startup reconciliation shows on either process, whichever ran it', async () => {
    // One process won the reconciliation lock at startup; the other hears of it with its next heartbeat.
    for (const server of cluster.processes) {
      const health = await eventually(async () => {
        const h = await data(server, 'health');
        return h.reconciliation ? h : null;
      }, HEARTBEAT_MS + 5000, `${server.name} knows the last reconciliation`);
      assert.match(health.reconciliation.by, /:\d+$/);
    }
  });

  test('a process that stops leaves the health page at once', async () => {
    const [p0, p1] = cluster.processes;
    await p1.stop();
    const health = await data(p0, 'health');
    assert.deepEqual(health.processes.map((p: { pid: number }) => p.pid), [p0.child.pid]);
  });
});
