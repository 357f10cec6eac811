// The presence rules (docs/protocol.md): a clientId's arrival and departure, the
// transitions they cause (a user joins or leaves a room, a timer starts or
// stops, a login or logout is logged) and the records those transitions write.
// Work happens on transitions only: a repeated /meta/connect of a known clientId
// is answered from memory.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { markExpiresAt, TIMER_RESOLUTION_MS, type Arrival, type ArrivalResult, type EngineClients, type DepartureResult, type PendingLeave, type PresenceStore, type UnseenGap } from '../stores/store';
import { keptAuth, presenceKey, readAuth, rememberedAuthJson, samePresence, type Auth, type User } from './auth';
import { KeyedQueue } from './keyed-queue';
import { sleep, systemClock, type Clock, type ClockTimer } from './clock';
import { FayeOnlineError } from '../errors';

/** What presence needs of the SQL records (implemented by lib/records). */
export interface PresenceRecords {
  /** Writes of one room's list are batched (lib/records does it): a storm's joins must not each retry against all the others. */
  addToOnlineList(room: string, uid: number): Promise<number[]>;
  removeFromOnlineList(room: string, uid: number): Promise<number[]>;
  startTimer(uid: number, timeChannel: string, at: Date): Promise<boolean>;
  stopTimer(uid: number, timeChannel: string, at: Date): Promise<number | null>;
  writeLoginLog(entry: { status: 0 | 1; uid: number; timeChannel: string; clientId: string; at: Date; reason?: string }): Promise<void>;
  /** An engaged session starting at `session` (ms). */
  startEngaged(uid: number, timeChannel: string, session: number): Promise<boolean>;
  /** The engaged session that started at `session` (ms) ended at `at`. */
  stopEngaged(uid: number, timeChannel: string, session: number, at: Date): Promise<boolean>;
  /** Whether a failed write may succeed when tried again; a refusal of the statement itself is not retried. Default: every failure is. */
  isTransient?(error: unknown): boolean;
  /** Whether a write failed because the database could not be reached (worth waiting for); false when omitted. */
  isUnavailable?(error: unknown): boolean;
}

export interface PresenceEvent {
  room: string;
  timeChannel: string;
  uid: number;
  user: User;
  clientId: string;
  at: Date;
  /** The room's sequence number after a join or leave (0 for arrivals and departures that changed no list). */
  seq: number;
}

/** A user started or stopped being engaged in a time channel (their first engaged page, or their last one going). */
export interface EngagementEvent {
  uid: number;
  user: User;
  timeChannel: string;
  /** The clientId whose report or departure caused it. */
  clientId: string;
  engaged: boolean;
  at: Date;
}

export type DepartureReason = 'disconnect' | 'timeout' | 'before_leave' | 'evicted' | 'moved';

/** What a leave changed, as the store decided it. */
interface LeaveEffects {
  leftRoom: boolean;
  stoppedTimer: boolean;
  seq: number;
}

/**
 * One change of presence, emitted once, after its writes (Phoenix.Presence's
 * diff is the model): what changed, for whom, in which room and time channel,
 * why and as of when. Everything that reacts to presence derives from it: the
 * <room>/user_list and <room>/presence broadcasts, metrics, the trace and the
 * handle's events (see presenceEventOf and engagementEventOf).
 */
export interface Transition {
  /** The clientId whose arrival, departure or report caused it; '' for a leave found by reconciliation (only the uid is known). */
  clientId: string;
  uid: number;
  /** The user's public part (uname '' when only the uid is known). */
  user: User;
  room: string;
  timeChannel: string;
  /** The clientId came or went; null when it did not (a leave confirmed after its grace period, an engagement report). */
  client: 'arrived' | 'departed' | null;
  /** The user joined the room (their first clientId there) or left it (their last one went). */
  membership: 'joined' | 'left' | null;
  /** The user's online time in the time channel started or stopped. */
  timer: 'started' | 'stopped' | null;
  /** The user's engaged time in the time channel started or stopped. */
  engagement: 'started' | 'stopped' | null;
  /** Why the clientId departed or the user left; null for arrivals and engagement. */
  reason: DepartureReason | null;
  /** When the clientId arrived or departed, or (without one) when the user left or their engagement changed. */
  at: Date;
  /**
   * When the user left the room or their timer stopped, when one of those is
   * in the change: it can be later than the departing clientId's `at`, since
   * the user was online until the last sighting of any of their pages.
   */
  leftAt: Date | null;
  /** The room's sequence number after a join or leave (0 when the membership did not change). */
  seq: number;
  /** The room's online list as this change wrote it; null when it wrote none (or the write failed). */
  list: number[] | null;
}

/** What a transition tells of one clientId or user in a room (the handle's join, leave, arrive and depart). */
export function presenceEventOf(t: Transition): PresenceEvent {
  return { room: t.room, timeChannel: t.timeChannel, uid: t.uid, user: t.user, clientId: t.clientId, at: t.at, seq: t.seq };
}

/** What a transition tells of engaged time, when it changed it. */
export function engagementEventOf(t: Transition): EngagementEvent | null {
  if (t.engagement === null) return null;
  return { uid: t.uid, user: t.user, timeChannel: t.timeChannel, clientId: t.clientId, engaged: t.engagement === 'started', at: t.at };
}

export interface PresenceEvents {
  /** Presence changed (one event per change). */
  transition: [Transition];
  /** A write failed for good after its retries (logged too). */
  writeFailed: [Error];
  /** An SQL write failed and waits `delayMs` on the clock before attempt number `attempt`. */
  retrying: [what: string, attempt: number, delayMs: number];
  /**
   * A clientId was dropped by maxClientIdsPerUser to make room for a newer
   * one. Emitted at once, before its departure is written (its transition
   * follows), so that the edge stops tracking it right away.
   */
  evicted: [clientId: string, uid: number];
}

export interface PresenceOptions {
  store: PresenceStore;
  records: PresenceRecords;
  logger: Logger;
  /** Every time decision (last sightings, arrivals, the leave grace). Default: the system clock. */
  clock?: Clock;
  /** Attempts for an SQL write that fails with a transient error. */
  writeAttempts?: number;
  /** First retry delay in ms; doubles each attempt, up to 2 s. */
  retryDelay?: number;
  /** How long a write waits for a database that cannot be reached (a restart, a failover), ms. Default 120 000. */
  unavailableWaitMs?: number;
  /** Grace period of leaves after a disconnect or timeout, ms (0: at once, as in the gem). */
  leaveGraceMs?: number;
  /** Whether engagement reports are recorded (default true). */
  engagement?: boolean;
  /**
   * The Redis engine's live clients, when the store shares its Redis: a
   * clientId's first arrival here is then also the engine's check that it
   * exists and its ping, in the arrival's one round trip (see arrive).
   */
  engineClients?: () => EngineClients;
}

/** How an arrival ended: done, or not made because the engine does not know the clientId. */
export type ArrivalOutcome = 'arrived' | 'unknown';

export type EngageOutcome = 'applied' | 'absent' | 'stale' | 'off';

interface KnownClient {
  auth: Auth;
  /** ms of the last message from this clientId seen by this process */
  lastSeen: number;
  /** the arrival's work, while it runs */
  arriving?: Promise<unknown>;
  /** a /meta/connect of it succeeded here (its records got the full TTL) */
  confirmed?: boolean;
  /** the clientId's first arrival here runs: the store may yet refuse it (another user's clientId) */
  unsettled?: boolean;
}

/** The longest pause between two attempts of an SQL write. */
const MAX_RETRY_DELAY_MS = 2000;

/** An auth remembered in the store (JSON), read back; null when unreadable. */
function rememberedAuthOf(json: string | null): Auth | null {
  if (json === null) return null;
  let wire: unknown;
  try {
    wire = JSON.parse(json);
  } catch {
    return null;
  }
  const reading = readAuth(wire);
  return reading.kind === 'valid' ? reading.auth : null;
}

export class Presence extends EventEmitter<PresenceEvents> {
  private readonly known = new Map<string, KnownClient>();
  private readonly queue = new KeyedQueue<number>();
  private readonly pendingLeaves = new Map<string, { timer: ClockTimer; confirm: () => Promise<void> }>();
  private readonly leaveGraceMs: number;
  private readonly engagement: boolean;
  private readonly store: PresenceStore;
  private readonly records: PresenceRecords;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly writeAttempts: number;
  private readonly retryDelay: number;
  private readonly unavailableWaitMs: number;
  private readonly engineClients?: () => EngineClients;
  private waitingToRetry = 0;

  constructor(options: PresenceOptions) {
    super();
    this.store = options.store;
    this.records = options.records;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.writeAttempts = options.writeAttempts ?? 5;
    this.retryDelay = options.retryDelay ?? 100;
    this.unavailableWaitMs = options.unavailableWaitMs ?? 120_000;
    this.leaveGraceMs = options.leaveGraceMs ?? 0;
    this.engagement = options.engagement ?? true;
    this.engineClients = options.engineClients;
  }

  /** Whether a first arrival asks the engine itself (engineClients): the caller then does not. */
  get checksEngine(): boolean {
    return this.engineClients !== undefined;
  }

  /**
   * `clientId` is here with a valid auth: it arrives where the auth says;
   * `connecting` when this is a /meta/connect that Faye will accept once the
   * engine knows the clientId (its records then get their full TTL with the
   * arrival). Returns null when it already is there with the same auth (then
   * this is only a sighting), else a promise of the arrival's work: 'unknown'
   * when the engine (checked in the same step, see checksEngine) does not know
   * the clientId.
   */
  arrive(clientId: string, auth: Auth, connecting = false): Promise<ArrivalOutcome> | null {
    const at = this.clock.now();
    const known = this.known.get(clientId);
    if (known && samePresence(known.auth, auth)) {
      known.lastSeen = at;
      return null;
    }
    const entry: KnownClient = { auth: keptAuth(auth), lastSeen: at, confirmed: connecting || known?.confirmed, unsettled: !known };
    this.known.set(clientId, entry);
    const previous = known?.auth;
    // A clientId new to this process: is it alive in the engine (when the store can tell)?
    const engineClients = known ? undefined : this.engineClients?.();
    const work = (async (): Promise<ArrivalOutcome> => {
      // The same page now says it is elsewhere (another room, lesson or user):
      // that is a departure from where it was, then an arrival. A page that
      // was engaged there is engaged here too.
      const outcome = await this.runArrival(clientId, auth, at, { departed: previous, connecting, engineClients });
      if (outcome === 'unknown') {
        if (this.known.get(clientId) === entry) this.known.delete(clientId);
        return 'unknown';
      }
      if (outcome.wasEngaged) await this.engageNow(clientId, auth, true, null, at);
      return 'arrived';
    })();
    entry.arriving = work;
    work.then(
      () => {
        if (entry.arriving === work) entry.arriving = undefined;
        entry.unsettled = undefined;
      },
      () => {
        // The store did not answer: forget the clientId so that its next
        // /meta/connect tries again.
        if (this.known.get(clientId) === entry) this.known.delete(clientId);
      },
    );
    return work;
  }

  /** A sighting: any message from clientId, which is alive now (a map lookup, nothing more). */
  sighted(clientId: string): void {
    const known = this.known.get(clientId);
    if (known) known.lastSeen = this.clock.now();
  }

  /**
   * Faye answered a /meta/connect of clientId with success. The first time
   * this process sees it for a clientId it tracks, the store's records of the
   * clientId get their full TTL (a clientId that never connected keeps them
   * briefly), unless its arrival came with that connect and gave it already.
   * Errors are logged: the records then expire early, which only matters for
   * a departure no process remembers.
   */
  connected(clientId: string): Promise<void> | null {
    const known = this.known.get(clientId);
    if (!known || known.confirmed) return null;
    known.confirmed = true;
    return (async () => {
      if (known.arriving) await known.arriving.catch(() => undefined);
      await this.store.confirmClient(clientId);
    })().catch((error) => {
      known.confirmed = false;
      this.logger.warn({ err: error, clientId }, 'could not extend the records of a connected clientId; the next connect tries again');
    });
  }

  /** The last time this process saw a message from clientId (ms), if it knows it. */
  lastSeen(clientId: string): number | undefined {
    return this.known.get(clientId)?.lastSeen;
  }

  knownClientIds(): string[] {
    return [...this.known.keys()];
  }

  isKnown(clientId: string): boolean {
    return this.known.has(clientId);
  }

  /** The auth this process tracks clientId with, if it knows it. */
  authOf(clientId: string): Auth | undefined {
    return this.known.get(clientId)?.auth;
  }

  /**
   * While the clientId's first arrival here runs, its end (whatever the
   * outcome): until then authOf names the user it was sent with, whom the
   * store may yet refuse. Undefined when there is nothing to wait for.
   */
  firstArrival(clientId: string): Promise<void> | undefined {
    const entry = this.known.get(clientId);
    return entry?.unsettled && entry.arriving ? entry.arriving.then(() => undefined, () => undefined) : undefined;
  }

  /** Another process took over this clientId's departure: forget it here. */
  forgetLocally(clientId: string): void {
    this.known.delete(clientId);
  }

  /**
   * clientId departs, for `reason`, as of `at` (ms): both decided by
   * departureOf (core/departures.ts). The auth comes from this process's
   * memory or, failing that, from the store. False when there was nothing to
   * process (never tracked, or its auth is not remembered).
   */
  async depart(clientId: string, reason: DepartureReason, at: number): Promise<boolean> {
    const known = this.known.get(clientId);
    this.known.delete(clientId);
    if (known?.arriving) await known.arriving.catch(() => undefined);
    if (known) {
      // This process's memory can be stale: the page's later messages may
      // have reached another process, which moved it elsewhere (see
      // runArrival). Where the store remembers the clientId wins: a departure
      // from the old place would log the logout there (the login status is one
      // per clientId) and leave the new place's login session open.
      const result = await this.runDeparture(clientId, known.auth, at, reason, true, true);
      if (result.elsewhere === null) return true;
      const auth = rememberedAuthOf(result.elsewhere);
      if (auth) await this.runDeparture(clientId, auth, at, reason, true);
      // Anything left of the clientId where this process saw it goes too; its
      // login status is settled by now, so this logs no second logout.
      await this.runDeparture(clientId, known.auth, at, reason, auth === null);
      return true;
    }
    const json = await this.store.rememberedAuth(clientId);
    const auth = rememberedAuthOf(json);
    if (json !== null && auth === null) this.logger.warn({ clientId }, 'remembered auth is unreadable; nothing to clean up');
    if (!auth) return false; // never tracked, or already cleaned up
    await this.runDeparture(clientId, auth, at, reason, false);
    return true;
  }

  /**
   * A page reports whether it is engaged. `seq` orders one page's reports;
   * null carries a state over without an order check. Call it after the
   * clientId's arrival (attach waits for it): a clientId not in its time
   * channel yet is 'absent' and nothing changes.
   */
  async engage(clientId: string, auth: Auth, engaged: boolean, seq: number | null): Promise<EngageOutcome> {
    if (!this.engagement) return 'off';
    // A failed arrival leaves the clientId absent, which the store reports.
    const arriving = this.known.get(clientId)?.arriving;
    if (arriving) await arriving.catch(() => undefined);
    return this.engageNow(clientId, auth, engaged, seq, this.clock.now());
  }

  private engageNow(clientId: string, auth: Auth, engaged: boolean, seq: number | null, at: number): Promise<EngageOutcome> {
    const uid = auth.user.uid;
    return this.queue.run(uid, async () => {
      const result = await this.store.engage({ clientId, uid, timeChannel: auth.timeChannel, engaged, seq, at });
      if (result.absent) return 'absent';
      if (result.stale) return 'stale';
      if (result.started || result.stopped) await this.applyEngagement(clientId, auth, result.started, result.session, at);
      return 'applied';
    });
  }

  // The writes name their session (its start), so that a stop and the next
  // start written by two processes land right in either order.
  private async applyEngagement(clientId: string, auth: Auth, engaged: boolean, session: number, at: number): Promise<void> {
    const uid = auth.user.uid;
    const timeChannel = auth.timeChannel;
    await this.write(engaged ? 'start engaged time' : 'stop engaged time', () =>
      engaged ? this.records.startEngaged(uid, timeChannel, session) : this.records.stopEngaged(uid, timeChannel, session, new Date(at)));
    this.emit('transition', { ...this.transition(clientId, auth, at, 0), engagement: engaged ? 'started' : 'stopped' });
  }

  /** Runs `task` in the user's queue, after and before that user's arrivals and departures. */
  forUser<T>(uid: number, task: () => Promise<T>): Promise<T> {
    return this.queue.run(uid, task);
  }

  /** Resolves when every arrival and departure started so far has finished. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** A transition of clientId (auth) at `at` in which nothing changed yet. */
  private transition(clientId: string, auth: Auth, at: number, seq: number): Transition {
    return {
      clientId, uid: auth.user.uid, user: auth.user, room: auth.room, timeChannel: auth.timeChannel,
      client: null, membership: null, timer: null, engagement: null, reason: null, at: new Date(at), leftAt: null, seq, list: null,
    };
  }

  /** Emits a transition in which something changed. */
  private changed(transition: Transition): void {
    if (transition.client || transition.membership || transition.timer || transition.engagement) this.emit('transition', transition);
  }

  /**
   * `departed`: where this process saw the clientId before, which it leaves
   * first. Resolves to whether it was engaged there.
   */
  private async runArrival(
    clientId: string, auth: Auth, at: number, { departed, connecting, engineClients }: { departed?: Auth; connecting: boolean; engineClients?: EngineClients },
  ): Promise<{ wasEngaged: boolean } | 'unknown'> {
    // Another user's queue: a clientId is never handed over between users
    // (the store refuses it), so nothing of theirs can interleave.
    const sameUser = departed?.user.uid === auth.user.uid;
    const engagedElsewhere = departed && !sameUser ? (await this.runDeparture(clientId, departed, at, 'moved', true)).wasEngaged : false;
    // A move's departure and arrival are one task of the user's queue: two
    // reports of one page naming two places, seen at once, would otherwise
    // queue the second one's departure (from the first place) before the first
    // one's arrival there, and leave the clientId behind in it.
    return this.queue.run(auth.user.uid, async () => {
      const away = departed && sameUser ? await this.moveAway(clientId, departed, auth, at) : { wasEngaged: engagedElsewhere, left: departed };
      const first = await this.arriveNow(clientId, auth, at, { connecting, engineClients });
      if (first === 'unknown') return 'unknown';
      const { previousAuth } = first;
      // Two messages of one page naming two places, handled at once by two
      // processes: the later arrival moves the clientId out of the earlier
      // one's place, so that it is in one room, the one the store remembers.
      // Arriving again then restores what that move took from a shared time
      // channel and the login status.
      const previous = rememberedAuthOf(previousAuth);
      if (previous && !samePresence(previous, auth) && (!away.left || !samePresence(previous, away.left))) {
        await this.departNow(clientId, previous, at, 'moved', true, false, auth.room);
        await this.arriveNow(clientId, auth, at, { connecting });
      }
      return { wasEngaged: away.wasEngaged };
    });
  }

  /**
   * The departure half of a move from `departed`, where this process saw the
   * page, to `auth`. Runs inside the user's queue. As for `depart`, the store's
   * memory wins: another process may have moved the page already (its
   * messages hopped there), and a departure from this process's stale place
   * would take the clientId out of a room or time channel it is still in and
   * log its one logout in the wrong time channel (the new place's login
   * session would then never close). Resolves to whether the page was engaged
   * where it left, and the place it left (`auth` itself when the page was
   * there already).
   */
  private async moveAway(clientId: string, departed: Auth, auth: Auth, at: number): Promise<{ wasEngaged: boolean; left: Auth }> {
    const result = await this.departNow(clientId, departed, at, 'moved', true, true, auth.room);
    if (result.elsewhere === null) return { wasEngaged: result.wasEngaged, left: departed };
    const remembered = rememberedAuthOf(result.elsewhere);
    // Already where it goes: whoever moved it there left the old place.
    if (remembered && samePresence(remembered, auth)) return { wasEngaged: false, left: auth };
    const from = remembered && remembered.user.uid === departed.user.uid ? remembered : departed;
    return { wasEngaged: (await this.departNow(clientId, from, at, 'moved', true, false, auth.room)).wasEngaged, left: from };
  }

  // Runs inside the user's queue.
  private async arriveNow(clientId: string, auth: Auth, at: number, how: Pick<Arrival, 'connecting' | 'engineClients'>): Promise<ArrivalResult | 'unknown'> {
    const uid = auth.user.uid;
    const result = await this.store.arrive({ clientId, uid, room: auth.room, timeChannel: auth.timeChannel, authJson: rememberedAuthJson(auth), at, ...how });
    if (result.unknownClient) return 'unknown';
    if (result.refused) {
      this.known.delete(clientId);
      throw new FayeOnlineError('FORBIDDEN', `clientId ${clientId} is tracked for another user; uid ${uid} cannot take it over`);
    }
    const date = new Date(at);
    // As for a departure, the transition is built once the writes are done.
    let list: number[] | undefined;
    const writes: Array<Promise<unknown>> = [];
    if (result.joinedRoom) {
      writes.push(this.write('add to online list', () => this.records.addToOnlineList(auth.room, uid)).then((written) => {
        list = written;
      }));
    }
    if (result.startedTimer) writes.push(this.startTimer(clientId, auth, date));
    // Back within the grace of a leave: no leave and no join, but the time
    // unseen was not online time, as the login log shows (a logout at the
    // last sighting, a login now).
    if (result.resumedFrom > 0 && at - result.resumedFrom >= TIMER_RESOLUTION_MS) writes.push(this.restartTimer(auth, result.resumedFrom, at));
    if (result.logLogin) {
      writes.push(this.write('write login log', () => this.records.writeLoginLog({ status: 1, uid, timeChannel: auth.timeChannel, clientId, at: date })));
    }
    await Promise.all(writes);
    const transition = this.transition(clientId, auth, at, result.seq);
    if (list) transition.list = list;
    if (result.added) transition.client = 'arrived';
    if (result.joinedRoom) transition.membership = 'joined';
    if (result.startedTimer) transition.timer = 'started';
    this.changed(transition);
    if (result.evicted.length > 0) await this.evict(result.evicted, auth, at);
    return result;
  }

  // An evicted tab leaves its own time channel and closes its own login
  // session: its auth is the one remembered for it, not the newcomer's (only
  // the room is sure to be the same).
  private async evict(clientIds: string[], newcomer: Auth, at: number): Promise<void> {
    const remembered = await this.store.rememberedAuths(clientIds);
    for (const [i, evicted] of clientIds.entries()) {
      this.logger.warn({ clientId: evicted, uid: newcomer.user.uid, room: newcomer.room }, 'too many clientIds for one user in a room: the oldest was dropped');
      // The store's memory first: this process's can be stale (see depart).
      const own = rememberedAuthOf(remembered[i]) ?? this.known.get(evicted)?.auth;
      this.known.delete(evicted);
      this.emit('evicted', evicted, newcomer.user.uid);
      const auth = own && own.user.uid === newcomer.user.uid && own.room === newcomer.room ? own : newcomer;
      const result = await this.departNow(evicted, auth, at, 'evicted', own !== null && own !== undefined);
      // The arrival took it out of the room already, so the departure found
      // nothing to remove there: its depart event is emitted here. (The user
      // stays: the newcomer is in the room, so there is no leave.)
      if (!result.removed) this.emit('transition', { ...this.transition(evicted, auth, at, 0), client: 'departed', reason: 'evicted' });
    }
  }

  /** `ifRemembered`: only if the store remembers the clientId there, or nowhere (see Departure). */
  private runDeparture(clientId: string, auth: Auth, at: number, reason: DepartureReason, sawLogin = false, ifRemembered = false): Promise<DepartureResult> {
    return this.queue.run(auth.user.uid, () => this.departNow(clientId, auth, at, reason, sawLogin, ifRemembered));
  }

  // Runs inside the user's queue. `movingTo`: the room of a move's arrival, which follows (see Departure).
  private async departNow(
    clientId: string, auth: Auth, at: number, reason: DepartureReason, sawLogin = false, ifRemembered = false, movingTo?: string,
  ): Promise<DepartureResult> {
    const uid = auth.user.uid;
    // Leaves of pages that may come right back (a reload, a re-handshake after
    // the server forgot the client) wait out the grace period. before_leave has
    // waited already; a page moving elsewhere or evicted leaves at once.
    const deferLeave = this.leaveGraceMs > 0 && (reason === 'disconnect' || reason === 'timeout');
    const now = this.clock.now();
    const result = await this.store.depart({ clientId, uid, room: auth.room, timeChannel: auth.timeChannel, sawLogin, at, deferLeave, now, ifRemembered, reason, movingTo });
    if (result.elsewhere !== null) return result;
    // Only what waits is kept while the writes wait out their batch windows
    // (in a leave storm, thousands of departures at once): no frame or
    // promise for effects that do not apply.
    const writes: Array<Promise<unknown>> = [];
    if (result.logLogout) {
      writes.push(this.write('write logout log', () => this.records.writeLoginLog({ status: 0, uid, timeChannel: auth.timeChannel, clientId, at: new Date(at), reason })));
    }
    // A page that is gone is not engaged: no grace period for engaged time.
    if (result.disengaged) writes.push(this.applyEngagement(clientId, auth, false, result.engagedSession, at));
    else if (result.engagedGap) writes.push(this.pauseEngagement(clientId, auth, result.engagedGap, result.engagedSession));
    // Time in which nobody saw the user (their other pages came after this
    // one's last sighting) is no online time; those restarts come before a stop.
    const departedAt = result.removed ? at : undefined;
    let leave: (() => void) | undefined;
    if (result.unseen.length === 0) leave = this.startLeave(clientId, auth, result.leaveAt, reason, result, departedAt, writes);
    else writes.push(this.restartThenLeave(clientId, auth, reason, result, departedAt));
    await Promise.all(writes);
    leave?.();
    if (result.roomLeavePending || result.timerStopPending) this.scheduleConfirm(clientId, auth, { at: result.leaveAt, markedAt: result.markedAt }, reason);
    return result;
  }

  /** An engaged session (started at `session`) that spans an unseen gap ends at its start; a new one starts at its end. */
  private async pauseEngagement(clientId: string, auth: Auth, gap: UnseenGap, session: number): Promise<void> {
    await this.applyEngagement(clientId, auth, false, session, gap.from);
    await this.applyEngagement(clientId, auth, true, gap.until, gap.until);
  }

  /** The timer restarts over the departure's unseen gaps, then the leave. */
  private async restartThenLeave(clientId: string, auth: Auth, reason: DepartureReason, result: DepartureResult, departedAt: number | undefined): Promise<void> {
    for (const gap of result.unseen) await this.restartTimer(auth, gap.from, gap.until);
    await this.applyLeave(clientId, auth, result.leaveAt, reason, result, departedAt);
  }

  /**
   * Starts the user's timer, as the store decided (their first page in the
   * time channel, `clientId`). In a cluster another process may still be
   * writing the stop of the user's previous session there: the store decided
   * that stop first, but its SQL write can land after this start, which then
   * finds the timer running and does nothing, and the stop leaves it stopped
   * while the user is online. So a start that finds the timer running is tried
   * again later (the write retry delays, on the clock, as a task of the user's
   * queue), while this process still tracks the page there, up to
   * writeAttempts times; a timer that keeps running was left so by something
   * else (a crash, Redis losing its data) and runs on. The arrival does not
   * wait for those attempts, and they read nothing but the timer's row.
   */
  private startTimer(clientId: string, auth: Auth, at: Date, attempt = 1): Promise<void> {
    const uid = auth.user.uid;
    return this.write('start timer', () => this.records.startTimer(uid, auth.timeChannel, at)).then((started) => {
      if (started !== false || attempt >= this.writeAttempts) return;
      this.lookAgain(uid, auth.timeChannel, attempt, 'start a timer', async () => {
        if (this.known.get(clientId)?.auth.timeChannel === auth.timeChannel) await this.startTimer(clientId, auth, at, attempt + 1);
      });
    });
  }

  /**
   * Stops the user's timer as of `at`, as the store decided (their last page
   * left the time channel). The reverse of the race above: the start of a
   * session the store decided just before can still be on its way to SQL from
   * another process; this stop then finds the timer stopped and does nothing,
   * and the start leaves it running while the user is gone. A stop that finds
   * the timer stopped cannot tell that from a timer something else stopped,
   * so it looks again later (the write retry delays, on the clock, as a task
   * of the user's queue), up to writeAttempts times: while the store has the
   * user nowhere in the time channel, a running timer is stopped as of `at`.
   * The departure does not wait for those attempts, and they read nothing but
   * the user's fields in the store and the timer's row.
   */
  private stopTimer(auth: Auth, at: number, attempt = 1): Promise<void> {
    const uid = auth.user.uid;
    return this.write('stop timer', () => this.records.stopTimer(uid, auth.timeChannel, new Date(at))).then((added) => {
      if (added !== null || attempt >= this.writeAttempts) return;
      this.lookAgain(uid, auth.timeChannel, attempt, 'stop a timer', async () => {
        if (!(await this.userPresent(uid, auth.timeChannel))) await this.stopTimer(auth, at, attempt + 1);
      });
    });
  }

  /** After the write retry delay that follows `attempt`, runs `task` as a task of the user's queue (startTimer, stopTimer). */
  private lookAgain(uid: number, timeChannel: string, attempt: number, what: string, task: () => Promise<void>): void {
    this.clock.after(this.retryDelayAfter(attempt), () => {
      this.queue.run(uid, task).catch((error) => this.logger.error({ err: error, uid, timeChannel }, `presence: could not ${what} again`));
    });
  }

  /** Whether the store has the user in the time channel; an unreadable store counts as yes (the timer is left as it is). */
  private async userPresent(uid: number, timeChannel: string): Promise<boolean> {
    try {
      return await this.store.userPresent(timeChannel, uid);
    } catch (error) {
      this.logger.warn({ err: error, uid, timeChannel }, 'presence: could not read the store before stopping a timer again; it is left as it is');
      return true;
    }
  }

  /** The user was seen by nobody from `from` until `until` (ms): their timer stops and starts again. */
  private restartTimer(auth: Auth, from: number, until: number): Promise<unknown> {
    const uid = auth.user.uid;
    return this.write('restart timer', async () => {
      await this.records.stopTimer(uid, auth.timeChannel, new Date(from));
      return this.records.startTimer(uid, auth.timeChannel, new Date(until));
    });
  }

  /**
   * The user-level effects of a leave: list, timer (stopped as of `at`), and
   * the transition, which says whether the clientId itself departed now
   * (`departedAt`, its own time) or earlier (a leave confirmed after its grace
   * period).
   */
  private async applyLeave(
    clientId: string, auth: Auth, at: number, reason: DepartureReason, effects: LeaveEffects, departedAt?: number,
  ): Promise<void> {
    const writes: Array<Promise<unknown>> = [];
    const emit = this.startLeave(clientId, auth, at, reason, effects, departedAt, writes);
    await Promise.all(writes);
    emit();
  }

  /**
   * applyLeave in two halves, so that a departure waits for its leave's writes
   * and its own in one Promise.all: this one adds the leave's writes to
   * `writes`; the function it returns, called once they are all done, emits
   * the transition. Until then the departure keeps as little as it can: the
   * transition is built at the end.
   */
  private startLeave(
    clientId: string, auth: Auth, at: number, reason: DepartureReason, effects: LeaveEffects, departedAt: number | undefined, writes: Array<Promise<unknown>>,
  ): () => void {
    const uid = auth.user.uid;
    let list: number[] | undefined;
    if (effects.leftRoom) {
      writes.push(this.write('remove from online list', () => this.records.removeFromOnlineList(auth.room, uid)).then((written) => {
        list = written;
      }));
    }
    if (effects.stoppedTimer) writes.push(this.stopTimer(auth, at));
    return () => {
      const transition: Transition = { ...this.transition(clientId, auth, departedAt ?? at, effects.seq), reason };
      if (list) transition.list = list;
      if (departedAt !== undefined) transition.client = 'departed';
      if (effects.leftRoom) transition.membership = 'left';
      if (effects.stoppedTimer) transition.timer = 'stopped';
      if (effects.leftRoom || effects.stoppedTimer) transition.leftAt = new Date(at);
      this.changed(transition);
    };
  }

  private scheduleConfirm(clientId: string, auth: Auth, mark: { at: number; markedAt: number }, reason: DepartureReason): void {
    const { at, markedAt } = mark;
    const key = `${presenceKey(auth)} ${at} ${markedAt}`;
    const confirm = () => {
      this.pendingLeaves.delete(key);
      return this.queue.run(auth.user.uid, async () => {
        const pending = { uid: auth.user.uid, room: auth.room, timeChannel: auth.timeChannel, at, markedAt, reason, clientId };
        await this.applyLeave(clientId, auth, at, reason, await this.store.confirmLeave(pending));
      });
    };
    // The grace counts from the mark: a leave a move handed back began earlier (see Departure.movingTo).
    const timer = this.clock.after(Math.max(0, markedAt + this.leaveGraceMs - this.clock.now()), () => {
      confirm().catch((error) => this.logger.error({ err: error, uid: auth.user.uid, room: auth.room }, 'presence: could not confirm a leave'));
    });
    this.pendingLeaves.set(key, { timer, confirm });
  }

  /**
   * A pending leave found by reconciliation with no clientId of the user left
   * where it was: the process that set it may have died with its grace timer.
   * It is confirmed once the mark is too old for its process to still confirm
   * it (now, or later: a timer here), as of when the user was last seen.
   * `scope` says what the mark stands for (the store's marks name one channel
   * each; reconciliation pairs a room's with its time channel's). Only the uid
   * is known, so a leave event carries no name and no clientId. Resolves to
   * whether anything took effect now.
   */
  leaveAbandoned(pending: PendingLeave, scope: { room: boolean; timer: boolean }): Promise<boolean> {
    const uid = pending.uid;
    const confirm = () =>
      this.queue.run(uid, async () => {
        const effects = await this.store.confirmLeave({ ...pending, reason: 'abandoned', roomEvents: scope.room });
        const leftRoom = scope.room && effects.leftRoom;
        const stoppedTimer = scope.timer && effects.stoppedTimer;
        const auth: Auth = { room: pending.room, timeChannel: pending.timeChannel, user: { uid, uname: '' } };
        await this.applyLeave('', auth, pending.at, 'timeout', { leftRoom, stoppedTimer, seq: effects.seq });
        return leftRoom || stoppedTimer;
      });
    const dueIn = markExpiresAt(pending, this.leaveGraceMs) - this.clock.now();
    if (dueIn < 0) return confirm();
    const key = `abandoned ${uid} ${pending.room} ${pending.timeChannel} ${pending.at} ${pending.markedAt}`;
    if (!this.pendingLeaves.has(key)) {
      const run = () => {
        this.pendingLeaves.delete(key);
        return confirm().then(() => undefined);
      };
      const timer = this.clock.after(dueIn + 1, () => {
        run().catch((error) => this.logger.error({ err: error, uid, room: pending.room }, 'presence: could not confirm an abandoned leave'));
      });
      this.pendingLeaves.set(key, { timer, confirm: run });
    }
    return Promise.resolve(false);
  }

  /** Confirms every leave still in its grace period now (shutdown). */
  async confirmPendingLeaves(): Promise<void> {
    const pending = [...this.pendingLeaves.values()];
    for (const { timer } of pending) timer.cancel();
    await Promise.all(pending.map(({ confirm }) => confirm()));
  }

  // SQL writes retry failures (a deadlock, a dropped connection) writeAttempts
  // times; while the database cannot be reached at all (a restart, a failover:
  // seconds) they keep waiting, up to unavailableWaitMs, so that nothing is
  // lost; the user's later arrivals and departures wait behind them, in order.
  // What still fails is logged and reported, and the reconciliation pass
  // repairs online lists later.
  //
  // The first attempt is not an async function of its own: in a storm
  // thousands of writes wait out their batch windows at once, and each
  // suspended frame would live (and be copied by the young collections) as
  // long as its write.
  private write<T>(what: string, action: () => Promise<T>): Promise<T | undefined> {
    const started = this.clock.now();
    let first: Promise<T>;
    try {
      first = action();
    } catch (error) {
      first = Promise.reject(error);
    }
    return first.then(undefined, (error: unknown) => this.retryWrite(what, action, started, error));
  }

  /** The attempts after the first one, which failed with `error`. */
  private async retryWrite<T>(what: string, action: () => Promise<T>, started: number, error: unknown): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      const transient = this.records.isTransient?.(error) ?? true;
      const waiting = transient && this.records.isUnavailable?.(error) === true && this.clock.now() - started < this.unavailableWaitMs;
      if (!transient || (!waiting && attempt >= this.writeAttempts)) {
        this.logger.error({ err: error, attempts: attempt }, `presence: could not ${what}: ${(error as Error).message}`);
        this.emit('writeFailed', error as Error);
        return undefined;
      }
      if (attempt === 1 || !waiting) this.logger.warn({ err: error, attempt }, `presence: ${what} failed, retrying`);
      await this.backOff(what, attempt + 1, this.retryDelayAfter(attempt));
      try {
        return await action();
      } catch (failed) {
        error = failed;
      }
    }
  }

  /** The wait after attempt number `attempt` failed: retryDelay, doubling, at most MAX_RETRY_DELAY_MS. */
  private retryDelayAfter(attempt: number): number {
    return Math.min(this.retryDelay * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
  }

  /**
   * Waits before the next attempt of a write, on the clock: the time a write
   * keeps waiting for an unreachable database (unavailableWaitMs) is measured
   * on it too, and a simulation moves both together.
   */
  private async backOff(what: string, attempt: number, delayMs: number): Promise<void> {
    this.waitingToRetry += 1;
    try {
      const waited = sleep(this.clock, delayMs);
      this.emit('retrying', what, attempt, delayMs);
      await waited;
    } finally {
      this.waitingToRetry -= 1;
    }
  }

  /** SQL writes waiting on the clock before their next attempt: work that only the clock moving can finish. */
  get writesWaitingToRetry(): number {
    return this.waitingToRetry;
  }
}
