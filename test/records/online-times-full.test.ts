// needs: mysql
// A user's online times are one JSON text per user in the gem's TEXT column
// (64 KiB): about 730 time channels fill it. A write that would not fit is
// never sent (MySQL would refuse it, or without strict mode cut the JSON), it
// fails once with one clear log line and does not hold up the user's queue;
// the optional widen-online-times migration makes room for 10,000 channels.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { Presence } from '../../lib/core/presence';
import { isFayeOnlineError } from '../../lib/errors';
import { countStatements, Records } from '../../lib/records';
import { ONLINE_TIMES_TEXT_BYTES } from '../../lib/records/records';
import { migrate, migrationStatus } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import { createMariadbBackend, createSqliteBackend, type TestBackend } from '../support/databases';
import { recordingLogger } from '../security/support';

/** Online times of `count` stopped time channels, as the gem writes them. */
function manyChannels(count: number): string {
  const times: Record<string, number> = {};
  for (let i = 0; i < count; i++) times[`/courses/${i}/lessons/${i}_spended`] = 60;
  return JSON.stringify(times);
}

/** As many channels as TEXT holds: one more key of either kind does not fit. */
function nearlyFull(): string {
  let count = 1000;
  while (Buffer.byteLength(manyChannels(count + 1)) <= ONLINE_TIMES_TEXT_BYTES) count++;
  return manyChannels(count);
}

function authOf(uid: number, timeChannel: string): Auth {
  const reading = readAuth({ room_channel: '/rooms/full', time_channel: timeChannel, current_user: { uid, uname: `u${uid}` } });
  return (reading as { auth: Auth }).auth;
}

async function columnType(db: TestBackend): Promise<string> {
  const [row] = await db.rows<{ type: string }>(
    "SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'faye_user_online_times' AND COLUMN_NAME = 'online_times'",
  );
  return row.type;
}

describe('a full online_times row (MariaDB)', () => {
  let db: TestBackend;
  before(async () => {
    db = await createMariadbBackend('full');
    await migrate(db.open(), 'up');
  });
  after(() => db.cleanup());

  test('the gem\'s TEXT column: a start that would not fit fails at once with one log line, writes nothing, and the user\'s queue goes on', async () => {
    const near = nearlyFull();
    await db.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (7, ?, 0, '2026-01-05 09:00:00', '2026-01-05 09:00:00')", [near]);
    const sequelize = db.open();
    const statements = countStatements(sequelize);
    const records = new Records({ sequelize });
    const log = recordingLogger();
    const presence = new Presence({ store: new MemoryStore(32, 0), records, logger: log.logger });
    const failures: Error[] = [];
    presence.on('writeFailed', (error) => failures.push(error));

    statements.reset();
    await presence.arrive('tab1', authOf(7, '/courses/new/lessons/1'));
    await presence.idle();
    assert.equal(failures.length, 1);
    assert.ok(isFayeOnlineError(failures[0], 'RECORD_TOO_LARGE'));
    const errors = log.lines.filter((line) => line.level === 'error');
    assert.equal(errors.length, 1, 'one log line');
    assert.match(errors[0].message, /^presence: could not start timer: the online times of user 7 no longer fit faye_user_online_times\.online_times \(\d+ bytes, the column holds 65535\).*widen-online-times/);
    assert.equal(log.lines.filter((line) => /retrying/.test(line.message)).length, 0, 'not retried');
    assert.equal(statements.statements.filter((sql) => /UPDATE faye_user_online_times/.test(sql)).length, 0, 'the oversized value was never sent');
    assert.equal(statements.statements.filter((sql) => /information_schema/.test(sql)).length, 1, 'the column size is looked up once, on the failure');
    const [row] = await db.rows<{ online_times: string }>('SELECT online_times FROM faye_user_online_times WHERE user_id = 7');
    assert.equal(row.online_times, near, 'the row is untouched');

    // The user's queue is not held up: their next arrival is written at once
    // (its own timer start fails the same way, with its own one line).
    await presence.arrive('tab2', authOf(7, '/courses/5/lessons/5'));
    await presence.idle();
    assert.deepEqual(await db.rows("SELECT status FROM faye_user_login_logs WHERE clientId = 'tab2'"), [{ status: 1 }]);
    assert.equal(log.lines.filter((line) => line.level === 'error').length, 2);
    assert.equal(failures.length, 2);
  });

  test('after the optional widen-online-times migration a user with 10,000 time channels keeps working, even for a process that saw the column narrow', async () => {
    const sequelize = db.open();
    const records = new Records({ sequelize });
    await db.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (8, ?, 0, '2026-01-05 09:00:00', '2026-01-05 09:00:00')", [manyChannels(10_000)]).catch((error) => {
      assert.match(String(error), /Data too long/, 'TEXT cannot hold it');
      return 0;
    });
    await assert.rejects(records.startTimer(7, '/courses/new/lessons/1', new Date()), (error) => isFayeOnlineError(error, 'RECORD_TOO_LARGE'));

    assert.equal(await columnType(db), 'text');
    const ran = await migrate(db.open(), 'up', { optional: ['widen-online-times'] });
    assert.deepEqual(ran.names, ['20261129200000_widen_faye_user_online_times']);
    assert.equal(await columnType(db), 'mediumtext');
    assert.ok((await migrationStatus(db.open())).some((m) => m.name === '20261129200000_widen_faye_user_online_times' && m.applied));
    assert.deepEqual((await migrate(db.open(), 'up')).names, [], 'nothing more to run');

    assert.equal(await records.startTimer(7, '/courses/new/lessons/1', new Date()), true, 'the process that cached TEXT looks again');
    const huge = manyChannels(10_000);
    await db.exec('DELETE FROM faye_user_online_times WHERE user_id = 8');
    await db.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (8, ?, 0, '2026-01-05 09:00:00', '2026-01-05 09:00:00')", [huge]);
    const at = new Date(Date.UTC(2026, 0, 5, 9, 0, 0));
    assert.equal(await records.startTimer(8, '/courses/10001/lessons/1', at), true);
    assert.equal(await records.stopTimer(8, '/courses/10001/lessons/1', new Date(at.getTime() + 42_000)), 42);
    assert.equal((await records.onlineTime(8, '/courses/9999/lessons/9999')).spentSeconds, 60, 'the other 10,000 are intact');

    await assert.rejects(migrate(db.open(), 'down'), /cannot narrow faye_user_online_times\.online_times back to TEXT: the online times of users 7, 8 are longer than 65535 bytes/);
    assert.equal(await columnType(db), 'mediumtext', 'nothing was cut');
  });
});

test('SQLite has no such limit: the optional migration is recorded and changes nothing', async () => {
  const db = await createSqliteBackend();
  try {
    const sequelize = db.open();
    await migrate(sequelize, 'up');
    assert.ok(!(await migrationStatus(sequelize)).some((m) => m.name.includes('widen')), 'not listed until run');
    assert.deepEqual((await migrate(sequelize, 'up', { optional: ['widen-online-times'] })).names, ['20261129200000_widen_faye_user_online_times']);
    const records = new Records({ sequelize });
    await db.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (9, ?, 0, '2026-01-05 09:00:00', '2026-01-05 09:00:00')", [manyChannels(10_000)]);
    assert.equal(await records.startTimer(9, '/courses/10001/lessons/1', new Date()), true);
    assert.deepEqual((await migrate(sequelize, 'down')).names, ['20261129200000_widen_faye_user_online_times'], 'the last applied is reverted first');
  } finally {
    await db.cleanup();
  }
});
