// One shape for "a database of the test's own" on MariaDB and on SQLite, so a
// suite can run unchanged against both: open Sequelize instances on it (each
// one its own connection pool, like separate server processes), read and
// write raw rows as "another app", drop it after.
import { QueryTypes, type Sequelize } from 'sequelize';
import { openDatabase } from '../../lib/records/database';
import { createTestDatabase } from './mariadb';
import { createTestSqlite } from './sqlite';

export interface TestBackend {
  dialect: 'mysql' | 'sqlite';
  url: string;
  /** A new Sequelize instance on the database; closed by cleanup(). */
  open(): Sequelize;
  /** Raw rows; datetimes come back as the text stored. */
  rows<T extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** A raw statement; returns the number of rows changed. */
  exec(sql: string, params?: unknown[]): Promise<number>;
  cleanup(): Promise<void>;
}

export async function createMariadbBackend(label = 'b'): Promise<TestBackend> {
  const db = await createTestDatabase(label);
  const opened: Sequelize[] = [];
  return {
    dialect: 'mysql',
    url: db.url,
    open() {
      const sequelize = openDatabase(db.url);
      opened.push(sequelize);
      return sequelize;
    },
    async rows<T extends object>(sql: string, params: unknown[] = []) {
      const [rows] = await db.raw.query(sql, params);
      return rows as T[];
    },
    async exec(sql: string, params: unknown[] = []) {
      const [result] = await db.raw.query(sql, params);
      return (result as { affectedRows: number }).affectedRows;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      await db.drop();
    },
  };
}

export async function createSqliteBackend(): Promise<TestBackend> {
  const file = createTestSqlite();
  const opened: Sequelize[] = [];
  const open = () => {
    const sequelize = openDatabase(file.url);
    opened.push(sequelize);
    return sequelize;
  };
  const raw = open();
  return {
    dialect: 'sqlite',
    url: file.url,
    open,
    rows<T extends object>(sql: string, params: unknown[] = []) {
      return raw.query<T>(sql, { replacements: params, type: QueryTypes.SELECT });
    },
    async exec(sql: string, params: unknown[] = []) {
      return Number(await raw.query(sql, { replacements: params, type: /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE }));
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      file.remove();
    },
  };
}
