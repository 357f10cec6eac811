// Engaged time: pages report on /faye_online/engagement whether they are
// engaged (visible, and in use when they watch for idleness); a user is engaged
// in a time channel while any of their pages there is. Each engaged session is
// written to faye_online_engaged_times (our own table), beside the gem's
// connected time, which goes on unchanged. Real Faye clients over HTTP; the
// reports are the messages the browser client sends on visibility changes
// (test/browser/engagement.test.ts drives the browser client itself).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EngagementEvent } from '../../lib';
import { isFayeOnlineError } from '../../lib/errors';
import { ENGAGEMENT_CHANNEL } from '../../lib/protocol';
import { auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient, type WireAuth } from '../support/presence-server';
import { channelId, onlineTimes } from './sql-helpers';
import { sleep } from '../support/wait';

let counter = 0;

interface EngagedRow {
  engaged_ms: number;
  engaged_since_ms: number | null;
  last_session_ms: number | null;
}

export function engagementScenarios(backend: Backend): void {
  describe(`engaged time (${backend})`, () => {
    let server: PresenceServer;
    const clients: TestClient[] = [];
    const events: EngagementEvent[] = [];
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, gc: 1 });
      server.handle.on('engagement', (event) => events.push(event));
    });
    after(async () => {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await server.close();
    });

    /** A fresh time channel and a connected page of `uid` in it. */
    async function page(uid: number, time?: string): Promise<{ client: TestClient; clientId: string; time: string; wire: WireAuth }> {
      counter += 1;
      const channel = time ?? `/engaged/lesson${counter}x${process.pid}`;
      const wire = auth(uid, `user${uid}`, `/engaged/room${counter}x${process.pid}`, channel);
      const client = onlineClient(server.url, wire);
      clients.push(client);
      const clientId = await client.connected();
      await server.handle.settled();
      return { client, clientId, time: channel, wire };
    }

    /** Sends a report and waits for the server's answer; returns when it was sent and answered (ms). */
    async function report(client: TestClient, data: unknown): Promise<{ sent: number; answered: number }> {
      const sent = Date.now();
      await client.faye.publish(ENGAGEMENT_CHANNEL, data);
      const answered = Date.now();
      await server.handle.settled();
      return { sent, answered };
    }

    async function row(uid: number, time: string): Promise<EngagedRow | undefined> {
      const id = await channelId(server, time);
      if (id === undefined) return undefined;
      const rows = await server.query<EngagedRow>(`SELECT engaged_ms, engaged_since_ms, last_session_ms FROM faye_online_engaged_times WHERE user_id = ${uid} AND channel_id = ${id}`);
      assert.ok(rows.length <= 1, 'one row per user and time channel');
      return rows[0] && { engaged_ms: Number(rows[0].engaged_ms), engaged_since_ms: rows[0].engaged_since_ms === null ? null : Number(rows[0].engaged_since_ms), last_session_ms: rows[0].last_session_ms === null ? null : Number(rows[0].last_session_ms) };
    }

    const eventsOf = (uid: number, time: string) => events.filter((e) => e.uid === uid && e.timeChannel === time).map((e) => e.engaged);

    test('a page engaged, then hidden: one engaged session, while the connected time goes on', async () => {
      const { client, clientId, time } = await page(41);
      const shown = await report(client, { engaged: true, seq: 1 });
      assert.deepEqual(eventsOf(41, time), [true]);
      const running = await server.handle.engagedTime(41, time);
      assert.ok(running.runningSince, 'a session runs');
      assert.ok(running.runningSince.getTime() >= shown.sent - 1 && running.runningSince.getTime() <= shown.answered + 1, 'it started when the report arrived');
      await sleep(400);
      const hidden = await report(client, { engaged: false, seq: 2 });
      assert.deepEqual(eventsOf(41, time), [true, false]);
      const stored = (await row(41, time))!;
      assert.equal(stored.engaged_since_ms, null, 'no session runs');
      assert.ok(stored.engaged_ms >= hidden.sent - shown.answered, `engaged ${stored.engaged_ms} ms, at least the time between the answer and the next report`);
      assert.ok(stored.engaged_ms <= hidden.answered - shown.sent, `engaged ${stored.engaged_ms} ms, at most the time between the reports' sending and answer`);
      const time41 = await server.handle.engagedTime(41, time);
      assert.deepEqual(time41, { spentSeconds: Math.floor(stored.engaged_ms / 1000), runningSince: null, totalSeconds: Math.floor(stored.engaged_ms / 1000) });
      assert.match((await onlineTimes(server, 41))!, new RegExp(`"${time}_started_at":"\\d{14}"`), 'the connected time (the gem\'s) still runs');
      assert.equal(events.find((e) => e.uid === 41 && !e.engaged)!.clientId, clientId);
    });

    test('two tabs: the user is engaged while either is, in one session', async () => {
      const a = await page(42);
      const b = await page(42, a.time);
      const first = await report(a.client, { engaged: true, seq: 1 });
      await report(b.client, { engaged: true, seq: 1 });
      await report(a.client, { engaged: false, seq: 2 });
      assert.deepEqual(eventsOf(42, a.time), [true], 'one tab still visible: still engaged');
      await sleep(200);
      const last = await report(b.client, { engaged: false, seq: 2 });
      assert.deepEqual(eventsOf(42, a.time), [true, false]);
      const stored = (await row(42, a.time))!;
      assert.equal(stored.engaged_since_ms, null);
      assert.ok(stored.engaged_ms >= last.sent - first.answered && stored.engaged_ms <= last.answered - first.sent, `one session from the first tab's report to the last one's (${stored.engaged_ms} ms)`);
    });

    test('a page that leaves while engaged ends the session at its departure', async () => {
      const { client, time } = await page(43);
      const shown = await report(client, { engaged: true, seq: 1 });
      await sleep(200);
      const left = Date.now();
      await client.disconnect();
      await eventually(() => eventsOf(43, time).length === 2, 5000, 'the session ended');
      assert.deepEqual(eventsOf(43, time), [true, false]);
      const stored = (await row(43, time))!;
      assert.equal(stored.engaged_since_ms, null);
      assert.ok(stored.engaged_ms >= left - shown.answered && stored.engaged_ms <= Date.now() - shown.sent, `${stored.engaged_ms} ms`);
    });

    test('reports that overtake each other are applied in the page\'s order', async () => {
      const { client, time } = await page(44);
      await report(client, { engaged: true, seq: 2 });
      await report(client, { engaged: false, seq: 1 }); // older: ignored
      assert.deepEqual(eventsOf(44, time), [true]);
      assert.notEqual((await row(44, time))!.engaged_since_ms, null, 'still engaged');
      await report(client, { engaged: false, seq: 3 });
      assert.deepEqual(eventsOf(44, time), [true, false]);
    });

    test('a report sent before the page\'s first connect was handled still counts', async () => {
      counter += 1;
      const time = `/engaged/early${counter}x${process.pid}`;
      const client = onlineClient(server.url, auth(45, 'early', `/engaged/earlyroom${counter}`, time));
      clients.push(client);
      // Publishing makes Faye handshake; the report can reach the server before the first /meta/connect.
      await client.faye.publish(ENGAGEMENT_CHANNEL, { engaged: true, seq: 1 });
      await server.handle.settled();
      assert.deepEqual(eventsOf(45, time), [true]);
      assert.notEqual((await row(45, time))!.engaged_since_ms, null);
    });

    test('a page that moves to another time channel takes its engagement along', async () => {
      const { client, time, wire } = await page(46);
      await report(client, { engaged: true, seq: 1 });
      const next = `${time}next`;
      wire.time_channel = next; // the page's next messages name the other lesson
      await eventually(() => eventsOf(46, next).length === 1, 5000, 'engaged in the new time channel');
      await server.handle.settled();
      assert.deepEqual(eventsOf(46, time), [true, false], 'the session in the old lesson ended');
      assert.deepEqual(eventsOf(46, next), [true]);
      assert.equal((await row(46, time))!.engaged_since_ms, null);
      assert.notEqual((await row(46, next))!.engaged_since_ms, null);
    });

    test('bad reports get a clear error and change nothing; nobody can subscribe to the reports', async () => {
      const { client, time } = await page(47);
      // Faye's client splits the error into code and text (the server keeps to the Bayeux error grammar).
      const errorText = (error: { code?: number | null; message?: string }) => `${error.code}::${error.message}`;
      const refused = async (data: unknown, pattern: RegExp) => {
        await assert.rejects(Promise.resolve(client.faye.publish(ENGAGEMENT_CHANNEL, data)), (error: { code?: number | null; message?: string }) => {
          assert.match(errorText(error), pattern);
          return true;
        });
      };
      await refused({ engaged: 'yes' }, /^400::Malformed engagement report - data\.engaged must be true or false$/);
      await refused({ engaged: true, seq: -1 }, /^400::Malformed engagement report - data\.seq must be a positive integer$/);
      await refused('visible', /^400::Malformed engagement report - data must be an object with engaged \(true or false\) and seq \(a positive integer\)$/);
      for (const channel of [ENGAGEMENT_CHANNEL, '/faye_online/**', '/faye_online/before_leave']) {
        await assert.rejects(Promise.resolve(client.faye.subscribe(channel, () => undefined)), (error: { code?: number | null; message?: string }) => {
          assert.match(errorText(error), /^403::.*carries the reports of other pages and cannot be subscribed to$/, channel);
          return true;
        });
      }
      await server.handle.settled();
      assert.deepEqual(eventsOf(47, time), []);
      assert.equal(await row(47, time), undefined);
    });

    test('the reconciliation pass ends a session that nobody is engaged in any more', async () => {
      counter += 1;
      const time = `/engaged/orphan${counter}x${process.pid}`;
      // What a crash leaves behind: a running session and no engaged page.
      // The channel's faye_channels row (reads such as onlineUsers never create one).
      await server.query(`INSERT INTO faye_channels (name, created_at, updated_at) VALUES ('${time}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`);
      const id = (await channelId(server, time))!;
      const since = Date.now() - 5000;
      await server.query(`INSERT INTO faye_online_engaged_times (user_id, channel_id, engaged_ms, engaged_since_ms, last_session_ms, lock_version, created_at, updated_at) VALUES (48, ${id}, 1000, ${since}, ${since}, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')`);
      const report = await server.handle.reconcile();
      assert.deepEqual(report.engagementsStopped.filter((e) => e.uid === 48), [{ uid: 48, timeChannel: time }]);
      const stored = (await row(48, time))!;
      assert.equal(stored.engaged_since_ms, null);
      assert.ok(stored.engaged_ms >= 6000, `the session counted up to the repair (${stored.engaged_ms} ms)`);
      assert.deepEqual((await server.handle.reconcile()).engagementsStopped, [], 'a second pass has nothing to do');
    });

    test('engagement off: reports are answered and ignored, and the API says so', async () => {
      const off = await startPresenceServer(backend, { timeout: 1, engagement: false });
      try {
        const seen: EngagementEvent[] = [];
        off.handle.on('engagement', (event) => seen.push(event));
        const client = onlineClient(off.url, auth(49, 'off', '/engaged/offroom', '/engaged/off'));
        await client.connected();
        await client.faye.publish(ENGAGEMENT_CHANNEL, { engaged: true, seq: 1 });
        await off.handle.settled();
        assert.deepEqual(seen, []);
        assert.deepEqual(await off.query('SELECT * FROM faye_online_engaged_times'), []);
        await assert.rejects(off.handle.engagedTime(49, '/engaged/off'), (error) => isFayeOnlineError(error, 'INVALID_OPTION') && /engagement/.test(error.message));
        await client.disconnect();
      } finally {
        await off.close();
      }
    });
  });
}
