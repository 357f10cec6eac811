// Records: the gem's tables as the presence core needs them: channel ids, each
// room's online list, each user's online time per time channel, and the
// login/logout log. Rows are written exactly as the gem writes them
// (legacy-format.ts) and every update of a JSON column goes through
// ActiveRecord-style optimistic locking (optimistic-lock.ts).
//
// Records never closes the Sequelize instance: whoever opened it closes it.
import { QueryTypes, type Sequelize } from 'sequelize';
import { FayeOnlineError } from '../errors';
import { isTransientDatabaseError } from './database';
import { silentLogger, type Logger } from '../log';
import { ChannelIds } from './channels';
import {
  checkTimeZone, defaultTimeZone, elapsedSeconds, formatDateTime, formatOnlineTimes, formatStartedAt, formatUserInfoList,
  isUid, parseOnlineTimes, parseStartedAt, parseUserInfoList, runningTimeChannels, timerState, withTimerStarted, withTimerStopped,
} from './legacy-format';
import { EngagedTimes, type EngagedTime, type RunningEngagement } from './engaged-times';
import { LockedTable, type Change, type LockObserver } from './optimistic-lock';
import { Sql } from './sql';
import { isDatabaseUnavailable } from './database';
import { withEvent } from '../events/records';

export interface OnlineTime {
  /** Sum of finished sessions. */
  spentSeconds: number;
  /** When the running session started, null when the timer is stopped. */
  runningSince: Date | null;
  /** spentSeconds plus the running session up to `now`. */
  totalSeconds: number;
}

export interface LoginLogEntry {
  /** 1: the clientId came online; 0: it left. */
  status: 0 | 1;
  uid: number;
  timeChannel: string;
  clientId: string;
  at: Date;
  /** Why the clientId left (status 0): the reason of its session_end event. */
  reason?: string;
}

export interface RecordsOptions {
  sequelize: Sequelize;
  /** IANA zone of the `_started_at` strings; must match the Rails servers' TZ. Default: this process's zone. */
  timeZone?: string;
  logger?: Logger;
  /** Retries of an update that lost an optimistic-lock race before OPTIMISTIC_LOCK_EXHAUSTED. Default 30. */
  maxRetries?: number;
  /** Hooks into the optimistic locking (metrics, tests). */
  observer?: LockObserver;
  /** Write session and engaged-time events into faye_online_events with their rows (the `events` option). Default false. */
  events?: boolean;
}

export interface RecordsStats {
  /** Optimistic-lock conflicts met (each one caused a retry). */
  lockConflicts: number;
}

const DEFAULT_MAX_RETRIES = 30;

/** Bytes the gem's TEXT column faye_user_online_times.online_times holds (about 730 time channels). */
export const ONLINE_TIMES_TEXT_BYTES = 65_535;

export class Records {
  readonly sequelize: Sequelize;
  readonly timeZone: string;
  readonly stats: RecordsStats = { lockConflicts: 0 };
  private readonly sql: Sql;
  private readonly channels: ChannelIds;
  private readonly onlineLists: LockedTable;
  private readonly onlineTimes: LockedTable;
  private readonly engagedTimes: EngagedTimes;
  private readonly logger: Logger;
  private readonly events: boolean;
  /** Bytes online_times holds: the gem's TEXT until a value that does not fit makes us look (the column may be widened). */
  private onlineTimesCapacity = ONLINE_TIMES_TEXT_BYTES;

  constructor(options: RecordsOptions) {
    const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new FayeOnlineError('INVALID_OPTION', `maxRetries: expected a whole number >= 0, got ${String(options.maxRetries)}`);
    }
    this.sequelize = options.sequelize;
    this.timeZone = checkTimeZone(options.timeZone ?? defaultTimeZone());
    this.logger = options.logger ?? silentLogger;
    this.events = options.events ?? false;
    this.sql = new Sql(options.sequelize);
    this.channels = new ChannelIds(this.sql);
    const observer: LockObserver = {
      beforeUpdate: options.observer?.beforeUpdate,
      onConflict: (conflict) => {
        this.stats.lockConflicts++;
        this.logger.debug(conflict, 'optimistic lock conflict, retrying');
        options.observer?.onConflict?.(conflict);
      },
    };
    this.onlineLists = new LockedTable(this.sql, {
      table: 'faye_channel_online_lists', keyColumn: 'channel_id', valueColumn: 'user_info_list', uniqueKey: false, maxRetries, observer,
    });
    this.onlineTimes = new LockedTable(this.sql, {
      table: 'faye_user_online_times', keyColumn: 'user_id', valueColumn: 'online_times', uniqueKey: true, maxRetries, observer,
    });
    this.engagedTimes = new EngagedTimes(this.sql, this.channels);
  }

  /** The faye_channels id of a room or time channel, created on first use. */
  channelId(name: string): Promise<number> {
    return this.channels.idOf(name);
  }

  // -- online lists --------------------------------------------------------

  /** The room's online list; a room never joined has none (and is not created by asking). */
  async onlineList(room: string): Promise<number[]> {
    const channelId = await this.channels.existingIdOf(room);
    return channelId === null ? [] : parseUserInfoList(await this.onlineLists.read(channelId));
  }

  /** Adds `uid` at the end of the room's list (no-op if present or not a uid); returns the list. */
  async addToOnlineList(room: string, uid: number): Promise<number[]> {
    return this.changeOnlineList(room, (uids) => (isUid(uid) && !uids.includes(uid) ? [...uids, uid] : uids));
  }

  async removeFromOnlineList(room: string, uid: number): Promise<number[]> {
    return this.changeOnlineList(room, (uids) => uids.filter((u) => u !== uid));
  }

  /**
   * Sets the room's list to `uids`; invalid and repeated uids are dropped.
   * Reconciliation repairs a list one uid at a time; this serves fixtures
   * (tests, benchmarks) that start from a crowded room.
   */
  async replaceOnlineList(room: string, uids: readonly number[]): Promise<number[]> {
    const wanted = [...new Set(uids.filter(isUid))];
    return this.changeOnlineList(room, () => wanted);
  }

  private async changeOnlineList(room: string, edit: (uids: number[]) => number[]): Promise<number[]> {
    const channelId = await this.channelId(room);
    return this.onlineLists.modify(channelId, (value): Change<number[]> => {
      const before = parseUserInfoList(value);
      const after = edit(before);
      const unchanged = value !== null && after.length === before.length && after.every((uid, i) => uid === before[i]);
      // A room without a row gets one only when somebody joins it.
      return unchanged || (value === null && after.length === 0) ? { result: before } : { write: formatUserInfoList(after), result: after };
    });
  }

  /** Every room that has an online list row, with its uids (for reconciliation). */
  allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>> {
    return readAllOnlineLists(this.sql);
  }

  // -- online times --------------------------------------------------------

  /** Every running timer (a `_started_at` key), for reconciliation. */
  async runningTimers(): Promise<Array<{ uid: number; timeChannel: string; since: Date | null }>> {
    const rows = await this.sql.select<{ user_id: number; online_times: string | null }>(
      "SELECT user_id, online_times FROM faye_user_online_times WHERE online_times LIKE '%_started_at%'",
      [],
    );
    return rows.flatMap((row) => {
      const times = parseOnlineTimes(row.online_times);
      return runningTimeChannels(times).map((timeChannel) => ({
        uid: Number(row.user_id),
        timeChannel,
        since: this.runningSince(timerState(times, timeChannel).startedAt),
      }));
    });
  }

  /** Starts the user's timer for `timeChannel` at `at`; false if it was already running. */
  async startTimer(uid: number, timeChannel: string, at: Date): Promise<boolean> {
    return this.changeOnlineTimes(uid, timeChannel, (value): Change<boolean> => {
      const times = parseOnlineTimes(value);
      if (timerState(times, timeChannel).startedAt !== null) return { result: false };
      return { write: formatOnlineTimes(withTimerStarted(times, timeChannel, formatStartedAt(at, this.timeZone))), result: true };
    });
  }

  /** Stops the timer and adds the whole seconds since its start; null if it was not running. */
  async stopTimer(uid: number, timeChannel: string, at: Date): Promise<number | null> {
    return this.changeOnlineTimes(uid, timeChannel, (value): Change<number | null> => {
      const times = parseOnlineTimes(value);
      const since = this.runningSince(timerState(times, timeChannel).startedAt);
      if (since === null) return { result: null };
      const added = elapsedSeconds(since, at);
      return { write: formatOnlineTimes(withTimerStopped(times, timeChannel, added)), result: added };
    });
  }

  // A value longer than the column is never sent: MySQL in strict mode refuses
  // it ("Data too long"), and without strict mode it would cut the JSON and
  // lose every time of that user. Only then is the column's size looked up, as
  // an operator may have widened it (the optional widen-online-times migration).
  private async changeOnlineTimes<R>(uid: number, timeChannel: string, change: (value: string | null) => Change<R>): Promise<R> {
    for (;;) {
      const capacity = this.onlineTimesCapacity;
      let tooLong = 0;
      const result = await this.onlineTimes.modify(uid, (value) => {
        const next = change(value);
        tooLong = next.write === undefined ? 0 : Buffer.byteLength(next.write);
        if (tooLong <= capacity) tooLong = 0;
        return tooLong ? { result: next.result } : next;
      });
      if (!tooLong) return result;
      this.onlineTimesCapacity = await this.readOnlineTimesCapacity();
      if (this.onlineTimesCapacity <= capacity) {
        throw new FayeOnlineError('RECORD_TOO_LARGE',
          `the online times of user ${uid} no longer fit faye_user_online_times.online_times (${tooLong} bytes, the column holds ${capacity}): ` +
          `the timer of ${timeChannel} is not recorded; widen the column with the optional migration widen-online-times (docs/presence-rules.md)`);
      }
    }
  }

  private async readOnlineTimesCapacity(): Promise<number> {
    if (this.sequelize.getDialect() === 'sqlite') return Number.MAX_SAFE_INTEGER;
    const [row] = await this.sequelize.query<{ bytes: number | string | null }>(
      "SELECT CHARACTER_OCTET_LENGTH AS bytes FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'faye_user_online_times' AND COLUMN_NAME = 'online_times'",
      { type: QueryTypes.SELECT },
    );
    return Number(row?.bytes ?? ONLINE_TIMES_TEXT_BYTES) || ONLINE_TIMES_TEXT_BYTES;
  }

  /** Whether a failed write may succeed when tried again (see isTransientDatabaseError). */
  isTransient(error: unknown): boolean {
    return isTransientDatabaseError(error);
  }

  async onlineTime(uid: number, timeChannel: string, now: Date = new Date()): Promise<OnlineTime> {
    const state = timerState(parseOnlineTimes(await this.onlineTimes.read(uid)), timeChannel);
    const runningSince = this.runningSince(state.startedAt);
    const running = runningSince === null ? 0 : elapsedSeconds(runningSince, now);
    return { spentSeconds: state.spentSeconds, runningSince, totalSeconds: state.spentSeconds + running };
  }

  private runningSince(startedAt: string | null): Date | null {
    return startedAt === null ? null : parseStartedAt(startedAt, this.timeZone);
  }

  // -- engaged times (our own table, faye_online_engaged_times) -------------

  /** Starts the user's engaged session that began at `session` (ms); false when that or a later session was written already. */
  startEngaged(uid: number, timeChannel: string, session: number): Promise<boolean> {
    const event = { kind: 'engaged_start', uid, channel: timeChannel, occurredMs: session, reason: null } as const;
    return withEvent(this.sequelize, this.events && event, (sql) => new EngagedTimes(sql, this.channels).start(uid, timeChannel, session), this.sql);
  }

  /** Ends the engaged session that began at `session` (ms) at `at`, adding its duration (in either order with its start). */
  stopEngaged(uid: number, timeChannel: string, session: number, at: Date, reason?: string): Promise<boolean> {
    const event = { kind: 'engaged_end', uid, channel: timeChannel, occurredMs: at.getTime(), reason: reason ?? null } as const;
    return withEvent(this.sequelize, this.events && event, (sql) => new EngagedTimes(sql, this.channels).stop(uid, timeChannel, session, at), this.sql);
  }

  /** A user's engaged time in a time channel, including the running part. */
  engagedTime(uid: number, timeChannel: string, now: Date = new Date()): Promise<EngagedTime> {
    return this.engagedTimes.read(uid, timeChannel, now);
  }

  /** Every running engaged session, for reconciliation. */
  runningEngagements(): Promise<RunningEngagement[]> {
    return this.engagedTimes.running();
  }

  // -- login logs ----------------------------------------------------------

  /** One faye_user_login_logs row; channel_id is the time channel's id, `t` UTC whole seconds. */
  /** Whether `error` (from any method here) means the database could not be reached, so that the same write can succeed later. */
  isUnavailable(error: unknown): boolean {
    return isDatabaseUnavailable(error);
  }

  async writeLoginLog(entry: LoginLogEntry): Promise<void> {
    const channelId = await this.channelId(entry.timeChannel);
    const event = {
      kind: entry.status === 1 ? 'session_start' : 'session_end', uid: entry.uid, channel: entry.timeChannel,
      occurredMs: entry.at.getTime(), reason: entry.reason ?? null, clientId: entry.clientId,
    } as const;
    await withEvent(this.sequelize, this.events && event, (sql) => sql.insert(
      'INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES (?, ?, ?, ?, ?)',
      [entry.status, entry.uid, formatDateTime(entry.at), channelId, entry.clientId],
    ), this.sql);
  }
}

/**
 * Every room that has an online list row, with its uids: the one reading of
 * all lists, for reconciliation and the status report alike. When concurrent
 * creation left two rows for a room (the column has no unique key), the lowest
 * id is the row every write uses, so it is the one read.
 */
export async function readAllOnlineLists(sql: Sql): Promise<Array<{ room: string; uids: number[] }>> {
  const rows = await sql.select<{ name: string | null; user_info_list: string | null }>(
    'SELECT c.name, l.user_info_list FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id ORDER BY l.id',
    [],
  );
  const seen = new Set<string>();
  const lists: Array<{ room: string; uids: number[] }> = [];
  for (const row of rows) {
    if (!row.name || seen.has(row.name)) continue;
    seen.add(row.name);
    lists.push({ room: row.name, uids: parseUserInfoList(row.user_info_list) });
  }
  return lists;
}
