// The migrations on an SQLite file (the embedded default): the same tables,
// columns and indexes without MySQL's options, recorded in schema_migrations.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Sequelize } from 'sequelize';
import { isFayeOnlineError } from '../../lib/errors';
import { adoptSchema, compareLayout, ensureMigrated, EXPECTED_LAYOUT, migrate, migrationStatus, readLayout } from '../../lib/schema';
import { createSqliteBackend, type TestBackend } from '../support/databases';

const TABLES = EXPECTED_LAYOUT.map((t) => t.name);

describe('migrations on SQLite', () => {
  let backend: TestBackend;
  let sequelize: Sequelize;
  const tables = async () => (await backend.rows<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map((r) => r.name);

  beforeEach(async () => {
    backend = await createSqliteBackend();
    sequelize = backend.open();
  });
  afterEach(() => backend.cleanup());

  it('creates the gem\'s four tables with their columns and indexes, and our engaged-time, events and webhook tables', async () => {
    await migrate(sequelize, 'up');
    assert.deepEqual(await tables(), [
      'faye_channel_online_lists', 'faye_channels', 'faye_online_engaged_times', 'faye_online_events', 'faye_online_webhook_cursors', 'faye_online_webhook_dead_letters',
      'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations',
    ]);
    const layout = await readLayout(sequelize, TABLES);
    for (const expected of EXPECTED_LAYOUT) {
      assert.deepEqual(compareLayout(expected, layout.find((t) => t.name === expected.name), 'sqlite'), { refused: [], accepted: [] }, expected.name);
    }
    const versions = await backend.rows<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(versions.map((r) => r.version), ['20130326113504', '20130531033325', '20261128190000', '20261130090000', '20261130100000']);
    assert.ok((await migrationStatus(sequelize)).every((s) => s.applied));
    await ensureMigrated(sequelize);
  });

  it('reverts one migration at a time, then all', async () => {
    await migrate(sequelize, 'up');
    await migrate(sequelize, 'down');
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_online_engaged_times', 'faye_online_events', 'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations']);
    await migrate(sequelize, 'down');
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_online_engaged_times', 'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations']);
    await migrate(sequelize, 'down');
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations']);
    await migrate(sequelize, 'down');
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_user_online_times', 'schema_migrations']);
    await migrate(sequelize, 'down', { all: true });
    assert.deepEqual(await tables(), ['schema_migrations']);
    await assert.rejects(ensureMigrated(sequelize), (error) => isFayeOnlineError(error, 'SCHEMA_NOT_MIGRATED'));
  });

  it('refuses untracked tables and adopts them', async () => {
    await migrate(sequelize, 'up');
    await backend.exec('DELETE FROM schema_migrations');
    await assert.rejects(migrate(sequelize, 'up'), (error) => isFayeOnlineError(error, 'SCHEMA_UNTRACKED'));
    assert.equal((await adoptSchema(sequelize)).adopted.length, 5);
    await ensureMigrated(sequelize);
  });
});
