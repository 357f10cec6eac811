// Faye's memory engine (the embedded mode) ends a client that stopped polling
// with a timer of its own: 2 x timeout after the client's last ping, from its
// Timeouts mixin, on the global setTimeout. That is a presence decision (the
// client departs when it fires), so it runs on the one clock like every other
// one: the engine's timers are replaced by the clock's. Faye's connections
// (the hold of a long-poll) keep theirs: they only decide when Faye answers a
// held /meta/connect, never whether or when a client leaves (see
// docs/simulation.md, "Clock").
import type { Clock, ClockTimer } from '../core/clock';

/** What Faye's Timeouts mixin gives an engine (src/mixins/timeouts.js); delays in seconds. */
export interface FayeTimeouts {
  addTimeout(name: string, delaySeconds: number, callback: () => void, context?: unknown): void;
  removeTimeout(name: string): void;
  removeAllTimeouts(): void;
}

/** Makes `engine`'s named timeouts run on `clock`, with the mixin's rules: a name already waiting is kept. */
export function timeoutsOnClock(engine: FayeTimeouts, clock: Clock): void {
  const timers = new Map<string, ClockTimer>();
  engine.addTimeout = (name, delaySeconds, callback, context) => {
    if (timers.has(name)) return;
    timers.set(name, clock.after(1000 * delaySeconds, () => {
      timers.delete(name);
      callback.call(context);
    }));
  };
  engine.removeTimeout = (name) => {
    timers.get(name)?.cancel();
    timers.delete(name);
  };
  engine.removeAllTimeouts = () => {
    for (const timer of timers.values()) timer.cancel();
    timers.clear();
  };
}
