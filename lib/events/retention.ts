// Retention and erasure of our own rows, in batches (a short statement each,
// so that neither holds long locks on a busy table).
//
// Erasing a user covers our own tables: faye_online_events and
// faye_online_engaged_times. The gem's faye_user_login_logs are the Rails
// app's records and are kept unless asked for (includeLoginLogs);
// faye_user_online_times (the gem's, one row of all a user's time channels)
// and the gem's Redis keys are never touched here (docs/events.md).
import { QueryTypes, type Sequelize } from 'sequelize';
import { ENGAGED_TIMES_TABLE } from '../records/engaged-times';
import { existingTables } from '../schema/layout';
import { EVENTS_TABLE } from './event';

export const DELETE_BATCH = 1000;

/** Deletes rows of `table` matching `where` in batches of `batch`; resolves to the number deleted. */
async function deleteInBatches(sequelize: Sequelize, table: string, where: string, params: Array<string | number>, batch: number, onProgress?: (deleted: number) => void): Promise<number> {
  const mysql = sequelize.getDialect() !== 'sqlite';
  // MySQL takes LIMIT on DELETE but not in an IN subquery; SQLite the other way round.
  const sql = mysql
    ? `DELETE FROM ${table} WHERE ${where} LIMIT ${batch}`
    : `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} LIMIT ${batch})`;
  let deleted = 0;
  for (;;) {
    const result = await sequelize.query(sql, { replacements: params, type: QueryTypes.BULKDELETE });
    const n = Number(result);
    deleted += n;
    onProgress?.(deleted);
    if (n < batch) return deleted;
  }
}

/** Deletes events that happened before `cutoff`; resolves to how many. */
export function deleteEventsBefore(sequelize: Sequelize, cutoff: Date, options: { batch?: number; onProgress?: (deleted: number) => void } = {}): Promise<number> {
  return deleteInBatches(sequelize, EVENTS_TABLE, 'occurred_ms < ?', [cutoff.getTime()], options.batch ?? DELETE_BATCH, options.onProgress);
}

export interface ErasurePlan {
  uid: number;
  /** Rows per table that erasure deletes (tables that do not exist are left out). */
  tables: Array<{ table: string; rows: number; ours: boolean }>;
}

const LOGIN_LOGS = { table: 'faye_user_login_logs', column: 'uid', ours: false };
const OUR_TABLES = [{ table: EVENTS_TABLE, column: 'user_id', ours: true }, { table: ENGAGED_TIMES_TABLE, column: 'user_id', ours: true }];

function tablesFor(includeLoginLogs: boolean) {
  return includeLoginLogs ? [...OUR_TABLES, LOGIN_LOGS] : OUR_TABLES;
}

/** What erasing `uid` would delete. */
export async function planErasure(sequelize: Sequelize, uid: number, options: { includeLoginLogs?: boolean } = {}): Promise<ErasurePlan> {
  const wanted = tablesFor(options.includeLoginLogs ?? false);
  const present = new Set(await existingTables(sequelize, wanted.map((t) => t.table)));
  const tables: ErasurePlan['tables'] = [];
  for (const { table, column, ours } of wanted.filter((t) => present.has(t.table))) {
    const [row] = await sequelize.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, { replacements: [uid], type: QueryTypes.SELECT });
    tables.push({ table, rows: Number(row?.n ?? 0), ours });
  }
  return { uid, tables };
}

/** Deletes `uid`'s rows from the plan's tables; resolves to the rows deleted per table. */
export async function erase(sequelize: Sequelize, plan: ErasurePlan, onProgress?: (table: string, deleted: number) => void): Promise<Array<{ table: string; deleted: number }>> {
  const done: Array<{ table: string; deleted: number }> = [];
  for (const { table } of plan.tables) {
    const column = table === LOGIN_LOGS.table ? LOGIN_LOGS.column : 'user_id';
    done.push({ table, deleted: await deleteInBatches(sequelize, table, `${column} = ?`, [plan.uid], DELETE_BATCH, (n) => onProgress?.(table, n)) });
  }
  return done;
}
