// What a migration file is made of. The gem's migrations are frozen history, so
// ours spell out their DDL as raw SQL, per dialect: MySQL/MariaDB gets the gem's
// exact table options, SQLite the same columns and indexes without them.
import type { Sequelize } from 'sequelize';

export interface MigrationContext {
  sequelize: Sequelize;
}

export interface LegacyMigration {
  /** `<version>_<name>`, the gem's migration file name; the version goes into schema_migrations. */
  name: string;
  /** Tables this migration creates: used to spot tables that exist but were never recorded. */
  tables: readonly string[];
  /**
   * Set on our own migrations (not the gem's): the feature that needs them. The
   * startup check requires them only while that feature is on (engagement is
   * on unless turned off; events only when turned on).
   */
  feature?: 'engagement' | 'events' | 'webhooks';
  /**
   * Set on optional migrations: the name `migrate up` must be given to run it.
   * Once recorded it counts like any other (status, down); it is never required.
   */
  optional?: OptionalMigration;
  up(params: { context: MigrationContext }): Promise<void>;
  down(params: { context: MigrationContext }): Promise<void>;
}

/** Migrations that run only when asked for (see migrations/index.ts). */
export type OptionalMigration = 'widen-online-times';

export interface DialectStatements {
  mysql: readonly string[];
  sqlite: readonly string[];
}

export function versionOf(migrationName: string): string {
  return migrationName.split('_', 1)[0];
}

export function isMysql(sequelize: Sequelize): boolean {
  const dialect = sequelize.getDialect();
  return dialect === 'mysql' || dialect === 'mariadb';
}

/** Runs one dialect's statements in order (MySQL DDL commits implicitly anyway). */
export async function runStatements(sequelize: Sequelize, statements: DialectStatements): Promise<void> {
  for (const sql of isMysql(sequelize) ? statements.mysql : statements.sqlite) {
    await sequelize.query(sql);
  }
}
