// Why a destroyed client left, and as of when. One rule for the Bayeux edge
// and for the simulation that checks presence against a model of the truth.
import type { DepartureReason } from './presence';

/** Why a clientId departed, and as of when (ms). */
export interface DepartureDecision {
  reason: DepartureReason;
  at: number;
}

export interface DepartureFacts {
  /** before_leave decided this departure itself, with its own reason and time. */
  decided?: DepartureDecision;
  /** The page sent /meta/disconnect (seen by this process, or reported by the engine). */
  explicit: boolean;
  /** The engine's last ping of the client (ms), when it reports one. */
  engineLastSeen?: number;
  /** The last message of the client this process saw (ms), when it tracked it. */
  trackedLastSeen?: number;
  /** Now, ms. */
  now: number;
}

/**
 * A page that sent /meta/disconnect was there until now: its last ping can be
 * a whole held long-poll earlier, and the process receiving the disconnect may
 * not track it at all. A client that stopped answering (an engine timeout)
 * left when it was last seen (by the engine or by this process), not when
 * the engine noticed.
 */
export function departureOf(facts: DepartureFacts): DepartureDecision {
  if (facts.decided) return facts.decided;
  if (facts.explicit) return { reason: 'disconnect', at: facts.now };
  // The later of the two: the engine counts only /meta/connect as a ping,
  // while this process also saw the page's other messages (an engagement
  // report after its last connect).
  const seen = [facts.engineLastSeen, facts.trackedLastSeen].filter((ms): ms is number => ms !== undefined);
  return { reason: 'timeout', at: seen.length > 0 ? Math.max(...seen) : facts.now };
}
