// Opening the shared database from a URL, and turning driver errors into one
// clear sentence (cause and fix) for the CLI and for startup checks.
import { resolve } from 'node:path';
import { BaseError, ConnectionError, Sequelize, TimeoutError, type Options } from 'sequelize';
import { FayeOnlineError, isFayeOnlineError } from '../errors';
import { redactUrl, type Logger } from '../log';

export type DatabaseTarget =
  | { dialect: 'mysql'; host: string; port: number; user: string; password: string; database: string }
  | { dialect: 'sqlite'; storage: string };

const URL_FORMS = 'mysql://user:pass@host:3306/db, mariadb://..., sqlite:/abs/path.sqlite or sqlite::memory:';

/** Parses a database URL; throws DATABASE_URL naming what is wrong. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const text = url.trim();
  if (/^sqlite:/i.test(text)) {
    // sqlite:/abs/path, sqlite:///abs/path, sqlite:relative/path, sqlite::memory:
    const rest = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (rest === '') throw new FayeOnlineError('DATABASE_URL', `database URL "${text}" names no SQLite file; use sqlite:/abs/path.sqlite or sqlite::memory:`);
    return { dialect: 'sqlite', storage: rest === ':memory:' ? ':memory:' : resolve(decodeURIComponent(rest)) };
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new FayeOnlineError('DATABASE_URL', `database URL "${redactUrl(text)}" is not a URL; expected ${URL_FORMS}`);
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'mysql' && scheme !== 'mariadb') {
    throw new FayeOnlineError('DATABASE_URL', `database URL scheme "${scheme}:" is not supported; expected ${URL_FORMS}`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !database || database.includes('/')) {
    throw new FayeOnlineError('DATABASE_URL', `database URL "${redactUrl(text)}" must name a host and a database, e.g. mysql://user:pass@127.0.0.1:3306/myapp`);
  }
  return {
    dialect: 'mysql',
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
  };
}

export interface OpenDatabaseOptions {
  /** SQL statements are logged at debug level on this logger when `logSql` is true. */
  logger?: Logger;
  logSql?: boolean;
  /** MySQL/MariaDB: how long to wait for the server to answer a new connection, ms. Default: the driver's (10 s). */
  connectTimeoutMs?: number;
  /** Extra Sequelize options (pool size...), merged over ours. */
  sequelize?: Options;
}

/**
 * A Sequelize instance for the shared database. A Sequelize instance passed in
 * is returned as is (the caller configured it and owns it).
 *
 * MySQL/MariaDB: datetimes are read and written in UTC (`timezone: '+00:00'`),
 * as ActiveRecord stores them. SQLite: concurrent writers wait for the lock
 * instead of failing with SQLITE_BUSY.
 */
export function openDatabase(urlOrSequelize: string | Sequelize, options: OpenDatabaseOptions = {}): Sequelize {
  if (typeof urlOrSequelize !== 'string') return urlOrSequelize;
  const target = parseDatabaseUrl(urlOrSequelize);
  const logger = options.logger;
  const logging: Options['logging'] = options.logSql && logger ? (sql: string) => logger.debug({ sql }, 'sql') : false;
  if (target.dialect === 'mysql') {
    return new Sequelize({
      dialect: 'mysql',
      host: target.host,
      port: target.port,
      username: target.user,
      password: target.password,
      database: target.database,
      timezone: '+00:00',
      logging,
      ...(options.connectTimeoutMs ? { dialectOptions: { connectTimeout: options.connectTimeoutMs } } : {}),
      ...options.sequelize,
    });
  }
  const sequelize = openSqlite({ dialect: 'sqlite', storage: target.storage, logging, ...options.sequelize });
  waitForSqliteLocks(sequelize);
  return sequelize;
}

/**
 * The SQLite driver (sqlite3) is an optional peer dependency: it compiles
 * native code, which apps on MySQL/MariaDB should not have to. Without it,
 * the embedded database says how to get it.
 */
function openSqlite(config: Options): Sequelize {
  try {
    return new Sequelize(config);
  } catch (error) {
    if (!/Please install sqlite3 package/.test((error as Error).message)) throw error;
    throw new FayeOnlineError('DATABASE_DRIVER_MISSING',
      'the embedded SQLite database needs the sqlite3 package, which faye-online leaves optional; install it with `npm install sqlite3`, ' +
      'or give a MySQL/MariaDB database (the `database` option, --url or DATABASE_URL)', { cause: error });
  }
}

const SQLITE_BUSY_TIMEOUT_MS = 10_000;

function waitForSqliteLocks(sequelize: Sequelize): void {
  // Sequelize's SQLite connection manager runs no afterConnect hook, so the
  // busy timeout is set on each new connection the first time it is used.
  const configured = new WeakSet<object>();
  sequelize.addHook('beforeQuery', (_options, query) => {
    const connection = (query as unknown as { connection?: { configure?(option: 'busyTimeout', ms: number): void } }).connection;
    if (connection?.configure && !configured.has(connection)) {
      connection.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
      configured.add(connection);
    }
  });
}

/** Where a Sequelize instance points, without the password: for messages. */
export function describeDatabase(sequelize: Sequelize): string {
  const config = sequelize.config as { host?: string; port?: string | number; database?: string; username?: string };
  if (sequelize.getDialect() === 'sqlite') return `SQLite ${((sequelize as unknown as { options: { storage?: string } }).options).storage ?? ':memory:'}`;
  return `${config.username ?? ''}@${config.host ?? 'localhost'}:${config.port ?? 3306}/${config.database ?? ''}`;
}

/**
 * Turns a connection-level failure into a FayeOnlineError whose message names
 * the cause and the fix; other errors are returned unchanged.
 */
export function toDatabaseError(error: unknown, sequelize: Sequelize): unknown {
  if (isFayeOnlineError(error) || !(error instanceof BaseError)) return error;
  const where = describeDatabase(sequelize);
  const original = (error as { original?: { code?: string; errno?: number; message?: string } }).original ?? (error as { parent?: { code?: string } }).parent ?? {};
  const code = (original as { code?: string }).code ?? '';
  const detail = (original as { message?: string }).message ?? error.message;
  const database = (sequelize.config as { database?: string }).database;
  switch (code) {
    case 'ECONNREFUSED':
      return new FayeOnlineError('DATABASE_UNREACHABLE', `cannot connect to ${where}: connection refused; start the MySQL/MariaDB server or fix host and port in the URL`, { cause: error });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FayeOnlineError('DATABASE_UNREACHABLE', `cannot connect to ${where}: host not found; fix the host name in the URL`, { cause: error });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new FayeOnlineError('DATABASE_UNREACHABLE', `cannot connect to ${where}: host unreachable (${code}); check the network or fix the host in the URL`, { cause: error });
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return new FayeOnlineError('DATABASE_AUTH', `cannot log in to ${where}: access denied; fix the user name and password in the URL or grant this user access`, { cause: error });
    case 'ER_BAD_DB_ERROR':
      return new FayeOnlineError('DATABASE_URL', `database "${database}" does not exist on ${where.replace(/\/[^/]*$/, '')}; create it (CREATE DATABASE \`${database}\` DEFAULT CHARACTER SET utf8mb3) or fix the name in the URL`, { cause: error });
    case 'SQLITE_CANTOPEN':
      return new FayeOnlineError('DATABASE_UNREACHABLE', `cannot open ${where}: check that the folder exists and is writable`, { cause: error });
  }
  if (error instanceof ConnectionError) {
    return new FayeOnlineError('DATABASE_UNREACHABLE', `cannot connect to ${where}: ${detail}`, { cause: error });
  }
  return error;
}

// Driver codes of failures that a later attempt of the same statement can
// get past: the connection dropped, or a lock or deadlock of the moment.
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN', 'SQLITE_BUSY', 'SQLITE_LOCKED',
]);

/**
 * Whether retrying a failed write may succeed. The database refusing the
 * statement itself (a value too long, a missing column) fails the same way
 * every time: retrying it only holds up the user's queue. Errors that do not
 * come from the database are taken as transient, as before.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (isFayeOnlineError(error)) return error.code === 'OPTIMISTIC_LOCK_EXHAUSTED' || error.code === 'DATABASE_UNREACHABLE';
  if (!(error instanceof BaseError)) return true;
  if (error instanceof ConnectionError || error instanceof TimeoutError) return true;
  const original = (error as { original?: { code?: string } }).original ?? (error as { parent?: { code?: string } }).parent ?? {};
  return TRANSIENT_CODES.has(original.code ?? '');
}

/** Codes of a connection that broke or could not be made, while the server restarts or fails over. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED',
  'ER_CON_COUNT_ERROR', 'ER_CLIENT_INTERACTION_TIMEOUT', 'DATABASE_UNREACHABLE',
]);

/**
 * Whether an SQL statement failed because the database could not be reached
 * (it is restarting, failing over, or the network is down), as opposed to
 * failing on its own (a deadlock, a bad value): the former is worth waiting for.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    if (current instanceof ConnectionError) return true;
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    const next = current as { original?: unknown; parent?: unknown; cause?: unknown };
    current = next.original ?? next.parent ?? next.cause;
  }
  return false;
}

