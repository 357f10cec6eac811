// Presence events written in the same step as the changes they record, on
// either backend: real Faye clients join and leave rooms, log in and out of a
// time channel and report engagement; faye_online_events gets one row per
// change, with its kind, uid, channel, reason and the room's seq, in order;
// history answers from those rows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ENGAGEMENT_CHANNEL } from '../../lib/protocol';
import { isFayeOnlineError } from '../../lib/errors';
import { auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient } from '../support/presence-server';

export interface EventRow {
  id: number;
  kind: string;
  user_id: number | null;
  channel: string;
  occurred_ms: number;
  reason: string | null;
  seq: number | null;
  client_id: string | null;
  event_key: string;
}

export async function eventRows(server: Pick<PresenceServer, 'query'>, channel: string): Promise<EventRow[]> {
  const rows = await server.query<EventRow>(`SELECT * FROM faye_online_events WHERE channel = '${channel}' ORDER BY id`);
  return rows.map((r) => ({ ...r, id: Number(r.id), user_id: r.user_id === null ? null : Number(r.user_id), occurred_ms: Number(r.occurred_ms), seq: r.seq === null ? null : Number(r.seq) }));
}

export const summary = (rows: EventRow[]) => rows.map((r) => `${r.kind}${r.user_id === null ? '' : ` ${r.user_id}`}${r.reason ? ` (${r.reason})` : ''}`);

let counter = 0;
const unique = (what: string) => `/events/${what}${++counter}x${process.pid}`;

export function eventScenarios(backend: Backend): void {
  describe(`presence events (${backend})`, () => {
    let server: PresenceServer;
    const clients: TestClient[] = [];
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, gc: 1, events: { drainInterval: 0.1 }, reports: { authorize: (req) => req.headers['x-test'] === 'yes' } });
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    async function page(uid: number, room: string, time: string): Promise<{ client: TestClient; clientId: string }> {
      const client = onlineClient(server.url, auth(uid, `user${uid}`, room, time));
      clients.push(client);
      const clientId = await client.connected();
      await server.handle.settled();
      return { client, clientId };
    }

    test('joins and leaves of a room are rows in order, with occupied and vacated around them and the room\'s seq', async () => {
      const room = unique('room');
      const time = unique('lesson');
      const a = await page(470701, room, time);
      const b = await page(470702, room, time);
      const a2 = await page(470701, room, time); // a second tab: no join
      await a.client.disconnect();
      await server.handle.settled();
      await b.client.disconnect();
      await server.handle.settled();
      await a2.client.disconnect();
      await server.handle.settled();
      const rows = await eventually(async () => {
        const found = await eventRows(server, room);
        return found.length >= 6 ? found : null;
      });
      assert.deepEqual(summary(rows), [
        'join 470701 (connect)', 'occupied (connect)', 'join 470702 (connect)', 'leave 470702 (disconnect)', 'leave 470701 (disconnect)', 'vacated (disconnect)',
      ]);
      const seqs = rows.map((r) => r.seq);
      assert.deepEqual(seqs, [seqs[0], seqs[0], seqs[0]! + 1, seqs[0]! + 2, seqs[0]! + 3, seqs[0]! + 3], 'the room\'s seq, shared by occupied/vacated and their join/leave');
      assert.equal(rows[0].client_id, a.clientId);
      assert.equal(rows[4].client_id, a2.clientId, 'the leave is the last tab\'s');
      assert.equal(new Set(rows.map((r) => r.event_key)).size, rows.length);
      for (const row of rows) assert.match(row.event_key, /^[0-9a-f]{40}$/);
    });

    test('sessions in a time channel are rows with their login log rows, engaged time with its own', async () => {
      const room = unique('room');
      const time = unique('lesson');
      const { client, clientId } = await page(470703, room, time);
      await client.faye.publish(ENGAGEMENT_CHANNEL, { engaged: true, seq: 1 });
      await server.handle.settled();
      await client.faye.publish(ENGAGEMENT_CHANNEL, { engaged: false, seq: 2 });
      await server.handle.settled();
      await client.disconnect();
      const rows = await eventually(async () => {
        const found = await eventRows(server, time);
        return found.length >= 4 ? found : null;
      });
      assert.deepEqual(summary(rows), ['session_start 470703', 'engaged_start 470703', 'engaged_end 470703', 'session_end 470703 (disconnect)']);
      assert.equal(rows[0].client_id, clientId);
      assert.equal(rows[3].client_id, clientId);
      assert.ok(rows.every((r) => r.seq === null));
      const logins = await server.query<{ status: number }>(`SELECT l.status FROM faye_user_login_logs l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = '${time}'`);
      assert.equal(logins.length, 2, 'one login log row per session event');
    });

    test('history: who was in a room at a moment, who attended between two, and when a user was last seen', async () => {
      const room = unique('room');
      const time = unique('lesson');
      const t0 = new Date();
      const a = await page(470704, room, time);
      const tBoth = await eventually(async () => {
        const b = await page(470705, room, time);
        return { b, at: new Date() };
      });
      await eventually(async () => (await server.handle.presentAt(room, new Date())).length === 2);
      await a.client.disconnect();
      await server.handle.settled();
      const tAfter = await eventually(async () => {
        const rows = await eventRows(server, room);
        return rows.some((r) => r.kind === 'leave') ? new Date(Date.now() + 1) : null;
      });
      assert.deepEqual(await server.handle.presentAt(room, tBoth.at), [470704, 470705]);
      assert.deepEqual(await server.handle.presentAt(room, tAfter), [470705]);
      assert.deepEqual(await server.handle.presentAt(room, new Date(t0.getTime() - 1)), []);
      const attended = await server.handle.attendance(room, t0, new Date(tAfter.getTime() + 60_000));
      assert.deepEqual(attended.map((u) => u.uid).sort(), [470704, 470705]);
      assert.ok(attended.every((u) => u.visits === 1));
      const seenA = await server.handle.lastSeen(470704);
      assert.equal(seenA.online, false);
      assert.equal(seenA.channel !== null, true);
      assert.ok(seenA.at! >= t0 && seenA.at! <= new Date());
      const seenB = await server.handle.lastSeen(470705);
      assert.deepEqual([seenB.online, seenB.channel], [true, room]);
      assert.deepEqual(await server.handle.lastSeen(470799), { uid: 470799, online: false, at: null, channel: null });
      await tBoth.b.client.disconnect();

      // The same answers over REST, behind the reports' hook.
      const base = `http://127.0.0.1:${server.port}/faye-online/api/history`;
      const get = (path: string, headers: Record<string, string> = { 'x-test': 'yes' }) => fetch(`${base}${path}`, { headers });
      const present = await get(`/present?room=${encodeURIComponent(room)}&at=${tBoth.at.toISOString()}`);
      assert.equal(present.status, 200);
      assert.deepEqual((await present.json()).uids, [470704, 470705]);
      assert.equal((await get(`/present?room=${encodeURIComponent(room)}&at=${tBoth.at.toISOString()}`, {})).status, 403);
      const attendance = await (await get(`/attendance?room=${encodeURIComponent(room)}&from=${t0.toISOString()}&to=${new Date().toISOString()}`)).json();
      assert.deepEqual(attendance.users.map((u: { uid: number }) => u.uid).sort(), [470704, 470705]);
      assert.equal((await (await get('/last-seen?uid=470704')).json()).online, false);
      const bad = await get('/attendance?room=/x&from=2026-01-02&to=2026-01-01');
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /before/);
      assert.equal((await get('/last-seen?uid=abc')).status, 400);
      assert.equal((await get('/present?room=/x')).status, 400);
      const badRoom = await get(`/present?room=${encodeURIComponent('not a room')}&at=2026-01-01`);
      assert.equal(badRoom.status, 400);
      assert.match((await badRoom.json()).error, /room must be a channel name/);
    });

    test('reconciliation writes the events of what it repairs: a list that names a user nobody has, a user the list lost', async () => {
      const room = unique('room');
      const time = unique('lesson');
      await page(470706, room, time);
      // A Rails app (or a failed write) left the list wrong both ways.
      await server.handle.reconcile();
      const listed = await server.query<{ id: number }>(`SELECT l.id FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = '${room}'`);
      await server.sequelize.query(`UPDATE faye_channel_online_lists SET user_info_list = '[470799]' WHERE id = ${listed[0].id}`);
      const report = await server.handle.reconcile();
      assert.deepEqual(report.lists.find((l) => l.room === room), { room, added: [470706], removed: [470799] });
      await eventually(async () => (await eventRows(server, room)).length >= 4);
      assert.deepEqual(summary(await eventRows(server, room)), ['join 470706 (connect)', 'occupied (connect)', 'leave 470799 (reconciled)', 'join 470706 (reconciled)']);
      assert.deepEqual(await server.handle.presentAt(room, new Date(Date.now() + 1)), [470706], 'history folds the repeated join');
    });

    test('bad arguments to the history methods are errors that name them, and write nothing', async () => {
      await assert.rejects(server.handle.presentAt('not a channel', new Date()), (e) => isFayeOnlineError(e, 'INVALID_ARGUMENT') && /presentAt: room/.test(e.message));
      await assert.rejects(server.handle.presentAt('/a', new Date(NaN)), (e) => isFayeOnlineError(e, 'INVALID_ARGUMENT') && /at must be a valid Date/.test(e.message));
      await assert.rejects(server.handle.attendance('/a', new Date(2), new Date(1)), (e) => isFayeOnlineError(e, 'INVALID_ARGUMENT') && /before/.test(e.message));
      await assert.rejects(server.handle.lastSeen(-1), (e) => isFayeOnlineError(e, 'INVALID_ARGUMENT'));
    });
  });
}
