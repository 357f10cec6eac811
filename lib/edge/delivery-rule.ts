// authorizeSubscription per delivered channel. Faye delivers a message on
// /chat/a to the subscribers of /chat/a and of every pattern matching it
// (/chat/*, /chat/**, /**), while the rule was asked about the pattern when
// it was subscribed to, never about /chat/a. So, when the app gives a rule,
// every message delivered to a page on the app's own channels is checked
// here against the same rule, with the channel it was published on and the
// page's tracked auth: a page receives a channel by a pattern only if the
// rule would have let it subscribe to that channel by name. (The package's
// own channels never reach a pattern at all: see delivery.ts.)
//
// The check runs in the process that hands the message to the page (the one
// serving its /meta/connect or socket), in Faye's outgoing pipeline. Which
// page a reply goes to is known from the request: the clientId of the
// messages it carried (long-polling, WebSocket) or its URL (EventSource); a
// request that carried several clientIds is checked as a page without auth. Decisions are
// kept per page, auth and channel, so the rule runs once per channel a page
// receives, not once per message.
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import type { Auth } from '../core/auth';
import { presenceKey } from '../core/auth';
import type { Logger } from '../log';
import { WITHHELD_CHANNEL } from '../protocol';
import type { SubscriptionRequest } from '../options';
import { isServerOwnedChannel } from './extension';

/** What a withheld delivery becomes: a message without data, which Faye's clients ignore (a null would break a WebSocket client). */
export const WITHHELD: Readonly<BayeuxMessage> = Object.freeze({ channel: WITHHELD_CHANNEL });

/** Decisions kept at most, over all pages (the oldest go first). */
const MAX_DECISIONS = 10_000;

export interface DeliveryRuleOptions {
  rule: (request: SubscriptionRequest) => boolean | Promise<boolean>;
  /** The auth a page is tracked with (null: not tracked). */
  authOf(clientId: string): Auth | null;
  logger: Logger;
}

type Decision = boolean | Promise<boolean>;

export class DeliveryRule {
  /** request → the clientId its messages carried (null: several, so nobody in particular). */
  private readonly recipients = new WeakMap<object, string | null>();
  private readonly decisions = new Map<string, Decision>();

  constructor(private readonly options: DeliveryRuleOptions) {}

  incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    // Any message, not only /meta/connect: Faye hands a client's deliveries to
    // the WebSocket its latest message came by, while its connect may still be
    // held on a long-poll.
    if (request && typeof message.clientId === 'string' && !message.error) {
      const noted = this.recipients.get(request);
      this.recipients.set(request, noted === undefined || noted === message.clientId ? message.clientId : null);
    }
    callback(message);
  }

  outgoing(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    const channel = message.channel;
    // Server-side clients (no request), replies (`successful`), meta messages
    // and the package's own channels are not deliveries to check here.
    if (!request || typeof channel !== 'string' || channel.startsWith('/meta/') || message.successful !== undefined
      || message.data === undefined || isServerOwnedChannel(channel)) {
      callback(message);
      return;
    }
    const decision = this.decide(this.recipientOf(request), channel, message);
    if (typeof decision === 'boolean') {
      callback(decision ? message : { ...WITHHELD });
      return;
    }
    decision.then((allowed) => callback(allowed ? message : { ...WITHHELD }));
  }

  private recipientOf(request: IncomingMessage): string | null {
    const noted = this.recipients.get(request);
    if (noted !== undefined) return noted;
    // An EventSource stream is a GET of <mount>/<clientId>; its /meta/connect came in another request.
    if (/text\/event-stream/.test(String(request.headers?.accept ?? ''))) {
      const last = (request.url ?? '').split('?')[0].split('/').pop();
      if (last) return last;
    }
    return null;
  }

  private decide(clientId: string | null, channel: string, message: BayeuxMessage): Decision {
    const auth = clientId === null ? null : this.options.authOf(clientId);
    const key = `${clientId ?? ''} ${auth ? presenceKey(auth) : ''} ${channel}`;
    const known = this.decisions.get(key);
    if (known !== undefined) return known;
    const decision = this.ask({ clientId: clientId ?? '', channel, auth, message: { ...message } }).then((allowed) => {
      this.decisions.set(key, allowed);
      return allowed;
    });
    this.decisions.set(key, decision);
    if (this.decisions.size > MAX_DECISIONS) this.decisions.delete(this.decisions.keys().next().value!);
    return decision;
  }

  private async ask(request: SubscriptionRequest): Promise<boolean> {
    try {
      const allowed = (await this.options.rule(request)) === true;
      if (!allowed) this.options.logger.debug({ clientId: request.clientId, channel: request.channel }, 'withheld a delivery the subscription rule refuses for this channel');
      return allowed;
    } catch (error) {
      this.options.logger.error({ err: error, clientId: request.clientId, channel: request.channel }, 'authorizeSubscription failed on a delivery: it is withheld');
      return false;
    }
  }
}
