// What the Bayeux edge witnesses of a client's end, kept until Faye destroys
// the client: a before_leave decision, a /meta/disconnect it let through. The
// rule that turns those facts into a reason and a time is core/departures.ts;
// this class only gathers the facts, so every departure (Faye's 'disconnect',
// an orphan found by reconciliation, a shutdown) goes through that one rule.
import type { Clock } from '../core/clock';
import { departureOf } from '../core/departures';
import type { DepartureReason } from '../core/presence';

export interface Departure {
  reason: DepartureReason;
  at: number;
}

export interface DepartureSources {
  clock: Clock;
  /** The last message of the client this process saw (ms), when it tracks it. */
  trackedLastSeen(clientId: string): number | undefined;
  /** The engine's last ping of the client (ms), when it keeps one (the Redis engine). */
  engineLastSeen?(clientId: string): Promise<number | null | undefined>;
}

export class Departures {
  private readonly decided = new Map<string, Departure>();
  private readonly explicit = new Set<string>();

  constructor(private readonly sources: DepartureSources) {}

  /** before_leave found the page gone and destroys the client: it left as of `at`. */
  decide(clientId: string, at: number): void {
    this.decided.set(clientId, { reason: 'before_leave', at });
  }

  /** The page's /meta/disconnect was let through: it was there until now. */
  disconnected(clientId: string): void {
    this.explicit.add(clientId);
  }

  /**
   * Faye destroyed the client on this process. `engine` is what the engine
   * tells of it (the Redis engine: why and its last ping). Forgets the facts.
   */
  destroyed(clientId: string, engine?: { reason?: string; lastSeen?: number }): Departure {
    const decided = this.decided.get(clientId);
    this.decided.delete(clientId);
    const explicit = this.explicit.delete(clientId) || engine?.reason === 'disconnect';
    return departureOf({ decided, explicit, engineLastSeen: engine?.lastSeen, trackedLastSeen: this.sources.trackedLastSeen(clientId), now: this.sources.clock.now() });
  }

  /**
   * A client that no longer exists but still has presence (reconciliation).
   * The process reconciling may never have seen the page: it left as of the
   * engine's last ping, which the engine keeps until its GC removes the client
   * (clientExists turns false well before that).
   */
  async orphan(clientId: string): Promise<Departure> {
    const engineLastSeen = (await this.sources.engineLastSeen?.(clientId)) ?? undefined;
    return departureOf({ explicit: false, engineLastSeen, trackedLastSeen: this.sources.trackedLastSeen(clientId), now: this.sources.clock.now() });
  }

  /** A page still connected when a server alone in its cluster stops: it leaves now, as if it had disconnected. */
  shutdown(): Departure {
    return departureOf({ explicit: true, now: this.sources.clock.now() });
  }
}
