// A room whose online list has two rows (faye_channel_online_lists has no
// unique key, so concurrent creation by the gem can leave two): the status
// report and reconciliation read the same row, the lowest id, which is the
// one every write changes. They used to disagree (the report merged both).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Sequelize } from 'sequelize';
import { openDatabase, Records } from '../../lib/records';
import { readAllOnlineLists } from '../../lib/records/records';
import { Sql } from '../../lib/records/sql';
import { presenceStatus } from '../../lib/reports/status';
import { migrate } from '../../lib/schema';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';

describe('a room with two online-list rows', () => {
  let sqlite: TestSqlite;
  let sequelize: Sequelize;
  let records: Records;
  const room = '/courses/1/lessons/7';

  before(async () => {
    sqlite = createTestSqlite();
    sequelize = openDatabase(sqlite.url);
    await migrate(sequelize, 'up');
    records = new Records({ sequelize, timeZone: 'UTC' });
    await records.addToOnlineList(room, 1);
    const channelId = await records.channelId(room);
    await sequelize.query(
      "INSERT INTO faye_channel_online_lists (channel_id, user_info_list, lock_version, created_at, updated_at) VALUES (?, '[2]', 0, '2026-05-01 00:00:00', '2026-05-01 00:00:00')",
      { replacements: [channelId] },
    );
  });

  after(async () => {
    await sequelize.close();
    sqlite.remove();
  });

  it('is read as its lowest-id row by records, reconciliation and the status report alike', async () => {
    assert.deepEqual(await records.onlineList(room), [1]);
    assert.deepEqual(await records.allOnlineLists(), [{ room, uids: [1] }]);
    assert.deepEqual(await readAllOnlineLists(new Sql(sequelize)), [{ room, uids: [1] }]);
    const report = await presenceStatus({
      store: { channels: async () => [], clientIdsByUser: async () => new Map(), rememberedAuths: async () => [], forget: async () => undefined },
      sequelize,
      records,
      isLive: async () => new Set(),
    });
    assert.deepEqual(report.channels.find((c) => c.channel === room)?.onlineList, [1]);
  });
});
