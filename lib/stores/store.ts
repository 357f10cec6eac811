// Presence state: which clientIds each user has in each room and time channel,
// the auth remembered per clientId, and whether its login/logout was logged.
// Each arrival and departure is one atomic step that reports the transitions it
// caused, so that exactly one process acts on each transition in a cluster.

export interface PresenceTarget {
  clientId: string;
  uid: number;
  room: string;
  timeChannel: string;
  /** The caller tracked this clientId's arrival itself: log its logout even if the store lost the login mark. */
  sawLogin?: boolean;
}

export interface Departure extends PresenceTarget {
  /** When the clientId was last seen, ms. */
  at: number;
  /** Defer the user's leave (the grace period): if it was their last clientId, mark the leave as pending. */
  deferLeave: boolean;
  /** Now, ms: when a deferred leave's grace began (a mark is fresh for a while after it). */
  now: number;
  /**
   * The caller's memory of the clientId's place may be stale (in a cluster,
   * another process may have moved the page): when the store remembers it
   * elsewhere, nothing changes and the result's `elsewhere` says where.
   */
  ifRemembered?: boolean;
  /** Why it departed (disconnect, timeout...): the reason of the leave event it may cause. */
  reason?: string;
  /**
   * The departure is half of a page's move to this room (its arrival there
   * follows in the same step). A move to another time channel of the same
   * room leaves the room alone: the clientId stays in it, so the user neither
   * leaves nor joins. A move out of a room into which this clientId's arrival
   * came while the user's leave was pending (and so cancelled it) hands that
   * leave back while its grace lasts: see DepartureResult.markedAt.
   */
  movingTo?: string;
}

export interface PendingLeave {
  uid: number;
  room: string;
  timeChannel: string;
  /** The mark the departure set: when the user was last seen, ms... */
  at: number;
  /** ...and when it was set (the departure's `now`). */
  markedAt: number;
  /** Why the user leaves ('abandoned' when reconciliation confirms a dead process's leave), and the clientId whose departure set the mark: for the leave event. */
  reason?: string;
  clientId?: string;
  /** false when `room` only stands in for the time channel (a timer's abandoned mark): no room event then. Default true. */
  roomEvents?: boolean;
}

export interface LeaveConfirmation {
  leftRoom: boolean;
  stoppedTimer: boolean;
  seq: number;
}

export interface Arrival extends PresenceTarget {
  /** The auth JSON to remember for this clientId (for dead-client cleanup). */
  authJson: string;
  /** Now, ms (from the caller's clock): decides whether a pending leave is still fresh. */
  at: number;
  /**
   * The arrival comes with a /meta/connect that Faye will accept (the engine
   * knows the clientId and the connection type is one Faye serves): the
   * clientId's records get their full TTL at once, as confirmClient would give
   * them once the connect succeeded.
   */
  connecting?: boolean;
  /**
   * The Faye engine's live clients, in the same Redis as the store: the
   * arrival happens only if they list the clientId as alive, and pings it
   * there, in the same atomic step (instead of the engine's own check and
   * ping before it). Only a store in the engine's Redis can honour it.
   */
  engineClients?: EngineClients;
}

/** The Redis engine's sorted set of clientIds by last ping (ms), and the ping a live client has had since. */
export interface EngineClients {
  key: string;
  /** A client whose last ping is not after this (ms) is gone. */
  aliveAfter: number;
}

export interface ArrivalResult {
  /** The clientId is remembered for another user: nothing was changed. */
  refused?: boolean;
  /** With `engineClients`: the engine does not know the clientId (or it expired): nothing was changed. */
  unknownClient?: boolean;
  /** The clientId was not yet in the room: it was added. */
  added: boolean;
  /** It is the user's first clientId in the room: the user joined. */
  joinedRoom: boolean;
  /** It is the user's first clientId in the time channel: the timer starts. */
  startedTimer: boolean;
  /** No login was logged for this clientId yet: log it now. */
  logLogin: boolean;
  /** clientIds dropped because the user had more than the limit in this room. */
  evicted: string[];
  /** The room's sequence number after this join (0 when nobody joined). */
  seq: number;
  /**
   * The user came back while the stop of their timer was pending: the last
   * sighting that stop was for (ms), else 0. The time in between was not
   * online time (the login log shows a gap there too).
   */
  resumedFrom: number;
  /** The auth JSON remembered for this clientId before, when it differs from this arrival's, else null. */
  previousAuth: string | null;
}

export interface DepartureResult {
  /** With `ifRemembered`: the auth JSON remembered for the clientId, which names another place; nothing changed. Else null. */
  elsewhere: string | null;
  /** The clientId was in the room and was removed. */
  removed: boolean;
  /** It was the user's last clientId in the room: the user left. */
  leftRoom: boolean;
  /** It was the user's last clientId in the time channel: the timer stops. */
  stoppedTimer: boolean;
  /** Its login was logged and its logout not yet: log the logout now. */
  logLogout: boolean;
  /** The room's sequence number after this leave (0 when nobody left). */
  seq: number;
  /** The user's leave of the room was deferred: confirmLeave decides it after the grace period. */
  roomLeavePending: boolean;
  /** Likewise for the timer. */
  timerStopPending: boolean;
  /**
   * When the grace of the pending mark(s) began (ms; the mark is
   * "<leaveAt>,<markedAt>"): the departure's `now`, or, for a move out of a
   * room whose pending leave this clientId's arrival had cancelled, that
   * leave's own: it ends when the user's first grace would have. 0 when
   * nothing is pending.
   */
  markedAt: number;
  /** The clientId had reported itself engaged. */
  wasEngaged: boolean;
  /** It was the user's last engaged clientId in the time channel: engaged time stops (never deferred). */
  disengaged: boolean;
  /** When disengaged, or with an engagedGap: the start (ms) of the engaged session that ended. */
  engagedSession: number;
  /**
   * The user stays engaged, but their engaged session spans an unseen gap
   * (see `unseen`): it ends at `from`, and a new one starts at `until`.
   */
  engagedGap: UnseenGap | null;
  /**
   * As of when the user's leave and their timer's stop take effect (ms), and
   * the last sighting a pending mark holds: the departure's `at`, or, when it
   * was the user's last clientId in the time channel, the end of the last
   * sighting of any of their clientIds there since the timer started. A
   * departure backdated to a lost page's last ping must not stop the timer
   * before another page's later departure.
   */
  leaveAt: number;
  /**
   * After this clientId's last sighting, spans longer than TIMER_RESOLUTION_MS
   * in which none of the user's clientIds was seen in the time channel (those
   * that stay arrived later, those that left had gone): that is no online
   * time. The caller stops the timer at each `from` and starts it again at its
   * `until`, in order, before any stop at `leaveAt`.
   */
  unseen: UnseenGap[];
}

export interface UnseenGap {
  from: number;
  until: number;
}

/** A page's report of whether it is engaged (visible, and in use when it watches for idleness). */
export interface Engagement {
  clientId: string;
  uid: number;
  timeChannel: string;
  engaged: boolean;
  /**
   * The page's report number: a report not newer than the last one applied for
   * this clientId is ignored (reports can overtake each other in a cluster).
   * null when the server carries a state over (no order check).
   */
  seq: number | null;
  /** Now, ms: the start of a session that starts with this report. */
  at: number;
}

export interface EngagementResult {
  /** The clientId is not in the time channel (not arrived yet, or gone): nothing changed. */
  absent: boolean;
  /** Older than a report already applied: ignored. */
  stale: boolean;
  /** The user's first engaged clientId in the time channel: engaged time starts. */
  started: boolean;
  /** The user's last engaged clientId stopped being engaged: engaged time stops. */
  stopped: boolean;
  /**
   * The start (ms) of the session that started or stopped: it identifies the
   * session in the SQL writes, which then do not depend on arriving in order.
   */
  session: number;
}

/** A room's members with the sequence number of the last join or leave they reflect. */
export interface RoomState {
  seq: number;
  users: Map<number, string[]>;
}

export interface PresenceStore {
  arrive(arrival: Arrival): Promise<ArrivalResult>;
  depart(departure: Departure): Promise<DepartureResult>;
  /** Applies an engagement report of a clientId that is in its time channel. */
  engage(engagement: Engagement): Promise<EngagementResult>;
  /** uid → engaged clientIds of a time channel (only clientIds still in the channel; users without any omitted). */
  engagedByUser(timeChannel: string): Promise<Map<number, string[]>>;
  /** One user's engaged clientIds still in the time channel (none: []): reads that user's fields only. */
  engagedOfUser(timeChannel: string, uid: number): Promise<string[]>;
  /** After the grace period: the pending leave takes effect unless the user came back. */
  confirmLeave(pending: PendingLeave): Promise<LeaveConfirmation>;
  /** uid → the user's pending-leave mark in a room or time channel (for reconciliation). */
  leaveMarks(channel: string): Promise<Map<number, LeaveMark>>;
  /** One user's pending-leave mark in a room or time channel, or undefined: reads that user's field only. */
  leaveMarkOf(channel: string, uid: number): Promise<LeaveMark | undefined>;
  /** The auth JSON remembered for a clientId, or null. */
  rememberedAuth(clientId: string): Promise<string | null>;
  /** The same for several clientIds at once (one round trip). */
  rememberedAuths(clientIds: string[]): Promise<Array<string | null>>;
  /**
   * The clientId's first /meta/connect succeeded: its remembered auth and
   * login status now live the full TTL (until then only the first TTL). A
   * store whose records do not expire does nothing. Not needed after an
   * arrival with `connecting`, which gave them the full TTL already.
   */
  confirmClient(clientId: string): Promise<void>;
  /** uid → clientIds of a room or time channel (users without clientIds omitted). */
  clientIdsByUser(channel: string): Promise<Map<number, string[]>>;
  /** The user's clientIds in a room or time channel (none: []): reads that user's field only. */
  clientIdsOfUser(channel: string, uid: number): Promise<string[]>;
  /** Which of `uids` have a clientId in the room or time channel: reads those users' fields only, at once. */
  withClientIds(channel: string, uids: readonly number[]): Promise<Set<number>>;
  /**
   * Whether the user has a clientId in the room or time channel, or a leave
   * there still in its grace period: reads that user's fields only.
   */
  userPresent(channel: string, uid: number): Promise<boolean>;
  /** The room's members and sequence number, read atomically. */
  roomState(room: string): Promise<RoomState>;
  /** Names of every room and time channel that has a clientId map. */
  channels(): Promise<string[]>;
  /** Removes the given clientIds from every channel map (a sweep of orphans). */
  forget(channel: string, uid: number, clientIds: string[]): Promise<void>;
  /** Takes a cluster-wide lock for `ttlMs` (false if another process holds it); one process is always true. */
  lock(name: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A departure that changed nothing (with `ifRemembered`, of a clientId remembered elsewhere). */
export const NOTHING_DEPARTED: Readonly<Omit<DepartureResult, 'leaveAt' | 'elsewhere'>> = Object.freeze({
  removed: false, leftRoom: false, stoppedTimer: false, logLogout: false, seq: 0, roomLeavePending: false, timerStopPending: false, markedAt: 0,
  wasEngaged: false, disengaged: false, engagedSession: 0, engagedGap: null, unseen: [],
});

/** '<room> <time channel>' of a remembered auth JSON; null when unreadable (as depart.lua reads it). */
export function rememberedPlace(json: string): string | null {
  try {
    const auth = JSON.parse(json) as { room_channel?: unknown; time_channel?: unknown };
    return typeof auth.room_channel === 'string' && typeof auth.time_channel === 'string' ? `${auth.room_channel} ${auth.time_channel}` : null;
  } catch {
    return null;
  }
}

/** The answer to an arrival of a clientId remembered for another user: nothing changed. */
export const REFUSED: Readonly<ArrivalResult> = Object.freeze({
  refused: true, added: false, joinedRoom: false, startedTimer: false, logLogin: false, evicted: [], seq: 0, resumedFrom: 0, previousAuth: null,
});

/** The arrival of a clientId the engine does not know: nothing changed. */
export const UNKNOWN_CLIENT: Readonly<ArrivalResult> = Object.freeze({ ...REFUSED, refused: false, unknownClient: true });

/** A leave in its grace period, as the store holds it for one user of one channel. */
export interface LeaveMark {
  /** When the user was last seen, ms. */
  at: number;
  /** When the mark was set, ms. */
  markedAt: number;
}

/**
 * Whether the process that set a pending-leave mark may still confirm it. A
 * mark older than this belongs to a process that died before its grace period
 * ended: an arrival ignores it, and reconciliation confirms it. (arrive.lua
 * holds the same rule.)
 */
export function isFreshMark(mark: LeaveMark, leaveGraceMs: number, now: number): boolean {
  return markExpiresAt(mark, leaveGraceMs) >= now;
}

/** The last moment a pending-leave mark is fresh (see isFreshMark), ms. */
export function markExpiresAt(mark: LeaveMark, leaveGraceMs: number): number {
  return mark.markedAt + 2 * leaveGraceMs + 10_000;
}

/**
 * Online time is kept in whole seconds: an unseen gap shorter than this (a
 * return within a pending leave, arrivals after a lost page's last ping) keeps
 * the timer running; after a longer one the timer stops at the last sighting
 * and starts again at the return.
 */
export const TIMER_RESOLUTION_MS = 1000;

/** How long a clientId's remembered auth and login status live: 2 weeks, as the gem. */
export const CLIENT_RECORD_TTL_SECONDS = 14 * 24 * 3600;

/**
 * How long they live until Faye accepts the clientId's first /meta/connect (at
 * least): clientIds that never connected must not leave keys behind for 2
 * weeks. See firstRecordTtlSeconds.
 */
export const FIRST_CLIENT_RECORD_TTL_SECONDS = 15 * 60;

/**
 * The first TTL for the given settings (seconds): the remembered auth must
 * outlive the client's departure, which comes with the engine's GC (at most
 * gc + 2 x timeout after its last ping) or, after a crash, with the next
 * reconciliation pass; twice that, and never under FIRST_CLIENT_RECORD_TTL_SECONDS.
 */
export function firstRecordTtlSeconds(settings: { timeout: number; gc: number; reconcileInterval: number }): number {
  const departureWithin = settings.gc + 2 * settings.timeout + settings.reconcileInterval;
  return Math.min(CLIENT_RECORD_TTL_SECONDS, Math.max(FIRST_CLIENT_RECORD_TTL_SECONDS, Math.ceil(2 * departureWithin)));
}
