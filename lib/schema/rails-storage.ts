// An umzug storage over Rails' own `schema_migrations` table, so that Rails and
// this package agree on which of the gem's migrations ran: one row per version,
// nothing else. Rows of the app's own migrations are never read or touched.
import { QueryTypes, type Sequelize } from 'sequelize';
import type { UmzugStorage } from 'umzug';
import { isMysql, versionOf } from './ddl';
import { existingTables } from './layout';

export const SCHEMA_MIGRATIONS = 'schema_migrations';

export class RailsSchemaMigrations implements UmzugStorage {
  private readonly sequelize: Sequelize;
  private readonly names: readonly string[];

  /** `migrationNames`: ours (`<version>_<name>`); `executed()` answers in their terms. */
  constructor(sequelize: Sequelize, migrationNames: readonly string[]) {
    this.sequelize = sequelize;
    this.names = migrationNames;
  }

  async executed(): Promise<string[]> {
    const versions = await this.recordedVersions();
    return this.names.filter((name) => versions.has(versionOf(name)));
  }

  async logMigration({ name }: { name: string }): Promise<void> {
    await this.ensureTable();
    const version = versionOf(name);
    if ((await this.recordedVersions()).has(version)) return;
    await this.sequelize.query('INSERT INTO schema_migrations (version) VALUES (?)', { replacements: [version], type: QueryTypes.INSERT });
  }

  async unlogMigration({ name }: { name: string }): Promise<void> {
    await this.sequelize.query('DELETE FROM schema_migrations WHERE version = ?', { replacements: [versionOf(name)], type: QueryTypes.BULKDELETE });
  }

  /** Our versions found in the table; an absent table means none. */
  async recordedVersions(): Promise<Set<string>> {
    if ((await existingTables(this.sequelize, [SCHEMA_MIGRATIONS])).length === 0) return new Set();
    const ours = this.names.map(versionOf);
    const rows = await this.sequelize.query<{ version: string }>('SELECT version FROM schema_migrations WHERE version IN (?)', { replacements: [ours], type: QueryTypes.SELECT });
    return new Set(rows.map((r) => String(r.version)));
  }

  /** Creates the table as Rails 3.2/4.x does, if it is missing. */
  async ensureTable(): Promise<void> {
    if ((await existingTables(this.sequelize, [SCHEMA_MIGRATIONS])).length > 0) return;
    const create = isMysql(this.sequelize)
      ? 'CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(255) NOT NULL) ENGINE=InnoDB'
      : 'CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(255) NOT NULL)';
    await this.sequelize.query(create);
    await this.sequelize.query('CREATE UNIQUE INDEX unique_schema_migrations ON schema_migrations (version)');
  }
}
