// Optional, run only when asked (migrate(sequelize, 'up', { optional: ['widen-online-times'] })):
// faye_user_online_times.online_times becomes MEDIUMTEXT (16 MiB) instead of the
// gem's TEXT (64 KiB). The column holds one JSON object per user with two keys
// per time channel, so TEXT is full at about 730 time channels, and from then
// on no timer of that user can start. ActiveRecord reads MEDIUMTEXT as the
// same string, so the gem and Rails keep working unchanged. SQLite's TEXT has
// no such limit: there the migration changes nothing and is only recorded.
import { FayeOnlineError } from '../lib/errors';
import { ONLINE_TIMES_TEXT_BYTES as TEXT_BYTES } from '../lib/records/records';
import { isMysql, type LegacyMigration } from '../lib/schema/ddl';

export const migration: LegacyMigration = {
  name: '20261129200000_widen_faye_user_online_times',
  tables: [],
  optional: 'widen-online-times',

  async up({ context: { sequelize } }) {
    if (isMysql(sequelize)) await sequelize.query('ALTER TABLE faye_user_online_times MODIFY online_times mediumtext DEFAULT NULL');
  },

  async down({ context: { sequelize } }) {
    if (!isMysql(sequelize)) return;
    const [rows] = await sequelize.query('SELECT user_id FROM faye_user_online_times WHERE LENGTH(online_times) > ?', { replacements: [TEXT_BYTES] });
    const users = (rows as Array<{ user_id: number }>).map((row) => row.user_id);
    if (users.length > 0) {
      throw new FayeOnlineError('SCHEMA_MISMATCH',
        `cannot narrow faye_user_online_times.online_times back to TEXT: the online times of user${users.length > 1 ? 's' : ''} ${users.slice(0, 10).join(', ')}${users.length > 10 ? ', ...' : ''} are longer than ${TEXT_BYTES} bytes and would be cut`);
    }
    await sequelize.query('ALTER TABLE faye_user_online_times MODIFY online_times text DEFAULT NULL');
  },
};
