// One identity's churn, damped at the edge. A page may open many tabs, hop
// between rooms or bring new clientIds as fast as it can send messages; each
// of those is a true change of presence, and each once cost login-log rows and
// a message to every member of a room. Rather than drop any of them, the
// changes of one clientId, user or (room, user) are coalesced: the latest
// state always wins, just not faster than the limits below.
import type { Auth } from '../core/auth';
import type { Clock, ClockTimer } from '../core/clock';

export const CHURN_LIMITS = {
  /** A tracked page's moves (another room or time channel) apply at most once per this many ms; moves in between coalesce into the last. */
  moveIntervalMs: 2000,
  /** New clientIds one user may bring at once, and then per second. */
  arrivalBurst: 32,
  arrivalsPerSecond: 1,
  /** One user's joins and leaves in one room are published at most once per this many ms; the latest wins. */
  diffWindowMs: 1000,
  /** A clientId evicted by maxClientIdsPerUser is not tracked again for this long (it stays connected). */
  benchMs: 10 * 60_000,
  /** Most entries each of the maps below holds; past it the oldest goes. */
  maxEntries: 100_000,
} as const;

/** A Map that forgets its oldest entry past `max` (insertion order). */
function capped<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/**
 * Moves of one clientId: the first applies at once, later ones within
 * `intervalMs` of the last applied one wait for the interval's end, and only
 * the latest of them applies then. A page hopping between two rooms costs at
 * most one departure and one arrival per interval, and ends where it stopped.
 */
export class MoveDamper {
  private readonly lastApplied = new Map<string, number>();
  private readonly pending = new Map<string, { auth: Auth; timer: ClockTimer }>();

  constructor(private readonly options: { intervalMs: number; clock: Clock; apply(clientId: string, auth: Auth): void }) {}

  moved(clientId: string, auth: Auth): void {
    const pending = this.pending.get(clientId);
    if (pending) {
      pending.auth = auth;
      return;
    }
    const { clock, intervalMs } = this.options;
    const since = clock.now() - (this.lastApplied.get(clientId) ?? -Infinity);
    if (since >= intervalMs) return this.apply(clientId, auth);
    const entry = {
      auth,
      timer: clock.after(intervalMs - since, () => {
        this.pending.delete(clientId);
        this.apply(clientId, entry.auth);
      }),
    };
    this.pending.set(clientId, entry);
  }

  /** The clientId is gone: a move still waiting is dropped with it. */
  forget(clientId: string): void {
    this.pending.get(clientId)?.timer.cancel();
    this.pending.delete(clientId);
    this.lastApplied.delete(clientId);
  }

  /** A move waiting for this clientId, if any (its latest auth). */
  waiting(clientId: string): Auth | undefined {
    return this.pending.get(clientId)?.auth;
  }

  private apply(clientId: string, auth: Auth): void {
    capped(this.lastApplied, clientId, this.options.clock.now(), CHURN_LIMITS.maxEntries);
    this.options.apply(clientId, auth);
  }
}

/**
 * New clientIds per user: a token bucket of `burst` tokens refilled at `perSecond`.
 * A clientId past it is answered as usual but not tracked yet; its next
 * connect asks again, so a page is late, never lost.
 */
export class ArrivalBudget {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();

  constructor(private readonly options: { burst: number; perSecond: number; clock: Clock }) {}

  take(uid: number): boolean {
    const { burst, perSecond, clock } = this.options;
    const now = clock.now();
    const bucket = this.buckets.get(uid);
    const tokens = bucket ? Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond) : burst;
    if (tokens < 1) return false;
    capped(this.buckets, uid, { tokens: tokens - 1, at: now }, CHURN_LIMITS.maxEntries);
    this.forgetFull(now);
    return true;
  }

  /**
   * A bucket untouched for burst / perSecond seconds is full again, the same as
   * no bucket: those go, so that the map holds the users who arrived lately,
   * not everyone who ever did. The map is in order of use, the oldest first.
   */
  private forgetFull(now: number): void {
    const refillMs = (this.options.burst / this.options.perSecond) * 1000;
    for (const [uid, bucket] of this.buckets) {
      if (now - bucket.at < refillMs) return;
      this.buckets.delete(uid);
    }
  }

  /** Users with a bucket: those who took a token within the last burst / perSecond seconds. */
  get size(): number {
    return this.buckets.size;
  }

  /** A token taken for an arrival that did not happen (the engine did not know the clientId). */
  giveBack(uid: number): void {
    const bucket = this.buckets.get(uid);
    if (bucket) bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1);
  }
}

/**
 * clientIds dropped by maxClientIdsPerUser. An evicted page that is still
 * open connects again and would evict the then-oldest tab in turn, for ever
 * (40 tabs of one user wrote 560 login rows a second); benched, it stays
 * connected and untracked while the user stays online through the others.
 */
export class Bench {
  private readonly until = new Map<string, number>();

  constructor(private readonly options: { ms: number; clock: Clock }) {}

  add(clientId: string): void {
    capped(this.until, clientId, this.options.clock.now() + this.options.ms, CHURN_LIMITS.maxEntries);
  }

  has(clientId: string): boolean {
    const until = this.until.get(clientId);
    if (until === undefined) return false;
    if (until > this.options.clock.now()) return true;
    this.until.delete(clientId);
    return false;
  }

  forget(clientId: string): void {
    this.until.delete(clientId);
  }
}

/**
 * Publishes one user's presence diffs per room: the first at once, then at
 * most one per window carrying the latest (diffs carry a seq per user, so a
 * client that gets only the latest knows the truth). A user hopping in and out
 * of a room reaches its members about once a window, not at every hop.
 */
export class CoalescedDiffs<D> {
  private readonly windows = new Map<string, { latest?: D; timer: ClockTimer; publish: () => void }>();

  constructor(private readonly options: { windowMs: number; clock: Clock; publish(room: string, diff: D): void }) {}

  diff(room: string, uid: number, diff: D): void {
    const key = `${uid} ${room}`;
    const open = this.windows.get(key);
    if (open) {
      open.latest = diff;
      return;
    }
    this.options.publish(room, diff);
    this.open(key, room);
  }

  /** Publishes every diff still waiting (close()). */
  flush(): void {
    for (const [key, window] of this.windows) {
      window.timer.cancel();
      if (window.latest !== undefined) this.options.publish(key.slice(key.indexOf(' ') + 1), window.latest);
    }
    this.windows.clear();
  }

  private open(key: string, room: string): void {
    const window = {
      latest: undefined as D | undefined,
      timer: this.options.clock.after(this.options.windowMs, () => window.publish()),
      publish: () => {
        this.windows.delete(key);
        if (window.latest === undefined) return;
        this.options.publish(room, window.latest);
        this.open(key, room);
      },
    };
    this.windows.set(key, window);
  }
}
