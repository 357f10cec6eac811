// Reads of the gem's tables for reports (the online lists are read by
// lib/records' readAllOnlineLists, as reconciliation reads them): online
// times of every user in one time channel, and login-log rows. Writes stay in
// lib/records; the column formats are decoded by lib/records/legacy-format.
import { QueryTypes, type Sequelize } from 'sequelize';
import { parseOnlineTimes, parseStartedAt, timerState, elapsedSeconds, formatDateTime } from '../records/legacy-format';
import type { LoginLogRow } from './sessions';

async function select<T extends object>(sequelize: Sequelize, sql: string, params: unknown[] = []): Promise<T[]> {
  return sequelize.query<T>(sql, { replacements: params, type: QueryTypes.SELECT });
}

/** id → name of faye_channels, for the given ids. */
export async function channelNames(sequelize: Sequelize, ids: number[]): Promise<Map<number, string>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const rows = await select<{ id: number; name: string | null }>(sequelize, `SELECT id, name FROM faye_channels WHERE id IN (${unique.map(() => '?').join(',')})`, unique);
  return new Map(rows.map((row) => [Number(row.id), row.name ?? '']));
}

/** The id of an existing channel, or null: reports never create channels. */
export async function findChannelId(sequelize: Sequelize, name: string): Promise<number | null> {
  const rows = await select<{ id: number }>(sequelize, 'SELECT id FROM faye_channels WHERE name = ? ORDER BY id LIMIT 1', [name]);
  return rows.length ? Number(rows[0].id) : null;
}

export interface UserOnlineTime {
  uid: number;
  spentSeconds: number;
  runningSince: Date | null;
  totalSeconds: number;
}

/** Every user's all-time online time in one time channel (faye_user_online_times), including the running part. */
export async function onlineTimesOf(sequelize: Sequelize, timeChannel: string, timeZone: string, now: Date): Promise<UserOnlineTime[]> {
  // Channel names hold letters, digits and '/' only, so the pattern needs no
  // escaping; its '_' matches any character, and the exact keys are checked
  // after parsing.
  const rows = await select<{ user_id: number | null; online_times: string | null }>(
    sequelize,
    'SELECT user_id, online_times FROM faye_user_online_times WHERE online_times LIKE ? ORDER BY user_id',
    [`%"${timeChannel}_%`],
  );
  const result: UserOnlineTime[] = [];
  for (const row of rows) {
    const times = parseOnlineTimes(row.online_times);
    if (!times.has(`${timeChannel}_spended`) && !times.has(`${timeChannel}_started_at`)) continue;
    const state = timerState(times, timeChannel);
    const runningSince = state.startedAt === null ? null : parseStartedAt(state.startedAt, timeZone);
    const running = runningSince === null ? 0 : elapsedSeconds(runningSince, now);
    result.push({ uid: Number(row.user_id), spentSeconds: state.spentSeconds, runningSince, totalSeconds: state.spentSeconds + running });
  }
  return result;
}

export interface LoginLogQuery {
  uid?: number;
  channelId?: number;
  from?: Date;
  to?: Date;
}

function where(query: LoginLogQuery, alias = ''): { clauses: string[]; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (query.uid !== undefined) { clauses.push(`${alias}uid = ?`); params.push(query.uid); }
  if (query.channelId !== undefined) { clauses.push(`${alias}channel_id = ?`); params.push(query.channelId); }
  if (query.to !== undefined) { clauses.push(`${alias}t < ?`); params.push(formatDateTime(query.to)); }
  return { clauses, params };
}

type RawLogRow = { status: number; uid: number; t: Date | string; channel_id: number; clientId: string };

const LOG_COLUMNS = 'status, uid, t, channel_id, clientId';
const LOG_ORDER = 'ORDER BY t, channel_id, uid, clientId, status DESC';

/**
 * The rows a login report over [from, to) needs: those inside the range, plus,
 * before `from`, the logins of sessions still open at `from` (buildLoginReport
 * clips them; without them their logouts would look orphaned).
 */
export async function loginLogRowsForReport(sequelize: Sequelize, query: LoginLogQuery): Promise<LoginLogRow[]> {
  const inside = where(query);
  if (query.from === undefined) {
    const sql = `SELECT ${LOG_COLUMNS} FROM faye_user_login_logs${inside.clauses.length ? ` WHERE ${inside.clauses.join(' AND ')}` : ''} ${LOG_ORDER}`;
    return (await select<RawLogRow>(sequelize, sql, inside.params)).map(toRow);
  }
  const from = formatDateTime(query.from);
  const later = await select<RawLogRow>(
    sequelize,
    `SELECT ${LOG_COLUMNS} FROM faye_user_login_logs WHERE ${[...inside.clauses, 't >= ?'].join(' AND ')} ${LOG_ORDER}`,
    [...inside.params, from],
  );
  const before = where({ uid: query.uid, channelId: query.channelId }, 'l.');
  const open = await select<RawLogRow>(
    sequelize,
    `SELECT l.status, l.uid, l.t, l.channel_id, l.clientId FROM faye_user_login_logs l
      WHERE ${[...before.clauses, 'l.t < ?', 'l.status = 1'].join(' AND ')}
        AND NOT EXISTS (SELECT 1 FROM faye_user_login_logs o
                         WHERE o.uid = l.uid AND o.channel_id = l.channel_id AND o.clientId = l.clientId
                           AND o.status = 0 AND o.t >= l.t AND o.t < ?)`,
    [...before.params, from, from],
  );
  return [...open, ...later].map(toRow);
}

/** One page of raw login-log rows in time order (the gem's plain log listing). */
export async function loginLogPage(sequelize: Sequelize, query: LoginLogQuery, page: { limit: number; offset: number }): Promise<{ rows: LoginLogRow[]; more: boolean }> {
  const { clauses, params } = where(query);
  if (query.from !== undefined) { clauses.push('t >= ?'); params.push(formatDateTime(query.from)); }
  const rows = await select<RawLogRow>(
    sequelize,
    `SELECT ${LOG_COLUMNS} FROM faye_user_login_logs${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''} ${LOG_ORDER} LIMIT ? OFFSET ?`,
    [...params, page.limit + 1, page.offset],
  );
  return { rows: rows.slice(0, page.limit).map(toRow), more: rows.length > page.limit };
}

function toRow(raw: RawLogRow): LoginLogRow {
  return { status: Number(raw.status) === 1 ? 1 : 0, uid: Number(raw.uid), t: readDateTime(raw.t), channelId: Number(raw.channel_id), clientId: String(raw.clientId) };
}

/** A datetime column: a Date from MySQL (read as UTC), the stored text from SQLite. */
function readDateTime(value: Date | string): Date {
  if (value instanceof Date) return value;
  return new Date(`${String(value).replace(' ', 'T').slice(0, 19)}Z`);
}

/** When each of `uids` started their running timer in `timeChannel` (users whose timer is not running are left out). */
export async function runningSinceOf(sequelize: Sequelize, uids: readonly number[], timeChannel: string, timeZone: string): Promise<Map<number, Date>> {
  const since = new Map<number, Date>();
  // IN lists of bounded length: a whole room of 10,000 users is ten statements.
  for (let i = 0; i < uids.length; i += 1000) {
    const chunk = uids.slice(i, i + 1000);
    const rows = await select<{ user_id: number; online_times: string | null }>(
      sequelize,
      `SELECT user_id, online_times FROM faye_user_online_times WHERE user_id IN (${chunk.map(() => '?').join(',')})`,
      chunk,
    );
    for (const row of rows) {
      const startedAt = timerState(parseOnlineTimes(row.online_times), timeChannel).startedAt;
      const at = startedAt === null ? null : parseStartedAt(startedAt, timeZone);
      if (at) since.set(Number(row.user_id), at);
    }
  }
  return since;
}
