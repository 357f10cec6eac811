// Moves outbox entries into faye_online_events, on every process of a cluster,
// in small batches: every `intervalMs` and once more on close. Each batch is
// inserted idempotently (the event_key is unique) and only then removed from
// the outbox, so a process killed between the two leaves entries that the
// next drain inserts again without a second row, and two processes draining
// the same entries at once write each row once.
//
// While the database does not take the inserts, entries stay in the outbox
// (bounded, see outbox.ts): each failed drain is counted and logged (a warning
// at the first failure of an outage, an error with the backlog every minute
// after), events the full outbox could not take are logged as errors and
// counted in faye_online_events_dropped_total.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import type { Clock, ClockTimer } from '../core/clock';
import type { Logger } from '../log';
import { decodeOutboxEntry, type PresenceRecordEvent } from './event';
import type { EventOutbox } from './outbox';
import { insertEvents } from './table';

export interface DrainerOptions {
  outbox: EventOutbox;
  sequelize: Sequelize;
  logger: Logger;
  clock: Clock;
  /** Pause between drains, ms. */
  intervalMs: number;
  /** Entries per insert. Default 200. */
  batchSize?: number;
  /** Where the drainer's metrics go (the `metrics` option's registry), if anywhere. */
  register?: Registry;
}

const OUTAGE_REPORT_MS = 60_000;

export class EventDrainer {
  private readonly batchSize: number;
  private running: Promise<number> | null = null;
  private timer: ClockTimer | undefined;
  private closed = false;
  private failingSince: number | null = null;
  private lastOutageReport = 0;
  private droppedSeen: number | null = null;
  private readonly metrics: { written: Counter; dropped: Counter; failures: Counter; backlog: Gauge } | undefined;

  constructor(private readonly options: DrainerOptions) {
    this.batchSize = options.batchSize ?? 200;
    const registers = options.register ? [options.register] : undefined;
    this.metrics = registers && {
      written: new Counter({ name: 'faye_online_events_written_total', help: 'Presence events the outbox drainer wrote into faye_online_events (new rows)', registers }),
      dropped: new Counter({ name: 'faye_online_events_dropped_total', help: 'Presence events not kept because the events outbox was full (the database took none for long)', registers }),
      failures: new Counter({ name: 'faye_online_events_drain_failures_total', help: 'Drains of the events outbox that failed (the database did not take the batch; it is tried again)', registers }),
      backlog: new Gauge({ name: 'faye_online_events_outbox_entries', help: 'Presence events waiting in the outbox at the last drain', registers }),
    };
  }

  start(): void {
    const schedule = () => {
      if (this.closed) return;
      this.timer = this.options.clock.after(this.options.intervalMs, () => {
        if (this.closed) return;
        void this.drain().finally(schedule);
      });
    };
    schedule();
  }

  /** Drains until the outbox is empty or the database refuses; resolves to the number of new rows. Never rejects. */
  drain(): Promise<number> {
    this.running ??= this.drainAll().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and drains once more. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.drain();
    if (this.options.register) {
      for (const name of ['faye_online_events_written_total', 'faye_online_events_dropped_total', 'faye_online_events_drain_failures_total', 'faye_online_events_outbox_entries']) {
        this.options.register.removeSingleMetric(name);
      }
    }
  }

  private async drainAll(): Promise<number> {
    const { outbox, sequelize, logger } = this.options;
    let written = 0;
    try {
      for (;;) {
        const entries = await outbox.peek(this.batchSize);
        if (entries.length === 0) break;
        const events: PresenceRecordEvent[] = [];
        for (const entry of entries) {
          const event = decodeOutboxEntry(entry);
          if (event) events.push(event);
          else logger.error({ entry }, 'events: an outbox entry is not an event; it is removed without a row');
        }
        written += await insertEvents(sequelize, events);
        await outbox.remove(entries);
        if (entries.length < this.batchSize) break;
      }
      if (this.failingSince !== null) logger.info({ failedForMs: this.options.clock.now() - this.failingSince }, 'events: the database takes events again; the outbox is drained');
      this.failingSince = null;
    } catch (error) {
      this.failed(error);
    }
    this.metrics?.written.inc(written);
    await this.report().catch(() => undefined);
    return written;
  }

  private failed(error: unknown): void {
    const now = this.options.clock.now();
    this.metrics?.failures.inc();
    if (this.failingSince === null) {
      this.failingSince = now;
      this.lastOutageReport = now;
      this.options.logger.warn({ err: error }, `events: could not write events (${(error as Error).message}); they wait in the outbox and are tried again`);
    } else if (now - this.lastOutageReport >= OUTAGE_REPORT_MS) {
      this.lastOutageReport = now;
      void this.options.outbox.stats().then(
        (stats) => this.options.logger.error({ err: error, waiting: stats.length, failingForMs: now - this.failingSince! },
          `events: the database has taken no events for ${Math.round((now - this.failingSince!) / 1000)} s; ${stats.length} wait in the outbox (past its limit new events are dropped and counted)`),
        () => undefined,
      );
    }
  }

  /** The backlog gauge, and events the full outbox dropped since the last look (an error in the log). */
  private async report(): Promise<void> {
    const stats = await this.options.outbox.stats();
    this.metrics?.backlog.set(stats.length);
    const before = this.droppedSeen;
    this.droppedSeen = stats.dropped;
    const newly = before === null ? stats.dropped : stats.dropped - before;
    if (newly > 0) {
      this.metrics?.dropped.inc(newly);
      this.options.logger.error({ dropped: newly, total: stats.dropped, waiting: stats.length },
        `events: ${newly} presence events were dropped because the events outbox was full (the database took none for long); history misses them, reconciliation repairs room lists`);
    }
  }
}
