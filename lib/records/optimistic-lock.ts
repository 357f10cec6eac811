// Read-modify-write of one JSON column under ActiveRecord's optimistic locking.
//
// The gem's two JSON tables (online lists, online times) are written by Rails
// and by every faye-online process. Rails bumps `lock_version` on each update
// and only updates the version it read; we do exactly the same, so a write that
// raced with another one (ours or Rails') affects no row, and we re-read and
// apply our change again on top of theirs instead of overwriting it.
import { UniqueConstraintError } from 'sequelize';
import { FayeOnlineError } from '../errors';
import { formatDateTime } from './legacy-format';
import { atomically, type Sql } from './sql';

export type LockedTableName = 'faye_channel_online_lists' | 'faye_user_online_times';

export interface LockObserver {
  /**
   * Called after a row was read and before the UPDATE that relies on its
   * lock_version: the place where another writer can interleave (tests use it).
   */
  beforeUpdate?(write: { table: LockedTableName; id: number; lockVersion: number | null }): void | Promise<void>;
  /** Called when an UPDATE lost the race and the change is retried. */
  onConflict?(conflict: { table: LockedTableName; id: number; attempt: number }): void;
  /**
   * Called right after a multi-row UPDATE, in its transaction, before its rows
   * are read back (tests race it).
   */
  afterUpdateMany?(update: { table: LockedTableName; ids: number[] }): void | Promise<void>;
  /** Called before one INSERT creates the rows of several keys found without one (tests race it). */
  beforeCreate?(create: { table: LockedTableName; keys: number[] }): void | Promise<void>;
}

/** What a change decides for the current value: the value to write (if any) and the caller's result. */
export interface Change<R> {
  write?: string;
  result: R;
}

export interface Row {
  id: number;
  lockVersion: number | null;
  value: string | null;
}

export interface LockedTableOptions {
  table: LockedTableName;
  /** The column that names the row's owner: channel_id or user_id. */
  keyColumn: 'channel_id' | 'user_id';
  valueColumn: 'user_info_list' | 'online_times';
  /**
   * Whether keyColumn has a unique index. Without one (online lists), two
   * processes may create a row for the same key at once; everybody then uses
   * the row with the lowest id and the extra, untouched row is removed.
   */
  uniqueKey: boolean;
  maxRetries: number;
  observer: LockObserver;
}

export class LockedTable {
  private readonly sql: Sql;
  private readonly options: LockedTableOptions;

  constructor(sql: Sql, options: LockedTableOptions) {
    this.sql = sql;
    this.options = options;
  }

  /** The current value for `key`, null when there is no row. */
  async read(key: number): Promise<string | null> {
    return (await this.findByKey(key))?.value ?? null;
  }

  /**
   * Applies `change` to the value of `key`'s row (null when there is no row)
   * and writes the result, retrying on conflicts. A change without `write`
   * writes nothing (and creates no row). `known`: the row as just read (null:
   * none), when the caller read many at once (readMany); a stale one only
   * costs a conflict and a retry.
   */
  async modify<R>(key: number, change: (value: string | null) => Change<R>, known?: Row | null): Promise<R> {
    let row = known === undefined ? await this.findByKey(key) : known;
    if (!row) {
      const first = change(null);
      if (first.write === undefined) return first.result;
      const created = await this.create(key, first.write);
      if (created === 'created') return first.result;
      row = created;
    }
    const { table, maxRetries, observer } = this.options;
    for (let attempt = 0; ; attempt++) {
      const next = change(row.value);
      if (next.write === undefined || next.write === row.value) return next.result;
      await observer.beforeUpdate?.({ table, id: row.id, lockVersion: row.lockVersion });
      if (await this.update(row, next.write)) return next.result;
      if (attempt >= maxRetries) {
        throw new FayeOnlineError('OPTIMISTIC_LOCK_EXHAUSTED', `${table} row ${row.id} kept changing under us: gave up after ${attempt + 1} attempts (maxRetries ${maxRetries})`);
      }
      observer.onConflict?.({ table, id: row.id, attempt: attempt + 1 });
      await jitteredBackoff(attempt);
      row = (await this.findById(row.id)) ?? (await this.findByKey(key));
      if (!row) return this.modify(key, change);
    }
  }

  /**
   * The first rows of several keys (found without one) in one INSERT; false,
   * with nothing written, when any of them exists by now (another writer
   * created it in between): the caller then writes them one by one. Only for
   * tables whose key is unique.
   */
  async createMany(rows: ReadonlyArray<{ key: number; value: string }>): Promise<boolean> {
    const { table, keyColumn, valueColumn, uniqueKey, observer } = this.options;
    if (!uniqueKey) throw new Error(`${table}: createMany needs a unique ${keyColumn}`);
    await observer.beforeCreate?.({ table, keys: rows.map((row) => row.key) });
    const now = formatDateTime(new Date());
    try {
      await this.sql.insert(
        `INSERT INTO ${table} (${keyColumn}, ${valueColumn}, lock_version, created_at, updated_at) VALUES ${rows.map(() => '(?, ?, 0, ?, ?)').join(', ')}`,
        rows.flatMap((row) => [row.key, row.value, now, now]),
      );
      return true;
    } catch (error) {
      // One statement: a duplicate key wrote none of the rows.
      if (error instanceof UniqueConstraintError) return false;
      throw error;
    }
  }

  /** Inserts the first row for `key`; on a lost creation race, returns the row to update instead. */
  private async create(key: number, value: string): Promise<'created' | Row> {
    const { table, keyColumn, valueColumn, uniqueKey } = this.options;
    const now = formatDateTime(new Date());
    let id: number;
    try {
      id = await this.sql.insert(`INSERT INTO ${table} (${keyColumn}, ${valueColumn}, lock_version, created_at, updated_at) VALUES (?, ?, 0, ?, ?)`, [key, value, now, now]);
    } catch (error) {
      if (!(uniqueKey && error instanceof UniqueConstraintError)) throw error;
      const winner = await this.findByKey(key);
      if (!winner) throw error;
      return winner;
    }
    if (uniqueKey) return 'created';
    const first = await this.findByKey(key);
    if (!first || first.id === id) return 'created';
    // Another process created a row for this key before ours: theirs wins.
    // Ours is dropped unless somebody already wrote to it (lock_version moved).
    await this.sql.change(`DELETE FROM ${table} WHERE id = ? AND lock_version = 0`, [id]);
    return first;
  }

  /** ActiveRecord's locked update: true if our version was still current. */
  private async update(row: Row, value: string): Promise<boolean> {
    const { table, valueColumn } = this.options;
    const now = formatDateTime(new Date());
    // Rails treats a NULL lock_version as 0 when bumping it and matches it with IS NULL.
    const [match, params] = row.lockVersion === null ? ['lock_version IS NULL', []] : ['lock_version = ?', [row.lockVersion]];
    const changed = await this.sql.change(
      `UPDATE ${table} SET ${valueColumn} = ?, lock_version = ?, updated_at = ? WHERE id = ? AND ${match}`,
      [value, (row.lockVersion ?? 0) + 1, now, row.id, ...params],
    );
    return changed === 1;
  }

  /**
   * New values for several rows in one UPDATE, under the same rule as
   * `modify` row by row: a row is written only at the lock_version it was
   * read at, and the write bumps it. Returns the ids written. A row another
   * writer changed since it was read is not written; the caller writes it
   * again on its own (`modify`), on top of the other write.
   *
   * When fewer rows changed than were sent, ours are told apart by reading the
   * rows back in the same transaction: at the version after the one read,
   * holding our value.
   */
  async updateMany(writes: ReadonlyArray<{ row: Row; value: string }>): Promise<Set<number>> {
    const { table, valueColumn, observer } = this.options;
    if (writes.length === 0) return new Set();
    for (const { row } of writes) await observer.beforeUpdate?.({ table, id: row.id, lockVersion: row.lockVersion });
    // Rails treats a NULL lock_version as 0 when bumping it and matches it with IS NULL.
    const matches = writes.map(({ row }) => (row.lockVersion === null ? '(id = ? AND lock_version IS NULL)' : '(id = ? AND lock_version = ?)'));
    // In one transaction: the rows the UPDATE changed stay locked until the
    // read-back, so each is read as this UPDATE left it. Outside one, another
    // writer's next version could hide whether ours landed, and a change
    // applied again on top of itself would start or stop a timer twice.
    return atomically(this.sql.sequelize, async (transaction) => {
      const sql = this.sql.within(transaction);
      const changed = await sql.change(
        `UPDATE ${table} SET ${valueColumn} = CASE id ${writes.map(() => 'WHEN ? THEN ?').join(' ')} END, ` +
          `lock_version = COALESCE(lock_version, 0) + 1, updated_at = ? WHERE ${matches.join(' OR ')}`,
        [
          ...writes.flatMap(({ row, value }) => [row.id, value]),
          formatDateTime(new Date()),
          ...writes.flatMap(({ row }) => (row.lockVersion === null ? [row.id] : [row.id, row.lockVersion])),
        ],
      );
      const ids = new Set(writes.map(({ row }) => row.id));
      await observer.afterUpdateMany?.({ table, ids: [...ids] });
      if (changed === writes.length) return ids;
      const current = await sql.select<{ id: number; lockVersion: number | null; value: string | null }>(
        `SELECT id, lock_version AS lockVersion, ${valueColumn} AS value FROM ${table} WHERE id IN (?)`, [[...ids]]);
      const now = new Map(current.map((row) => [Number(row.id), row]));
      const written = new Set<number>();
      for (const { row, value } of writes) {
        const after = now.get(row.id);
        if (after && Number(after.lockVersion) === (row.lockVersion ?? 0) + 1 && after.value === value) written.add(row.id);
        else observer.onConflict?.({ table, id: row.id, attempt: 1 });
      }
      return written;
    });
  }

  /** The rows of many keys in one statement (the lowest id per key, as findByKey); a key without a row is missing. */
  async readMany(keys: readonly number[]): Promise<Map<number, Row>> {
    const { table, keyColumn, valueColumn } = this.options;
    const found = new Map<number, Row>();
    if (keys.length === 0) return found;
    const rows = await this.sql.select<{ id: number; keyValue: number; lockVersion: number | null; value: string | null }>(
      `SELECT id, ${keyColumn} AS keyValue, lock_version AS lockVersion, ${valueColumn} AS value FROM ${table} WHERE ${keyColumn} IN (?) ORDER BY id`, [[...keys]]);
    for (const row of rows) {
      const key = Number(row.keyValue);
      if (!found.has(key)) found.set(key, toRow(row));
    }
    return found;
  }

  private async findByKey(key: number): Promise<Row | null> {
    return this.findOne(`${this.options.keyColumn} = ? ORDER BY id LIMIT 1`, key);
  }

  private async findById(id: number): Promise<Row | null> {
    return this.findOne('id = ?', id);
  }

  private async findOne(where: string, param: number): Promise<Row | null> {
    const { table, valueColumn } = this.options;
    const [row] = await this.sql.select<{ id: number; lockVersion: number | null; value: string | null }>(
      `SELECT id, lock_version AS lockVersion, ${valueColumn} AS value FROM ${table} WHERE ${where}`, [param]);
    return row ? toRow(row) : null;
  }
}

function toRow(row: { id: number; lockVersion: number | null; value: string | null }): Row {
  return { id: Number(row.id), lockVersion: row.lockVersion === null ? null : Number(row.lockVersion), value: row.value };
}

function jitteredBackoff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 2 ** attempt * 2);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}
