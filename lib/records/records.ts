// Records: the gem's tables as the presence core needs them: channel ids, each
// room's online list, each user's online time per time channel, and the
// login/logout log. Rows are written exactly as the gem writes them
// (legacy-format.ts) and every update of a JSON column goes through
// ActiveRecord-style optimistic locking (optimistic-lock.ts).
//
// Records never closes the Sequelize instance: whoever opened it closes it.
import { QueryTypes, type Sequelize } from 'sequelize';
import { FayeOnlineError, isFayeOnlineError } from '../errors';
import { isTransientDatabaseError } from './database';
import { silentLogger, type Logger } from '../log';
import { ChannelIds } from './channels';
import {
  checkTimeZone, defaultTimeZone, elapsedSeconds, formatDateTime, formatOnlineTimes, formatStartedAt, formatUserInfoList,
  isUid, parseOnlineTimes, parseStartedAt, parseUserInfoList, runningTimeChannels, timerState, withTimerStarted, withTimerStopped,
} from './legacy-format';
import { EngagedTimes, type EngagedTime, type RunningEngagement } from './engaged-times';
import { GroupCommit, KeyedGroupCommit, type Pending } from './group-commit';
import { LockedTable, type Change, type LockObserver, type Row } from './optimistic-lock';
import { Sql } from './sql';
import { isDatabaseUnavailable } from './database';
import { withEvent, withEvents } from '../events/records';

export interface RunningTimer {
  uid: number;
  timeChannel: string;
  /** When the running session started (null when the stored start cannot be read). */
  since: Date | null;
}

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
  /**
   * Under load, the writes of this window go out together, ms (group-commit.ts):
   * a write alone goes out at once, the next batch no sooner than this after
   * the last one started. Default 50 (20 cost a 1,000-user storm a third more
   * statements per join, and half a millisecond of CPU each).
   */
  batchWindowMs?: number;
  /** Write session and engaged-time events into faye_online_events with their rows (the `events` option). Default false. */
  events?: boolean;
}

export interface RecordsStats {
  /** Optimistic-lock conflicts met (each one caused a retry). */
  lockConflicts: number;
}

const DEFAULT_MAX_RETRIES = 30;
/** Users whose online times one batch reads with one SELECT ... IN. */
const TIMER_BATCH = 500;
/**
 * Bytes of new online times in one multi-row UPDATE. A user's online times can
 * hold tens of KB after years of lessons: 500 of them in one statement could
 * pass the server's max_allowed_packet (4 MB by default before MySQL 8 and
 * MariaDB 10.2), so a batch's UPDATE is split to stay far below it.
 */
const TIMES_UPDATE_BYTES = 1 << 20;
/** Login log rows in one INSERT. */
const LOGIN_LOG_BATCH = 500;
/** Edits of one room's list in one write (each is a few array operations). */
const LIST_BATCH = 10_000;
/** Under load, batches of one kind (and of one room) start at most this often, ms (see batchWindowMs). */
const DEFAULT_BATCH_WINDOW_MS = 50;
/**
 * A crowded room's list costs O(members) to read, edit and send on every
 * write (and MySQL as much to store), so its window grows by this much per
 * member: 250 ms at 5,000 members, half the window of its user_list messages.
 */
const LIST_WINDOW_MS_PER_MEMBER = 0.05;

/** One edit of a room's list, applied in place: a Set keeps the list's order (new uids at the end) and makes each edit O(1). */
type ListEdit = (uids: Set<number>) => void;
interface TimerChange {
  timeChannel: string;
  change: (value: string | null) => Change<unknown>;
}

/** Bytes the gem's TEXT column faye_user_online_times.online_times holds (about 730 time channels). */
export const ONLINE_TIMES_TEXT_BYTES = 65_535;

/** One user's timer changes applied in order to their online_times value: the value to write (if any) and each change's result. */
function applyInOrder(changes: readonly TimerChange[], value: string | null): Change<unknown[]> {
  let current = value;
  let write: string | undefined;
  const result = changes.map(({ change }) => {
    const next = change(current);
    if (next.write !== undefined) current = write = next.write;
    return next.result;
  });
  return write === undefined ? { result } : { write, result };
}

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
  private readonly batchWindowMs: number;
  /** Bytes online_times holds: the gem's TEXT until a value that does not fit makes us look (the column may be widened). */
  private onlineTimesCapacity = ONLINE_TIMES_TEXT_BYTES;
  // Writes are batched by group commit (group-commit.ts): in a storm, one
  // locked write per room list and per user's online times takes every change
  // asked for while the previous write was in flight, and the login log rows
  // of that window go out as one INSERT. Batching a room's list within this
  // process also keeps its writers from retrying against each other (a storm
  // of U joins would otherwise cost O(U) conflicts per join).
  private readonly listWrites: KeyedGroupCommit<string, ListEdit, number[]>;
  private readonly timerWrites: GroupCommit<{ uid: number } & TimerChange, unknown>;
  private readonly loginLogWrites: GroupCommit<LoginLogEntry, void>;

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
      beforeCreate: options.observer?.beforeCreate,
      afterUpdateMany: options.observer?.afterUpdateMany,
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
    const windowMs = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    if (!(Number.isFinite(windowMs) && windowMs >= 0)) {
      throw new FayeOnlineError('INVALID_OPTION', `batchWindowMs: expected a number of ms >= 0, got ${String(options.batchWindowMs)}`);
    }
    this.batchWindowMs = windowMs;
    this.listWrites = new KeyedGroupCommit((room, batch) => this.writeOnlineList(room, batch), { maxBatch: LIST_BATCH, windowMs });
    this.timerWrites = new GroupCommit((batch) => this.writeOnlineTimes(batch), { maxBatch: TIMER_BATCH, windowMs });
    this.loginLogWrites = new GroupCommit((batch) => this.writeLoginLogs(batch), { maxBatch: LOGIN_LOG_BATCH, windowMs });
  }

  /** The faye_channels id of a room or time channel, created on first use. */
  channelId(name: string): Promise<number> {
    return this.channels.idOf(name);
  }

  /** The same without creating it: null for a channel that has no row. */
  existingChannelId(name: string): Promise<number | null> {
    return this.channels.existingIdOf(name);
  }

  // -- online lists --------------------------------------------------------

  /** The room's online list; a room never joined has none (and is not created by asking). */
  async onlineList(room: string): Promise<number[]> {
    const channelId = await this.channels.existingIdOf(room);
    return channelId === null ? [] : parseUserInfoList(await this.onlineLists.read(channelId));
  }

  /** Adds `uid` at the end of the room's list (no-op if present or not a uid); returns the list. */
  addToOnlineList(room: string, uid: number): Promise<number[]> {
    return this.changeOnlineList(room, (uids) => {
      if (isUid(uid)) uids.add(uid);
    });
  }

  removeFromOnlineList(room: string, uid: number): Promise<number[]> {
    return this.changeOnlineList(room, (uids) => {
      uids.delete(uid);
    });
  }

  /** Resolves to the list as written by the batch that took this edit (later edits of that batch included). */
  private changeOnlineList(room: string, edit: ListEdit): Promise<number[]> {
    return this.listWrites.add(room, edit);
  }

  /** Writes the batch's edits of the room's list; resolves to the window before the room's next write. */
  private async writeOnlineList(room: string, batch: Array<Pending<ListEdit, number[]>>): Promise<number> {
    const channelId = await this.channelId(room);
    const list = await this.onlineLists.modify(channelId, (value): Change<number[]> => {
      const before = parseUserInfoList(value);
      const edited = new Set(before);
      for (const { item: edit } of batch) edit(edited);
      const after = [...edited];
      const unchanged = value !== null && after.length === before.length && after.every((uid, i) => uid === before[i]);
      // A room without a row gets one only when somebody joins it.
      return unchanged || (value === null && after.length === 0) ? { result: before } : { write: formatUserInfoList(after), result: after };
    });
    for (const entry of batch) entry.resolve(list);
    return Math.max(this.batchWindowMs, list.length * LIST_WINDOW_MS_PER_MEMBER);
  }

  /** Every room that has an online list row, with its uids (for reconciliation). */
  allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>> {
    return readAllOnlineLists(this.sql);
  }

  // -- online times --------------------------------------------------------

  /** Every running timer (a `_started_at` key): the cleanup report's. */
  async runningTimers(): Promise<RunningTimer[]> {
    const rows = await this.sql.select<{ user_id: number; online_times: string | null }>(
      "SELECT user_id, online_times FROM faye_user_online_times WHERE online_times LIKE '%_started_at%'",
      [],
    );
    return this.timersOf(rows);
  }

  /**
   * The running timers of the rows of at most `limit` users after `afterUid`
   * (null: from the first), in uid order, and the uid to go on after (null
   * when no row is left): reconciliation reads them a page at a time, so that
   * it never holds every user's online times at once.
   */
  async runningTimersPage(afterUid: number | null, limit: number): Promise<{ timers: RunningTimer[]; next: number | null }> {
    const rows = await this.sql.select<{ user_id: number; online_times: string | null }>(
      `SELECT user_id, online_times FROM faye_user_online_times WHERE online_times LIKE '%_started_at%' AND user_id ${afterUid === null ? 'IS NOT NULL' : '> ?'} ORDER BY user_id LIMIT ?`,
      afterUid === null ? [limit] : [afterUid, limit],
    );
    return { timers: this.timersOf(rows), next: rows.length < limit ? null : Number(rows[rows.length - 1].user_id) };
  }

  private timersOf(rows: Array<{ user_id: number; online_times: string | null }>): RunningTimer[] {
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
  startTimer(uid: number, timeChannel: string, at: Date): Promise<boolean> {
    return this.changeTimer(uid, timeChannel, (value): Change<boolean> => {
      const times = parseOnlineTimes(value);
      if (timerState(times, timeChannel).startedAt !== null) return { result: false };
      return { write: formatOnlineTimes(withTimerStarted(times, timeChannel, formatStartedAt(at, this.timeZone))), result: true };
    });
  }

  /** Stops the timer and adds the whole seconds since its start; null if it was not running. */
  stopTimer(uid: number, timeChannel: string, at: Date): Promise<number | null> {
    return this.changeTimer(uid, timeChannel, (value): Change<number | null> => {
      const times = parseOnlineTimes(value);
      const since = this.runningSince(timerState(times, timeChannel).startedAt);
      if (since === null) return { result: null };
      const added = elapsedSeconds(since, at);
      return { write: formatOnlineTimes(withTimerStopped(times, timeChannel, added)), result: added };
    });
  }

  private changeTimer<R>(uid: number, timeChannel: string, change: (value: string | null) => Change<R>): Promise<R> {
    return this.timerWrites.add({ uid, timeChannel, change }) as Promise<R>;
  }

  // One SELECT for every user of the batch, then one locked UPDATE for all the
  // users whose rows change (each user's changes applied in order); the users
  // without a row yet get theirs in one INSERT.
  private async writeOnlineTimes(batch: Array<Pending<{ uid: number } & TimerChange, unknown>>): Promise<void> {
    const byUser = new Map<number, Array<Pending<{ uid: number } & TimerChange, unknown>>>();
    for (const entry of batch) {
      const entries = byUser.get(entry.item.uid);
      if (entries) entries.push(entry);
      else byUser.set(entry.item.uid, [entry]);
    }
    const rows = await this.onlineTimes.readMany([...byUser.keys()]);
    const newcomers = [...byUser].filter(([uid]) => !rows.has(uid));
    await Promise.all([
      this.updateUsersTimes([...byUser].filter(([uid]) => rows.has(uid)), rows),
      this.createUsersTimes(newcomers),
    ]);
  }

  /** The rows of users who had one when the batch read them: one UPDATE for all, then one by one for those another writer changed meanwhile. */
  private async updateUsersTimes(users: Array<[number, Array<Pending<TimerChange, unknown>>]>, rows: Map<number, Row>): Promise<void> {
    const writes: Array<{ uid: number; row: Row; value: string; bytes: number; entries: Array<Pending<TimerChange, unknown>>; results: unknown[] }> = [];
    const alone: Array<[number, Array<Pending<TimerChange, unknown>>, Row | undefined]> = [];
    for (const [uid, entries] of users) {
      const row = rows.get(uid)!;
      const next = applyInOrder(entries.map((entry) => entry.item), row.value);
      if (next.write === undefined || next.write === row.value) {
        entries.forEach((entry, i) => entry.resolve(next.result[i]));
        continue;
      }
      const bytes = Buffer.byteLength(next.write);
      if (bytes > this.onlineTimesCapacity) alone.push([uid, entries, row]); // says why, on its own
      else writes.push({ uid, row, value: next.write, bytes, entries, results: next.result });
    }
    const chunks: Array<typeof writes> = [];
    let chunkBytes = Infinity;
    for (const write of writes) {
      if (chunkBytes + write.bytes > TIMES_UPDATE_BYTES) {
        chunks.push([]);
        chunkBytes = 0;
      }
      chunks.at(-1)!.push(write);
      chunkBytes += write.bytes;
    }
    await Promise.all(chunks.map(async (chunk) => {
      if (chunk.length === 1) {
        const [{ uid, row, entries }] = chunk;
        alone.push([uid, entries, row]);
        return;
      }
      let written: Set<number>;
      try {
        written = await this.onlineTimes.updateMany(chunk);
      } catch (error) {
        // Settled here: the batch's other writes (and the users written alone below) go on.
        for (const { entries } of chunk) for (const entry of entries) entry.reject(error);
        return;
      }
      for (const { uid, row, entries, results } of chunk) {
        if (written.has(row.id)) entries.forEach((entry, i) => entry.resolve(results[i]));
        else alone.push([uid, entries, undefined]); // another writer came first: read it again, apply on top
      }
    }));
    await Promise.all(alone.map(([uid, entries, row]) => this.writeUserTimes(uid, entries, row)));
  }

  /** The first rows of users who had none when the batch read them. */
  private async createUsersTimes(users: Array<[number, Array<Pending<TimerChange, unknown>>]>): Promise<void> {
    const created: Array<{ key: number; value: string; entries: Array<Pending<TimerChange, unknown>>; results: unknown[] }> = [];
    const alone: Array<[number, Array<Pending<TimerChange, unknown>>]> = [];
    for (const [uid, entries] of users) {
      const next = applyInOrder(entries.map((entry) => entry.item), null);
      if (next.write === undefined) entries.forEach((entry, i) => entry.resolve(next.result[i]));
      else if (Buffer.byteLength(next.write) > this.onlineTimesCapacity) alone.push([uid, entries]); // says why, on its own
      else created.push({ key: uid, value: next.write, entries, results: next.result });
    }
    let outcome: 'together' | 'apart' | 'failed' = 'apart';
    if (created.length > 1) {
      try {
        outcome = (await this.onlineTimes.createMany(created)) ? 'together' : 'apart';
      } catch (error) {
        // Settled here: the batch's other writes (and the users written alone below) go on.
        outcome = 'failed';
        for (const { entries } of created) for (const entry of entries) entry.reject(error);
      }
    }
    if (outcome === 'together') {
      for (const { entries, results } of created) entries.forEach((entry, i) => entry.resolve(results[i]));
    } else if (outcome === 'apart') {
      // One of them has a row by now (or there is only one): each on its own.
      alone.push(...created.map(({ key, entries }): [number, Array<Pending<TimerChange, unknown>>] => [key, entries]));
    }
    // After a multi-row INSERT was tried, rows may exist now: read them again.
    await Promise.all(alone.map(([uid, entries]) => this.writeUserTimes(uid, entries, created.length > 1 ? undefined : null)));
  }

  /** `known`: the user's row as the batch read it (null: none), undefined to read it now. */
  private async writeUserTimes(uid: number, entries: Array<Pending<TimerChange, unknown>>, known: Row | null | undefined): Promise<void> {
    try {
      const results = await this.changeOnlineTimes(uid, entries.map((entry) => entry.item), known);
      entries.forEach((entry, i) => entry.resolve(results[i]));
    } catch (error) {
      // Settled here, not by the batch: the other users' writes of the batch go on.
      if (entries.length === 1 || !isFayeOnlineError(error, 'RECORD_TOO_LARGE')) {
        for (const entry of entries) entry.reject(error);
        return;
      }
      // Together they do not fit: one at a time, each change gets its own answer (a stop may still fit).
      for (const entry of entries) {
        await this.changeOnlineTimes(uid, [entry.item]).then(([result]) => entry.resolve(result), (failure: unknown) => entry.reject(failure));
      }
    }
  }

  // A value longer than the column is never sent: MySQL in strict mode refuses
  // it ("Data too long"), and without strict mode it would cut the JSON and
  // lose every time of that user. Only then is the column's size looked up, as
  // an operator may have widened it (the optional widen-online-times migration).
  private async changeOnlineTimes(uid: number, changes: readonly TimerChange[], known?: Row | null): Promise<unknown[]> {
    const applyAll = (value: string | null) => applyInOrder(changes, value);
    for (let row = known; ; row = undefined) {
      const capacity = this.onlineTimesCapacity;
      let tooLong = 0;
      const result = await this.onlineTimes.modify(uid, (value) => {
        const next = applyAll(value);
        tooLong = next.write === undefined ? 0 : Buffer.byteLength(next.write);
        if (tooLong <= capacity) tooLong = 0;
        return tooLong ? { result: next.result } : next;
      }, row);
      if (!tooLong) return result;
      this.onlineTimesCapacity = await this.readOnlineTimesCapacity();
      if (this.onlineTimesCapacity <= capacity) {
        const timeChannels = [...new Set(changes.map((c) => c.timeChannel))].join(', ');
        throw new FayeOnlineError('RECORD_TOO_LARGE',
          `the online times of user ${uid} no longer fit faye_user_online_times.online_times (${tooLong} bytes, the column holds ${capacity}): ` +
          `the timer of ${timeChannels} is not recorded; widen the column with the optional migration widen-online-times (docs/presence-rules.md)`);
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

  /** Whether `error` (from any method here) means the database could not be reached, so that the same write can succeed later. */
  isUnavailable(error: unknown): boolean {
    return isDatabaseUnavailable(error);
  }

  /** Resolves once the row is written (with the other rows of its batch). */
  writeLoginLog(entry: LoginLogEntry): Promise<void> {
    return this.loginLogWrites.add(entry);
  }

  private async writeLoginLogs(batch: Array<Pending<LoginLogEntry, void>>): Promise<void> {
    try {
      await this.insertLoginLogs(batch.map((entry) => entry.item));
      for (const entry of batch) entry.resolve();
    } catch (error) {
      if (batch.length === 1 || isTransientDatabaseError(error)) throw error;
      // A refused statement: each row on its own, so that only the row at fault fails.
      for (const entry of batch) await this.insertLoginLogs([entry.item]).then(() => entry.resolve(), (failure: unknown) => entry.reject(failure));
    }
  }

  /** faye_user_login_logs rows in one INSERT; channel_id is the time channel's id, `t` UTC whole seconds. */
  private async insertLoginLogs(entries: readonly LoginLogEntry[]): Promise<void> {
    const values = await Promise.all(entries.map(async (entry) =>
      [entry.status, entry.uid, formatDateTime(entry.at), await this.channelId(entry.timeChannel), entry.clientId]));
    // With events on, each row's session_start/session_end goes in the same transaction.
    const events = this.events && entries.map((entry) => ({
      kind: entry.status === 1 ? 'session_start' : 'session_end', uid: entry.uid, channel: entry.timeChannel,
      occurredMs: entry.at.getTime(), reason: entry.reason ?? null, clientId: entry.clientId,
    } as const));
    await withEvents(this.sequelize, events, (sql) => sql.insert(
      `INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES ${values.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
      values.flat(),
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
