// needs: mysql
// `faye-online migrate adopt` on the gem's tables as a Rails 6+ app creates
// them. ActiveRecord is not installed here, so the statements are written by
// hand exactly as Rails 6.1's MySQL adapter emits them for the gem's two
// migrations on a utf8mb4 database (its default since Rails 5): bigint
// AUTO_INCREMENT primary keys, datetime(6) timestamps, ENGINE=InnoDB, no
// display widths, `t.text` as text. The app then widened a text column and
// added a nullable column of its own, as apps do.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { assertOneLineError, cli } from '../support/cli';

const RAILS6_DDL = [
  'CREATE TABLE `schema_migrations` (`version` varchar(255) NOT NULL PRIMARY KEY)',
  'CREATE TABLE `ar_internal_metadata` (`key` varchar(255) NOT NULL PRIMARY KEY, `value` varchar(255), `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL)',
  // 20130326113504_faye_create_user_list (its ENGINE/CHARSET :options dropped, as apps porting it to Rails 6 do)
  'CREATE TABLE `faye_channels` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `name` varchar(255), `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
  'CREATE UNIQUE INDEX `index_faye_channels_on_name`  ON `faye_channels` (`name`)',
  'CREATE TABLE `faye_channel_online_lists` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `channel_id` int DEFAULT 0, `user_info_list` text, `lock_version` int DEFAULT 0, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
  'CREATE  INDEX `index_faye_channel_online_lists_on_channel_id`  ON `faye_channel_online_lists` (`channel_id`)',
  'CREATE TABLE `faye_user_online_times` (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, `user_id` int DEFAULT 0, `online_times` text, `lock_version` int DEFAULT 0, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
  'CREATE UNIQUE INDEX `index_faye_user_online_times_on_user_id`  ON `faye_user_online_times` (`user_id`)',
  // 20130531033325_add_faye_user_login_logs (id: false)
  'CREATE TABLE `faye_user_login_logs` (`status` smallint, `uid` int, `t` datetime, `channel_id` int, `clientId` varchar(255)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
  'CREATE  INDEX `idx_all`  ON `faye_user_login_logs` (`t`, `channel_id`, `uid`)',
  // The app's own later migrations.
  'ALTER TABLE `faye_user_online_times` CHANGE `online_times` `online_times` mediumtext',
  'ALTER TABLE `faye_channels` ADD `title` varchar(255)',
];

describe('faye-online migrate adopt on a Rails 6 utf8mb4 schema', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase('rails6');
    await db.raw.query(`ALTER DATABASE \`${db.name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
    for (const sql of RAILS6_DDL) await db.raw.query(sql);
  });
  after(() => db.drop());

  it('adopts it, listing each accepted difference, then serves the rest with migrate up', async () => {
    const status = await cli(['migrate', 'status', '--url', db.url]);
    assert.match(status.stdout, /Note: .*faye-online migrate adopt/);

    const adopt = await cli(['migrate', 'adopt', '--url', db.url]);
    assert.equal(adopt.code, 0, adopt.stderr);
    const report = adopt.stdout.split('\n');
    const accepted = report.slice(report.findIndex((l) => l.startsWith('Accepted ')) + 1).filter((l) => l.startsWith('  '));
    assert.match(adopt.stdout, /== 20130326113504 faye_create_user_list: adopted \(layout verified\)\n== 20130531033325 add_faye_user_login_logs: adopted \(layout verified\)\n/);
    assert.match(adopt.stdout, /\nAccepted 16 differences from the gem's layout \(ActiveRecord and faye-online treat them the same\):\n/);
    assert.deepEqual(accepted, [
      "  faye_channels: ENGINE=InnoDB (the gem's is MyISAM)",
      "  faye_channels: collation utf8mb4_general_ci (the gem's is utf8mb3_general_ci)",
      "  faye_channels.id: type bigint(20) (the gem's is int(11))",
      "  faye_channels.created_at: type datetime(6) (the gem's is datetime)",
      "  faye_channels.updated_at: type datetime(6) (the gem's is datetime)",
      "  faye_channels.title: extra column varchar(255) (left to its default)",
      "  faye_channel_online_lists: collation utf8mb4_general_ci (the gem's is utf8mb3_general_ci)",
      "  faye_channel_online_lists.id: type bigint(20) (the gem's is int(11))",
      "  faye_channel_online_lists.created_at: type datetime(6) (the gem's is datetime)",
      "  faye_channel_online_lists.updated_at: type datetime(6) (the gem's is datetime)",
      "  faye_user_online_times: collation utf8mb4_general_ci (the gem's is utf8mb3_general_ci)",
      "  faye_user_online_times.id: type bigint(20) (the gem's is int(11))",
      "  faye_user_online_times.online_times: type mediumtext (the gem's is text)",
      "  faye_user_online_times.created_at: type datetime(6) (the gem's is datetime)",
      "  faye_user_online_times.updated_at: type datetime(6) (the gem's is datetime)",
      "  faye_user_login_logs: collation utf8mb4_general_ci (the gem's is utf8mb3_general_ci)",
    ]);
    assert.match(adopt.stdout, /\n2 migrations adopted; 3 still pending: run `faye-online migrate up`\n$/);
    assert.doesNotMatch(adopt.stdout + adopt.stderr, /SPEC/);

    const up = await cli(['migrate', 'up', '--url', db.url]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /== 20261128190000 create_faye_online_engaged_times: migrated/);
    assert.match(up.stdout, /== 20261130090000 create_faye_online_events: migrated/);
    assert.match(up.stdout, /== 20261130100000 create_faye_online_webhooks: migrated/);
    const [versions] = await db.raw.query('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual((versions as Array<{ version: string }>).map((r) => r.version), ['20130326113504', '20130531033325', '20261128190000', '20261130090000', '20261130100000']);
  });

  it('refuses, in its own words, only what would break one side, and records nothing', async () => {
    const other = await createTestDatabase('rails6_broken');
    try {
      for (const sql of RAILS6_DDL.slice(0, 6)) await other.raw.query(sql);
      await other.raw.query('ALTER TABLE `faye_channel_online_lists` MODIFY `user_info_list` varchar(100)');
      await other.raw.query('ALTER TABLE `faye_channel_online_lists` ADD `tenant_id` bigint NOT NULL');
      const run = await cli(['migrate', 'adopt', '--url', other.url]);
      assertOneLineError(run, new RegExp(
        '^faye-online migrate: the existing tables cannot be used as they are, nothing was recorded: ' +
        'faye_channel_online_lists\\.user_info_list: type varchar\\(100\\) cannot hold what text holds; ' +
        'faye_channel_online_lists\\.tenant_id: extra column bigint\\(20\\) NOT NULL without a default: every row this package inserts would fail; ' +
        'table faye_user_online_times is missing\\. Change those columns or indexes .* and run adopt again; `faye-online migrate adopt --help` says what is accepted \\[SCHEMA_MISMATCH\\]$'));
      assert.doesNotMatch(run.stderr, /SPEC/);
      const [rows] = await other.raw.query('SELECT version FROM schema_migrations');
      assert.deepEqual(rows, []);
    } finally {
      await other.drop();
    }
  });
});
