// needs: mysql
// A storm through the presence core: 1,000 users arrive in one room at once,
// then all leave at once. Records batches each room's list edits, one
// window's timer writes and its login log rows (lib/records/group-commit.ts);
// presence must hand them over together, not one room write after another.
// The counts are exact: everything arrives within one turn of the event loop,
// so each kind of write goes out in batches of its size limit (500).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { Presence } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { countStatements, Records } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import { createMariadbBackend, type TestBackend } from '../support/databases';

const ROOM = '/rooms/storm';
const LESSON = '/lessons/storm';
const USERS = Array.from({ length: 1000 }, (_, i) => 500_000 + i);

let backend: TestBackend;
let records: Records;

before(async () => {
  backend = await createMariadbBackend('storm');
  const sequelize = backend.open();
  await migrate(sequelize, 'up');
  records = new Records({ sequelize, timeZone: 'UTC' });
  // The room's row and both channel ids exist, as after the room's first user.
  await records.addToOnlineList(ROOM, 1);
  await records.removeFromOnlineList(ROOM, 1);
  await records.channelId(LESSON);
});

after(() => backend.cleanup());

function authOf(uid: number): Auth {
  const reading = readAuth({ room_channel: ROOM, time_channel: LESSON, current_user: { uid, uname: `u${uid}` } });
  assert.equal(reading.kind, 'valid');
  return reading.auth;
}

/** Statements by verb and table, e.g. { 'INSERT faye_user_login_logs': 2 }. */
function kinds(statements: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const sql of statements) {
    const key = /^(START TRANSACTION|BEGIN)/.test(sql) ? 'BEGIN' : /^COMMIT/.test(sql) ? 'COMMIT' : `${sql.split(' ')[0]} ${/faye_\w+/.exec(sql)?.[0] ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test('a storm of 1,000 new users joining costs 8 SQL statements in all, and their 1,000 leaves 12', async () => {
  const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, engagement: false });
  const failed: Error[] = [];
  presence.on('writeFailed', (error) => failed.push(error));
  const counter = countStatements(records.sequelize);

  await Promise.all(USERS.map((uid) => presence.arrive(`c${uid}`, authOf(uid))));
  await presence.idle();
  assert.deepEqual(kinds(counter.statements), {
    'SELECT faye_channel_online_lists': 1, 'UPDATE faye_channel_online_lists': 1, // the room's list: one locked write
    'SELECT faye_user_online_times': 2, 'INSERT faye_user_online_times': 2, // 500 users per read; their new rows in one INSERT
    'INSERT faye_user_login_logs': 2, // 500 rows per INSERT
  });
  assert.equal(counter.count, 8);
  assert.deepEqual(JSON.parse((await backend.rows<{ l: string }>('SELECT user_info_list AS l FROM faye_channel_online_lists'))[0].l), USERS);

  counter.reset();
  const leftAt = Date.now();
  await Promise.all(USERS.map((uid) => presence.depart(`c${uid}`, 'disconnect', leftAt)));
  await presence.idle();
  assert.deepEqual(kinds(counter.statements), {
    'SELECT faye_channel_online_lists': 1, 'UPDATE faye_channel_online_lists': 1,
    'SELECT faye_user_online_times': 2, 'UPDATE faye_user_online_times': 2, // 500 rows per locked UPDATE ...
    BEGIN: 2, COMMIT: 2, // ... each in a transaction with its read-back
    'INSERT faye_user_login_logs': 2,
  });
  assert.equal(counter.count, 12);
  counter.stop();
  assert.deepEqual(failed, []);
  assert.equal((await backend.rows<{ l: string }>('SELECT user_info_list AS l FROM faye_channel_online_lists'))[0].l, '[]');
  const logs = await backend.rows<{ status: number; n: number }>('SELECT status, COUNT(*) AS n FROM faye_user_login_logs GROUP BY status ORDER BY status');
  assert.deepEqual(logs.map((row) => [Number(row.status), Number(row.n)]), [[0, 1000], [1, 1000]]);
});
