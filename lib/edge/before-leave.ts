// The improved auto-disconnect (docs/protocol.md): a page being closed publishes
// /faye_online/before_leave instead of disconnecting, because the user may still
// cancel the close. We then find out whether the page is really gone:
//
//   T            before_leave arrives from clientId
//   T + nudge    its held /meta/connect is answered at once, wherever in the
//                cluster it is held; a live page reconnects immediately
//   T + delay    alive  ⇔ the client was seen after T + nudge; if not, it is
//                destroyed, which processes its departure as of T.
//
// Without the nudge a live long-polling client would send nothing for up to a
// whole Faye timeout, and "seen lately" could not tell it from a closed page.

import { systemClock, type Clock, type ClockTimer } from '../core/clock';

export interface Liveness {
  /** When the clientId last pinged anywhere in the cluster (ms), or null if it does not exist. */
  lastSeen(clientId: string): Promise<number | null>;
  /** Answers the clientId's held /meta/connect now, on whichever process holds it. */
  nudge(clientId: string): Promise<void> | void;
  /** Destroys the client; its departure is processed as of `at`. */
  destroy(clientId: string, at: number): void;
}

export interface BeforeLeaveOptions {
  delayMs: number;
  liveness: Liveness;
  onError(error: unknown, clientId: string): void;
  /** Default: the system clock. */
  clock?: Clock;
}

export class BeforeLeave {
  private readonly pending = new Map<string, ClockTimer[]>();
  private readonly nudgeMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: BeforeLeaveOptions) {
    this.clock = options.clock ?? systemClock;
    // The page being closed must be gone before the nudge, or it could still answer it.
    this.nudgeMs = Math.min(1000, options.delayMs / 3);
  }

  /** The page of clientId said it is closing. Repeats while a check is pending are ignored. */
  closing(clientId: string): void {
    if (this.pending.has(clientId)) return;
    const requestedAt = this.clock.now();
    let nudgedAt = requestedAt + this.nudgeMs;
    const nudge = this.clock.after(this.nudgeMs, () => {
      nudgedAt = this.clock.now();
      Promise.resolve(this.options.liveness.nudge(clientId)).catch((error) => this.options.onError(error, clientId));
    });
    const check = this.clock.after(this.options.delayMs, () => {
      this.pending.delete(clientId);
      this.check(clientId, requestedAt, nudgedAt).catch((error) => this.options.onError(error, clientId));
    });
    this.pending.set(clientId, [nudge, check]);
  }

  private async check(clientId: string, requestedAt: number, nudgedAt: number): Promise<void> {
    const lastSeen = await this.options.liveness.lastSeen(clientId);
    if (lastSeen === null) return; // already gone: its departure was processed then
    if (lastSeen >= nudgedAt) return; // it answered the nudge: the close was cancelled
    this.options.liveness.destroy(clientId, requestedAt);
  }

  close(): void {
    for (const timers of this.pending.values()) for (const timer of timers) timer.cancel();
    this.pending.clear();
  }
}
