// needs: mysql, redis
// The dashboard in a cluster: two presence servers on one MariaDB database and
// one Redis namespace, each with its own Faye engine and its own dashboard.
// Either dashboard shows the users of both, and the health page lists both
// servers by their heartbeats until one stops.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Request } from 'express';
import { auth, createBacking, eventually, onlineClient, startPresenceServer, type Backing, type PresenceServer, type TestClient } from '../support/presence-server';
import { PresenceKeys } from '../../lib/stores/keys';

const ROOM = '/classes/cluster';
const LESSON = '/courses/6/lessons/2';
const authorize = (req: Request) => req.headers['x-role'] === 'teacher';
const headers = { 'x-role': 'teacher' };

describe('dashboard in a cluster of two servers', () => {
  let backing: Backing;
  let a: PresenceServer;
  let b: PresenceServer;
  const clients: TestClient[] = [];

  before(async () => {
    backing = await createBacking('mysql+redis');
    a = await startPresenceServer('mysql+redis', { reports: { authorize } }, backing);
    b = await startPresenceServer('mysql+redis', { reports: { authorize } }, backing);
    for (const server of [a, b]) server.app.use('/faye-online', server.handle.dashboard());
  });

  after(async () => {
    for (const client of clients) await client.disconnect();
    await a?.close();
    await b?.close();
    await backing?.release();
  });

  const data = async (server: PresenceServer, path: string) => (await fetch(`http://127.0.0.1:${server.port}/faye-online/data/${path}`, { headers })).json();

  test('each dashboard shows the members who came through the other server', async () => {
    const ann = onlineClient(a.url, auth(11, 'ann', ROOM, LESSON));
    const bob = onlineClient(b.url, auth(12, 'bob', ROOM, LESSON));
    clients.push(ann, bob);
    await Promise.all([ann.connected(), bob.connected()]);
    await Promise.all([a.handle.settled(), b.handle.settled()]);
    for (const server of [a, b]) {
      const page = await eventually(async () => {
        const members = await data(server, `members?room=${ROOM}`);
        return members.total === 2 ? members : null;
      });
      // They connected at the same time through different servers: either may have come first.
      assert.deepEqual(page.rows.map((r: { uid: number; uname: string }) => [r.uid, r.uname]).sort(), [[11, 'ann'], [12, 'bob']]);
    }
  });

  test('health lists both servers by their heartbeats; a stopped one leaves the list at once', async () => {
    const both = await data(a, 'health');
    assert.equal(both.processes.length, 2);
    assert.deepEqual(both.processes.map((p: { self: boolean }) => p.self).sort(), [false, true]);
    assert.equal(both.redis.ok, true);
    assert.equal(both.totals.usersOnline, 2);
    // A server's own line is current; the other's is as of its last heartbeat (written when its dashboard was mounted, before anyone came).
    assert.equal(both.processes.find((p: { self: boolean }) => p.self).trackedClientIds, 1, 'ann\'s tab');

    await b.close();
    const one = await data(a, 'health');
    assert.equal(one.processes.length, 1);
    assert.equal(one.processes[0].self, true);
  });

  test('a reader forgetting old heartbeats never deletes one written meanwhile (raced)', async () => {
    const redis = backing.redis!.redis;
    const key = new PresenceKeys(backing.namespace).processes;
    const beat = (beatAt: number) => JSON.stringify({ id: 'ghost', host: 'elsewhere', pid: 1, startedAt: beatAt, beatAt, trackedClientIds: 0, reconciliation: null });
    for (let i = 0; i < 30; i++) {
      await redis.hset(key, 'ghost', beat(Date.now() - 3_600_000));
      const fresh = beat(Date.now());
      // The reader's cleanup and the process coming back, in either order.
      await Promise.all([data(a, 'health'), redis.hset(key, 'ghost', fresh)]);
      assert.equal(await redis.hget(key, 'ghost'), fresh, `round ${i}`);
    }
    await redis.hset(key, 'ghost', beat(Date.now() - 3_600_000));
    await redis.hset(key, 'unreadable', 'not json');
    const health = await data(a, 'health');
    assert.deepEqual(health.processes.map((p: { self: boolean }) => p.self), [true], 'only this server is alive');
    assert.deepEqual(await redis.hkeys(key).then((k) => k.length), 1, 'the long-gone and the unreadable are deleted');
  });
});
