// needs: mysql
// The migrations on MariaDB: the gem's two give exactly the layout Rails gave
// them, ours add the engaged-time and events tables; Rails' schema_migrations is
// shared both ways; untracked tables are refused and adopted.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Sequelize } from 'sequelize';
import { isFayeOnlineError } from '../../lib/errors';
import { adoptSchema, ensureMigrated, EXPECTED_LAYOUT, migrate, migrationStatus, readLayout } from '../../lib/schema';
import { createMariadbBackend, type TestBackend } from '../support/databases';

const TABLES = EXPECTED_LAYOUT.map((t) => t.name);
const GEM_VERSIONS = ['20130326113504', '20130531033325'];
const OUR_VERSION = '20261128190000';
const EVENTS_VERSION = '20261130090000';
const WEBHOOKS_VERSION = '20261130100000';
const VERSIONS = [...GEM_VERSIONS, OUR_VERSION, EVENTS_VERSION, WEBHOOKS_VERSION];
const NAMES = [
  '20130326113504_faye_create_user_list', '20130531033325_add_faye_user_login_logs', '20261128190000_create_faye_online_engaged_times',
  '20261130090000_create_faye_online_events', '20261130100000_create_faye_online_webhooks',
];

// SHOW CREATE TABLE after Rails 3.2/4.0 ran the gem's migrations on MariaDB.
const SHOW_CREATE: Record<string, string> = {
  faye_channels: `CREATE TABLE \`faye_channels\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`name\` varchar(255) DEFAULT NULL,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_channels_on_name\` (\`name\`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_channel_online_lists: `CREATE TABLE \`faye_channel_online_lists\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`channel_id\` int(11) DEFAULT 0,
  \`user_info_list\` text DEFAULT NULL,
  \`lock_version\` int(11) DEFAULT 0,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  KEY \`index_faye_channel_online_lists_on_channel_id\` (\`channel_id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_user_online_times: `CREATE TABLE \`faye_user_online_times\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`user_id\` int(11) DEFAULT 0,
  \`online_times\` text DEFAULT NULL,
  \`lock_version\` int(11) DEFAULT 0,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_user_online_times_on_user_id\` (\`user_id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_user_login_logs: `CREATE TABLE \`faye_user_login_logs\` (
  \`status\` smallint(6) DEFAULT NULL,
  \`uid\` int(11) DEFAULT NULL,
  \`t\` datetime DEFAULT NULL,
  \`channel_id\` int(11) DEFAULT NULL,
  \`clientId\` varchar(255) DEFAULT NULL,
  KEY \`idx_all\` (\`t\`,\`channel_id\`,\`uid\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  // Ours: not the gem's, but pinned here as well so that a change is deliberate.
  faye_online_engaged_times: `CREATE TABLE \`faye_online_engaged_times\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`user_id\` int(11) NOT NULL,
  \`channel_id\` int(11) NOT NULL,
  \`engaged_ms\` bigint(20) NOT NULL DEFAULT 0,
  \`engaged_since_ms\` bigint(20) DEFAULT NULL,
  \`last_session_ms\` bigint(20) DEFAULT NULL,
  \`lock_version\` int(11) NOT NULL DEFAULT 0,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_online_engaged_times_on_user_id_and_channel_id\` (\`user_id\`,\`channel_id\`),
  KEY \`index_faye_online_engaged_times_on_channel_id\` (\`channel_id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_online_events: `CREATE TABLE \`faye_online_events\` (
  \`id\` bigint(20) NOT NULL AUTO_INCREMENT,
  \`event_key\` varchar(64) NOT NULL,
  \`kind\` varchar(16) NOT NULL,
  \`user_id\` int(11) DEFAULT NULL,
  \`channel\` varchar(255) NOT NULL,
  \`occurred_ms\` bigint(20) NOT NULL,
  \`reason\` varchar(32) DEFAULT NULL,
  \`seq\` bigint(20) DEFAULT NULL,
  \`client_id\` varchar(64) DEFAULT NULL,
  \`created_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_online_events_on_event_key\` (\`event_key\`),
  KEY \`index_faye_online_events_on_channel_and_occurred_ms\` (\`channel\`,\`occurred_ms\`),
  KEY \`index_faye_online_events_on_user_id_and_occurred_ms\` (\`user_id\`,\`occurred_ms\`),
  KEY \`index_faye_online_events_on_occurred_ms\` (\`occurred_ms\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_online_webhook_cursors: `CREATE TABLE \`faye_online_webhook_cursors\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`name\` varchar(64) NOT NULL,
  \`cursor_id\` bigint(20) NOT NULL DEFAULT 0,
  \`kinds\` varchar(255) DEFAULT NULL,
  \`holder\` varchar(128) DEFAULT NULL,
  \`lease_until_ms\` bigint(20) DEFAULT NULL,
  \`lease_version\` int(11) NOT NULL DEFAULT 0,
  \`attempts\` int(11) NOT NULL DEFAULT 0,
  \`failing_since_ms\` bigint(20) DEFAULT NULL,
  \`next_attempt_ms\` bigint(20) DEFAULT NULL,
  \`last_error\` varchar(255) DEFAULT NULL,
  \`delivered_count\` bigint(20) NOT NULL DEFAULT 0,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_online_webhook_cursors_on_name\` (\`name\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
  faye_online_webhook_dead_letters: `CREATE TABLE \`faye_online_webhook_dead_letters\` (
  \`id\` int(11) NOT NULL AUTO_INCREMENT,
  \`event_id\` bigint(20) NOT NULL,
  \`state\` varchar(16) NOT NULL,
  \`attempts\` int(11) NOT NULL DEFAULT 0,
  \`last_error\` varchar(255) DEFAULT NULL,
  \`died_at_ms\` bigint(20) NOT NULL,
  \`created_at\` datetime NOT NULL,
  \`updated_at\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`index_faye_online_webhook_dead_letters_on_event_id\` (\`event_id\`),
  KEY \`index_faye_online_webhook_dead_letters_on_state\` (\`state\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
};

describe('migrations on MariaDB', () => {
  let backend: TestBackend;
  let sequelize: Sequelize;
  const versions = async () => (await backend.rows<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
  const tables = async () => (await backend.rows<{ name: string }>('SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')).map((r) => r.name).sort();
  const expectRejects = (promise: Promise<unknown>, code: Parameters<typeof isFayeOnlineError>[1], pattern: RegExp) =>
    assert.rejects(promise, (error) => isFayeOnlineError(error, code) && pattern.test(error.message));

  beforeEach(async () => {
    backend = await createMariadbBackend('mig');
    sequelize = backend.open();
  });
  afterEach(() => backend.cleanup());

  it('creates exactly the gem\'s tables, byte for byte, and our engaged-time and events tables', async () => {
    const result = await migrate(sequelize, 'up');
    assert.deepEqual(result.names, NAMES);
    for (const table of TABLES) {
      const [row] = await backend.rows<{ 'Create Table': string }>(`SHOW CREATE TABLE ${table}`);
      assert.equal(row['Create Table'], SHOW_CREATE[table], table);
    }
  });

  it('matches the expected layout in information_schema (columns, indexes, engines, collations)', async () => {
    await migrate(sequelize, 'up');
    assert.deepEqual(await readLayout(sequelize, TABLES), EXPECTED_LAYOUT);
  });

  it("records the versions in Rails' schema_migrations, created as Rails creates it", async () => {
    await migrate(sequelize, 'up');
    assert.deepEqual(await versions(), VERSIONS);
    const [row] = await backend.rows<{ 'Create Table': string }>('SHOW CREATE TABLE schema_migrations');
    assert.match(row['Create Table'], /`version` varchar\(255\) NOT NULL,\n {2}UNIQUE KEY `unique_schema_migrations` \(`version`\)/);
    await ensureMigrated(sequelize);
    assert.deepEqual((await migrate(sequelize, 'up')).names, [], 'a second up has nothing to do');
  });

  it('reverts the last migration, then all of them, leaving the app\'s own versions alone', async () => {
    await migrate(sequelize, 'up');
    await backend.exec("INSERT INTO schema_migrations (version) VALUES ('20120101000000')");
    assert.deepEqual((await migrate(sequelize, 'down')).names, [NAMES[4]]);
    await ensureMigrated(sequelize, { events: true });
    await expectRejects(ensureMigrated(sequelize, { webhooks: true }), 'SCHEMA_NOT_MIGRATED', new RegExp(`pending: ${WEBHOOKS_VERSION}\\).*migrate up`));
    assert.deepEqual((await migrate(sequelize, 'down')).names, [NAMES[3]]);
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_online_engaged_times', 'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations']);
    await ensureMigrated(sequelize);
    await expectRejects(ensureMigrated(sequelize, { events: true }), 'SCHEMA_NOT_MIGRATED', new RegExp(`pending: ${EVENTS_VERSION}, ${WEBHOOKS_VERSION}\\).*migrate up`));
    assert.deepEqual((await migrate(sequelize, 'down')).names, [NAMES[2]]);
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_user_login_logs', 'faye_user_online_times', 'schema_migrations']);
    await expectRejects(ensureMigrated(sequelize), 'SCHEMA_NOT_MIGRATED', new RegExp(`pending: ${OUR_VERSION}, ${EVENTS_VERSION}, ${WEBHOOKS_VERSION}\\).*migrate up`));
    assert.deepEqual((await migrate(sequelize, 'down')).names, [NAMES[1]]);
    assert.deepEqual(await tables(), ['faye_channel_online_lists', 'faye_channels', 'faye_user_online_times', 'schema_migrations']);
    await expectRejects(ensureMigrated(sequelize), 'SCHEMA_NOT_MIGRATED', /20130531033325.*migrate up/);
    assert.deepEqual((await migrate(sequelize, 'down', { all: true })).names, [NAMES[0]]);
    assert.deepEqual(await tables(), ['schema_migrations']);
    assert.deepEqual(await versions(), ['20120101000000']);
    assert.deepEqual((await migrate(sequelize, 'up')).names.length, 5, 'and up again');
  });

  it('requires the engaged-time table at startup only while engagement is on, and the events table only while events are on', async () => {
    await migrate(sequelize, 'up');
    for (let ours = 0; ours < 3; ours += 1) await migrate(sequelize, 'down');
    assert.deepEqual(await versions(), GEM_VERSIONS, "a database with the gem's migrations only");
    await ensureMigrated(sequelize, { engagement: false });
    await expectRejects(ensureMigrated(sequelize), 'SCHEMA_NOT_MIGRATED', new RegExp(`pending: ${OUR_VERSION}, ${EVENTS_VERSION}, ${WEBHOOKS_VERSION}\\)`));
    await expectRejects(ensureMigrated(sequelize, { engagement: false, events: true }), 'SCHEMA_NOT_MIGRATED', new RegExp(`pending: ${OUR_VERSION}, ${EVENTS_VERSION}, ${WEBHOOKS_VERSION}\\)`));
    assert.deepEqual((await migrate(sequelize, 'up')).names, [NAMES[2], NAMES[3], NAMES[4]], 'up adds only ours');
    await ensureMigrated(sequelize, { events: true, webhooks: true });
  });

  it('is up to date on a database where Rails already ran the gem\'s migrations', async () => {
    await migrate(sequelize, 'up');
    // What the database of a Rails app looks like: its own versions around ours.
    await backend.exec("INSERT INTO schema_migrations (version) VALUES ('20120101000000'), ('20140101000000')");
    const states = await migrationStatus(sequelize);
    assert.ok(states.every((s) => s.applied));
    assert.deepEqual((await migrate(sequelize, 'up')).names, []);
    assert.deepEqual(await versions(), ['20120101000000', ...GEM_VERSIONS, '20140101000000', OUR_VERSION, EVENTS_VERSION, WEBHOOKS_VERSION]);
  });

  it('refuses tables that exist without their schema_migrations rows (SCHEMA_UNTRACKED), and adopts them after checking', async () => {
    await migrate(sequelize, 'up');
    await backend.exec('DELETE FROM schema_migrations');
    await expectRejects(migrate(sequelize, 'up'), 'SCHEMA_UNTRACKED', /faye_channels, faye_channel_online_lists, faye_user_online_times already exist.*20130326113504.*migrate adopt/);
    await expectRejects(ensureMigrated(sequelize), 'SCHEMA_UNTRACKED', /migrate adopt/);
    assert.deepEqual(await adoptSchema(sequelize), { adopted: NAMES, differences: [], pending: [] });
    assert.deepEqual(await versions(), VERSIONS);
    await ensureMigrated(sequelize);
  });

  it('adopts the first migration and leaves the others pending when only its tables exist', async () => {
    await migrate(sequelize, 'up');
    for (let i = 0; i < 4; i += 1) await migrate(sequelize, 'down');
    await backend.exec('DROP TABLE schema_migrations');
    assert.deepEqual(await adoptSchema(sequelize), { adopted: [NAMES[0]], differences: [], pending: NAMES.slice(1) });
    assert.deepEqual((await migrate(sequelize, 'up')).names, NAMES.slice(1));
  });

  it('tolerates what is the same layout for both sides: nullable timestamps silently, another collation and engine with a note', async () => {
    await migrate(sequelize, 'up');
    await backend.exec('DELETE FROM schema_migrations');
    await backend.exec('ALTER TABLE faye_channels MODIFY created_at datetime NULL, MODIFY updated_at datetime NULL');
    await backend.exec('ALTER TABLE faye_user_login_logs CONVERT TO CHARACTER SET utf8mb3 COLLATE utf8mb3_unicode_ci');
    await backend.exec('ALTER TABLE faye_user_login_logs ENGINE=MyISAM');
    const result = await adoptSchema(sequelize);
    assert.equal(result.adopted.length, NAMES.length);
    assert.deepEqual(result.differences, ["faye_user_login_logs: ENGINE=MyISAM (the gem's is InnoDB)"]);
  });

  it('refuses to adopt a different layout (SCHEMA_MISMATCH naming each difference) and records nothing', async () => {
    await migrate(sequelize, 'up');
    await backend.exec('DELETE FROM schema_migrations');
    await backend.exec('ALTER TABLE faye_channels MODIFY name varchar(100) DEFAULT NULL');
    await backend.exec('ALTER TABLE faye_user_online_times DROP INDEX index_faye_user_online_times_on_user_id, ADD INDEX index_faye_user_online_times_on_user_id (user_id)');
    await backend.exec('ALTER TABLE faye_user_login_logs ADD COLUMN source varchar(20) NOT NULL');
    await expectRejects(adoptSchema(sequelize), 'SCHEMA_MISMATCH',
      /faye_channels\.name: type varchar\(100\) cannot hold what varchar\(255\) holds.*faye_user_online_times: no unique index on \(user_id\).*faye_user_login_logs\.source: extra column varchar\(20\) NOT NULL without a default/);
    assert.deepEqual(await versions(), []);
  });
});
