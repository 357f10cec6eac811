// What the Bayeux edge witnesses of a client's end, kept until Faye destroys
// the client: a before_leave decision, a /meta/disconnect it let through. The
// rule that turns those facts into a reason and a time is core/departures.ts;
// this class only gathers the facts, so every departure (Faye's 'disconnect',
// an orphan found by reconciliation, a shutdown) goes through that one rule.
import type { NodeAdapter } from 'faye';
import type { Clock } from '../core/clock';
import { departureOf, type DepartureDecision } from '../core/departures';
import type { Presence } from '../core/presence';
import type { RedisEngine } from '../engine';
import type { Logger } from '../log';
import { BeforeLeave } from './before-leave';
import { beforeLeaveLiveness } from './broadcasts';

export interface DepartureSources {
  clock: Clock;
  /** The last message of the client this process saw (ms), when it tracks it. */
  trackedLastSeen(clientId: string): number | undefined;
  /** The engine's last ping of the client (ms), when it keeps one (the Redis engine). */
  engineLastSeen?(clientId: string): Promise<number | null | undefined>;
}

export class Departures {
  private readonly decided = new Map<string, DepartureDecision>();
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
  destroyed(clientId: string, engine?: { reason?: string; lastSeen?: number }): DepartureDecision {
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
  async orphan(clientId: string): Promise<DepartureDecision> {
    const engineLastSeen = (await this.sources.engineLastSeen?.(clientId)) ?? undefined;
    return departureOf({ explicit: false, engineLastSeen, trackedLastSeen: this.sources.trackedLastSeen(clientId), now: this.sources.clock.now() });
  }

  /** A page still connected when a server alone in its cluster stops: it leaves now, as if it had disconnected. */
  shutdown(): DepartureDecision {
    return departureOf({ explicit: true, now: this.sources.clock.now() });
  }
}

export interface DepartureWiring {
  adapter: NodeAdapter;
  /** The Redis engine, when the adapter runs on it (it knows why and when a client was destroyed). */
  redisEngine: RedisEngine | undefined;
  presence: Presence;
  clock: Clock;
  logger: Logger;
  beforeLeaveDelayMs: number;
  /** Keeps the departure's write until close. */
  track(work: Promise<unknown>): void;
  /** Stops tracking a destroyed client at the edge (the extension). */
  untrack(clientId: string): void;
}

/**
 * How clients leave on a server: before_leave decides some, Faye's
 * 'disconnect' processes every one, once, through Departures.
 */
export function bindDepartures(w: DepartureWiring): { departures: Departures; beforeLeave: BeforeLeave } {
  const { adapter, redisEngine, presence, clock, logger } = w;
  const proxy = adapter._server._engine;
  const departures = new Departures({ clock, trackedLastSeen: (clientId) => presence.lastSeen(clientId), engineLastSeen: redisEngine && ((clientId) => redisEngine.lastSeen(clientId)) });
  const beforeLeave = new BeforeLeave({
    delayMs: w.beforeLeaveDelayMs,
    clock,
    liveness: beforeLeaveLiveness(proxy, redisEngine, (clientId) => presence.lastSeen(clientId), (clientId, at) => {
      departures.decide(clientId, at);
      proxy.destroyClient(clientId);
    }),
    onError: (error, clientId) => logger.error({ err: error, clientId }, 'before_leave check failed'),
  });
  adapter.bind('disconnect', (clientId: string) => {
    w.untrack(clientId);
    const { reason, at } = departures.destroyed(clientId, redisEngine?.disconnectInfo(clientId));
    w.track(presence.depart(clientId, reason, at).catch((error) => logger.error({ err: error, clientId }, 'presence: could not record a departure')));
  });
  // In a cluster another process may have destroyed the client: forget it here.
  // Not at once: the Redis engine's `close` notification can overtake the
  // local `disconnect` of a client this very process destroyed, whose
  // departure then still finds the auth and last-seen time in memory instead
  // of reading them back from Redis.
  adapter.bind('close', (clientId: string) => clock.after(1000, () => presence.forgetLocally(clientId)));
  return { departures, beforeLeave };
}

/** A server alone in its cluster is the whole truth: whoever is still connected when it stops leaves now. */
export async function departEveryone(presence: Presence, departures: Departures): Promise<void> {
  await Promise.all(presence.knownClientIds().map((clientId) => {
    const { reason, at } = departures.shutdown();
    return presence.depart(clientId, reason, at);
  }));
}
