// A presence extension over a stand-in presence, for tests of the edge's
// message handling alone: no engine, no store, every clientId exists.
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import type { Presence } from '../../lib/core/presence';
import type { BeforeLeave } from '../../lib/edge/before-leave';
import { PresenceExtension } from '../../lib/edge/extension';
import { silentLogger } from '../../lib/log';

/** `presence` names only the members the test needs; a misspelled one fails to compile. */
export function extensionOver(presence: Partial<Record<keyof Presence, unknown>>) {
  const extension = new PresenceExtension({
    presence: presence as unknown as Presence,
    beforeLeave: {} as BeforeLeave,
    logger: silentLogger,
    maxMessageBytes: 64 * 1024,
    clientExists: async () => true,
    ping: () => undefined,
    rememberedAuth: async () => null,
    track: () => undefined,
    isReady: () => true,
  });
  /** Sends one message through the extension and resolves with what it passes on. */
  return (message: Record<string, unknown>) =>
    new Promise<BayeuxMessage>((resolve) => extension.incoming(message as BayeuxMessage, {} as IncomingMessage, resolve));
}
