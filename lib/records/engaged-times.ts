// faye_online_engaged_times: our own table (not the gem's), one row per user and
// time channel, in epoch milliseconds:
//
//   engaged_ms        the engaged time of finished sessions
//   engaged_since_ms  the start of the running session, NULL when none runs
//   last_session_ms   the start of the latest session written (running or finished)
//
// A user's sessions are decided in one place (the presence store), but their
// start and stop may be written by two processes, in either order: a page of
// the user hidden on one process and another shown on a second one end one
// session and start the next within milliseconds. So every write names its
// session by its start, and each is one statement whose effect does not depend
// on the order: a stop adds its own duration and clears the running mark only
// if the mark is its session; a start applies only if no later session was
// written yet. Rails or another writer adjusting engaged_ms atomically
// (`engaged_ms = engaged_ms + n`) never loses a change either, and lock_version
// is bumped as ActiveRecord does, so a Rails model with optimistic locking over
// this table notices our writes.
import { UniqueConstraintError } from 'sequelize';
import type { ChannelIds } from './channels';
import { formatDateTime } from './legacy-format';
import type { Sql } from './sql';

export const ENGAGED_TIMES_TABLE = 'faye_online_engaged_times';
const TABLE = ENGAGED_TIMES_TABLE;

export interface EngagedTime {
  /** Sum of finished engaged sessions, whole seconds. */
  spentSeconds: number;
  /** When the running engaged session started, null when the user is not engaged now. */
  runningSince: Date | null;
  /** Finished sessions plus the running one up to `now`, whole seconds (summed in ms, then floored). */
  totalSeconds: number;
}

export interface RunningEngagement {
  uid: number;
  timeChannel: string;
  /** The running session's start, ms. */
  session: number;
}

const toMs = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export class EngagedTimes {
  constructor(private readonly sql: Sql, private readonly channels: ChannelIds) {}

  /** Starts the session that began at `session` (ms); false when a later or the same session was written already. */
  async start(uid: number, timeChannel: string, session: number): Promise<boolean> {
    const channelId = await this.channels.idOf(timeChannel);
    return this.upsert(
      () => this.sql.change(
        `UPDATE ${TABLE} SET engaged_since_ms = ?, last_session_ms = ?, lock_version = lock_version + 1, updated_at = ? ` +
          'WHERE user_id = ? AND channel_id = ? AND (last_session_ms IS NULL OR last_session_ms < ?)',
        [session, session, formatDateTime(new Date()), uid, channelId, session],
      ),
      [uid, channelId, 0, session, session],
    );
  }

  /** Ends the session that began at `session` at `at`, adding its duration; false only if the row could not be written. */
  async stop(uid: number, timeChannel: string, session: number, at: Date): Promise<boolean> {
    const channelId = await this.channels.idOf(timeChannel);
    const duration = Math.max(0, at.getTime() - session);
    // Each assignment reads only its own column, so MySQL's left-to-right and
    // SQLite's all-old-values evaluation of SET agree.
    return this.upsert(
      () => this.sql.change(
        `UPDATE ${TABLE} SET engaged_ms = engaged_ms + ?, ` +
          'engaged_since_ms = CASE WHEN engaged_since_ms = ? THEN NULL ELSE engaged_since_ms END, ' +
          'last_session_ms = CASE WHEN last_session_ms IS NULL OR last_session_ms < ? THEN ? ELSE last_session_ms END, ' +
          'lock_version = lock_version + 1, updated_at = ? WHERE user_id = ? AND channel_id = ?',
        [duration, session, session, session, formatDateTime(new Date()), uid, channelId],
      ),
      // The stop overtook its own start: the row is born finished, and the late start finds the session written.
      [uid, channelId, duration, null, session],
    );
  }

  /** The UPDATE; without a row, the INSERT; when another writer inserted first, the UPDATE again. */
  private async upsert(update: () => Promise<number>, insert: [number, number, number, number | null, number]): Promise<boolean> {
    if ((await update()) > 0) return true;
    const [uid, channelId] = insert;
    const [row] = await this.sql.select<{ id: number }>(`SELECT id FROM ${TABLE} WHERE user_id = ? AND channel_id = ?`, [uid, channelId]);
    // The row exists: another writer created it since our UPDATE, or its condition
    // said no (a later session is written). Asking again tells them apart.
    if (row) return (await update()) > 0;
    const now = formatDateTime(new Date());
    try {
      await this.sql.insert(
        `INSERT INTO ${TABLE} (user_id, channel_id, engaged_ms, engaged_since_ms, last_session_ms, lock_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
        [...insert, now, now],
      );
      return true;
    } catch (error) {
      if (!(error instanceof UniqueConstraintError)) throw error;
      return (await update()) > 0;
    }
  }

  /** A user's engaged time in a time channel, including the running part up to `now`. */
  async read(uid: number, timeChannel: string, now: Date): Promise<EngagedTime> {
    const [row] = await this.sql.select<{ engaged_ms: unknown; engaged_since_ms: unknown }>(
      `SELECT e.engaged_ms, e.engaged_since_ms FROM ${TABLE} e JOIN faye_channels c ON c.id = e.channel_id WHERE e.user_id = ? AND c.name = ?`,
      [uid, timeChannel.trim()],
    );
    return engagedTime(toMs(row?.engaged_ms) ?? 0, toMs(row?.engaged_since_ms), now);
  }

  /** Every running engaged session (for reconciliation). */
  async running(): Promise<RunningEngagement[]> {
    const rows = await this.sql.select<{ user_id: unknown; name: string | null; engaged_since_ms: unknown }>(
      `SELECT e.user_id, c.name, e.engaged_since_ms FROM ${TABLE} e JOIN faye_channels c ON c.id = e.channel_id WHERE e.engaged_since_ms IS NOT NULL ORDER BY e.id`,
      [],
    );
    return rows.filter((row) => row.name).map((row) => ({ uid: Number(row.user_id), timeChannel: row.name!, session: Number(row.engaged_since_ms) }));
  }
}

/** Every user's engaged time in one time channel, by uid (also used by the reports). */
export async function engagedTimesOf(sql: Sql, timeChannel: string, now: Date): Promise<Map<number, EngagedTime>> {
  const rows = await sql.select<{ user_id: unknown; engaged_ms: unknown; engaged_since_ms: unknown }>(
    `SELECT e.user_id, e.engaged_ms, e.engaged_since_ms FROM ${TABLE} e JOIN faye_channels c ON c.id = e.channel_id WHERE c.name = ?`,
    [timeChannel.trim()],
  );
  return new Map(rows.map((row) => [Number(row.user_id), engagedTime(toMs(row.engaged_ms) ?? 0, toMs(row.engaged_since_ms), now)]));
}

export function engagedTime(spentMs: number, sinceMs: number | null, now: Date): EngagedTime {
  const running = sinceMs === null ? 0 : Math.max(0, now.getTime() - sinceMs);
  return {
    spentSeconds: Math.floor(spentMs / 1000),
    runningSince: sinceMs === null ? null : new Date(sinceMs),
    totalSeconds: Math.floor((spentMs + running) / 1000),
  };
}
