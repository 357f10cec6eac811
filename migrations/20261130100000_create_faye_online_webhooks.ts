// Our own tables (not the gem's): the webhook sender's state, beside the events
// it delivers from faye_online_events. Required only while the `webhooks`
// option is set.
//
// faye_online_webhook_cursors: one row per stream ('default'), written only by
// the process holding its lease, every write fenced by holder + lease_version:
//   cursor_id         the last faye_online_events.id handled (delivered, skipped
//                     as a kind not sent, or dead-lettered); the stream is sent in id order
//   kinds             the kinds the sender sends (comma-separated), for `webhooks status`
//   holder            the process holding the lease, NULL when released
//   lease_until_ms    when the lease expires unless renewed (epoch ms)
//   lease_version     bumped at every take-over: the fencing token
//   attempts          failed attempts of the batch at the head of the stream
//   failing_since_ms  first failure since the last success (start of the retry window)
//   next_attempt_ms   when the head batch is tried again (backoff with jitter)
//   last_error        why the last attempt failed
//   delivered_count   events delivered (and acknowledged with a 2xx) so far
//
// faye_online_webhook_dead_letters: events given up after the retry window,
// one row per event; `state` is 'dead', or 'replay' once `webhooks replay`
// queued it to be sent again (a replayed event that is delivered leaves the table).
import { runStatements, type LegacyMigration } from '../lib/schema/ddl';

export const migration: LegacyMigration = {
  name: '20261130100000_create_faye_online_webhooks',
  tables: ['faye_online_webhook_cursors', 'faye_online_webhook_dead_letters'],
  feature: 'webhooks',

  async up({ context: { sequelize } }) {
    const indexes = [
      'CREATE UNIQUE INDEX index_faye_online_webhook_cursors_on_name ON faye_online_webhook_cursors (name)',
      'CREATE UNIQUE INDEX index_faye_online_webhook_dead_letters_on_event_id ON faye_online_webhook_dead_letters (event_id)',
      'CREATE INDEX index_faye_online_webhook_dead_letters_on_state ON faye_online_webhook_dead_letters (state)',
    ];
    await runStatements(sequelize, {
      mysql: [
        `CREATE TABLE faye_online_webhook_cursors (
          id int(11) NOT NULL AUTO_INCREMENT,
          name varchar(64) NOT NULL,
          cursor_id bigint(20) NOT NULL DEFAULT 0,
          kinds varchar(255) DEFAULT NULL,
          holder varchar(128) DEFAULT NULL,
          lease_until_ms bigint(20) DEFAULT NULL,
          lease_version int(11) NOT NULL DEFAULT 0,
          attempts int(11) NOT NULL DEFAULT 0,
          failing_since_ms bigint(20) DEFAULT NULL,
          next_attempt_ms bigint(20) DEFAULT NULL,
          last_error varchar(255) DEFAULT NULL,
          delivered_count bigint(20) NOT NULL DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
        `CREATE TABLE faye_online_webhook_dead_letters (
          id int(11) NOT NULL AUTO_INCREMENT,
          event_id bigint(20) NOT NULL,
          state varchar(16) NOT NULL,
          attempts int(11) NOT NULL DEFAULT 0,
          last_error varchar(255) DEFAULT NULL,
          died_at_ms bigint(20) NOT NULL,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL,
          PRIMARY KEY (id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
        ...indexes,
      ],
      sqlite: [
        `CREATE TABLE faye_online_webhook_cursors (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          name varchar(64) NOT NULL,
          cursor_id bigint NOT NULL DEFAULT 0,
          kinds varchar(255) DEFAULT NULL,
          holder varchar(128) DEFAULT NULL,
          lease_until_ms bigint DEFAULT NULL,
          lease_version integer NOT NULL DEFAULT 0,
          attempts integer NOT NULL DEFAULT 0,
          failing_since_ms bigint DEFAULT NULL,
          next_attempt_ms bigint DEFAULT NULL,
          last_error varchar(255) DEFAULT NULL,
          delivered_count bigint NOT NULL DEFAULT 0,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        `CREATE TABLE faye_online_webhook_dead_letters (
          id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
          event_id bigint NOT NULL,
          state varchar(16) NOT NULL,
          attempts integer NOT NULL DEFAULT 0,
          last_error varchar(255) DEFAULT NULL,
          died_at_ms bigint NOT NULL,
          created_at datetime NOT NULL,
          updated_at datetime NOT NULL
        )`,
        ...indexes,
      ],
    });
  },

  async down({ context: { sequelize } }) {
    const drops = ['DROP TABLE faye_online_webhook_dead_letters', 'DROP TABLE faye_online_webhook_cursors'];
    await runStatements(sequelize, { mysql: drops, sqlite: drops });
  },
};
