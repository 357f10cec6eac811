// needs: mysql, redis
// Login and channel reports on MariaDB: rows written by real presence, and
// hand-written rows for the edges (overlapping tabs, sessions crossing the
// range, open sessions, look-alike channel names, paging).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Sequelize } from 'sequelize';
import { createReports, type ReportsApi } from '../../lib/reports';
import { Records } from '../../lib/records';
import { formatStartedAt } from '../../lib/records/legacy-format';
import { migrate } from '../../lib/schema';
import { openDatabase } from '../../lib/records';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { auth, eventually, onlineClient, startPresenceServer } from '../support/presence-server';

const LESSON = '/courses/9/lessons/1';
const at = (time: string) => new Date(`2026-03-02T${time}Z`);

describe('login report from presence (mysql+redis)', () => {
  test('two tabs of one user: per-tab sessions and their union', async () => {
    const server = await startPresenceServer('mysql+redis');
    try {
      const room = '/classes/8';
      const lesson = '/courses/8/lessons/2';
      const first = onlineClient(server.url, auth(31, 'cy', room, lesson));
      const second = onlineClient(server.url, auth(31, 'cy', room, lesson));
      const ids = [await first.connected(), await second.connected()];
      await server.handle.settled();
      await first.disconnect();
      await eventually(async () => (await server.query(`SELECT 1 FROM faye_user_login_logs WHERE status = 0`)).length === 1, 5000, 'logout row');
      const report = await server.handle.userLoginReport({ uid: 31 });
      assert.equal(report.channels.length, 1);
      const [channel] = report.channels;
      assert.equal(channel.channel, lesson);
      assert.deepEqual(channel.clients.map((c) => c.clientId).sort(), [...ids].sort());
      const closed = channel.clients.find((c) => c.clientId === ids[0])!;
      assert.equal(closed.sessions.length, 1);
      assert.ok(closed.sessions[0].logout instanceof Date);
      const open = channel.clients.find((c) => c.clientId === ids[1])!;
      assert.equal(open.sessions[0].logout, null, 'the second tab is still online');
      assert.equal(channel.online.length, 1, 'overlapping tabs make one stretch of online time');
      await second.disconnect();
    } finally {
      await server.close();
    }
  });
});

describe('login and channel reports on hand-written rows (mysql)', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;
  let reports: ReportsApi;
  let lessonId: number;

  const log = (status: 0 | 1, uid: number, time: string, clientId: string, channelId = lessonId) =>
    db.raw.query('INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES (?, ?, ?, ?, ?)', [status, uid, `2026-03-02 ${time}`, channelId, clientId]);

  before(async () => {
    db = await createTestDatabase('reports');
    sequelize = openDatabase(db.url);
    await migrate(sequelize, 'up');
    const records = new Records({ sequelize, timeZone: 'UTC' });
    lessonId = await records.channelId(LESSON);
    const otherId = await records.channelId('/courses/9/lessons/10');
    reports = createReports({
      sequelize,
      timeZone: 'UTC',
      status: { store: undefined as never, records, isLive: async () => new Set() },
    });
    // uid 50: four tabs. C ends before the range; D crosses its start; A and B overlap.
    await log(1, 50, '09:00:00', 'tabC');
    await log(0, 50, '09:10:00', 'tabC');
    await log(1, 50, '09:50:00', 'tabD');
    await log(1, 50, '10:00:00', 'tabA');
    await log(0, 50, '10:05:00', 'tabD');
    await log(1, 50, '10:20:00', 'tabB');
    await log(0, 50, '10:30:00', 'tabA');
    await log(0, 50, '11:00:00', 'tabB');
    // uid 51: still online.
    await log(1, 51, '10:10:00', 'tabE');
    // uid 50 in a look-alike channel.
    await log(1, 50, '10:00:00', 'tabF', otherId);
    await log(0, 50, '10:01:00', 'tabF', otherId);

    const now = new Date();
    const started = formatStartedAt(new Date(now.getTime() - 60_000), 'UTC');
    await db.raw.query(
      `INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES
         (50, ?, 0, NOW(), NOW()), (51, ?, 0, NOW(), NOW()), (52, ?, 0, NOW(), NOW())`,
      [
        JSON.stringify({ [`${LESSON}_spended`]: 125 }),
        JSON.stringify({ [`${LESSON}_spended`]: 10, [`${LESSON}_started_at`]: started }),
        JSON.stringify({ '/courses/9/lessons/10_spended': 999 }),
      ],
    );
    // Engaged time (our own table): uid 50 finished 61.5 s, uid 51 has 4 s and a session running for 30 s.
    await db.raw.query(
      `INSERT INTO faye_online_engaged_times (user_id, channel_id, engaged_ms, engaged_since_ms, last_session_ms, lock_version, created_at, updated_at) VALUES
         (50, ?, 61500, NULL, 1, 0, NOW(), NOW()), (51, ?, 4000, ?, ?, 0, NOW(), NOW())`,
      [lessonId, lessonId, now.getTime() - 30_000, now.getTime() - 30_000],
    );
  });
  after(async () => {
    await sequelize.close();
    await db.drop();
  });

  test('a user\'s sessions per tab, clipped to the range, with tabs overlapping counted once', async () => {
    const report = await reports.userLoginReport({ uid: 50, channel: LESSON, from: at('10:00:00'), to: at('10:45:00'), now: at('12:00:00') });
    assert.equal(report.channels.length, 1);
    const [channel] = report.channels;
    assert.equal(channel.channel, LESSON);
    assert.deepEqual(channel.clients.map((c) => [c.clientId, c.sessions.map((s) => s.seconds)]), [
      ['tabD', [300]], // logged in before `from`: its login row is loaded, its time clipped
      ['tabA', [1800]],
      ['tabB', [1500]],
    ]);
    assert.deepEqual(channel.clients.flatMap((c) => c.anomalies), [], 'no logout looks orphaned');
    assert.equal(channel.totalSeconds, 45 * 60);
  });

  test('without a channel, every time channel of the user; without a range, all of it', async () => {
    const report = await reports.userLoginReport({ uid: 50, now: at('12:00:00') });
    assert.deepEqual(report.channels.map((c) => [c.channel, c.totalSeconds]), [
      [LESSON, 10 * 60 + 70 * 60], // 09:00-09:10 and 09:50-11:00
      ['/courses/9/lessons/10', 60],
    ]);
  });

  test('a channel over a range: each user\'s union from the login logs, open sessions up to now', async () => {
    const report = await reports.channelReport({ channel: LESSON, from: at('10:00:00'), to: at('10:45:00'), now: at('12:00:00') });
    assert.equal(report.source, 'loginLogs');
    assert.deepEqual(report.users, [{ uid: 50, totalSeconds: 2700 }, { uid: 51, totalSeconds: 2100 }]);
    assert.equal(report.totalSeconds, 4800);
  });

  test('a channel all-time: faye_user_online_times with the running part, look-alike channels left out', async () => {
    const report = await reports.channelReport({ channel: LESSON });
    assert.equal(report.source, 'onlineTimes');
    assert.deepEqual(report.users.map((u) => u.uid), [50, 51]);
    const [ann, running] = report.users;
    assert.deepEqual(ann, { uid: 50, spentSeconds: 125, runningSince: null, totalSeconds: 125, engagedSeconds: 61 });
    assert.equal(running.spentSeconds, 10);
    assert.ok(running.engagedSeconds! >= 34 && running.engagedSeconds! <= 39, `running engaged ${running.engagedSeconds}`);
    assert.ok(running.runningSince instanceof Date);
    assert.ok(running.totalSeconds >= 70 && running.totalSeconds <= 75, `running total ${running.totalSeconds}`);
  });

  test('an unknown channel or user gives an empty report, not an error', async () => {
    assert.deepEqual((await reports.channelReport({ channel: '/courses/404', from: at('00:00:00') })).users, []);
    assert.deepEqual((await reports.userLoginReport({ uid: 404 })).channels, []);
    assert.deepEqual((await reports.userLoginReport({ uid: 50, channel: '/courses/404' })).channels, []);
  });

  test('bad parameters are refused with a message naming them', async () => {
    await assert.rejects(reports.userLoginReport({ uid: 0 }), /uid must be a positive integer/);
    await assert.rejects(reports.channelReport({ channel: 'lessons 1' }), /channel must be a channel name/);
    await assert.rejects(reports.channelReport({ channel: LESSON, from: at('11:00:00'), to: at('10:00:00') }), /from .* is after to/);
  });

  test('the raw log comes in pages, in time order', async () => {
    const seen: string[] = [];
    let offset = 0;
    for (;;) {
      const page = await reports.loginLogList({ uid: 50, channel: LESSON, limit: 3, offset });
      seen.push(...page.rows.map((r) => `${r.status}:${r.clientId}:${r.t.toISOString().slice(11, 19)}:${r.channel}`));
      if (!page.more) break;
      offset += 3;
    }
    assert.deepEqual(seen, [
      `1:tabC:09:00:00:${LESSON}`, `0:tabC:09:10:00:${LESSON}`, `1:tabD:09:50:00:${LESSON}`, `1:tabA:10:00:00:${LESSON}`,
      `0:tabD:10:05:00:${LESSON}`, `1:tabB:10:20:00:${LESSON}`, `0:tabA:10:30:00:${LESSON}`, `0:tabB:11:00:00:${LESSON}`,
    ]);
  });
});
