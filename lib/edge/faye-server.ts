// The Faye side of a server: the NodeAdapter on its engine, the one extension
// every message passes through (presence, metrics, the <room>/presence state in
// subscribe replies), the request limits and the opt-in delivery rule.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import faye, { type BayeuxMessage, type NodeAdapter } from 'faye';
import { clientIdsOf } from '../engine/client-id';
import { timeoutsOnClock, type FayeTimeouts } from '../engine/memory-timeouts';
import type { Logger } from '../log';
import type { PresenceMetrics } from '../metrics';
import type { ResolvedOptions } from '../options';
import type { PresenceStore } from '../stores/store';
import type { Auth } from '../core/auth';
import { narrowDelivery } from './delivery';
import { DeliveryRule } from './delivery-rule';
import type { PresenceExtension } from './extension';
import { PresenceStateExtension } from './presence-diffs';
import { noteParsedTexts } from './message-size';
import { bodyLimitFor, limitBatches, limitRequestBodies } from './request-limit';

export function createAdapter(opts: ResolvedOptions, engine: Record<string, unknown>): NodeAdapter {
  const adapter = new faye.NodeAdapter({ mount: opts.mount, timeout: opts.timeout, ping: opts.ping, engine });
  // Faye's own memory engine (no engine type): its client timeouts go on the clock (the Redis engine's are already).
  if (engine.type === undefined) {
    const memoryEngine = adapter._server._engine._engine;
    timeoutsOnClock(memoryEngine as FayeTimeouts, opts.clock);
    clientIdsOf(memoryEngine as { _namespace?: object });
  }
  narrowDelivery(adapter._server._engine, { exactListsOnly: opts.authorizeSubscription !== undefined });
  return adapter;
}

export interface ExtensionParts {
  presence: PresenceExtension;
  /** A /meta/disconnect the presence extension let through, of a clientId this process tracks. */
  onDisconnect(clientId: string): void;
  isTracked(clientId: string): boolean;
  /** The auth a tracked clientId is tracked with (null: not tracked). */
  authOf(clientId: string): Auth | null;
  store: PresenceStore;
  metrics?: PresenceMetrics;
  logger: Logger;
}

/** Adds the extensions and attaches the adapter to the HTTP server. */
export function serveFaye(adapter: NodeAdapter, httpServer: HttpServer, opts: ResolvedOptions, parts: ExtensionParts): void {
  const { presence, metrics, logger } = parts;
  const state = opts.presenceDiffs
    ? new PresenceStateExtension(parts.store, logger, { pageSize: opts.presencePageSize, clock: opts.clock, work: metrics })
    : undefined;
  // One Faye extension for presence, the metrics and the <room>/presence state: Faye passes every
  // message, and every message it delivers, through each extension in turn, with a lookup, a read of
  // the function's length and a closure per extension. As three extensions, they cost presence's
  // steady work (bench:instructions, 300 clients) about 5% more instructions than as one.
  adapter.addExtension({
    incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void) {
      presence.incoming(message, request, (answer) => {
        // Only a disconnect the extension let through ends the client.
        if (answer.channel === '/meta/disconnect' && !answer.error && typeof answer.clientId === 'string' && parts.isTracked(answer.clientId)) {
          parts.onDisconnect(answer.clientId);
        }
        metrics?.bayeuxMessage(answer.channel);
        if (state) state.incoming(answer, request, callback);
        else callback(answer);
      });
    },
    outgoing(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void) {
      // Every message Faye sends comes here, each delivery included: only two kinds of reply concern us.
      const channel = message.channel;
      // Faye's answer to a /meta/connect gives a connected clientId's records their full TTL.
      if (channel === '/meta/connect') presence.replied(message);
      else if (channel === '/meta/subscribe' && state) return state.outgoing(message, request, callback);
      callback(message);
    },
  });
  noteParsedTexts(adapter, () => logger.warn({}, 'could not see the text of parsed Bayeux messages (faye changed?): each message is written again to measure its size'));
  limitRequestBodies(adapter, bodyLimitFor(opts.maxMessageBytes), logger);
  limitBatches(adapter, { maxMessages: opts.maxMessagesPerRequest, maxFrameBytes: bodyLimitFor(opts.maxMessageBytes), maxUnsentBytes: opts.maxUnsentBytes }, logger);
  if (opts.authorizeSubscription) adapter.addExtension(new DeliveryRule({ rule: opts.authorizeSubscription, authOf: parts.authOf, logger }));
  adapter.attach(httpServer);
}
