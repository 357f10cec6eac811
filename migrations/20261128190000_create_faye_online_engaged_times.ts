// Our own table (not the gem's): engaged time, the time a user had a page of a
// time channel visible (and, when the page reports idleness, in use). One row
// per user and time channel, so that reports can sum it in SQL. The gem's tables
// are not touched: connected time stays in faye_user_online_times for Rails.
//
// Times are whole milliseconds since the epoch (UTC), so that many short
// engaged sessions (a user switching tabs) add up exactly and no time zone is
// involved. last_session_ms orders writes that arrive late (see
// lib/records/engaged-times.ts). `lock_version` is bumped by every update, so a Rails model with
// optimistic locking over this table stays correct.
import { runStatements, type LegacyMigration } from '../lib/schema/ddl';

export const migration: LegacyMigration = {
  name: '20261128190000_create_faye_online_engaged_times',
  tables: ['faye_online_engaged_times'],
  feature: 'engagement',

  async up({ context: { sequelize } }) {
    await runStatements(sequelize, {
      mysql: [
        `CREATE TABLE faye_online_engaged_times (
          id int(11) NOT NULL AUTO_INCREMENT,
          user_id int(11) NOT NULL,
          channel_id int(11) NOT NULL,
          engaged_ms bigint(20) NOT NULL DEFAULT 0,
          engaged_since_ms bigint(20) DEFAULT NULL,
          last_session_ms bigint(20) DEFAULT NULL,
          lock_version int(11) NOT NULL DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
        'CREATE UNIQUE INDEX index_faye_online_engaged_times_on_user_id_and_channel_id ON faye_online_engaged_times (user_id, channel_id)',
        'CREATE INDEX index_faye_online_engaged_times_on_channel_id ON faye_online_engaged_times (channel_id)',
      ],
      sqlite: [
        `CREATE TABLE faye_online_engaged_times (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          user_id integer NOT NULL,
          channel_id integer NOT NULL,
          engaged_ms bigint NOT NULL DEFAULT 0,
          engaged_since_ms bigint DEFAULT NULL,
          last_session_ms bigint DEFAULT NULL,
          lock_version integer NOT NULL DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        'CREATE UNIQUE INDEX index_faye_online_engaged_times_on_user_id_and_channel_id ON faye_online_engaged_times (user_id, channel_id)',
        'CREATE INDEX index_faye_online_engaged_times_on_channel_id ON faye_online_engaged_times (channel_id)',
      ],
    });
  },

  async down({ context: { sequelize } }) {
    const drops = ['DROP TABLE faye_online_engaged_times'];
    await runStatements(sequelize, { mysql: drops, sqlite: drops });
  },
};
