// One clock for every time decision (stores, engine sweep, before_leave, the
// user_list window, the leave grace, reconciliation). Production uses the
// system clock; tests pass a ManualClock and run hours of presence at the
// default settings in seconds.

export interface ClockTimer {
  /** Cancels the callback if it has not run yet. */
  cancel(): void;
}

export interface Clock {
  /** Now, ms since the epoch. */
  now(): number;
  /** Runs `callback` once, `ms` from now. The timer never keeps the process alive. */
  after(ms: number, callback: () => void): ClockTimer;
  /**
   * Resolves `ms` from now, keeping the process alive meanwhile: for work
   * that waits (a write's retry), unlike `after`'s timers. Optional: a clock
   * without it waits with `after` (see `sleep`).
   */
  sleep?(ms: number): Promise<void>;
}

/** Waits `ms` on `clock` (its own `sleep` when it has one). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return clock.sleep ? clock.sleep(ms) : new Promise((resolve) => clock.after(ms, resolve));
}

/** A timer of the system clock: one small object (a closure per timer costs three; a timer is kept per client). */
class SystemTimer implements ClockTimer {
  constructor(private readonly timer: NodeJS.Timeout) {}

  cancel(): void {
    clearTimeout(this.timer);
  }
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    timer.unref();
    return new SystemTimer(timer);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

interface Scheduled {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. `advance` runs due callbacks in time
 * order and lets the promises they start settle between them, so that work
 * scheduled by a callback (a grace timer confirming a leave, then its SQL
 * writes) happens before the next callback, as it would in real time.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly pending: Scheduled[] = [];
  private counter = 0;

  constructor(start = Date.UTC(2026, 0, 5, 9, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  after(ms: number, callback: () => void): ClockTimer {
    const entry: Scheduled = { at: this.current + Math.max(0, ms), order: this.counter++, callback, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => { entry.cancelled = true; } };
  }

  /** Callbacks still waiting to run. */
  get scheduled(): number {
    return this.pending.filter((entry) => !entry.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, running every callback that falls due on the
   * way. `settle` is awaited after each callback (default: a few turns of the
   * event loop); pass one that waits for the system's queues to drain.
   */
  async advance(ms: number, settle: () => Promise<void> = turns): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = Math.max(this.current, next.at);
      next.callback();
      await settle();
    }
    this.current = target;
    await settle();
  }

  private nextDue(limit: number): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const entry of this.pending) {
      if (entry.cancelled || entry.at > limit) continue;
      if (!best || entry.at < best.at || (entry.at === best.at && entry.order < best.order)) best = entry;
    }
    // Cancelled and chosen entries leave the list.
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i].cancelled || this.pending[i] === best) this.pending.splice(i, 1);
    }
    return best;
  }
}

async function turns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
