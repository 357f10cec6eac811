// A MariaDB database of the test's own: created with a unique name, dropped after.
// Never drops a database it did not create.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const MYSQL_HOST = process.env.MYSQL_HOST || '127.0.0.1';
export const MYSQL_PORT = Number(process.env.MYSQL_PORT || 3306);
export const MYSQL_USER = process.env.MYSQL_USER || 'root';
export const MYSQL_PASSWORD = process.env.MYSQL_PASSWORD || '';

export interface TestDatabase {
  name: string;
  /** mysql://user:pass@host:port/name */
  url: string;
  /** A raw connection to this database, for assertions and "another app" writes. */
  raw: mysql.Connection;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const auth = MYSQL_PASSWORD ? `${MYSQL_USER}:${encodeURIComponent(MYSQL_PASSWORD)}` : MYSQL_USER;
  return `mysql://${auth}@${MYSQL_HOST}:${MYSQL_PORT}`;
}

export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  const name = `faye_online_test_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = await mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: MYSQL_USER, password: MYSQL_PASSWORD });
  await admin.query(`CREATE DATABASE \`${name}\` DEFAULT CHARACTER SET utf8mb3`);
  await admin.end();
  const raw = await mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: MYSQL_USER, password: MYSQL_PASSWORD, database: name, timezone: 'Z', dateStrings: true });
  return {
    name,
    url: `${serverUrl()}/${name}`,
    raw,
    async drop() {
      await raw.end().catch(() => undefined);
      const conn = await mysql.createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: MYSQL_USER, password: MYSQL_PASSWORD });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}
