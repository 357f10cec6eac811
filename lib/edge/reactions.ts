// Every reaction of a server to presence derives from its one transition per
// change (docs/ARCHITECTURE.md): the broadcasts, the metrics, the trace and
// the handle's events, in that order; an evicted tab stops being tracked at
// the edge before its departure is written.
import type { EventEmitter } from 'node:events';
import type { Presence } from '../core/presence';
import type { Logger } from '../log';
import type { PresenceMetrics } from '../metrics';
import type { Broadcasts } from './broadcasts';
import { emitPublicEvents, type FayeOnlineEvents } from './handle';
import { trace } from './trace';

export interface PresenceReactions {
  broadcasts: Broadcasts;
  metrics: PresenceMetrics | undefined;
  /** Where the gem's verbose log goes (the `trace` option); undefined: no trace. */
  trace: Logger | undefined;
  handle: EventEmitter<FayeOnlineEvents>;
  evicted(clientId: string): void;
}

export function reactToPresence(presence: Presence, r: PresenceReactions): void {
  presence.on('transition', (t) => {
    r.broadcasts.transition(t);
    r.metrics?.transition(t);
    if (r.trace) trace(r.trace, t);
    emitPublicEvents(r.handle, t);
  });
  presence.on('evicted', (clientId) => r.evicted(clientId));
  const metrics = r.metrics;
  if (metrics) presence.on('writeFailed', () => metrics.sqlWriteFailed());
}
