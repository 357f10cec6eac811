// Presence events (the `events` option, docs/events.md): what attachFayeOnline
// wires when they are on. The stores append room events to an outbox in the
// same step as the change; the drainer moves them into faye_online_events;
// Records writes session and engaged-time events with their rows; the
// reconciliation's repairs are written here; retention runs by one process
// of the cluster at a time.
import type { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import type { Clock, ClockTimer } from '../core/clock';
import type { Logger } from '../log';
import type { ResolvedOptions } from '../options';
import { EventDrainer } from './drainer';
import type { EventOutbox } from './outbox';
import { deleteEventsBefore } from './retention';
import { insertEvents } from './table';
import { attendance, lastSeen, presentAt, type Attendance, type LastSeen } from './history';

export { EVENT_KINDS, EVENTS_TABLE, eventKey, type EventKind, type PresenceRecordEvent } from './event';
export { MemoryOutbox, type EventOutbox, type OutboxStats } from './outbox';
export { RedisOutbox } from './redis-outbox';
export { EventDrainer } from './drainer';
export { insertEvents } from './table';
export { attendance, lastSeen, presentAt, type Attendance, type LastSeen } from './history';
export { deleteEventsBefore, planErasure, erase, type ErasurePlan } from './retention';
export { historyRouter } from './http';

const DAY_MS = 24 * 3600 * 1000;
/** How often retention looks for old events. */
const RETENTION_INTERVAL_MS = 3600 * 1000;

/** History questions, answered from the events table (the handle's and REST's). */
export interface HistoryApi {
  /** uids in `room` at `at`, in the order they came. */
  presentAt(room: string, at: Date): Promise<number[]>;
  /** Who was in `room` between `from` and `to`, with their time there. */
  attendance(room: string, from: Date, to: Date): Promise<Attendance[]>;
  /** When `uid` was last seen (or that they are online now). */
  lastSeen(uid: number): Promise<LastSeen>;
}

export function historyApi(sequelize: Sequelize, clock: Clock): HistoryApi {
  return {
    presentAt: (room, at) => presentAt(sequelize, room, at),
    attendance: (room, from, to) => attendance(sequelize, room, from, to, new Date(clock.now())),
    lastSeen: (uid) => lastSeen(sequelize, uid, new Date(clock.now())),
  };
}

/** What a server runs for the `events` option: the drainer and retention (when its store has an outbox) and history's reads; nothing when it is off. */
export function presenceEvents(
  settings: ResolvedOptions['events'], parts: Omit<PresenceEventsOptions, 'settings' | 'outbox'> & { outbox: EventOutbox | undefined },
): { runner: PresenceEventsRunner | undefined; history: HistoryApi | undefined } {
  if (!settings) return { runner: undefined, history: undefined };
  return { runner: parts.outbox && new PresenceEventsRunner({ ...parts, settings, outbox: parts.outbox }), history: historyApi(parts.sequelize, parts.clock) };
}

/** Reconciliation repaired a room's list: the join or leave it stands for, with reason 'reconciled'. */
export async function recordRepair(sequelize: Sequelize, repair: { kind: 'join' | 'leave'; uid: number; room: string; at: number }): Promise<void> {
  await insertEvents(sequelize, [{ kind: repair.kind, uid: repair.uid, channel: repair.room, occurredMs: repair.at, reason: 'reconciled', seq: null, clientId: null }]);
}

export interface PresenceEventsOptions {
  settings: NonNullable<ResolvedOptions['events']>;
  outbox: EventOutbox;
  sequelize: Sequelize;
  logger: Logger;
  clock: Clock;
  register?: Registry;
  /** A cluster-wide lock (the store's), so that one process at a time deletes old events. */
  lock(name: string, ttlMs: number): Promise<boolean>;
}

export class PresenceEventsRunner {
  readonly drainer: EventDrainer;
  private retentionTimer: ClockTimer | undefined;
  private retention: Promise<unknown> | undefined;
  private closed = false;

  constructor(private readonly options: PresenceEventsOptions) {
    this.drainer = new EventDrainer({
      outbox: options.outbox, sequelize: options.sequelize, logger: options.logger, clock: options.clock,
      intervalMs: options.settings.drainIntervalMs, register: options.register,
    });
  }

  start(): void {
    this.drainer.start();
    if (this.options.settings.retentionDays !== undefined) {
      const schedule = (ms: number) => {
        if (this.closed) return;
        this.retentionTimer = this.options.clock.after(ms, () => {
          if (this.closed) return;
          this.retention = this.applyRetention().finally(() => schedule(RETENTION_INTERVAL_MS));
        });
      };
      schedule(0);
    }
  }

  /** Deletes events older than retentionDays, if this process holds the cluster's retention lock. Resolves to the rows deleted (null: another process is at it). */
  async applyRetention(): Promise<number | null> {
    const { settings, sequelize, logger, clock } = this.options;
    if (settings.retentionDays === undefined || !(await this.options.lock('events-retention', RETENTION_INTERVAL_MS / 2).catch(() => false))) return null;
    const cutoff = new Date(clock.now() - settings.retentionDays * DAY_MS);
    try {
      const deleted = await deleteEventsBefore(sequelize, cutoff);
      if (deleted > 0) logger.info({ deleted, before: cutoff.toISOString() }, `events: retention deleted ${deleted} events older than ${settings.retentionDays} days`);
      return deleted;
    } catch (error) {
      logger.warn({ err: error }, 'events: retention could not delete old events; it tries again in an hour');
      return 0;
    }
  }

  /** Reconciliation repaired a room's list (see recordRepair). */
  listRepaired(repair: { kind: 'join' | 'leave'; uid: number; room: string; at: number }): Promise<void> {
    return recordRepair(this.options.sequelize, repair);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retentionTimer?.cancel();
    await this.retention?.catch(() => undefined);
    await this.drainer.close();
  }
}
