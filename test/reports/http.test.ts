// The report endpoints over real HTTP, on the embedded backend (SQLite and
// in-process state): deny by default, authorization, 400s that say what is
// wrong, and paging with a `next` link.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.json() };
}

describe('report endpoints', () => {
  describe('without an authorize hook', () => {
    let server: PresenceServer;
    before(async () => { server = await startPresenceServer('sqlite+memory'); });
    after(() => server.close());

    test('every request gets 403 saying how to enable the reports', async () => {
      for (const path of ['/status', '/users/1/logins', '/logs', '/nothing']) {
        const { status, body } = await get(`http://127.0.0.1:${server.port}/faye-online/api${path}`);
        assert.equal(status, 403, path);
        assert.match(body.error, /reports: \{ authorize: \(req\) => boolean \}/);
      }
    });
  });

  describe('with an authorize hook', () => {
    let server: PresenceServer;
    let base: string;
    const clients: TestClient[] = [];
    before(async () => {
      server = await startPresenceServer('sqlite+memory', {
        reports: { prefix: '/admin/online', authorize: (req) => req.get('authorization') === 'Bearer admin' },
      });
      base = `http://127.0.0.1:${server.port}/admin/online`;
      for (const [uid, uname] of [[1, 'ann'], [2, 'bob']] as const) {
        const client = onlineClient(server.url, auth(uid, uname, '/classes/4', '/courses/5/lessons/1'));
        clients.push(client);
        await client.connected();
      }
      await server.handle.settled();
      // Extra history for paging: uid 1 logs in and out 5 more times.
      const [{ id }] = await server.query<{ id: number }>("SELECT id FROM faye_channels WHERE name = '/courses/5/lessons/1'");
      for (let i = 0; i < 5; i++) {
        await server.sequelize.query(
          `INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES (1, 1, '2026-01-0${i + 1} 10:00:00', ${id}, 'old${i}'), (0, 1, '2026-01-0${i + 1} 11:00:00', ${id}, 'old${i}')`,
        );
      }
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect()));
      await server.close();
    });
    const admin = { headers: { authorization: 'Bearer admin' } };

    test('refuses a request the hook does not approve', async () => {
      const { status, body } = await get(`${base}/status`);
      assert.equal(status, 403);
      assert.equal(body.error, 'not authorized for faye-online reports');
    });

    test('GET status: rooms, users and clientIds as JSON', async () => {
      const { status, body } = await get(`${base}/status`, admin);
      assert.equal(status, 200);
      assert.deepEqual(body.totals, { users: 2, clientIds: 2, rooms: 1, timeChannels: 1 });
      assert.deepEqual(body.channels[0].users.map((u: { uid: number; uname: string }) => [u.uid, u.uname]), [[1, 'ann'], [2, 'bob']]);
      assert.equal(body.cleanup, null);
    });

    test('POST status/cleanup reports what it removed', async () => {
      await server.sequelize.query("UPDATE faye_channel_online_lists SET user_info_list = '[1,2,99]'");
      const { status, body } = await get(`${base}/status/cleanup`, { ...admin, method: 'POST' });
      assert.equal(status, 200);
      assert.deepEqual(body.cleanup, { removedClientIds: [], removedFromOnlineLists: [{ room: '/classes/4', uid: 99 }] });
      assert.deepEqual(await server.handle.onlineUsers('/classes/4'), [1, 2]);
    });

    test('GET a user\'s logins and a channel\'s online time', async () => {
      const logins = await get(`${base}/users/1/logins?channel=/courses/5/lessons/1&from=2026-01-02&to=2026-01-04`, admin);
      assert.equal(logins.status, 200);
      assert.deepEqual(logins.body.channels[0].clients.map((c: { clientId: string }) => c.clientId), ['old1', 'old2']);
      assert.equal(logins.body.channels[0].totalSeconds, 7200);
      const time = await get(`${base}/online-time?channel=/courses/5/lessons/1`, admin);
      assert.equal(time.status, 200);
      assert.equal(time.body.source, 'onlineTimes');
      assert.deepEqual(time.body.users.map((u: { uid: number }) => u.uid).sort(), [1, 2]);
    });

    test('bad parameters get 400 with a clear message', async () => {
      const cases: Array<[string, RegExp]> = [
        ['/users/abc/logins', /uid must be a positive integer, got "abc"/],
        ['/users/1/logins?from=yesterday', /from must be an ISO 8601 date/],
        ['/users/1/logins?from=2026-02-01&to=2026-01-01', /from .* is after to/],
        ['/users/1/logins?chanel=/a', /unknown parameter "chanel" \(known: channel, from, to\)/],
        ['/online-time', /channel is required/],
        ['/online-time?channel=not a channel', /channel must be a channel name/],
        ['/logs?limit=0', /limit must be an integer from 1 to 1000/],
        ['/logs?offset=-1', /offset must be an integer/],
        ['/logs?uid=1&uid=2', /parameter "uid" must be given once/],
      ];
      for (const [path, message] of cases) {
        const { status, body } = await get(`${base}${path}`, admin);
        assert.equal(status, 400, path);
        assert.match(body.error, message, path);
      }
      assert.equal((await get(`${base}/nothing`, admin)).status, 404);
    });

    test('GET logs pages with limit and offset and links the next page', async () => {
      const seen: string[] = [];
      let url: string | null = `${base}/logs?uid=1&limit=4`;
      let pages = 0;
      while (url) {
        const { status, body }: { status: number; body: any } = await get(url, admin);
        assert.equal(status, 200);
        seen.push(...body.rows.map((r: { status: number; clientId: string }) => `${r.status}:${r.clientId}`));
        url = body.next ? `http://127.0.0.1:${server.port}${body.next}` : null;
        pages++;
      }
      assert.equal(pages, 3, '11 rows in pages of 4');
      assert.equal(seen.length, 11);
      assert.deepEqual(seen.slice(0, 4), ['1:old0', '0:old0', '1:old1', '0:old1']);
      const last = await get(`${base}/logs?uid=1&limit=4&offset=8`, admin);
      assert.equal(last.body.next, null);
      assert.equal(last.body.rows.length, 3);
    });
  });
});
