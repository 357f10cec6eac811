// The Faye side of a server: the NodeAdapter on its engine, and the extensions
// every message passes through (presence, metrics, request limits, the
// <room>/presence state in subscribe replies).
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import faye, { type BayeuxMessage, type NodeAdapter } from 'faye';
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
  if (engine.type === undefined) timeoutsOnClock(adapter._server._engine._engine as FayeTimeouts, opts.clock);
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
  adapter.addExtension({
    incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void) {
      presence.incoming(message, request, (answer) => {
        // Only a disconnect the extension let through ends the client.
        if (answer.channel === '/meta/disconnect' && !answer.error && typeof answer.clientId === 'string' && parts.isTracked(answer.clientId)) {
          parts.onDisconnect(answer.clientId);
        }
        callback(answer);
      });
    },
    // Faye's answer to a /meta/connect gives a connected clientId's records their full TTL.
    outgoing: (message: BayeuxMessage, callback: (message: BayeuxMessage) => void) => presence.outgoing(message, callback),
  });
  if (metrics) {
    adapter.addExtension({
      incoming(message: BayeuxMessage, callback: (message: BayeuxMessage) => void) {
        metrics.bayeuxMessage(message.channel);
        callback(message);
      },
    });
  }
  noteParsedTexts(adapter, () => logger.warn({}, 'could not see the text of parsed Bayeux messages (faye changed?): each message is written again to measure its size'));
  limitRequestBodies(adapter, bodyLimitFor(opts.maxMessageBytes), logger);
  limitBatches(adapter, { maxMessages: opts.maxMessagesPerRequest, maxFrameBytes: bodyLimitFor(opts.maxMessageBytes) }, logger);
  if (opts.presenceDiffs) {
    adapter.addExtension(new PresenceStateExtension(parts.store, logger, { pageSize: opts.presencePageSize, clock: opts.clock, work: metrics }));
  }
  if (opts.authorizeSubscription) adapter.addExtension(new DeliveryRule({ rule: opts.authorizeSubscription, authOf: parts.authOf, logger }));
  adapter.attach(httpServer);
}
