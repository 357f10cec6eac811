// The dashboard's reads at scale and its small rules, without a browser: a room
// of 10,000 members costs one page's worth of work per request, a CSV export
// reads in bounded chunks, times without an offset are the server zone's wall
// clock, and CSV cells cannot become spreadsheet formulas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Sequelize } from 'sequelize';
import { ManualClock } from '../../lib/core/clock';
import { distribution, membersTable, type DataSources } from '../../lib/dashboard/data';
import { BadRequest, rangeParams, zonedDate } from '../../lib/dashboard/input';
import { toCsv, column } from '../../lib/dashboard/table';
import { countStatements, openDatabase, Records, type StatementCounter } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';
import { fillOnlineList } from '../support/online-lists';

const ROOM = '/classes/big';
const LESSON = '/courses/9/lessons/1';
const MEMBERS = 10_000;

describe('a room of 10,000 members', () => {
  let sqlite: TestSqlite;
  let sequelize: Sequelize;
  let sql: StatementCounter;
  const asked = { auths: [] as number[], engaged: [] as string[], rooms: 0 };
  let sources: DataSources;

  before(async () => {
    sqlite = createTestSqlite();
    sequelize = openDatabase(sqlite.url);
    await migrate(sequelize, 'up');
    const records = new Records({ sequelize, timeZone: 'UTC' });
    // The list names the users in the order they came; the last hundred arrived but are not listed yet.
    await fillOnlineList(records, ROOM, Array.from({ length: MEMBERS - 100 }, (_, i) => MEMBERS - 100 - i));
    const started = new Date(Date.UTC(2026, 4, 1, 8, 0, 0));
    for (const uid of [1, 2, 5000]) await records.startTimer(uid, LESSON, started);
    const byUser = new Map(Array.from({ length: MEMBERS }, (_, i) => [i + 1, [`c${i + 1}a`, `c${i + 1}b`]]));
    sources = {
      reports: { channelReport: () => assert.fail('not used'), userLoginReport: () => assert.fail('not used') },
      store: {
        async clientIdsByUser() {
          asked.rooms++;
          return byUser;
        },
        async rememberedAuths(clientIds) {
          asked.auths.push(clientIds.length);
          return clientIds.map((id) => JSON.stringify({ room_channel: ROOM, time_channel: LESSON, current_user: { uid: Number(id.slice(1, -1)), uname: `user ${id.slice(1, -1)}` } }));
        },
        async engagedByUser(timeChannel) {
          asked.engaged.push(timeChannel);
          return new Map([[2, ['c2b']]]);
        },
      },
      records,
      sequelize,
      timeZone: 'UTC',
      engagement: true,
      clock: new ManualClock(),
    };
    sql = countStatements(sequelize);
  });

  after(async () => {
    sql.stop();
    await sequelize.close();
    sqlite.remove();
  });

  test('a page of 50 reads the room\'s order once, and asks about those 50 users only', async () => {
    asked.auths.length = 0;
    asked.engaged.length = 0;
    asked.rooms = 0;
    sql.reset();
    const { table, total } = await membersTable(sources, ROOM, { offset: 0, limit: 50 });
    assert.equal(total, MEMBERS);
    assert.equal(table.rows.length, 50);
    assert.equal(asked.rooms, 1, 'one round trip for the room\'s clientIds');
    assert.deepEqual(asked.auths, [100], 'one round trip for the 100 tabs of the page (names, time channels)');
    assert.deepEqual(asked.engaged, [LESSON], 'one round trip for the engaged tabs of the time channel');
    assert.equal(sql.count, 3, `the room's existence, its online list and the page's timers: ${sql.statements.join(' | ')}`);
    assert.deepEqual(table.rows.slice(0, 2).map((r) => [r.uid, r.uname]), [[9900, 'user 9900'], [9899, 'user 9899']], 'in the order they came');
    const page = await membersTable(sources, ROOM, { offset: 9898, limit: 3 });
    assert.deepEqual(page.table.rows.map((r) => [r.uid, r.engaged, r.clientIds, (r.onlineSince as Date | null)?.toISOString() ?? null]), [
      [2, true, 'c2a c2b (engaged)', '2026-05-01T08:00:00.000Z'],
      [1, false, 'c1a c1b', '2026-05-01T08:00:00.000Z'],
      [9901, false, 'c9901a c9901b', null],
    ], 'listed users first, then those not listed yet');
    const last = await membersTable(sources, ROOM, { offset: 9950, limit: 50 });
    assert.deepEqual([last.table.rows[0].uid, last.table.rows[49].uid], [9951, 10000]);
  });

  test('the whole room (CSV) reads every timer in ten bounded statements', async () => {
    asked.auths.length = 0;
    sql.reset();
    const { table } = await membersTable(sources, ROOM);
    assert.equal(table.rows.length, MEMBERS);
    assert.deepEqual(asked.auths, [2 * MEMBERS]);
    assert.equal(sql.count, 2 + MEMBERS / 1000, 'the room, its list, and the timers of 1,000 users per statement');
    assert.equal(table.rows.find((r) => r.uid === 5000)!.onlineSince instanceof Date, true, 'uid 5000 is online since their timer started');
  });
});

describe('dashboard input', () => {
  test('a time without an offset is wall-clock time in the server zone, across a DST change too', () => {
    assert.equal(zonedDate('2026-05-01T08:00', 'from', 'Asia/Shanghai')!.toISOString(), '2026-05-01T00:00:00.000Z');
    assert.equal(zonedDate('2026-05-01', 'from', 'Asia/Shanghai')!.toISOString(), '2026-04-30T16:00:00.000Z');
    assert.equal(zonedDate('2026-07-01 12:30:15', 'from', 'Europe/Berlin')!.toISOString(), '2026-07-01T10:30:15.000Z');
    assert.equal(zonedDate('2026-01-01T12:00', 'from', 'Europe/Berlin')!.toISOString(), '2026-01-01T11:00:00.000Z');
    assert.equal(zonedDate('2026-05-01T08:00:00Z', 'from', 'Asia/Shanghai')!.toISOString(), '2026-05-01T08:00:00.000Z', 'an explicit offset wins');
  });

  test('malformed dates, reversed and huge ranges are refused with a message naming the parameter', () => {
    assert.throws(() => zonedDate('May 1', 'from', 'UTC'), (e: unknown) => e instanceof BadRequest && /from must be an ISO 8601 date/.test(e.message));
    assert.throws(() => zonedDate('2026-02-30', 'to', 'UTC'), /to is not a time that exists in UTC/);
    assert.throws(() => zonedDate('2026-03-29T02:30', 'to', 'Europe/Berlin'), /not a time that exists in Europe\/Berlin/, 'inside the spring-forward gap');
    assert.throws(() => rangeParams({ from: '2026-05-02', to: '2026-05-01' }, 'UTC'), /is after to/);
    assert.throws(() => rangeParams({ from: '2025-01-01', to: '2026-05-01' }, 'UTC'), /longer than 366 days/);
    assert.throws(() => rangeParams({ from: '2026-05-01' }, 'UTC', true), /both required/);
    assert.deepEqual(rangeParams({}, 'UTC'), { from: undefined, to: undefined });
  });
});

describe('dashboard tables', () => {
  test('CSV quotes what needs it and defuses cells a spreadsheet would run as formulas', () => {
    const csv = toCsv({
      columns: [column('uname', 'Name'), column('n', 'n', 'number'), column('at', 'At', 'time')],
      rows: [{ uname: '=HYPERLINK("x")', n: -3, at: new Date(Date.UTC(2026, 4, 1)) }, { uname: 'a, "b"', n: 1, at: null }],
    });
    assert.equal(csv, `Name,n,At\r\n"'=HYPERLINK(""x"")",-3,2026-05-01T00:00:00.000Z\r\n"a, ""b""",1,\r\n`);
  });

  test('the distribution puts every user in one round-width bin, online and engaged alike', () => {
    const bins = distribution([0, 59, 600, 3599, 7200], [0, 30, 7199]);
    assert.equal(bins[0].to - bins[0].from, 900, 'the smallest round width that needs at most 12 bins for 2 hours');
    assert.equal(bins.reduce((n, b) => n + b.online, 0), 5);
    assert.equal(bins.reduce((n, b) => n + b.engaged, 0), 3);
    assert.deepEqual(distribution([], []), []);
  });
});
