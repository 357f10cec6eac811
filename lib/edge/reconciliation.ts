// When the reconciliation pass (core/reconcile.ts) runs on a server: once at
// startup (after a crash the records may still show users online), then every
// `reconcileInterval` by one process of the cluster at a time (a Redis lock),
// and on every process a Faye timeout after Redis came back from a connection
// loss (each process's own tracked clientIds matter then, so no lock).
import type { Clock, ClockTimer } from '../core/clock';
import type { Presence } from '../core/presence';
import { reconcile, type ReconcileOptions, type ReconcileReport } from '../core/reconcile';
import type { Logger } from '../log';
import type { Departures } from './departures';

export interface ReconciliationOptions {
  /** The pass's sources that are not this server's own presence (store, records, liveness, list broadcasts). */
  sources: Pick<ReconcileOptions, 'store' | 'records' | 'clientExists' | 'onListChanged' | 'engagement' | 'listRepaired'>;
  presence: Presence;
  departures: Departures;
  /** Runs work in the server's in-flight set (close waits for it). */
  track(work: Promise<unknown>): void;
  clock: Clock;
  logger: Logger;
  /** Seconds between passes; 0: at startup only. */
  intervalSeconds: number;
  /** The Faye timeout, seconds: how long pages take to come back after Redis did. */
  timeoutSeconds: number;
}

export class Reconciliation {
  private last: { at: Date; report: ReconcileReport } | null = null;
  private timer: ClockTimer | undefined;
  private soonTimer: ClockTimer | undefined;
  private stopped = false;

  constructor(private readonly options: ReconciliationOptions) {}

  private run(): Promise<ReconcileReport> {
    const { presence, departures, clock, logger } = this.options;
    return reconcile({
      ...this.options.sources,
      logger,
      clock,
      localClientIds: () => presence.knownClientIds(),
      departOrphan: async (clientId) => {
        const { reason, at } = await departures.orphan(clientId);
        return presence.depart(clientId, reason, at);
      },
      forUser: (uid, task) => presence.forUser(uid, task),
      leaveAbandoned: (pending, scope) => presence.leaveAbandoned(pending, scope),
    });
  }

  /** The last pass's report and when it ended (the dashboard). */
  get lastReport(): { at: Date; report: ReconcileReport } | null {
    return this.last;
  }

  /** One pass now, unlocked. */
  async now(): Promise<ReconcileReport> {
    const report = await this.run();
    this.last = { at: new Date(this.options.clock.now()), report };
    return report;
  }

  /** Redis is back after a connection loss: a pass once the pages had a timeout's time to reconnect. */
  soon(): void {
    if (this.stopped || this.soonTimer) return;
    const { clock, logger, timeoutSeconds } = this.options;
    logger.info({ inSeconds: timeoutSeconds }, 'Redis is back after a connection loss; reconciling soon');
    this.soonTimer = clock.after(timeoutSeconds * 1000, () => {
      this.soonTimer = undefined;
      this.options.track(this.now().catch((error) => logger.error({ err: error }, 'reconciliation failed; it runs again later')));
    });
  }

  /** The startup pass, then the periodic ones. */
  start(): void {
    const { clock, logger, intervalSeconds } = this.options;
    const run = async () => {
      if (this.stopped || !(await this.options.sources.store.lock('reconcile', Math.max(1000, intervalSeconds * 900)))) return;
      await this.now();
    };
    const pass = () => this.options.track(run().catch((error) => logger.error({ err: error }, 'reconciliation failed; it runs again later')));
    const schedule = () => {
      this.timer = clock.after(intervalSeconds * 1000, () => {
        if (this.stopped) return;
        schedule();
        pass();
      });
    };
    pass();
    if (intervalSeconds > 0) schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.soonTimer?.cancel();
  }
}
