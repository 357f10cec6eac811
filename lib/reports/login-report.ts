// Reports over time: a user's logins per time channel (sessions of each tab and
// their union), and a channel's users with their online time, either all-time
// from faye_user_online_times (including the running part) or over a date
// range from the login logs.
import type { Sequelize } from 'sequelize';
import { channelNameProblem, MAX_UID } from '../core/auth';
import { FayeOnlineError } from '../errors';
import { channelNames, findChannelId, loginLogPage, loginLogRowsForReport, onlineTimesOf, type LoginLogQuery } from './queries';
import { buildLoginReport, type ChannelLoginReport, type LoginLogRow } from './sessions';
import { ENGAGED_TIMES_TABLE, engagedTimesOf } from '../records/engaged-times';
import { Sql } from '../records/sql';
import { existingTables } from '../schema/layout';

export interface ReportSource {
  sequelize: Sequelize;
  /** IANA zone of the `_started_at` strings (the `timeZone` option). */
  timeZone: string;
  /** Whether engaged time is recorded (faye_online_engaged_times). Default: whether that table exists. */
  engagement?: boolean;
}

export interface UserLoginQuery {
  uid: number;
  /** A time channel; all of them when omitted. */
  channel?: string;
  from?: Date;
  to?: Date;
  /** Open sessions count up to this time. Default: now. */
  now?: Date;
}

export interface UserChannelLogins extends ChannelLoginReport {
  channel: string;
}

export interface UserLoginReport {
  uid: number;
  from: Date | null;
  to: Date | null;
  now: Date;
  /** One entry per time channel with something inside the range, by channel id. */
  channels: UserChannelLogins[];
}

export async function userLoginReport(source: ReportSource, query: UserLoginQuery): Promise<UserLoginReport> {
  checkUid(query.uid);
  const now = checkRange(query);
  const empty = { uid: query.uid, from: query.from ?? null, to: query.to ?? null, now, channels: [] };
  const channelId = await channelFilter(source, query.channel);
  if (channelId === null) return empty;
  const rows = await loginLogRowsForReport(source.sequelize, { uid: query.uid, channelId, from: query.from, to: query.to });
  const report = buildLoginReport(rows, { now, from: query.from, to: query.to });
  const names = await channelNames(source.sequelize, report.channels.map((c) => c.channelId));
  return { ...empty, channels: report.channels.map((c) => ({ channel: names.get(c.channelId) ?? `#${c.channelId}`, ...c })) };
}

export interface ChannelReportQuery {
  /** A time channel. */
  channel: string;
  /**
   * Without from/to: all-time totals from faye_user_online_times (and engaged
   * time). With either: the union of logged sessions inside the range (engaged
   * time has no history to cut a range from).
   */
  from?: Date;
  to?: Date;
  now?: Date;
}

export interface ChannelUserTime {
  uid: number;
  totalSeconds: number;
  /** All-time reports only: finished sessions, and the start of the running one. */
  spentSeconds?: number;
  runningSince?: Date | null;
  /** All-time reports with engaged time recorded: the user's engaged time, including the running part (0 when never engaged). */
  engagedSeconds?: number;
}

export interface ChannelReport {
  channel: string;
  from: Date | null;
  to: Date | null;
  now: Date;
  source: 'onlineTimes' | 'loginLogs';
  /** Most online time first, then by uid. */
  users: ChannelUserTime[];
  /** Sum over the users (each user's own overlapping tabs count once). */
  totalSeconds: number;
}

export async function channelReport(source: ReportSource, query: ChannelReportQuery): Promise<ChannelReport> {
  checkChannel(query.channel, 'channel');
  const now = checkRange(query);
  const ranged = query.from !== undefined || query.to !== undefined;
  let users: ChannelUserTime[];
  if (!ranged) {
    users = await onlineTimesOf(source.sequelize, query.channel, source.timeZone, now);
    if (source.engagement ?? (await existingTables(source.sequelize, [ENGAGED_TIMES_TABLE])).length > 0) {
      const engaged = await engagedTimesOf(new Sql(source.sequelize), query.channel, now);
      for (const user of users) user.engagedSeconds = engaged.get(user.uid)?.totalSeconds ?? 0;
    }
  } else {
    const channelId = await findChannelId(source.sequelize, query.channel);
    const rows = channelId === null ? [] : await loginLogRowsForReport(source.sequelize, { channelId, from: query.from, to: query.to });
    users = buildLoginReport(rows, { now, from: query.from, to: query.to }).channels.map((c) => ({ uid: c.uid, totalSeconds: c.totalSeconds }));
  }
  users.sort((a, b) => b.totalSeconds - a.totalSeconds || a.uid - b.uid);
  return {
    channel: query.channel,
    from: query.from ?? null,
    to: query.to ?? null,
    now,
    source: ranged ? 'loginLogs' : 'onlineTimes',
    users,
    totalSeconds: users.reduce((sum, u) => sum + u.totalSeconds, 0),
  };
}

export interface LoginLogListQuery {
  uid?: number;
  channel?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
}

export interface LoginLogListEntry extends LoginLogRow {
  channel: string;
}

/** Raw login-log rows in time order, one page at a time. */
export async function loginLogList(source: ReportSource, query: LoginLogListQuery): Promise<{ rows: LoginLogListEntry[]; more: boolean }> {
  if (query.uid !== undefined) checkUid(query.uid);
  checkRange(query);
  if (!Number.isInteger(query.limit) || query.limit < 1) throw invalid(`limit must be a positive integer, got ${query.limit}`);
  if (!Number.isInteger(query.offset) || query.offset < 0) throw invalid(`offset must be a whole number >= 0, got ${query.offset}`);
  const channelId = await channelFilter(source, query.channel);
  if (channelId === null) return { rows: [], more: false };
  const filter: LoginLogQuery = { uid: query.uid, channelId, from: query.from, to: query.to };
  const page = await loginLogPage(source.sequelize, filter, query);
  const names = await channelNames(source.sequelize, page.rows.map((r) => r.channelId));
  return { rows: page.rows.map((row) => ({ ...row, channel: names.get(row.channelId) ?? `#${row.channelId}` })), more: page.more };
}

/** undefined: no filter; null: the channel does not exist (nothing can match). */
async function channelFilter(source: ReportSource, channel: string | undefined): Promise<number | undefined | null> {
  if (channel === undefined) return undefined;
  checkChannel(channel, 'channel');
  return findChannelId(source.sequelize, channel);
}

function invalid(message: string): FayeOnlineError {
  return new FayeOnlineError('INVALID_OPTION', message);
}

function checkUid(uid: unknown): void {
  if (typeof uid !== 'number' || !Number.isInteger(uid) || uid <= 0 || uid > MAX_UID) throw invalid(`uid must be a positive integer, got ${String(uid)}`);
}

function checkChannel(channel: unknown, name: string): void {
  const problem = channelNameProblem(channel);
  if (problem) throw invalid(`${name} ${problem}, got ${JSON.stringify(channel)}`);
}

function checkRange(query: { from?: Date; to?: Date; now?: Date }): Date {
  for (const key of ['from', 'to', 'now'] as const) {
    const value = query[key];
    if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) throw invalid(`${key} must be a valid date`);
  }
  if (query.from && query.to && query.from.getTime() > query.to.getTime()) {
    throw invalid(`from (${query.from.toISOString()}) is after to (${query.to.toISOString()})`);
  }
  return query.now ?? new Date();
}
