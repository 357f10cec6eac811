// needs: mysql
// History, retention and erasure on MariaDB: `faye-online history` answers
// from faye_online_events; retention deletes old events in batches, one
// process at a time; `faye-online erase --uid N` shows what it deletes, asks
// (or takes --yes), and keeps the gem's login logs unless told otherwise.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Sequelize } from 'sequelize';
import { ManualClock } from '../../lib/core/clock';
import { deleteEventsBefore, insertEvents, lastSeen, PresenceEventsRunner, presentAt, MemoryOutbox, type PresenceRecordEvent } from '../../lib/events';
import { silentLogger } from '../../lib/log';
import { openDatabase } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { assertOneLineError, cli } from '../support/cli';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';

const T = (hhmm: string) => Date.parse(`2026-11-20T${hhmm}:00Z`);
const ev = (kind: PresenceRecordEvent['kind'], uid: number | null, channel: string, at: number, seq: number | null = null): PresenceRecordEvent =>
  ({ kind, uid, channel, occurredMs: at, reason: 'connect', seq, clientId: null });

describe('history, retention and erasure (MariaDB, the CLI as a user runs it)', () => {
  let db: TestDatabase;
  let sequelize: Sequelize;
  const count = async (sql: string) => Number(((await db.raw.query(sql))[0] as Array<{ n: number }>)[0].n);
  before(async () => {
    db = await createTestDatabase('events_cli');
    sequelize = openDatabase(db.url);
    await migrate(sequelize, 'up');
    await insertEvents(sequelize, [
      ev('join', 11, '/r', T('10:00'), 1), ev('occupied', null, '/r', T('10:00'), 1), ev('join', 12, '/r', T('10:02'), 2),
      ev('leave', 11, '/r', T('10:30'), 3), ev('join', 11, '/r', T('10:40'), 4), ev('leave', 12, '/r', T('10:50'), 5),
      ev('session_start', 12, '/lesson', T('10:02')),
    ]);
    await db.raw.query("INSERT INTO faye_online_engaged_times (user_id, channel_id, engaged_ms, lock_version, created_at, updated_at) VALUES (12, 1, 5000, 0, NOW(), NOW())");
    await db.raw.query("INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES (1, 12, '2026-11-20 10:02:00', 1, 'c'), (0, 12, '2026-11-20 10:50:00', 1, 'c')");
  });
  after(async () => {
    await sequelize.close();
    await db.drop();
  });

  test('present, attendance and last-seen answer from the events', async () => {
    const present = await cli(['history', 'present', '--room', '/r', '--at', '2026-11-20T10:35:00Z', '--url', db.url]);
    assert.equal(present.code, 0, present.stderr);
    assert.equal(present.stdout, '1 user in /r at 2026-11-20 10:35:00 UTC: 12\n');
    const attendance = await cli(['history', 'attendance', '--room', '/r', '--from', '2026-11-20T10:00:00Z', '--to', '2026-11-20T11:00:00Z', '--url', db.url, '--json']);
    assert.equal(attendance.code, 0, attendance.stderr);
    const users = JSON.parse(attendance.stdout).users as Array<{ uid: number; seconds: number; visits: number }>;
    assert.deepEqual(users.map((u) => [u.uid, u.seconds, u.visits]), [[11, 50 * 60, 2], [12, 48 * 60, 1]], 'uid 11: 30 min, then 20 until the range ends');
    const table = await cli(['history', 'attendance', '--room', '/r', '--from', '2026-11-20T10:00:00Z', '--to', '2026-11-20T11:00:00Z', '--url', db.url]);
    assert.match(table.stdout, /Attendance of \/r from 2026-11-20 10:00:00 to 2026-11-20 11:00:00 UTC: 2 users\n {2}UID +TIME +SECONDS +VISITS/);
    const seen = await cli(['history', 'last-seen', '--uid', '12'], { DATABASE_URL: db.url });
    assert.equal(seen.stdout, 'User 12 was last seen 2026-11-20 10:50:00 UTC (/r)\n');
    assert.equal((await cli(['history', 'last-seen', '--uid', '11', '--url', db.url])).stdout, 'User 11 is online now (in /r)\n');
  });

  test('rooms whose names differ in case only are told apart (MySQL\'s collation would merge them; Bayeux does not)', async () => {
    await insertEvents(sequelize, [ev('join', 31, '/case/aBx', T('09:00'), 1), ev('join', 31, '/case/abx', T('09:01'), 1), ev('leave', 31, '/case/abx', T('09:02'), 2)]);
    assert.deepEqual(await presentAt(sequelize, '/case/aBx', new Date(T('09:05'))), [31]);
    assert.deepEqual(await presentAt(sequelize, '/case/abx', new Date(T('09:05'))), []);
    const seen = await lastSeen(sequelize, 31, new Date(T('09:10')));
    assert.deepEqual([seen.online, seen.channel], [true, '/case/aBx']);
  });

  test('bad input is a usage error naming it, before the database is opened', async () => {
    assertOneLineError(await cli(['history', 'present', '--room', '/r', '--at', 'yesterday', '--url', db.url]), /--at must be an ISO 8601 date/);
    assertOneLineError(await cli(['history', 'attendance', '--room', '/r', '--from', '2026-11-20T11:00:00Z', '--to', '2026-11-20T10:00:00Z']), /--to .* is before --from/);
    assertOneLineError(await cli(['history', 'sideways', '--url', db.url]), /expected one of present, attendance, last-seen/);
    const bad = await cli(['erase', '--uid', 'abc', '--url', db.url]);
    assert.equal(bad.code, 2);
    assertOneLineError(bad, /--uid N is required, a positive integer, got "abc"/);
  });

  test('history on a database without the events table says what to run', async () => {
    const other = await createTestDatabase('events_cli_none');
    try {
      assertOneLineError(await cli(['history', 'last-seen', '--uid', '1', '--url', other.url]), /faye_online_events does not exist .*migrate up.*\[SCHEMA_NOT_MIGRATED\]/);
    } finally {
      await other.drop();
    }
  });

  test('erase shows what it deletes, refuses without a terminal or --yes, and keeps the gem\'s login logs unless asked', async () => {
    const refused = await cli(['erase', '--uid', '12', '--url', db.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /Erasing user 12 deletes faye_online_events \(3 rows\), faye_online_engaged_times \(1 row\)\nKept: faye_user_login_logs/);
    assertOneLineError(refused, /nothing was deleted; pass --yes/);
    assert.equal(await count('SELECT COUNT(*) AS n FROM faye_online_events WHERE user_id = 12'), 3);

    const online = await cli(['erase', '--uid', '11', '--url', db.url]);
    assert.match(online.stderr, /warning: user 11 is online now \(in \/r\); what they do next is recorded after the erasure/);
    const done = await cli(['erase', '--uid', '12', '--yes', '--url', db.url]);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, / {2}faye_online_events: 3 rows deleted\n {2}faye_online_engaged_times: 1 row deleted\nErased user 12: 4 rows in \d+\.\d s\n$/);
    assert.equal(await count('SELECT COUNT(*) AS n FROM faye_online_events WHERE user_id = 12'), 0);
    assert.equal(await count('SELECT COUNT(*) AS n FROM faye_online_events WHERE user_id = 11'), 3, 'other users untouched');
    assert.equal(await count('SELECT COUNT(*) AS n FROM faye_user_login_logs WHERE uid = 12'), 2, 'the gem\'s login logs kept');

    const logs = await cli(['erase', '--uid', '12', '--include-login-logs', '--yes', '--url', db.url]);
    assert.match(logs.stdout, /faye_user_login_logs \(2 rows, the gem's\)/);
    assert.equal(await count('SELECT COUNT(*) AS n FROM faye_user_login_logs WHERE uid = 12'), 0);
    assert.match((await cli(['erase', '--uid', '12', '--yes', '--url', db.url])).stdout, /Nothing to delete for user 12\n$/);
  });

  test('serve with events on refuses a database without the events table, naming the command to run; retention needs events on', async () => {
    const other = await createTestDatabase('events_serve');
    try {
      assert.equal((await cli(['migrate', 'up', '--url', other.url])).code, 0);
      assert.equal((await cli(['migrate', 'down', '--url', other.url])).code, 0, 'the webhook tables\' migration reverted');
      assert.equal((await cli(['migrate', 'down', '--url', other.url])).code, 0, 'the events migration reverted');
      const refused = await cli(['serve', '--port', '0', '--url', other.url, '--events', 'on'], { FAYE_ONLINE_DB_TIMEOUT: '5' });
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /not migrated .*faye-online migrate up --url/);
      const usage = await cli(['serve', '--port', '0', '--url', other.url, '--events-retention', '30']);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /--events-retention \(FAYE_ONLINE_EVENTS_RETENTION\) needs events on/);
    } finally {
      await other.drop();
    }
  });

  test('retention deletes events older than its days in batches, by one process at a time', async () => {
    const room = '/retention';
    const now = T('12:00');
    const day = 24 * 3600 * 1000;
    await insertEvents(sequelize, Array.from({ length: 25 }, (_, i) => ev('join', 100 + i, room, now - (i < 20 ? 40 : 1) * day - i)));
    assert.equal(await deleteEventsBefore(sequelize, new Date(now - 39 * day), { batch: 7 }), 20);
    await insertEvents(sequelize, Array.from({ length: 5 }, (_, i) => ev('join', 200 + i, room, now - 40 * day - i)));
    let locked = false;
    const runner = (clock: ManualClock) => new PresenceEventsRunner({
      settings: { drainIntervalMs: 1000, outboxLimit: 10, retentionDays: 30 }, outbox: new MemoryOutbox(), sequelize, logger: silentLogger, clock,
      // One lock for both, as the store's is for a cluster.
      lock: async () => (locked ? false : (locked = true)),
    });
    const clock = new ManualClock(now);
    const results = await Promise.all([runner(clock).applyRetention(), runner(clock).applyRetention()]);
    assert.deepEqual([...results].sort(), [5, null], 'one deleted, the other found the lock taken');
    assert.equal(await count(`SELECT COUNT(*) AS n FROM faye_online_events WHERE channel = '${room}'`), 5, 'the recent ones stay');
  });
});
