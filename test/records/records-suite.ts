// The Records scenarios, run against MariaDB (records-mariadb.test.ts) and
// SQLite (records-sqlite.test.ts). Every format assertion reads the raw row, as
// a Rails app would see it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { isFayeOnlineError } from '../../lib/errors';
import { countStatements, Records, type RecordsOptions } from '../../lib/records';
import { migrate } from '../../lib/schema';
import type { TestBackend } from '../support/databases';
import { eventually } from '../support/wait';

const ZONE = 'Asia/Shanghai'; // UTC+8 all year
const LESSON = '/courses/5/lessons/1';
const at = (iso: string) => new Date(iso);
const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export function recordsSuite(name: string, createBackend: () => Promise<TestBackend>): void {
  describe(name, () => {
    let backend: TestBackend;
    let records: Records;
    let room = 0;
    const newRoom = () => `/classes/${++room}`;
    const recordsOn = (options: Partial<RecordsOptions> = {}) => new Records({ sequelize: backend.open(), timeZone: ZONE, ...options });
    const listRow = async (roomName: string) => {
      const rows = await backend.rows<{ id: number; user_info_list: string; lock_version: number; created_at: string; updated_at: string }>(
        'SELECT l.id, l.user_info_list, l.lock_version, l.created_at, l.updated_at FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = ? ORDER BY l.id',
        [roomName]);
      assert.equal(rows.length, 1, `one online-list row for ${roomName}`);
      return rows[0];
    };
    const timesOf = async (uid: number) => {
      const rows = await backend.rows<{ online_times: string; lock_version: number }>('SELECT online_times, lock_version FROM faye_user_online_times WHERE user_id = ?', [uid]);
      assert.equal(rows.length, 1);
      return rows[0];
    };

    before(async () => {
      backend = await createBackend();
      await migrate(backend.open(), 'up');
      records = recordsOn();
    });
    after(() => backend.cleanup());

    describe('channels', () => {
      it('creates a channel on first use, stripped, with UTC whole-second timestamps, and remembers its id', async () => {
        const id = await records.channelId('  /classes/channels-1 ');
        const rows = await backend.rows<{ id: number; name: string; created_at: string; updated_at: string }>('SELECT * FROM faye_channels WHERE id = ?', [id]);
        assert.equal(rows[0].name, '/classes/channels-1');
        assert.match(String(rows[0].created_at), DATETIME);
        assert.equal(rows[0].updated_at, rows[0].created_at);
        const counter = countStatements(records.sequelize);
        assert.equal(await records.channelId('/classes/channels-1'), id);
        assert.equal(counter.count, 0, 'a known channel costs no statement');
        counter.stop();
      });

      it('20 processes using one new channel at once end with one row and one id', async () => {
        const processes = Array.from({ length: 20 }, () => recordsOn());
        const ids = await Promise.all(processes.map((p) => p.channelId('/classes/race')));
        assert.equal(new Set(ids).size, 1);
        const rows = await backend.rows('SELECT id FROM faye_channels WHERE name = ?', ['/classes/race']);
        assert.equal(rows.length, 1);
      });
    });

    describe('online lists', () => {
      it('writes user_info_list as a JSON array of uids in join order, without spaces, [] when empty', async () => {
        const r = newRoom();
        assert.deepEqual(await records.addToOnlineList(r, 470700), [470700]);
        assert.deepEqual(await records.addToOnlineList(r, 1), [470700, 1]);
        let row = await listRow(r);
        assert.equal(row.user_info_list, '[470700,1]');
        assert.equal(Number(row.lock_version), 1, 'created at 0, bumped once by the second join');
        assert.match(String(row.created_at), DATETIME);
        assert.match(String(row.updated_at), DATETIME);
        assert.deepEqual(await records.removeFromOnlineList(r, 470700), [1]);
        assert.deepEqual(await records.removeFromOnlineList(r, 1), []);
        row = await listRow(r);
        assert.equal(row.user_info_list, '[]');
        assert.equal(Number(row.lock_version), 3);
        assert.deepEqual(await records.onlineList(r), []);
      });

      it('ignores uid 0 and repeated joins without writing', async () => {
        const r = newRoom();
        await records.addToOnlineList(r, 7);
        const counter = countStatements(records.sequelize);
        assert.deepEqual(await records.addToOnlineList(r, 7), [7]);
        assert.deepEqual(await records.addToOnlineList(r, 0), [7]);
        assert.ok(counter.statements.every((sql) => /^SELECT/i.test(sql)), `only reads: ${counter.statements.join(' | ')}`);
        counter.stop();
        assert.equal(Number((await listRow(r)).lock_version), 0);
      });

      it('costs one read and one locked update to add a user to a known room', async () => {
        const r = newRoom();
        await records.addToOnlineList(r, 1);
        const counter = countStatements(records.sequelize);
        await records.addToOnlineList(r, 2);
        assert.equal(counter.count, 2, counter.statements.join('\n'));
        assert.match(counter.statements[1], /^UPDATE faye_channel_online_lists .* WHERE id = \d+ AND lock_version = 0$/);
        counter.stop();
      });

      it('does not create a row for a room nobody joined', async () => {
        const r = newRoom();
        assert.deepEqual(await records.removeFromOnlineList(r, 5), []);
        assert.deepEqual(await records.onlineList(r), []);
        const rows = await backend.rows('SELECT l.id FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = ?', [r]);
        assert.equal(rows.length, 0);
      });

      it('reads what Rails may have left: NULL, garbage, uids as strings, spaces', async () => {
        const r = newRoom();
        const channelId = await records.channelId(r);
        await backend.exec("INSERT INTO faye_channel_online_lists (channel_id, user_info_list, lock_version, created_at, updated_at) VALUES (?, NULL, 0, '2013-05-31 03:33:25', '2013-05-31 03:33:25')", [channelId]);
        assert.deepEqual(await records.onlineList(r), []);
        assert.deepEqual(await records.addToOnlineList(r, 9), [9]);
        await backend.exec('UPDATE faye_channel_online_lists SET user_info_list = ? WHERE channel_id = ?', ['[ 4, "5", 4 ]', channelId]);
        assert.deepEqual(await records.addToOnlineList(r, 6), [4, 5, 6]);
        assert.equal((await listRow(r)).user_info_list, '[4,5,6]');
        await backend.exec('UPDATE faye_channel_online_lists SET user_info_list = ? WHERE channel_id = ?', ['not json', channelId]);
        assert.deepEqual(await records.onlineList(r), []);
      });

      it('20 processes adding 20 users to one new room lose none of them', async () => {
        const r = newRoom();
        const processes = Array.from({ length: 20 }, () => recordsOn());
        await Promise.all(processes.map((p, i) => p.addToOnlineList(r, 1000 + i)));
        const row = await listRow(r);
        assert.deepEqual(JSON.parse(row.user_info_list).sort(), Array.from({ length: 20 }, (_, i) => 1000 + i));
        const conflicts = processes.reduce((sum, p) => sum + p.stats.lockConflicts, 0);
        assert.equal(Number(row.lock_version), 19, `every join but the creating one bumped the version once (conflicts: ${conflicts})`);
      });

      it('retries, never overwrites, when another app updates the row between our read and our write', async () => {
        const r = newRoom();
        await records.addToOnlineList(r, 470700);
        let interfered = false;
        const seen: number[] = [];
        const contended = recordsOn({
          observer: {
            beforeUpdate: async ({ id, lockVersion }) => {
              if (interfered) return;
              interfered = true;
              // Rails' own locked update, as ActiveRecord sends it.
              const changed = await backend.exec('UPDATE faye_channel_online_lists SET user_info_list = ?, lock_version = ? WHERE id = ? AND lock_version = ?', ['[470700,99]', Number(lockVersion) + 1, id, lockVersion]);
              assert.equal(changed, 1);
            },
            onConflict: ({ attempt }) => seen.push(attempt),
          },
        });
        assert.deepEqual(await contended.addToOnlineList(r, 1), [470700, 99, 1]);
        assert.deepEqual(seen, [1]);
        assert.equal(contended.stats.lockConflicts, 1);
        const row = await listRow(r);
        assert.equal(row.user_info_list, '[470700,99,1]');
        assert.equal(Number(row.lock_version), 2);
      });

      it('gives up with OPTIMISTIC_LOCK_EXHAUSTED when the row keeps changing', async () => {
        const r = newRoom();
        await records.addToOnlineList(r, 1);
        const starved = recordsOn({
          maxRetries: 2,
          observer: {
            beforeUpdate: async ({ id }) => {
              await backend.exec('UPDATE faye_channel_online_lists SET lock_version = lock_version + 1 WHERE id = ?', [id]);
            },
          },
        });
        await assert.rejects(starved.addToOnlineList(r, 2), (error) => isFayeOnlineError(error, 'OPTIMISTIC_LOCK_EXHAUSTED'));
        assert.equal(starved.stats.lockConflicts, 2);
        assert.equal((await listRow(r)).user_info_list, '[1]');
      });
    });

    describe('online times', () => {
      it('writes _started_at in the configured zone and adds floor(stop - start) to _spended', async () => {
        const uid = 470700;
        assert.equal(await records.startTimer(uid, LESSON, at('2026-11-28T07:01:02.900Z')), true);
        assert.equal((await timesOf(uid)).online_times, `{"${LESSON}_started_at":"20261128150102"}`);
        assert.equal(await records.startTimer(uid, LESSON, at('2026-11-28T07:05:00Z')), false, 'already running');
        // started_at keeps whole seconds (15:01:02), so 07:03:07.999 is 125.999 s later
        assert.equal(await records.stopTimer(uid, LESSON, at('2026-11-28T07:03:07.999Z')), 125);
        assert.equal((await timesOf(uid)).online_times, `{"${LESSON}_spended":125}`);
        assert.equal(await records.stopTimer(uid, LESSON, at('2026-11-28T07:04:00Z')), null, 'not running');
        await records.startTimer(uid, '/courses/5/lessons/2', at('2026-11-28T07:10:00Z'));
        await records.startTimer(uid, LESSON, at('2026-11-28T07:20:00Z'));
        assert.equal((await timesOf(uid)).online_times,
          `{"${LESSON}_spended":125,"/courses/5/lessons/2_started_at":"20261128151000","${LESSON}_started_at":"20261128152000"}`);
        await records.stopTimer(uid, LESSON, at('2026-11-28T07:20:10Z'));
        assert.equal((await timesOf(uid)).online_times, `{"${LESSON}_spended":135,"/courses/5/lessons/2_started_at":"20261128151000"}`);
        assert.equal(Number((await timesOf(uid)).lock_version), 4, 'created by the first start, then four locked updates');
      });

      it('reports online time including the running session', async () => {
        const uid = 11;
        assert.deepEqual(await records.onlineTime(uid, LESSON), { spentSeconds: 0, runningSince: null, totalSeconds: 0 });
        await records.startTimer(uid, LESSON, at('2026-11-28T07:00:00Z'));
        await records.stopTimer(uid, LESSON, at('2026-11-28T07:01:00Z'));
        await records.startTimer(uid, LESSON, at('2026-11-28T08:00:00Z'));
        assert.deepEqual(await records.onlineTime(uid, LESSON, at('2026-11-28T08:00:30.5Z')), {
          spentSeconds: 60, runningSince: at('2026-11-28T08:00:00Z'), totalSeconds: 90,
        });
      });

      it('reads _spended written as a string or missing, and a garbled _started_at as stopped', async () => {
        const uid = 12;
        await backend.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (?, ?, 0, '2013-05-31 03:33:25', '2013-05-31 03:33:25')",
          [uid, `{"${LESSON}_spended":"40","/x_started_at":"","/y_started_at":"20261128150000"}`]);
        assert.equal((await records.onlineTime(uid, LESSON)).spentSeconds, 40);
        assert.equal((await records.onlineTime(uid, '/x')).runningSince, null);
        assert.equal(await records.stopTimer(uid, '/y', at('2026-11-28T07:00:09Z')), 9);
        assert.equal((await timesOf(uid)).online_times, `{"${LESSON}_spended":"40","/x_started_at":"","/y_spended":9}`);
        assert.equal(await records.stopTimer(uid, LESSON, at('2026-11-28T07:00:09Z')), null);
      });

      it('20 time channels started at once for one user lose none', async () => {
        const uid = 13;
        const processes = Array.from({ length: 20 }, () => recordsOn());
        const started = await Promise.all(processes.map((p, i) => p.startTimer(uid, `/lessons/${i}`, at('2026-11-28T07:00:00Z'))));
        assert.ok(started.every(Boolean));
        const times = JSON.parse((await timesOf(uid)).online_times) as Record<string, string>;
        assert.equal(Object.keys(times).length, 20);
        for (let i = 0; i < 20; i++) assert.equal(times[`/lessons/${i}_started_at`], '20261128150000');
      });
    });

    describe('login logs', () => {
      it('writes status, uid, t in UTC whole seconds, the time channel id and the clientId', async () => {
        await records.writeLoginLog({ status: 1, uid: 470700, timeChannel: LESSON, clientId: 'sqq4oxlwhj84zw92n0e592j8iq989yy', at: at('2026-11-28T15:01:02.750Z') });
        await records.writeLoginLog({ status: 0, uid: 470700, timeChannel: LESSON, clientId: 'sqq4oxlwhj84zw92n0e592j8iq989yy', at: at('2026-11-28T15:03:00Z') });
        const rows = await backend.rows<Record<string, unknown>>('SELECT status, uid, t, channel_id, clientId FROM faye_user_login_logs ORDER BY t');
        const lessonId = await records.channelId(LESSON);
        assert.deepEqual(rows.map((r) => ({ ...r })), [
          { status: 1, uid: 470700, t: '2026-11-28 15:01:02', channel_id: lessonId, clientId: 'sqq4oxlwhj84zw92n0e592j8iq989yy' },
          { status: 0, uid: 470700, t: '2026-11-28 15:03:00', channel_id: lessonId, clientId: 'sqq4oxlwhj84zw92n0e592j8iq989yy' },
        ]);
      });
    });
    describe('storms', () => {
      // Group commit: what is asked for in one tick goes out together; a batch
      // reads up to 500 users' times with one SELECT, creates the rows of the
      // users who had none with one INSERT and writes up to 500 login log rows
      // with one INSERT; each room list and each user's times row is written
      // once per batch.
      const verbOf = (sql: string) => (/^(START TRANSACTION|BEGIN)/.test(sql) ? 'BEGIN' : /^COMMIT/.test(sql) ? 'COMMIT' : sql.split(' ')[0]);
      const kinds = (statements: readonly string[]) => {
        const counts: Record<string, number> = {};
        for (const sql of statements) {
          const verb = verbOf(sql);
          if (verb === 'BEGIN' || verb === 'COMMIT') {
            counts[verb] = (counts[verb] ?? 0) + 1;
            continue;
          }
          const table = /faye_\w+/.exec(sql)?.[0] ?? '?';
          counts[`${verb} ${table}`] = (counts[`${verb} ${table}`] ?? 0) + 1;
        }
        return counts;
      };

      it('1,000 new users joining one room at once cost 8 statements in all, and leaving at once 12', async () => {
        const r = newRoom();
        const lesson = '/courses/storm/lessons/1';
        const users = Array.from({ length: 1000 }, (_, i) => 300_000 + i);
        await records.addToOnlineList(r, 1);
        await records.removeFromOnlineList(r, 1);
        await records.channelId(lesson);
        const counter = countStatements(records.sequelize);
        const clientId = (uid: number) => `storm${uid}`;
        const joined = await Promise.all(users.map((uid) => Promise.all([
          records.addToOnlineList(r, uid),
          records.startTimer(uid, lesson, at('2026-11-28T07:00:00Z')),
          records.writeLoginLog({ status: 1, uid, timeChannel: lesson, clientId: clientId(uid), at: at('2026-11-28T07:00:00Z') }),
        ])));
        assert.deepEqual(kinds(counter.statements), {
          'SELECT faye_channel_online_lists': 1, 'UPDATE faye_channel_online_lists': 1,
          'SELECT faye_user_online_times': 2, 'INSERT faye_user_online_times': 2,
          'INSERT faye_user_login_logs': 2,
        });
        assert.equal(counter.count, 8, '0.008 statements per join');
        assert.ok(joined.every(([list, started]) => list.length === 1000 && started === true));
        let row = await listRow(r);
        assert.deepEqual(JSON.parse(row.user_info_list), users, 'join order kept');
        assert.equal(Number(row.lock_version), 2, 'created, emptied, then one locked update for the whole storm');

        counter.reset();
        const left = await Promise.all(users.map((uid) => Promise.all([
          records.removeFromOnlineList(r, uid),
          records.stopTimer(uid, lesson, at('2026-11-28T07:01:00Z')),
          records.writeLoginLog({ status: 0, uid, timeChannel: lesson, clientId: clientId(uid), at: at('2026-11-28T07:01:00Z') }),
        ])));
        assert.deepEqual(kinds(counter.statements), {
          'SELECT faye_channel_online_lists': 1, 'UPDATE faye_channel_online_lists': 1,
          'SELECT faye_user_online_times': 2, 'UPDATE faye_user_online_times': 2, // 500 rows per locked UPDATE
          BEGIN: 2, COMMIT: 2, // each in a transaction with its read-back
          'INSERT faye_user_login_logs': 2,
        });
        assert.ok(left.every(([list, added]) => list.length === 0 && added === 60));
        counter.stop();
        row = await listRow(r);
        assert.equal(row.user_info_list, '[]');
        assert.equal(Number(row.lock_version), 3);
        const times = await timesOf(users[999]);
        assert.equal(times.online_times, `{"${lesson}_spended":60}`);
        assert.equal(Number(times.lock_version), 1, 'created by the start, bumped once by the stop');
        const logs = await backend.rows<{ status: number; n: number }>(
          "SELECT status, COUNT(*) AS n FROM faye_user_login_logs WHERE clientId LIKE 'storm%' GROUP BY status ORDER BY status");
        assert.deepEqual(logs.map((l) => [Number(l.status), Number(l.n)]), [[0, 1000], [1, 1000]]);
      });

      it("a crowded room's list waits longer between writes (0.05 ms per member): ten edits after one write of a 4,000-member list go out as one", async () => {
        const r = newRoom();
        const eager = recordsOn({ batchWindowMs: 0 }); // no window of its own: what holds the edits back is the room's size
        const members = Array.from({ length: 4000 }, (_, i) => 320_000 + i);
        await Promise.all(members.map((uid) => eager.addToOnlineList(r, uid)));
        const counter = countStatements(eager.sequelize);
        await eager.removeFromOnlineList(r, members[0]); // 200 ms from here until the next write may start
        const edits: Array<Promise<number[]>> = [];
        for (let i = 1; i <= 10; i++) {
          edits.push(eager.removeFromOnlineList(r, members[i]));
          await new Promise((resolve) => setImmediate(resolve));
        }
        const lists = await Promise.all(edits);
        assert.ok(lists.every((list) => list.length === 3989), 'every edit answered with the list its batch wrote');
        assert.deepEqual(kinds(counter.statements), { 'SELECT faye_channel_online_lists': 2, 'UPDATE faye_channel_online_lists': 2 });
        counter.stop();
        assert.deepEqual(JSON.parse((await listRow(r)).user_info_list), members.slice(11));
      });

      it('new users whose row another writer creates between our read and our INSERT: each written on its own, nothing lost', async () => {
        const lesson = '/courses/storm/lessons/2';
        const uids = [310_001, 310_002, 310_003];
        const raced = recordsOn({
          observer: {
            beforeCreate: async ({ table, keys }) => {
              if (table !== 'faye_user_online_times' || !keys.includes(uids[1])) return;
              // Rails creates the second user's row first.
              await backend.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (?, ?, 0, '2013-05-31 03:33:25', '2013-05-31 03:33:25')",
                [uids[1], '{"/lessons/rails_spended":7}']);
            },
          },
        });
        const started = await Promise.all(uids.map((uid) => raced.startTimer(uid, lesson, at('2026-11-28T07:00:00Z'))));
        assert.deepEqual(started, [true, true, true]);
        assert.equal((await timesOf(uids[0])).online_times, `{"${lesson}_started_at":"20261128150000"}`);
        const second = await timesOf(uids[1]);
        assert.equal(second.online_times, `{"/lessons/rails_spended":7,"${lesson}_started_at":"20261128150000"}`, 'Rails\' row kept, our start added');
        assert.equal(Number(second.lock_version), 1);
        assert.equal((await timesOf(uids[2])).online_times, `{"${lesson}_started_at":"20261128150000"}`);
      });

      it('one user\'s changes in one batch land in order in one write, and a Rails update in between is not lost', async () => {
        const uid = 14;
        await records.startTimer(uid, '/lessons/other', at('2026-11-28T07:00:00Z'));
        let interfered = false;
        const contended = recordsOn({
          observer: {
            beforeUpdate: async ({ table, id, lockVersion }) => {
              if (interfered || table !== 'faye_user_online_times') return;
              interfered = true;
              const changed = await backend.exec('UPDATE faye_user_online_times SET online_times = ?, lock_version = ? WHERE id = ? AND lock_version = ?',
                ['{"/lessons/rails_spended":7,"/lessons/other_started_at":"20261128150000"}', Number(lockVersion) + 1, id, lockVersion]);
              assert.equal(changed, 1);
            },
          },
        });
        const counter = countStatements(contended.sequelize);
        const results = await Promise.all([
          contended.startTimer(uid, LESSON, at('2026-11-28T07:00:00Z')),
          contended.stopTimer(uid, LESSON, at('2026-11-28T07:00:30Z')),
          contended.startTimer(uid, LESSON, at('2026-11-28T07:01:00Z')),
        ]);
        counter.stop();
        assert.deepEqual(results, [true, 30, true]);
        assert.equal(contended.stats.lockConflicts, 1);
        // (A new MariaDB connection pool asks for the server's version first.)
        const ours = counter.statements.filter((sql) => !sql.startsWith('SELECT VERSION()'));
        assert.deepEqual(ours.map((sql) => sql.split(' ')[0]), ['SELECT', 'UPDATE', 'SELECT', 'UPDATE'], 'one batch: read, lost update, re-read, update');
        const row = await timesOf(uid);
        assert.equal(row.online_times, `{"/lessons/rails_spended":7,"/lessons/other_started_at":"20261128150000","${LESSON}_spended":30,"${LESSON}_started_at":"20261128150100"}`);
        assert.equal(Number(row.lock_version), 2);
      });

      it('a batch of long online times is written in UPDATEs of at most 1 MB of values, so that no statement nears max_allowed_packet', async () => {
        const uids = Array.from({ length: 40 }, (_, i) => 400 + i);
        const filler = 'x'.repeat(40_000);
        for (const uid of uids) {
          await backend.exec("INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (?, ?, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            [uid, JSON.stringify({ '/lessons/old_note': filler })]);
        }
        const counter = countStatements(records.sequelize);
        const started = await Promise.all(uids.map((uid) => records.startTimer(uid, LESSON, at('2026-11-28T07:01:00Z'))));
        counter.stop();
        assert.ok(started.every((ok) => ok === true));
        assert.deepEqual(kinds(counter.statements), { 'SELECT faye_user_online_times': 1, 'UPDATE faye_user_online_times': 2, BEGIN: 2, COMMIT: 2 }, '40 values of 40 KB: two UPDATEs');
        for (const uid of [uids[0], uids[39]]) {
          const row = await timesOf(uid);
          assert.equal(JSON.parse(row.online_times)[`${LESSON}_started_at`], '20261128150100');
          assert.equal(Number(row.lock_version), 1);
        }
      });

      it('several users\' rows are written in one locked UPDATE, and a Rails update of one of them in between is not lost', async () => {
        const uids = [21, 22, 23];
        for (const uid of uids) await records.startTimer(uid, '/lessons/other', at('2026-11-28T07:00:00Z'));
        const [{ id: railsRow }] = await backend.rows<{ id: number }>('SELECT id FROM faye_user_online_times WHERE user_id = ?', [22]);
        let interfered = false;
        const contended = recordsOn({
          observer: {
            beforeUpdate: async ({ table, id, lockVersion }) => {
              if (interfered || table !== 'faye_user_online_times' || Number(id) !== Number(railsRow)) return;
              interfered = true;
              const changed = await backend.exec('UPDATE faye_user_online_times SET online_times = ?, lock_version = ? WHERE id = ? AND lock_version = ?',
                ['{"/lessons/rails_spended":7,"/lessons/other_started_at":"20261128150000"}', Number(lockVersion) + 1, id, lockVersion]);
              assert.equal(changed, 1);
            },
          },
        });
        const counter = countStatements(contended.sequelize);
        const results = await Promise.all(uids.map((uid) => contended.startTimer(uid, LESSON, at('2026-11-28T07:01:00Z'))));
        counter.stop();
        assert.deepEqual(results, [true, true, true]);
        assert.equal(contended.stats.lockConflicts, 1);
        const ours = counter.statements.filter((sql) => !sql.startsWith('SELECT VERSION()'));
        assert.deepEqual(ours.map(verbOf), ['SELECT', 'BEGIN', 'UPDATE', 'SELECT', 'COMMIT', 'SELECT', 'UPDATE'],
          'one read, one UPDATE of all three (two written) and the rows read back in one transaction, then the lost one re-read and written on top');
        for (const uid of [21, 23]) {
          const row = await timesOf(uid);
          assert.equal(row.online_times, `{"/lessons/other_started_at":"20261128150000","${LESSON}_started_at":"20261128150100"}`);
          assert.equal(Number(row.lock_version), 1);
        }
        const row = await timesOf(22);
        assert.equal(row.online_times, `{"/lessons/rails_spended":7,"/lessons/other_started_at":"20261128150000","${LESSON}_started_at":"20261128150100"}`);
        assert.equal(Number(row.lock_version), 2);
      });

      // On MariaDB, where a Rails process writes from another connection. (The
      // SQLite suite runs in one process, where nothing else writes the table.)
      if (name.includes('MariaDB')) {
        it('a write landing right after a multi-row UPDATE waits for its read-back: the UPDATE\'s rows are told apart, no change is applied twice', async () => {
          const uids = [31, 32, 33];
          for (const uid of uids) await records.startTimer(uid, '/lessons/other', at('2026-11-28T07:00:00Z'));
          const idOf = async (uid: number) => Number((await backend.rows<{ id: number }>('SELECT id FROM faye_user_online_times WHERE user_id = ?', [uid]))[0].id);
          const [first, second] = [await idOf(31), await idOf(32)];
          const rails = await mysql.createConnection(backend.url);
          let bump: Promise<unknown> | undefined;
          let interfered = false;
          const contended = recordsOn({
            observer: {
              // The second row changes before the UPDATE, so that the UPDATE changes fewer rows than it sent ...
              beforeUpdate: async ({ table, id, lockVersion }) => {
                if (interfered || table !== 'faye_user_online_times' || Number(id) !== second) return;
                interfered = true;
                await backend.exec('UPDATE faye_user_online_times SET lock_version = ? WHERE id = ? AND lock_version = ?', [Number(lockVersion) + 1, id, lockVersion]);
              },
              // ... and the first one, which the UPDATE did write, is written again by another connection right after.
              afterUpdateMany: async ({ table }) => {
                if (table !== 'faye_user_online_times' || bump) return;
                let settled = false;
                bump = rails.query('UPDATE faye_user_online_times SET lock_version = lock_version + 1 WHERE id = ?', [first]).finally(() => (settled = true));
                // The other connection's own transaction, found by its thread, waits for our row lock.
                await eventually(async () => {
                  const [trx] = await backend.rows<{ state: string; query: string | null }>(
                    'SELECT trx_state AS state, trx_query AS query FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?', [rails.threadId]);
                  if (trx?.state === 'LOCK WAIT') return true;
                  const [thread] = await backend.rows<{ command: string; state: string; info: string | null }>(
                    'SELECT COMMAND AS command, STATE AS state, INFO AS info FROM information_schema.PROCESSLIST WHERE ID = ?', [rails.threadId]);
                  const where = thread ? `its thread is ${thread.command}, ${thread.state || 'no state'} (${thread.info})` : 'its thread is gone';
                  const seen = settled ? 'its UPDATE is done: it did not wait' : trx ? `its transaction is ${trx.state} (${trx.query})` : `no transaction of it yet; ${where}`;
                  throw new Error(`the other write does not wait for the row lock: ${seen}`);
                }, 30_000);
              },
            },
          });
          const results = await Promise.all(uids.map((uid) => contended.startTimer(uid, LESSON, at('2026-11-28T07:01:00Z'))));
          assert.ok(bump, 'the other write was sent');
          await bump;
          await rails.end();
          assert.deepEqual(results, [true, true, true]);
          assert.equal(contended.stats.lockConflicts, 1, 'only the row changed before the UPDATE was written again');
          const row = await timesOf(31);
          assert.equal(row.online_times, `{"/lessons/other_started_at":"20261128150000","${LESSON}_started_at":"20261128150100"}`);
          assert.equal(Number(row.lock_version), 2, 'our UPDATE, then the other write on top');
          assert.equal(Number((await timesOf(32)).lock_version), 2, 'the other write, then ours on top');
        });
      }
    });
  });
}
