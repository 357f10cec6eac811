// The layout the gem's migrations give on MariaDB (as Rails 3.2/4.0 created
// them: SHOW CREATE TABLE of those tables, written down as data), the same
// layout read back from a live database, and the comparison `migrate adopt`
// uses before it trusts tables it did not create.
import { QueryTypes, type Sequelize } from 'sequelize';
import { isMysql } from './ddl';

export interface ColumnLayout {
  name: string;
  /** As information_schema.COLUMNS.COLUMN_TYPE prints it on MariaDB: `int(11)`, `varchar(255)`. */
  type: string;
  nullable: boolean;
  /** COLUMN_DEFAULT as text, null when there is none or it is NULL. */
  default: string | null;
  autoIncrement: boolean;
}

export interface IndexLayout {
  name: string;
  columns: string[];
  unique: boolean;
}

export interface TableLayout {
  name: string;
  engine: string;
  collation: string;
  columns: ColumnLayout[];
  /** Sorted by name (code-unit order, so PRIMARY, the primary key, comes first). */
  indexes: IndexLayout[];
}

const col = (name: string, type: string, nullable: boolean, dflt: string | null = null, autoIncrement = false): ColumnLayout =>
  ({ name, type, nullable, default: dflt, autoIncrement });
const id = col('id', 'int(11)', false, null, true);
const timestamps = [col('created_at', 'datetime', false), col('updated_at', 'datetime', false)];
const primary: IndexLayout = { name: 'PRIMARY', columns: ['id'], unique: true };
const COLLATION = 'utf8mb3_general_ci';

export const EXPECTED_LAYOUT: readonly TableLayout[] = [
  {
    name: 'faye_channels', engine: 'MyISAM', collation: COLLATION,
    columns: [id, col('name', 'varchar(255)', true), ...timestamps],
    indexes: [primary, { name: 'index_faye_channels_on_name', columns: ['name'], unique: true }],
  },
  {
    name: 'faye_channel_online_lists', engine: 'InnoDB', collation: COLLATION,
    columns: [id, col('channel_id', 'int(11)', true, '0'), col('user_info_list', 'text', true), col('lock_version', 'int(11)', true, '0'), ...timestamps],
    indexes: [primary, { name: 'index_faye_channel_online_lists_on_channel_id', columns: ['channel_id'], unique: false }],
  },
  {
    name: 'faye_user_online_times', engine: 'InnoDB', collation: COLLATION,
    columns: [id, col('user_id', 'int(11)', true, '0'), col('online_times', 'text', true), col('lock_version', 'int(11)', true, '0'), ...timestamps],
    indexes: [primary, { name: 'index_faye_user_online_times_on_user_id', columns: ['user_id'], unique: true }],
  },
  {
    name: 'faye_user_login_logs', engine: 'InnoDB', collation: COLLATION,
    columns: [col('status', 'smallint(6)', true), col('uid', 'int(11)', true), col('t', 'datetime', true), col('channel_id', 'int(11)', true), col('clientId', 'varchar(255)', true)],
    indexes: [{ name: 'idx_all', columns: ['t', 'channel_id', 'uid'], unique: false }],
  },
  // Ours, not the gem's (migrations/20261128190000_create_faye_online_engaged_times.ts).
  {
    name: 'faye_online_engaged_times', engine: 'InnoDB', collation: COLLATION,
    columns: [
      col('id', 'int(11)', false, null, true), col('user_id', 'int(11)', false), col('channel_id', 'int(11)', false),
      col('engaged_ms', 'bigint(20)', false, '0'), col('engaged_since_ms', 'bigint(20)', true), col('last_session_ms', 'bigint(20)', true), col('lock_version', 'int(11)', false, '0'), ...timestamps,
    ],
    indexes: [
      primary,
      { name: 'index_faye_online_engaged_times_on_channel_id', columns: ['channel_id'], unique: false },
      { name: 'index_faye_online_engaged_times_on_user_id_and_channel_id', columns: ['user_id', 'channel_id'], unique: true },
    ],
  },
  // Ours (migrations/20261130100000_create_faye_online_webhooks.ts).
  {
    name: 'faye_online_webhook_cursors', engine: 'InnoDB', collation: COLLATION,
    columns: [
      id, col('name', 'varchar(64)', false), col('cursor_id', 'bigint(20)', false, '0'), col('kinds', 'varchar(255)', true), col('holder', 'varchar(128)', true),
      col('lease_until_ms', 'bigint(20)', true), col('lease_version', 'int(11)', false, '0'), col('attempts', 'int(11)', false, '0'),
      col('failing_since_ms', 'bigint(20)', true), col('next_attempt_ms', 'bigint(20)', true), col('last_error', 'varchar(255)', true),
      col('delivered_count', 'bigint(20)', false, '0'), ...timestamps,
    ],
    indexes: [primary, { name: 'index_faye_online_webhook_cursors_on_name', columns: ['name'], unique: true }],
  },
  {
    name: 'faye_online_webhook_dead_letters', engine: 'InnoDB', collation: COLLATION,
    columns: [
      id, col('event_id', 'bigint(20)', false), col('state', 'varchar(16)', false), col('attempts', 'int(11)', false, '0'),
      col('last_error', 'varchar(255)', true), col('died_at_ms', 'bigint(20)', false), ...timestamps,
    ],
    indexes: [
      primary,
      { name: 'index_faye_online_webhook_dead_letters_on_event_id', columns: ['event_id'], unique: true },
      { name: 'index_faye_online_webhook_dead_letters_on_state', columns: ['state'], unique: false },
    ],
  },
  // Ours (migrations/20261130090000_create_faye_online_events.ts).
  {
    name: 'faye_online_events', engine: 'InnoDB', collation: COLLATION,
    columns: [
      col('id', 'bigint(20)', false, null, true), col('event_key', 'varchar(64)', false), col('kind', 'varchar(16)', false),
      col('user_id', 'int(11)', true), col('channel', 'varchar(255)', false), col('occurred_ms', 'bigint(20)', false),
      col('reason', 'varchar(32)', true), col('seq', 'bigint(20)', true), col('client_id', 'varchar(64)', true), col('created_at', 'datetime', false),
    ],
    indexes: [
      primary,
      { name: 'index_faye_online_events_on_channel_and_occurred_ms', columns: ['channel', 'occurred_ms'], unique: false },
      { name: 'index_faye_online_events_on_event_key', columns: ['event_key'], unique: true },
      { name: 'index_faye_online_events_on_occurred_ms', columns: ['occurred_ms'], unique: false },
      { name: 'index_faye_online_events_on_user_id_and_occurred_ms', columns: ['user_id', 'occurred_ms'], unique: false },
    ],
  },
];

export function expectedTable(name: string): TableLayout {
  const table = EXPECTED_LAYOUT.find((t) => t.name === name);
  if (!table) throw new Error(`no expected layout for table ${name}`);
  return table;
}

/** Which of `names` exist in the connected database. */
export async function existingTables(sequelize: Sequelize, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = isMysql(sequelize)
    ? await sequelize.query<{ name: string }>('SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)', { replacements: [names], type: QueryTypes.SELECT })
    : await sequelize.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?)", { replacements: [names], type: QueryTypes.SELECT });
  const found = new Set(rows.map((r) => r.name));
  return names.filter((n) => found.has(n));
}

/**
 * Reads the layout of `names` from the database (missing tables are left out).
 * On SQLite, engine and collation are '' and column types are as declared.
 */
export async function readLayout(sequelize: Sequelize, names: readonly string[]): Promise<TableLayout[]> {
  return isMysql(sequelize) ? readMysqlLayout(sequelize, names) : readSqliteLayout(sequelize, names);
}

async function readMysqlLayout(sequelize: Sequelize, names: readonly string[]): Promise<TableLayout[]> {
  const select = <T extends object>(sql: string) => sequelize.query<T>(sql, { replacements: [names], type: QueryTypes.SELECT });
  const [tables, columns, statistics] = await Promise.all([
    select<{ tableName: string; engine: string; collation: string }>(
      'SELECT TABLE_NAME AS tableName, ENGINE AS engine, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)'),
    select<{ tableName: string; name: string; type: string; nullable: string; dflt: string | null; extra: string }>(
      'SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, ORDINAL_POSITION'),
    select<{ tableName: string; name: string; nonUnique: number | string; column: string }>(
      'SELECT TABLE_NAME AS tableName, INDEX_NAME AS name, NON_UNIQUE AS nonUnique, COLUMN_NAME AS `column` FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX'),
  ]);
  return names.flatMap((name) => {
    const table = tables.find((t) => t.tableName === name);
    if (!table) return [];
    return [{
      name,
      engine: table.engine,
      collation: table.collation,
      columns: columns.filter((c) => c.tableName === name).map((c) => ({
        name: c.name,
        type: c.type,
        nullable: c.nullable === 'YES',
        // MariaDB reports an explicit DEFAULT NULL as the text 'NULL', MySQL as NULL.
        default: c.dflt === null || c.dflt === 'NULL' ? null : String(c.dflt).replace(/^'(.*)'$/, '$1'),
        autoIncrement: /auto_increment/i.test(c.extra),
      })),
      indexes: groupIndexes(statistics.filter((s) => s.tableName === name).map((s) => ({ name: s.name, unique: Number(s.nonUnique) === 0, column: s.column }))),
    }];
  });
}

async function readSqliteLayout(sequelize: Sequelize, names: readonly string[]): Promise<TableLayout[]> {
  const present = await existingTables(sequelize, names);
  const layouts: TableLayout[] = [];
  for (const name of present) {
    const pragma = <T extends object>(sql: string) => sequelize.query<T>(sql, { type: QueryTypes.SELECT });
    const columns = await pragma<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>(`PRAGMA table_info(${quote(name)})`);
    const indexList = await pragma<{ name: string; unique: number; origin: string }>(`PRAGMA index_list(${quote(name)})`);
    const entries: { name: string; unique: boolean; column: string }[] = [];
    for (const index of indexList.filter((i) => i.origin === 'c')) {
      const info = await pragma<{ seqno: number; name: string }>(`PRAGMA index_info(${quote(index.name)})`);
      for (const c of info.sort((a, b) => a.seqno - b.seqno)) entries.push({ name: index.name, unique: index.unique === 1, column: c.name });
    }
    for (const c of columns.filter((c) => c.pk > 0)) entries.push({ name: 'PRIMARY', unique: true, column: c.name });
    layouts.push({
      name,
      engine: '',
      collation: '',
      columns: columns.map((c) => ({
        name: c.name,
        type: c.type.toLowerCase(),
        nullable: c.notnull === 0 && c.pk === 0,
        default: c.dflt_value === null || /^null$/i.test(c.dflt_value) ? null : c.dflt_value.replace(/^'(.*)'$/, '$1'),
        autoIncrement: c.pk > 0 && /^integer$/i.test(c.type),
      })),
      indexes: groupIndexes(entries),
    });
  }
  return layouts;
}

function groupIndexes(entries: { name: string; unique: boolean; column: string }[]): IndexLayout[] {
  const byName = new Map<string, IndexLayout>();
  for (const e of entries) {
    const index = byName.get(e.name) ?? { name: e.name, columns: [], unique: e.unique };
    index.columns.push(e.column);
    byName.set(e.name, index);
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export interface LayoutComparison {
  refused: string[];
  accepted: string[];
}

/**
 * How an actual table differs from the expected one, in two lists of sentences:
 * `refused`, what would break the gem or this package (a missing column, a
 * narrower type, a NOT NULL column nobody fills, a missing unique index...), and
 * `accepted`, what ActiveRecord and this package treat the same: another
 * engine, utf8mb4 or another collation of UTF-8, wider integer and text types,
 * fractional-second datetimes, extra nullable (or defaulted) columns, a missing
 * plain index, another default. Nullable timestamps (Rails 4.2) and integer
 * display widths (MySQL 8 prints `int`) are not even mentioned. On SQLite only
 * columns, nullability and indexes are compared (types are mere affinities).
 */
export function compareLayout(expected: TableLayout, actual: TableLayout | undefined, dialect: 'mysql' | 'sqlite'): LayoutComparison {
  const t = expected.name;
  const refused: string[] = [];
  const accepted: string[] = [];
  if (!actual) return { refused: [`table ${t} is missing`], accepted };
  if (dialect === 'mysql') {
    if (actual.engine.toLowerCase() !== expected.engine.toLowerCase()) accepted.push(`${t}: ENGINE=${actual.engine} (the gem's is ${expected.engine})`);
    const charset = charsetOf(actual.collation);
    if (!UTF8.includes(charset)) refused.push(`${t}: character set ${charset} cannot hold every channel name (expected utf8mb3 or utf8mb4)`);
    else if (charset !== charsetOf(expected.collation)) accepted.push(`${t}: collation ${actual.collation} (the gem's is ${expected.collation})`);
  }
  for (const want of expected.columns) {
    const have = actual.columns.find((c) => c.name === want.name);
    const where = `${t}.${want.name}`;
    if (!have) {
      refused.push(`${where}: column is missing`);
      continue;
    }
    if (dialect === 'mysql') {
      const widened = typeFits(have.type, want.type);
      if (widened === 'narrower') refused.push(`${where}: type ${have.type} cannot hold what ${want.type} holds`);
      else if (widened === 'wider') accepted.push(`${where}: type ${have.type} (the gem's is ${want.type})`);
    }
    const timestamp = want.name === 'created_at' || want.name === 'updated_at';
    if (have.nullable !== want.nullable && !(timestamp && have.nullable)) {
      if (have.nullable) accepted.push(`${where}: NULL allowed (the gem's is NOT NULL)`);
      else if (have.default === null && !have.autoIncrement) refused.push(`${where}: NOT NULL without a default, but the gem leaves it NULL`);
      else accepted.push(`${where}: NOT NULL (the gem's allows NULL)`);
    }
    if (have.default !== want.default) {
      // ActiveRecord's optimistic locking counts from lock_version's default.
      const sentence = `${where}: DEFAULT ${have.default ?? 'NULL'} (the gem's is DEFAULT ${want.default ?? 'NULL'})`;
      (want.name === 'lock_version' ? refused : accepted).push(sentence);
    }
    if (have.autoIncrement !== want.autoIncrement) refused.push(`${where}: ${have.autoIncrement ? 'AUTO_INCREMENT' : 'not AUTO_INCREMENT'}, the gem's is ${want.autoIncrement ? 'AUTO_INCREMENT' : 'not'}`);
  }
  for (const extra of actual.columns.filter((c) => !expected.columns.some((w) => w.name === c.name))) {
    const filled = extra.nullable || extra.default !== null || extra.autoIncrement;
    if (filled) accepted.push(`${t}.${extra.name}: extra column ${extra.type}${extra.nullable ? '' : ' NOT NULL'} (left to its default)`);
    else refused.push(`${t}.${extra.name}: extra column ${extra.type} NOT NULL without a default: every row this package inserts would fail`);
  }
  const describe = (i: IndexLayout) => `${i.unique ? 'UNIQUE ' : ''}(${i.columns.join(', ')})`;
  for (const want of expected.indexes) {
    // Matched by columns: the name does not matter to either side.
    const same = actual.indexes.filter((i) => i.columns.join(',') === want.columns.join(','));
    if (same.some((i) => i.unique === want.unique || (i.unique && !want.unique))) {
      if (!same.some((i) => i.name === want.name)) accepted.push(`${t}: index ${describe(want)} is named ${same[0].name} (the gem's name is ${want.name})`);
      continue;
    }
    // A unique index is what makes concurrent first uses end with one row.
    if (want.unique) refused.push(`${t}: no unique index on (${want.columns.join(', ')}) (${want.name}); concurrent writers would create duplicate rows`);
    else accepted.push(`${t}: no index ${want.name} ${describe(want)}; reads are slower`);
  }
  return { refused, accepted };
}

const UTF8 = ['utf8mb3', 'utf8mb4'];

const INTEGER_RANK = ['tinyint', 'smallint', 'mediumint', 'int', 'bigint'];
const TEXT_RANK = ['tinytext', 'text', 'mediumtext', 'longtext'];

/** Whether a column of type `have` holds every value of `want`: 'same', 'wider' or 'narrower'. */
function typeFits(have: string, want: string): 'same' | 'wider' | 'narrower' {
  const a = parseType(have);
  const b = parseType(want);
  if (a.base === b.base && a.size === b.size) return 'same';
  const rank = (list: string[]) => (list.includes(a.base) && list.includes(b.base) ? list.indexOf(a.base) - list.indexOf(b.base) : null);
  const integer = rank(INTEGER_RANK);
  if (integer !== null) return integer >= 0 && a.unsigned === b.unsigned ? 'wider' : 'narrower';
  if (a.base === 'datetime' && b.base === 'datetime') return 'wider'; // datetime(6): fractional seconds, same values
  if (b.base === 'varchar') {
    if (a.base === 'varchar') return (a.size ?? 0) >= (b.size ?? 0) ? 'wider' : 'narrower';
    return TEXT_RANK.includes(a.base) && a.base !== 'tinytext' ? 'wider' : 'narrower';
  }
  const text = rank(TEXT_RANK);
  if (text !== null) return text >= 0 ? 'wider' : 'narrower';
  return 'narrower';
}

function parseType(type: string): { base: string; size: number | null; unsigned: boolean } {
  const match = /^(\w+)(?:\((\d+)\))?\s*(unsigned)?/i.exec(type.trim().toLowerCase());
  if (!match) return { base: type.toLowerCase(), size: null, unsigned: false };
  const base = match[1];
  // Display widths of integers (int(11)) say nothing about what they hold.
  const size = INTEGER_RANK.includes(base) || match[2] === undefined ? null : Number(match[2]);
  return { base, size: base === 'datetime' ? Number(match[2] ?? 0) : size, unsigned: Boolean(match[3]) };
}

function charsetOf(collation: string): string {
  const charset = collation.toLowerCase().split('_', 1)[0];
  return charset === 'utf8' ? 'utf8mb3' : charset;
}
