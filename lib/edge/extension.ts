// The Faye server extension: the edge where nothing a client sends is trusted.
// It checks the shape and size of every incoming message, reads and verifies
// `auth`, tells the presence core when a tracked clientId is seen, guards the
// channels the server owns, asks the app about subscriptions, and turns
// /faye_online/before_leave into a liveness check and /faye_online/engagement
// into engaged time.
//
// Every refusal is a Bayeux error in the reply to that client ("<code>::<text>")
// and one structured log line; nothing thrown here reaches Faye.
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import * as fayeConstants from 'faye/src/util/constants';
import { readAuth, samePresence, signedPart, type Auth } from '../core/auth';
import { systemClock, type Clock } from '../core/clock';
import type { ArrivalOutcome, Presence } from '../core/presence';
import { isFayeOnlineError } from '../errors';
import type { Logger } from '../log';
import type { SubscriptionRequest } from '../options';
import { verifyAuth } from '../security';
import type { BeforeLeave } from './before-leave';
import { ArrivalBudget, Bench, CHURN_LIMITS, MoveDamper } from './churn';
import { bytesIfOver, mostBytes } from './message-size';

import { BEFORE_LEAVE_CHANNEL, ENGAGEMENT_CHANNEL, INTERNAL_PREFIX, PRESENCE_SUFFIX, REFUSED_CHANNEL, USER_LIST_SUFFIX } from '../protocol';

/** The connection types Faye serves; it refuses a /meta/connect naming another. */
const FAYE_CONNECTION_TYPES: readonly string[] = fayeConstants.CONNECTION_TYPES;

/** Channels pages publish on to talk to the server; nobody may subscribe to them. */
const CLIENT_REPORT_CHANNELS = new Set([BEFORE_LEAVE_CHANNEL, ENGAGEMENT_CHANNEL]);

/** Channels only the server may publish on: a room's lists and our own namespace. */
export function isServerOwnedChannel(channel: string): boolean {
  if (CLIENT_REPORT_CHANNELS.has(channel)) return false;
  return channel.startsWith(INTERNAL_PREFIX) || channel.endsWith(USER_LIST_SUFFIX) || channel.endsWith(PRESENCE_SUFFIX);
}

/** A subscription that would receive other pages' reports (before_leave, engagement). */
function receivesClientReports(subscription: string): boolean {
  return CLIENT_REPORT_CHANNELS.has(subscription) || subscription === `${INTERNAL_PREFIX}*` || subscription === `${INTERNAL_PREFIX}**`;
}

export interface EngagementReport {
  engaged: boolean;
  /** The page's report number (orders its reports); null when the page sent none. */
  seq: number | null;
}

/** `{"engaged": boolean, "seq"?: positive integer}`, or a sentence saying what is wrong. */
export function readEngagementReport(data: unknown): EngagementReport | string {
  if (!isPlainObject(data)) return 'data must be an object with engaged (true or false) and seq (a positive integer)';
  if (typeof data.engaged !== 'boolean') return 'data.engaged must be true or false';
  const seq = data.seq;
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1)) return 'data.seq must be a positive integer';
  return { engaged: data.engaged, seq: seq ?? null };
}

export interface ExtensionOptions {
  presence: Presence;
  beforeLeave: BeforeLeave;
  logger: Logger;
  secret?: string[];
  validateMessage?: (message: Record<string, unknown>) => boolean;
  authorizeSubscription?: (request: SubscriptionRequest) => boolean | Promise<boolean>;
  /** Largest incoming message accepted, bytes of its JSON. */
  maxMessageBytes: number;
  /** Whether the Faye engine knows this clientId (anywhere in the cluster); asked only when the store does not check it itself (presence.checksEngine). */
  clientExists(clientId: string): Promise<boolean>;
  /** Tells the Faye engine the clientId is alive (as its connect will, once answered); a first arrival checked by the store pings it there instead. */
  ping(clientId: string): void;
  /** The auth JSON the store remembers for a clientId (anywhere in the cluster), or null. */
  rememberedAuth(clientId: string): Promise<string | null>;
  /** Called with each arrival's work so that close() can wait for it. */
  track(work: Promise<unknown>): void;
  /** False until the database and Redis are ready; messages are then not tracked. */
  isReady(): boolean;
  /** Time of the churn limits; default the system's. */
  clock?: Clock;
}

type Message = BayeuxMessage & Record<string, unknown>;
type Outcome = Message | Promise<Message>;

// Bayeux errors are "code:args:message"; Faye sends them back in the reply.
// Faye's clients split one into `code` and `message` only when the text keeps
// to the Bayeux error grammar (letters, digits, space and -_!~()$@/*.), and
// otherwise hand the page the whole string with no code. So the text is
// written in that alphabet: ": " and ", " become " - ", quotes go.
export function bayeuxError(code: number, message: string): string {
  const text = message
    .replace(/[:,]\s+/g, ' - ')
    .replace(/:/g, '.')
    .replace(/["'`]/g, '')
    .replace(/[^A-Za-z0-9\-_!~()$@ /*.]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  return `${code}::${text}`;
}

/** The meta messages that act on a clientId's connection, which signed mode binds to the clientId's user. */
const BOUND_META_CHANNELS = new Set(['/meta/connect', '/meta/disconnect', '/meta/subscribe', '/meta/unsubscribe']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringList = (value: unknown): boolean => Array.isArray(value) && value.every(isString);

// Faye reads these fields of a client's message and trusts their types: an
// object where it expects an array of strings can make it loop for as long as
// the object's "length" says, or throw inside an engine callback where nothing
// catches it. So their types are checked before Faye sees the message.
function envelopeProblem(message: Record<string, unknown>): string | undefined {
  if (!isString(message.channel)) return 'channel must be a string';
  if (message.clientId !== undefined && !isString(message.clientId)) return 'clientId must be a string';
  if (message.id !== undefined && !isString(message.id) && typeof message.id !== 'number') return 'id must be a string';
  if (message.subscription !== undefined && !isString(message.subscription) && !isStringList(message.subscription)) {
    return 'subscription must be a channel name or a list of them';
  }
  if (message.connectionType !== undefined && !isString(message.connectionType)) return 'connectionType must be a string';
  if (message.supportedConnectionTypes !== undefined && !isStringList(message.supportedConnectionTypes)) {
    return 'supportedConnectionTypes must be a list of strings';
  }
  if (message.version !== undefined && !isString(message.version)) return 'version must be a string';
  if (message.advice !== undefined) {
    if (!isPlainObject(message.advice)) return 'advice must be an object';
    for (const key of ['timeout', 'interval'] as const) {
      const value = message.advice[key];
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1)) {
        return `advice.${key} must be a number of milliseconds`;
      }
    }
  }
  return undefined;
}

/**
 * Distinct channels one /meta/subscribe or /meta/unsubscribe may name. Faye's
 * clients send one channel per message; the limit only stops a message that
 * names thousands, each of which would cost a subscription and a reply.
 */
export const MAX_SUBSCRIPTIONS_PER_MESSAGE = 32;

/**
 * Collapses repeated channels of a (un)subscribe into one each, in their first
 * order, so that repeating a channel costs nothing (a presence channel
 * repeated 2,300 times once cost 2,300 snapshots of the room in one reply).
 * Returns the count when more distinct channels than the limit remain.
 */
function collapseSubscriptions(message: Message): { count: number } | undefined {
  if (!Array.isArray(message.subscription)) return undefined;
  const distinct = [...new Set(message.subscription as string[])];
  if (distinct.length > MAX_SUBSCRIPTIONS_PER_MESSAGE) return { count: distinct.length };
  message.subscription = distinct;
  return undefined;
}

/** The uid of a remembered auth JSON, or null when there is none or it is unreadable. */
function rememberedUid(json: string | null): number | null {
  if (json === null) return null;
  try {
    const reading = readAuth(JSON.parse(json));
    return reading.kind === 'valid' ? reading.auth.user.uid : null;
  } catch {
    return null;
  }
}

export class PresenceExtension {
  private readonly moves: MoveDamper;
  private readonly arrivals: ArrivalBudget;
  private readonly bench: Bench;

  constructor(private readonly options: ExtensionOptions) {
    const clock = options.clock ?? systemClock;
    this.moves = new MoveDamper({ intervalMs: CHURN_LIMITS.moveIntervalMs, clock, apply: (clientId, auth) => void this.arrive(clientId, auth) });
    this.arrivals = new ArrivalBudget({ burst: CHURN_LIMITS.arrivalBurst, perSecond: CHURN_LIMITS.arrivalsPerSecond, clock });
    this.bench = new Bench({ ms: CHURN_LIMITS.benchMs, clock });
  }

  /** The clientId was destroyed: forget its damped moves and its bench. */
  forget(clientId: string): void {
    this.moves.forget(clientId);
    this.bench.forget(clientId);
  }

  /** The clientId was evicted by maxClientIdsPerUser: do not track it again while it stays connected. */
  evicted(clientId: string): void {
    this.moves.forget(clientId);
    this.bench.add(clientId);
  }

  incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    let outcome: Outcome;
    try {
      outcome = this.inspect(message, request === null);
    } catch (error) {
      outcome = this.failed(message, error);
    }
    if (!(outcome instanceof Promise)) {
      callback(outcome);
      return;
    }
    outcome
      .catch((error) => this.failed(message, error))
      .then((answer) => {
        // Called back outside Faye's own try/catch: a throw here would be uncaught.
        try {
          callback(answer);
        } catch (error) {
          this.options.logger.error({ err: error }, 'Faye failed on a message after the presence extension');
        }
      });
  }

  /** A message Faye sends: its answer to a /meta/connect gives a connected clientId's records their full TTL. */
  replied(message: BayeuxMessage): void {
    const reply = message as Message;
    if (reply.channel === '/meta/connect' && reply.successful === true && isString(reply.clientId)) {
      const work = this.options.presence.connected(reply.clientId);
      if (work) this.options.track(work);
    }
  }

  /** Nothing a client sends may break the server: log, refuse the message. */
  private failed(message: unknown, error: unknown): Message {
    const fields = isPlainObject(message) ? { channel: message.channel, clientId: message.clientId } : {};
    this.options.logger.error({ err: error, ...fields }, 'presence extension failed on a message');
    return this.refuse(message, 500, 'Internal error');
  }

  /**
   * Sets a Bayeux error on the message. A message whose envelope is not sound is
   * replaced by a small one carrying only its id, so that Faye answers with the
   * error without reading anything else from it.
   */
  private refuse(message: unknown, code: number, text: string, { keep = true } = {}): Message {
    const error = bayeuxError(code, text);
    if (keep && isPlainObject(message) && envelopeProblem(message) === undefined) {
      message.error = error;
      return message as Message;
    }
    const id = isPlainObject(message) && (isString(message.id) || typeof message.id === 'number') ? String(message.id).slice(0, 64) : undefined;
    return { ...(id === undefined ? {} : { id }), channel: REFUSED_CHANNEL, data: null, error } as Message;
  }

  private inspect(message: BayeuxMessage, local: boolean): Outcome {
    const { logger } = this.options;
    if (!isPlainObject(message)) {
      logger.warn({ type: Array.isArray(message) ? 'array' : typeof message }, 'refused a Bayeux message that is not an object');
      return this.refuse(message, 400, 'A Bayeux message must be a JSON object');
    }
    const msg = message as Message;
    if (!local) {
      const bytes = bytesIfOver(msg, this.options.maxMessageBytes);
      if (bytes > this.options.maxMessageBytes) {
        logger.warn({ bytes, limit: this.options.maxMessageBytes, channel: isString(msg.channel) ? msg.channel.slice(0, 300) : undefined }, 'refused a Bayeux message larger than maxMessageBytes');
        // Not kept: the reply would otherwise carry (and the pipeline hold) the whole message.
        return this.refuse(msg, 413, `Message larger than ${this.options.maxMessageBytes} bytes`, { keep: false });
      }
      const problem = envelopeProblem(msg);
      if (problem) {
        logger.warn({ problem }, 'refused a malformed Bayeux message');
        return this.refuse(msg, 400, `Malformed message: ${problem}`);
      }
    }
    return this.route(msg, local);
  }

  private route(message: Message, local: boolean): Outcome {
    const { presence, logger } = this.options;
    const channel = String(message.channel);
    const clientId = isString(message.clientId) ? message.clientId : undefined;

    if (!local && !channel.startsWith('/meta/') && isServerOwnedChannel(channel)) {
      logger.warn({ clientId, channel }, 'refused a publish on a server-owned channel');
      return this.refuse(message, 403, `${channel} is published by the server only`);
    }

    const auth = this.readAuth(message, clientId);
    // Auth travels on every message of the page; it must not be relayed to the
    // other subscribers of a published message.
    if (!channel.startsWith('/meta/')) delete message.auth;
    if (message.error) return message;
    // A sighting, when Faye will handle the message. A page whose every message
    // is refused (an auth the edge does not accept) is not online anywhere, and
    // its departure must not move later with each refusal.
    if (clientId) presence.sighted(clientId);

    if (this.options.secret && !local && clientId && BOUND_META_CHANNELS.has(channel)) {
      const binding = this.checkBinding(message, channel, clientId, auth);
      if (binding instanceof Promise) return binding.then((refusal) => refusal ?? this.dispatch(message, channel, clientId, auth, local));
      if (binding) return binding;
    }
    return this.dispatch(message, channel, clientId, auth, local);
  }

  /**
   * Signed mode binds a tracked clientId to its user: Faye lets anyone who
   * knows a clientId connect, subscribe, unsubscribe or disconnect with it (and
   * so take over the page's deliveries or end it). These messages must carry a
   * valid auth of the same user as the clientId is tracked for; the browser
   * clients send auth on every message. A clientId this process does not know
   * is looked up in the store, except a connect with auth, whose arrival the
   * store refuses itself when the clientId belongs to someone else.
   */
  private checkBinding(message: Message, channel: string, clientId: string, auth: Auth | undefined): Message | undefined | Promise<Message | undefined> {
    // A message right behind a connect whose arrival runs: the store may yet
    // refuse that arrival (another user's clientId), so its user is not the owner yet.
    const arriving = this.options.presence.firstArrival(clientId);
    if (arriving) return arriving.then(() => this.checkBinding(message, channel, clientId, auth));
    const known = this.options.presence.authOf(clientId);
    if (known) return known.user.uid === auth?.user.uid ? undefined : this.refuseUnbound(message, clientId, auth, known.user.uid);
    if (auth && channel === '/meta/connect') return undefined;
    return this.options.rememberedAuth(clientId).then((json) => {
      const owner = rememberedUid(json);
      return owner === null || owner === auth?.user.uid ? undefined : this.refuseUnbound(message, clientId, auth, owner);
    });
  }

  private refuseUnbound(message: Message, clientId: string, auth: Auth | undefined, owner: number): Message {
    this.options.logger.warn({ clientId, channel: message.channel, uid: auth?.user.uid ?? null, owner }, 'refused a message for a tracked clientId without its user\'s auth');
    return this.refuse(message, 401, auth ? 'This clientId is tracked for another user' : 'This clientId is tracked - send its auth');
  }

  private dispatch(message: Message, channel: string, clientId: string | undefined, auth: Auth | undefined, local: boolean): Outcome {
    const { logger } = this.options;
    if ((channel === '/meta/subscribe' || channel === '/meta/unsubscribe') && !local && message.subscription !== undefined) {
      const problem = collapseSubscriptions(message);
      if (problem) {
        logger.warn({ clientId, channel, subscriptions: problem.count, limit: MAX_SUBSCRIPTIONS_PER_MESSAGE }, 'refused a (un)subscribe naming too many channels');
        return this.refuse(message, 413, `More than ${MAX_SUBSCRIPTIONS_PER_MESSAGE} channels in one ${channel}`, { keep: false });
      }
    }
    if (channel === '/meta/subscribe' && !local) {
      const refused = ([] as unknown[]).concat(message.subscription ?? []).find((sub) => isString(sub) && receivesClientReports(sub));
      if (refused !== undefined) {
        logger.warn({ clientId, channel: refused }, 'refused a subscription to the pages\' reports');
        return this.refuse(message, 403, `${String(refused)} carries the reports of other pages and cannot be subscribed to`);
      }
    }
    if (channel === '/meta/subscribe' && !local && this.options.authorizeSubscription) {
      return this.authorizeSubscription(message, clientId, auth ?? null);
    }
    if (!auth || !clientId) return message;
    if (channel === BEFORE_LEAVE_CHANNEL) return this.beforeLeave(message, clientId, auth);
    if (channel === ENGAGEMENT_CHANNEL) return this.engagement(message, clientId, auth);
    if (channel !== '/meta/connect') return message;
    if (!this.options.isReady()) {
      logger.warn({ clientId }, 'not ready yet (database or Redis): this connect is not tracked; the next one will be');
      return message;
    }
    return this.connect(message, clientId, auth);
  }

  /** A valid auth to track, or undefined (no auth, not tracked, or refused with message.error set). */
  private readAuth(message: Message, clientId: string | undefined): Auth | undefined {
    const { logger } = this.options;
    const reading = readAuth(message.auth, { mostBytes: mostBytes(message) });
    switch (reading.kind) {
      case 'absent':
        return undefined;
      case 'incomplete':
        logger.debug({ clientId, reason: reading.reason }, 'auth incomplete: not tracked');
        return undefined;
      case 'invalid':
        logger.warn({ clientId, channel: message.channel, reason: reading.reason }, 'refused a message with invalid auth');
        message.error = bayeuxError(401, `Invalid auth: ${reading.reason}`);
        return undefined;
    }
    let auth = reading.auth;
    if (this.options.secret) {
      const verdict = verifyAuth(message.auth, { secret: this.options.secret });
      if (!verdict.ok) {
        logger.warn({ clientId, uid: auth.user.uid, reason: verdict.reason }, 'refused a message with an unsigned or bad signature');
        message.error = bayeuxError(401, `Auth not accepted: ${verdict.message}`);
        return undefined;
      }
      auth = signedPart(auth);
    }
    if (this.options.validateMessage && !this.options.validateMessage(message)) {
      logger.debug({ clientId, uid: auth.user.uid }, 'validateMessage returned false: not tracked');
      return undefined;
    }
    return auth;
  }

  /**
   * A /meta/connect with a valid auth. A clientId this process already tracks
   * is answered from memory, and refused when the auth names another user:
   * someone else's clientId is not taken over by sending it with one's own
   * auth. Any other clientId must be known to the engine: Faye validates it
   * only after the extensions ran, so a made-up clientId would otherwise be
   * tracked forever. (The store is not asked who owns it: a join costs one
   * store round trip, and in a cluster a process that does not know the
   * clientId accepts it for the uid it is sent with; see docs/security.md.)
   */
  private connect(message: Message, clientId: string, auth: Auth): Outcome {
    const { presence } = this.options;
    const current = presence.authOf(clientId);
    if (current) {
      if (current.user.uid !== auth.user.uid) return this.refuseForeignClientId(message, clientId, auth, current.user.uid);
      // Still where it is tracked: nothing to do, route() has sighted it.
      if (!samePresence(current, auth) || this.moves.waiting(clientId)) this.moves.moved(clientId, auth);
      return message;
    }
    if (this.bench.has(clientId)) return message;
    // Faye accepts the connect if the engine knows the clientId and serves the
    // connection type: the arrival then gives the records their full TTL.
    const connecting = isString(message.connectionType) && FAYE_CONNECTION_TYPES.includes(message.connectionType);
    // Awaited: in a cluster only the store knows that another process tracks
    // this clientId for another user, and the page must hear the refusal.
    const answer = (outcome: ArrivalOutcome | 'refused') => (outcome === 'refused' ? this.refuse(message, 401, 'This clientId is tracked for another user') : message);
    // The store checks and pings the client in the arrival's own round trip.
    if (presence.checksEngine) return this.firstArrival(clientId, auth, connecting).then(answer);
    return this.options.clientExists(clientId).then(async (exists) => {
      // Unknown to the engine: Faye answers "client unknown" itself and the page handshakes again.
      if (!exists) return message;
      // Faye counts the connect as a sign of life only after this answer, so
      // the client is pinged first: a slow database must not let the engine
      // end it meanwhile.
      this.options.ping(clientId);
      return answer(await this.firstArrival(clientId, auth, connecting));
    });
  }

  /** The arrival of a clientId this process does not track yet, within the user's budget of new clientIds. */
  private async firstArrival(clientId: string, auth: Auth, connecting: boolean): Promise<ArrivalOutcome | 'refused'> {
    if (!this.arrivals.take(auth.user.uid)) {
      this.options.logger.debug({ clientId, uid: auth.user.uid }, 'too many new clientIds of one user: not tracked yet; a later connect is');
      return 'arrived';
    }
    const outcome = await this.arrive(clientId, auth, connecting);
    // A clientId the engine does not know is not a new clientId of the user.
    if (outcome === 'unknown') this.arrivals.giveBack(auth.user.uid);
    return outcome;
  }

  /**
   * An engagement report. The report counts as a sighting of the page (like a
   * /meta/connect), so a report that overtakes the page's first connect, or
   * reaches another process of the cluster, still finds the page arrived.
   */
  private engagement(message: Message, clientId: string, auth: Auth): Outcome {
    const { presence, logger } = this.options;
    const report = readEngagementReport(message.data);
    if (typeof report === 'string') {
      logger.warn({ clientId, uid: auth.user.uid, problem: report }, 'refused a malformed engagement report');
      return this.refuse(message, 400, `Malformed engagement report: ${report}`);
    }
    if (!this.options.isReady()) {
      logger.warn({ clientId }, 'not ready yet (database or Redis): engagement report refused; the page reports again');
      return this.refuse(message, 503, 'Not ready yet; report again later');
    }
    const current = presence.authOf(clientId);
    if (current && current.user.uid !== auth.user.uid) return this.refuseForeignClientId(message, clientId, auth, current.user.uid);
    // A clientId this process tracks is sighted at once, before anything is
    // awaited, as a connect is: the page's messages then take effect in the
    // order they came. (A report naming the page's old place that waited for a
    // promise went after a later connect naming its new one, and moved the
    // page back: its user left the new room at once and joined again.)
    const work = this.reportArrival(clientId, auth, current !== undefined).then(async (known): Promise<Message> => {
      if (!known) return this.refuse(message, 401, `Unknown client ${clientId}; handshake again`);
      const outcome = await presence.engage(clientId, auth, report.engaged, report.seq);
      if (outcome === 'absent') {
        logger.warn({ clientId, uid: auth.user.uid, timeChannel: auth.timeChannel }, 'engagement report of a page that is not online: ignored');
        return this.refuse(message, 409, `This page is not online in ${auth.timeChannel}`);
      }
      return message;
    });
    this.options.track(work.catch(() => undefined));
    return work;
  }

  /** An engagement report of a clientId the engine knows is a sighting of the page where the report says it is. Returns true. */
  private reportSighting(clientId: string, auth: Auth): true {
    // A sign of life for the engine too (Faye counts only connects): a process
    // that never saw this report departs the page as of the engine's last
    // ping, which must not come before it.
    this.options.ping(clientId);
    void this.arrive(clientId, auth);
    return true;
  }

  /**
   * The page of an engagement report is alive and arrived (the engine knows
   * it); false when the engine does not know it. The report counts as a sign
   * of life for the engine too (Faye counts only connects): a process that
   * never saw this report departs the page as of the engine's last ping,
   * which must not come before it.
   */
  private reportArrival(clientId: string, auth: Auth, tracked: boolean): Promise<boolean> {
    // Tracked: sighted before anything is awaited, so the page's messages keep their order.
    if (tracked) return Promise.resolve(this.reportSighting(clientId, auth));
    // A clientId new here: the store checks and pings it with its arrival.
    if (this.options.presence.checksEngine) return this.arrive(clientId, auth).then((outcome) => outcome !== 'unknown');
    return this.options.clientExists(clientId).then((exists) => exists && this.reportSighting(clientId, auth));
  }


  /**
   * Starts the clientId's arrival (nothing when it is known with this auth).
   * 'refused' when the store keeps the clientId for another user: one warning,
   * no stack, as for any other refusal; 'unknown' when the store checked the
   * engine, which does not know the clientId.
   */
  private arrive(clientId: string, auth: Auth, connecting = false): Promise<ArrivalOutcome | 'refused'> {
    const { logger } = this.options;
    const work = this.options.presence.arrive(clientId, auth, connecting);
    if (!work) return Promise.resolve('arrived');
    const outcome = work.then(
      (arrival): ArrivalOutcome => arrival,
      (error): ArrivalOutcome | 'refused' => {
        if (isFayeOnlineError(error, 'FORBIDDEN')) {
          logger.warn({ clientId, uid: auth.user.uid }, 'refused a connect for a clientId another process tracks for another user');
          return 'refused';
        }
        logger.error({ err: error, clientId, uid: auth.user.uid }, 'presence: could not record an arrival; the next connect retries');
        return 'arrived';
      },
    );
    this.options.track(outcome);
    return outcome;
  }

  private refuseForeignClientId(message: Message, clientId: string, auth: Auth, owner: number): Message {
    this.options.logger.warn({ clientId, uid: auth.user.uid, owner }, 'refused a message for a clientId tracked for another user');
    return this.refuse(message, 401, 'This clientId is tracked for another user');
  }

  /**
   * before_leave may only start the liveness check of the sender's own clientId:
   * the one remembered for the same uid. Faye does not check the clientId of a
   * publish, so without this anyone knowing a clientId could ask about it. Even
   * then the check only ends clients that no longer answer (lib/edge/before-leave.ts).
   */
  private async beforeLeave(message: Message, clientId: string, auth: Auth): Promise<Message> {
    const owner = rememberedUid(await this.options.rememberedAuth(clientId));
    if (owner === null) {
      this.options.logger.debug({ clientId }, 'before_leave for a clientId that is not tracked: nothing to check');
      return message;
    }
    if (owner !== auth.user.uid) {
      this.options.logger.warn({ clientId, uid: auth.user.uid, owner }, 'refused before_leave for a clientId of another user');
      return this.refuse(message, 403, 'before_leave is accepted for your own clientId only');
    }
    this.options.beforeLeave.closing(clientId);
    return message;
  }

  /** Asks the app's authorizeSubscription about each channel; one refusal refuses the message. */
  private async authorizeSubscription(message: Message, clientId: string | undefined, auth: Auth | null): Promise<Message> {
    const hook = this.options.authorizeSubscription!;
    // Faye answers a subscribe without clientId or subscription itself.
    if (!clientId || message.subscription === undefined) return message;
    const channels = ([] as string[]).concat(message.subscription as string | string[]);
    for (const channel of channels) {
      let allowed: boolean;
      try {
        allowed = (await hook({ clientId, channel, auth, message })) === true;
      } catch (error) {
        this.options.logger.error({ err: error, clientId, channel }, 'authorizeSubscription failed: the subscription is refused');
        return this.refuse(message, 403, `Subscription to ${channel} refused`);
      }
      if (!allowed) {
        this.options.logger.warn({ clientId, channel, uid: auth?.user.uid }, 'refused a subscription (authorizeSubscription)');
        return this.refuse(message, 403, `Subscription to ${channel} refused`);
      }
    }
    return message;
  }
}
