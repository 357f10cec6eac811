// The webhook sender's state in SQL (faye_online_webhook_cursors and
// faye_online_webhook_dead_letters, see their migration) and the events it
// reads from faye_online_events. Every write of the sender is fenced: it names
// the holder, the lease_version it took the lease with and the cursor it read,
// so a process that lost its lease (paused, partitioned, too slow) changes
// nothing, and `webhooks replay` rewinding the cursor is never overwritten.
import type { PresenceRecordEvent } from '../events/event';
import { QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from 'sequelize';
import { formatDateTime } from '../records/legacy-format';

export const CURSORS_TABLE = 'faye_online_webhook_cursors';
export const DEAD_LETTERS_TABLE = 'faye_online_webhook_dead_letters';
export const EVENTS_TABLE = 'faye_online_events';
/** The one stream there is today; the table allows more (e.g. one per receiver) later. */
export const DEFAULT_STREAM = 'default';

type Value = string | number | null;

/** A row of faye_online_events as the sender reads it: the event, its id (the stream's order) and its key. */
export interface EventRow extends Omit<PresenceRecordEvent, 'kind'> {
  id: number;
  eventKey: string;
  /** A kind this version may not know (a newer writer's): sent as it is. */
  kind: string;
}

export interface StreamState {
  cursorId: number;
  kinds: string[] | null;
  holder: string | null;
  leaseUntilMs: number | null;
  leaseVersion: number;
  attempts: number;
  failingSinceMs: number | null;
  nextAttemptMs: number | null;
  lastError: string | null;
  deliveredCount: number;
}

/** What a fenced write must still find: our lease, and the cursor we read. */
export interface Fence {
  holder: string;
  leaseVersion: number;
  cursorId: number;
}

export interface Failure {
  attempts: number;
  failingSinceMs: number;
  nextAttemptMs: number;
  error: string;
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const EVENT_COLUMNS = 'e.id, e.event_key, e.kind, e.user_id, e.channel, e.occurred_ms, e.reason, e.seq, e.client_id';

function toEvent(row: Record<string, unknown>): EventRow {
  return {
    id: Number(row.id), eventKey: String(row.event_key), kind: String(row.kind), uid: num(row.user_id), channel: String(row.channel),
    occurredMs: Number(row.occurred_ms), reason: (row.reason as string | null) ?? null, seq: num(row.seq), clientId: (row.client_id as string | null) ?? null,
  };
}

function toState(row: Record<string, unknown>): StreamState {
  return {
    cursorId: Number(row.cursor_id),
    kinds: typeof row.kinds === 'string' && row.kinds ? row.kinds.split(',') : null,
    holder: (row.holder as string | null) ?? null,
    leaseUntilMs: num(row.lease_until_ms),
    leaseVersion: Number(row.lease_version),
    attempts: Number(row.attempts),
    failingSinceMs: num(row.failing_since_ms),
    nextAttemptMs: num(row.next_attempt_ms),
    lastError: (row.last_error as string | null) ?? null,
    deliveredCount: Number(row.delivered_count),
  };
}

/** Error texts fit the varchar(255) column. */
const clip = (text: string): string => (text.length > 255 ? `${text.slice(0, 252)}...` : text);

export class WebhookState {
  constructor(private readonly sequelize: Sequelize, readonly stream = DEFAULT_STREAM) {}

  private select<T extends object = Record<string, unknown>>(sql: string, params: Value[], transaction?: Transaction): Promise<T[]> {
    return this.sequelize.query<T>(sql, { replacements: params, type: QueryTypes.SELECT, transaction });
  }

  private async change(sql: string, params: Value[], transaction?: Transaction): Promise<number> {
    const type = /^\s*delete/i.test(sql) ? QueryTypes.BULKDELETE : /^\s*insert/i.test(sql) ? QueryTypes.INSERT : QueryTypes.BULKUPDATE;
    const result = await this.sequelize.query(sql, { replacements: params, type, transaction });
    return type === QueryTypes.INSERT ? 1 : Number(result);
  }

  /**
   * The stream's row, created on first use with the cursor at the newest event:
   * webhooks send what happens from then on (`webhooks replay --from-id` sends older events).
   */
  async ensure(now: number): Promise<StreamState> {
    const existing = await this.read();
    if (existing) return existing;
    const [{ newest }] = await this.select<{ newest: unknown }>(`SELECT MAX(id) AS newest FROM ${EVENTS_TABLE}`, []);
    const at = formatDateTime(new Date(now));
    try {
      await this.change(`INSERT INTO ${CURSORS_TABLE} (name, cursor_id, lease_version, attempts, delivered_count, created_at, updated_at) VALUES (?, ?, 0, 0, 0, ?, ?)`,
        [this.stream, num(newest) ?? 0, at, at]);
    } catch (error) {
      // Another process created it first: theirs is as good.
      if (!(error instanceof UniqueConstraintError)) throw error;
    }
    return (await this.read())!;
  }

  async read(): Promise<StreamState | null> {
    const [row] = await this.select(`SELECT * FROM ${CURSORS_TABLE} WHERE name = ?`, [this.stream]);
    return row ? toState(row) : null;
  }

  /**
   * Takes the lease if it is free or expired, as of the version read: of two
   * processes that read the same expired lease, exactly one UPDATE matches.
   * Returns the new lease_version, or null when another process holds it.
   */
  async takeLease(holder: string, read: StreamState, now: number, leaseMs: number, kinds: readonly string[]): Promise<number | null> {
    if (read.holder !== null && read.leaseUntilMs !== null && read.leaseUntilMs > now) return null;
    const changed = await this.change(
      `UPDATE ${CURSORS_TABLE} SET holder = ?, lease_until_ms = ?, lease_version = lease_version + 1, kinds = ?, updated_at = ? WHERE name = ? AND lease_version = ?`,
      [holder, now + leaseMs, kinds.join(','), formatDateTime(new Date(now)), this.stream, read.leaseVersion],
    );
    return changed === 1 ? read.leaseVersion + 1 : null;
  }

  /** Extends our lease; false when it is no longer ours. */
  async renewLease(holder: string, leaseVersion: number, now: number, leaseMs: number): Promise<boolean> {
    return (await this.change(
      `UPDATE ${CURSORS_TABLE} SET lease_until_ms = ?, updated_at = ? WHERE name = ? AND holder = ? AND lease_version = ?`,
      [now + leaseMs, formatDateTime(new Date(now)), this.stream, holder, leaseVersion],
    )) === 1;
  }

  /** Gives the lease up (a clean stop), so another process takes over at once instead of after the expiry. */
  async releaseLease(holder: string, leaseVersion: number): Promise<void> {
    await this.change(`UPDATE ${CURSORS_TABLE} SET holder = NULL, lease_until_ms = NULL WHERE name = ? AND holder = ? AND lease_version = ?`,
      [this.stream, holder, leaseVersion]);
  }

  /** Events after `afterId`, every kind, in id order (gaps show as missing ids). */
  async eventsAfter(afterId: number, limit: number): Promise<EventRow[]> {
    const rows = await this.select(`SELECT ${EVENT_COLUMNS} FROM ${EVENTS_TABLE} e WHERE e.id > ? ORDER BY e.id LIMIT ${Math.floor(limit)}`, [afterId]);
    return rows.map(toEvent);
  }

  /** The events of these ids that exist, in id order. */
  async eventsByIds(ids: readonly number[]): Promise<EventRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.select(`SELECT ${EVENT_COLUMNS} FROM ${EVENTS_TABLE} e WHERE e.id IN (${ids.map(() => '?').join(', ')}) ORDER BY e.id`, [...ids]);
    return rows.map(toEvent);
  }

  /** Dead letters queued by `webhooks replay`, oldest event first. */
  async replayQueue(limit: number): Promise<EventRow[]> {
    const rows = await this.select(
      `SELECT ${EVENT_COLUMNS} FROM ${DEAD_LETTERS_TABLE} d JOIN ${EVENTS_TABLE} e ON e.id = d.event_id WHERE d.state = 'replay' ORDER BY e.id LIMIT ${Math.floor(limit)}`, []);
    return rows.map(toEvent);
  }

  private fenced(fence: Fence): { where: string; params: Value[] } {
    return { where: 'name = ? AND holder = ? AND lease_version = ? AND cursor_id = ?', params: [this.stream, fence.holder, fence.leaseVersion, fence.cursorId] };
  }

  /**
   * A batch was acknowledged: the cursor moves to `throughId` (stream) and
   * replayed dead letters leave their table. False when the fence failed.
   */
  async delivered(fence: Fence, result: { throughId: number; count: number; replayed: number[] }, now: number): Promise<boolean> {
    const { where, params } = this.fenced(fence);
    const advance = (transaction?: Transaction) => this.change(
      `UPDATE ${CURSORS_TABLE} SET cursor_id = ?, attempts = 0, failing_since_ms = NULL, next_attempt_ms = NULL, last_error = NULL, ` +
        `delivered_count = delivered_count + ?, updated_at = ? WHERE ${where}`,
      [result.throughId, result.count, formatDateTime(new Date(now)), ...params], transaction);
    // The stream's batches (nearly all) are one statement: no transaction round trips.
    if (result.replayed.length === 0) return (await advance()) === 1;
    return this.sequelize.transaction(async (transaction) => {
      if ((await advance(transaction)) !== 1) return false;
      await this.change(`DELETE FROM ${DEAD_LETTERS_TABLE} WHERE state = 'replay' AND event_id IN (${result.replayed.map(() => '?').join(', ')})`, result.replayed, transaction);
      return true;
    });
  }

  /** A batch failed: the retry state of the head of the stream. False when the fence failed. */
  async failed(fence: Fence, failure: Failure, now: number): Promise<boolean> {
    const { where, params } = this.fenced(fence);
    return (await this.change(
      `UPDATE ${CURSORS_TABLE} SET attempts = ?, failing_since_ms = ?, next_attempt_ms = ?, last_error = ?, updated_at = ? WHERE ${where}`,
      [failure.attempts, failure.failingSinceMs, failure.nextAttemptMs, clip(failure.error), formatDateTime(new Date(now)), ...params],
    )) === 1;
  }

  /**
   * Gives events up: they become dead letters, the cursor moves past the
   * stream's ones (`throughId`), and replayed ones go back to 'dead'. The
   * retry state is kept (the receiver still fails) except the attempt count.
   * False when the fence failed (then nothing is written).
   */
  async deadLetter(fence: Fence, dead: { stream: number[]; throughId: number; replayed: number[] }, failure: Failure, now: number): Promise<boolean> {
    return this.sequelize.transaction(async (transaction) => {
      const { where, params } = this.fenced(fence);
      const at = formatDateTime(new Date(now));
      const changed = await this.change(
        `UPDATE ${CURSORS_TABLE} SET cursor_id = ?, attempts = 0, failing_since_ms = ?, next_attempt_ms = ?, last_error = ?, updated_at = ? WHERE ${where}`,
        [dead.throughId, failure.failingSinceMs, failure.nextAttemptMs, clip(failure.error), at, ...params], transaction);
      if (changed !== 1) return false;
      const all = [...dead.stream, ...dead.replayed];
      if (all.length > 0) {
        // An event replayed from an id may already have a dead letter: one row per event.
        await this.change(`DELETE FROM ${DEAD_LETTERS_TABLE} WHERE event_id IN (${all.map(() => '?').join(', ')})`, all, transaction);
        for (const id of all) {
          await this.change(`INSERT INTO ${DEAD_LETTERS_TABLE} (event_id, state, attempts, last_error, died_at_ms, created_at, updated_at) VALUES (?, 'dead', ?, ?, ?, ?, ?)`,
            [id, failure.attempts, clip(failure.error), now, at, at], transaction);
        }
      }
      return true;
    });
  }

  // --- for `webhooks status` and `webhooks replay` ---

  async counts(kinds: readonly string[] | null): Promise<{ pending: number; replaying: number; dead: number; oldestPendingMs: number | null; newestId: number }> {
    const state = await this.read();
    const cursor = state?.cursorId ?? 0;
    const filter = kinds && kinds.length ? ` AND kind IN (${kinds.map(() => '?').join(', ')})` : '';
    const [pending] = await this.select<{ n: unknown; oldest: unknown }>(
      `SELECT COUNT(*) AS n, MIN(occurred_ms) AS oldest FROM ${EVENTS_TABLE} WHERE id > ?${filter}`, [cursor, ...(kinds ?? [])]);
    const byState = await this.select<{ state: string; n: unknown; oldest: unknown }>(
      `SELECT d.state, COUNT(*) AS n, MIN(e.occurred_ms) AS oldest FROM ${DEAD_LETTERS_TABLE} d JOIN ${EVENTS_TABLE} e ON e.id = d.event_id GROUP BY d.state`, []);
    const [{ newest }] = await this.select<{ newest: unknown }>(`SELECT MAX(id) AS newest FROM ${EVENTS_TABLE}`, []);
    const replay = byState.find((r) => r.state === 'replay');
    const oldest = [num(pending.oldest), num(replay?.oldest)].filter((v): v is number => v !== null);
    return {
      pending: Number(pending.n),
      replaying: Number(replay?.n ?? 0),
      dead: Number(byState.find((r) => r.state === 'dead')?.n ?? 0),
      oldestPendingMs: oldest.length ? Math.min(...oldest) : null,
      newestId: num(newest) ?? 0,
    };
  }

  /** Dead letters (state 'dead'): how many, and their event id range. */
  async deadSummary(): Promise<{ count: number; firstId: number | null; lastId: number | null }> {
    const [row] = await this.select<{ n: unknown; first: unknown; last: unknown }>(
      `SELECT COUNT(*) AS n, MIN(d.event_id) AS first, MAX(d.event_id) AS last FROM ${DEAD_LETTERS_TABLE} d JOIN ${EVENTS_TABLE} e ON e.id = d.event_id WHERE d.state = 'dead'`, []);
    return { count: Number(row.n), firstId: num(row.first), lastId: num(row.last) };
  }

  /**
   * Queues every dead letter to be sent again; returns how many. Dead letters
   * whose event retention or erasure removed since are dropped: there is
   * nothing left to send.
   */
  async queueDeadForReplay(now: number): Promise<number> {
    await this.change(`DELETE FROM ${DEAD_LETTERS_TABLE} WHERE NOT EXISTS (SELECT 1 FROM ${EVENTS_TABLE} e WHERE e.id = ${DEAD_LETTERS_TABLE}.event_id)`, []);
    return this.change(`UPDATE ${DEAD_LETTERS_TABLE} SET state = 'replay', updated_at = ? WHERE state = 'dead'`, [formatDateTime(new Date(now))]);
  }

  /** The first event id at or after a time (ms), null when none. */
  async firstIdSince(sinceMs: number): Promise<number | null> {
    const [row] = await this.select<{ id: unknown }>(`SELECT MIN(id) AS id FROM ${EVENTS_TABLE} WHERE occurred_ms >= ?`, [sinceMs]);
    return num(row.id);
  }

  /** Events from `fromId` up to the cursor (what a rewind to `fromId` sends again), of the given kinds. */
  async countBetween(fromId: number, throughId: number, kinds: readonly string[] | null): Promise<number> {
    const filter = kinds && kinds.length ? ` AND kind IN (${kinds.map(() => '?').join(', ')})` : '';
    const [row] = await this.select<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${EVENTS_TABLE} WHERE id >= ? AND id <= ?${filter}`, [fromId, throughId, ...(kinds ?? [])]);
    return Number(row.n);
  }

  /**
   * Moves the cursor back so that the stream sends again from `fromId`. Only
   * ever backwards, in one statement: a sender delivering meanwhile finds the
   * cursor it read gone, and its fenced write changes nothing. False when the
   * cursor is before `fromId` already (those events are not sent yet).
   */
  async rewind(fromId: number, now: number): Promise<boolean> {
    return (await this.change(
      `UPDATE ${CURSORS_TABLE} SET cursor_id = ?, attempts = 0, failing_since_ms = NULL, next_attempt_ms = NULL, updated_at = ? WHERE name = ? AND cursor_id >= ?`,
      [fromId - 1, formatDateTime(new Date(now)), this.stream, fromId],
    )) === 1;
  }
}
