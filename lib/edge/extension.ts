// The Faye server extension: reads `auth` from incoming messages, tells the
// presence core when a tracked clientId is seen, guards the channels the server
// owns, and turns /faye_online/before_leave into a liveness check.
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import { readAuth, type Auth } from '../core/auth';
import type { Presence } from '../core/presence';
import type { Logger } from '../log';
import { verifyAuth } from '../security';
import type { BeforeLeave } from './before-leave';

export const BEFORE_LEAVE_CHANNEL = '/faye_online/before_leave';

/** Channels only the server may publish on: a room's lists and our own namespace. */
export function isServerOwnedChannel(channel: string): boolean {
  if (channel === BEFORE_LEAVE_CHANNEL) return false;
  return channel.startsWith('/faye_online/') || channel.endsWith('/user_list') || channel.endsWith('/presence');
}

export interface ExtensionOptions {
  presence: Presence;
  beforeLeave: BeforeLeave;
  logger: Logger;
  secret?: string[];
  validateMessage?: (message: Record<string, unknown>) => boolean;
  /** Called with each arrival's work so that close() can wait for it. */
  track(work: Promise<unknown>): void;
  /** False until the database and Redis are ready; messages are then not tracked. */
  isReady(): boolean;
}

// Bayeux errors are "code:args:message"; Faye sends them back in the reply.
function bayeuxError(code: number, message: string): string {
  return `${code}::${message}`;
}

export class PresenceExtension {
  constructor(private readonly options: ExtensionOptions) {}

  incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    try {
      this.inspect(message, request === null);
    } catch (error) {
      // Nothing a client sends may break the server: log, refuse the message.
      this.options.logger.error({ err: error, channel: message?.channel, clientId: message?.clientId }, 'presence extension failed on a message');
      message.error = bayeuxError(500, 'Internal error');
    }
    callback(message);
  }

  private inspect(message: BayeuxMessage, local: boolean): void {
    const { presence, logger } = this.options;
    const channel = message.channel;
    const clientId = typeof message.clientId === 'string' ? message.clientId : undefined;
    if (clientId) presence.touch(clientId);

    if (!local && typeof channel === 'string' && !channel.startsWith('/meta/') && isServerOwnedChannel(channel)) {
      message.error = bayeuxError(403, `${channel} is published by the server only`);
      logger.warn({ clientId, channel }, 'refused a publish on a server-owned channel');
      return;
    }

    const auth = this.readAuth(message, clientId);
    // Auth travels on every message of the page; it must not be relayed to the
    // other subscribers of a published message.
    if (!String(channel).startsWith('/meta/')) delete message.auth;
    if (!auth || message.error) return;

    if (channel === BEFORE_LEAVE_CHANNEL) {
      if (clientId && presence.isKnown(clientId)) this.options.beforeLeave.closing(clientId);
      return;
    }
    if (channel !== '/meta/connect' || !clientId) return;
    if (!this.options.isReady()) {
      logger.warn({ clientId }, 'not ready yet (database or Redis): this connect is not tracked; the next one will be');
      return;
    }
    const work = presence.seen(clientId, auth);
    if (work) {
      this.options.track(
        work.catch((error) => logger.error({ err: error, clientId, uid: auth.user.uid }, 'presence: could not record an arrival; the next connect retries')),
      );
    }
  }

  /** A valid auth to track, or undefined (no auth, not tracked, or refused with message.error set). */
  private readAuth(message: BayeuxMessage, clientId: string | undefined): Auth | undefined {
    const { logger } = this.options;
    const reading = readAuth(message.auth);
    switch (reading.kind) {
      case 'absent':
        return undefined;
      case 'incomplete':
        logger.debug({ clientId, reason: reading.reason }, 'auth incomplete: not tracked');
        return undefined;
      case 'invalid':
        message.error = bayeuxError(401, `Invalid auth: ${reading.reason}`);
        logger.warn({ clientId, channel: message.channel, reason: reading.reason }, 'refused a message with invalid auth');
        return undefined;
    }
    const auth = reading.auth;
    if (this.options.secret) {
      const verdict = verifyAuth(message.auth, { secret: this.options.secret });
      if (!verdict.ok) {
        message.error = bayeuxError(401, `Auth not accepted: ${verdict.message}`);
        logger.warn({ clientId, uid: auth.user.uid, reason: verdict.reason }, 'refused a message with an unsigned or bad signature');
        return undefined;
      }
    }
    if (this.options.validateMessage && !this.options.validateMessage(message as Record<string, unknown>)) {
      logger.debug({ clientId, uid: auth.user.uid }, 'validateMessage returned false: not tracked');
      return undefined;
    }
    return auth;
  }

  outgoing(message: BayeuxMessage, callback: (message: BayeuxMessage) => void): void {
    callback(message);
  }
}
