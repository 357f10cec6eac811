// The gem's second migration: one row per login/logout of a clientId. The table
// has no primary key, as in the gem (`:id => false`). The gem's `down` did
// nothing; ours drops the table so that `migrate down` really reverts.
import { runStatements, type LegacyMigration } from '../lib/schema/ddl';

export const migration: LegacyMigration = {
  name: '20130531033325_add_faye_user_login_logs',
  tables: ['faye_user_login_logs'],

  async up({ context: { sequelize } }) {
    await runStatements(sequelize, {
      mysql: [
        `CREATE TABLE faye_user_login_logs (
          status smallint(6) DEFAULT NULL,
          uid int(11) DEFAULT NULL,
          t datetime DEFAULT NULL,
          channel_id int(11) DEFAULT NULL,
          clientId varchar(255) DEFAULT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci`,
        'CREATE INDEX idx_all ON faye_user_login_logs (t, channel_id, uid)',
      ],
      sqlite: [
        `CREATE TABLE faye_user_login_logs (
          status smallint DEFAULT NULL,
          uid integer DEFAULT NULL,
          t datetime DEFAULT NULL,
          channel_id integer DEFAULT NULL,
          clientId varchar(255) DEFAULT NULL
        )`,
        'CREATE INDEX idx_all ON faye_user_login_logs (t, channel_id, uid)',
      ],
    });
  },

  async down({ context: { sequelize } }) {
    const drops = ['DROP TABLE faye_user_login_logs'];
    await runStatements(sequelize, { mysql: drops, sqlite: drops });
  },
};
