// Our own table (not the gem's): the presence events, one row per change that
// someone outside may want to hear about or look back on. It feeds webhooks and
// answers history questions ("who was in room R at 10:05", "when was uid N last
// seen"), and a Rails app reads it with ActiveRecord like any other table.
//
// One row per
//   join / leave                  of a user in a room (channel = the room),
//   session_start / session_end   of a user's session in a time channel,
//   engaged_start / engaged_end   of a user's engaged time in a time channel,
//   occupied / vacated            of a room (first user in, last user out; user_id NULL).
//
//   event_key     unique and derived from the change itself, so writing the same
//                 event twice (a retry, a reconciliation repeating a crashed
//                 process's work) keeps one row
//   occurred_ms   when it happened, whole milliseconds since the epoch (UTC)
//   reason        why (join: 'connect'...; leave: 'disconnect', 'timeout',
//                 'evicted', 'moved', 'reconciled'...), NULL when none applies
//   seq           the room's sequence number of the change, NULL outside rooms
//   client_id     the Bayeux clientId whose arrival or departure made it, if any
//
// Rows are only ever inserted (and deleted by retention or erasure), so the
// table needs no lock_version.
import { runStatements, type LegacyMigration } from '../lib/schema/ddl';

export const migration: LegacyMigration = {
  name: '20261130090000_create_faye_online_events',
  tables: ['faye_online_events'],
  feature: 'events',

  async up({ context: { sequelize } }) {
    const indexes = [
      'CREATE UNIQUE INDEX index_faye_online_events_on_event_key ON faye_online_events (event_key)',
      'CREATE INDEX index_faye_online_events_on_channel_and_occurred_ms ON faye_online_events (channel, occurred_ms)',
      'CREATE INDEX index_faye_online_events_on_user_id_and_occurred_ms ON faye_online_events (user_id, occurred_ms)',
      'CREATE INDEX index_faye_online_events_on_occurred_ms ON faye_online_events (occurred_ms)',
    ];
    await runStatements(sequelize, {
      mysql: [
        `CREATE TABLE faye_online_events (
          id bigint(20) NOT NULL AUTO_INCREMENT,
          event_key varchar(64) NOT NULL,
          kind varchar(16) NOT NULL,
          user_id int(11) DEFAULT NULL,
          channel varchar(255) NOT NULL,
          occurred_ms bigint(20) NOT NULL,
          reason varchar(32) DEFAULT NULL,
          seq bigint(20) DEFAULT NULL,
          client_id varchar(64) DEFAULT NULL,
          created_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
        ...indexes,
      ],
      sqlite: [
        `CREATE TABLE faye_online_events (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          event_key varchar(64) NOT NULL,
          kind varchar(16) NOT NULL,
          user_id integer DEFAULT NULL,
          channel varchar(255) NOT NULL,
          occurred_ms bigint NOT NULL,
          reason varchar(32) DEFAULT NULL,
          seq bigint DEFAULT NULL,
          client_id varchar(64) DEFAULT NULL,
          created_at datetime NOT NULL
        )`,
        ...indexes,
      ],
    });
  },

  async down({ context: { sequelize } }) {
    const drops = ['DROP TABLE faye_online_events'];
    await runStatements(sequelize, { mysql: drops, sqlite: drops });
  },
};
