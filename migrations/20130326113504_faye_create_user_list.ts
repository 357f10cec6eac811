// The gem's first migration: channels, per-room online lists, per-user online
// times. On MySQL/MariaDB the DDL gives exactly the SHOW CREATE TABLE that
// Rails 3.2/4.0 gave (the gem asked for CHARSET=utf8, which MariaDB names utf8mb3;
// the collation is spelled out so a server default cannot change it).
import { runStatements, type LegacyMigration } from '../lib/schema/ddl';

const MYSQL_OPTIONS = 'DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci';

export const migration: LegacyMigration = {
  name: '20130326113504_faye_create_user_list',
  tables: ['faye_channels', 'faye_channel_online_lists', 'faye_user_online_times'],

  async up({ context: { sequelize } }) {
    await runStatements(sequelize, {
      mysql: [
        `CREATE TABLE faye_channels (
          id int(11) NOT NULL AUTO_INCREMENT,
          name varchar(255) DEFAULT NULL,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=MyISAM ${MYSQL_OPTIONS}`,
        'CREATE UNIQUE INDEX index_faye_channels_on_name ON faye_channels (name)',
        `CREATE TABLE faye_channel_online_lists (
          id int(11) NOT NULL AUTO_INCREMENT,
          channel_id int(11) DEFAULT 0,
          user_info_list text DEFAULT NULL,
          lock_version int(11) DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB ${MYSQL_OPTIONS}`,
        'CREATE INDEX index_faye_channel_online_lists_on_channel_id ON faye_channel_online_lists (channel_id)',
        `CREATE TABLE faye_user_online_times (
          id int(11) NOT NULL AUTO_INCREMENT,
          user_id int(11) DEFAULT 0,
          online_times text DEFAULT NULL,
          lock_version int(11) DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB ${MYSQL_OPTIONS}`,
        'CREATE UNIQUE INDEX index_faye_user_online_times_on_user_id ON faye_user_online_times (user_id)',
      ],
      sqlite: [
        `CREATE TABLE faye_channels (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          name varchar(255) DEFAULT NULL,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        'CREATE UNIQUE INDEX index_faye_channels_on_name ON faye_channels (name)',
        `CREATE TABLE faye_channel_online_lists (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          channel_id integer DEFAULT 0,
          user_info_list text DEFAULT NULL,
          lock_version integer DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        'CREATE INDEX index_faye_channel_online_lists_on_channel_id ON faye_channel_online_lists (channel_id)',
        `CREATE TABLE faye_user_online_times (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          user_id integer DEFAULT 0,
          online_times text DEFAULT NULL,
          lock_version integer DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        'CREATE UNIQUE INDEX index_faye_user_online_times_on_user_id ON faye_user_online_times (user_id)',
      ],
    });
  },

  async down({ context: { sequelize } }) {
    const drops = ['faye_user_online_times', 'faye_channel_online_lists', 'faye_channels'].map((table) => `DROP TABLE ${table}`);
    await runStatements(sequelize, { mysql: drops, sqlite: drops });
  },
};
