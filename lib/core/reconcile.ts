// The reconciliation pass: makes the SQL records agree with the presence store
// again after something went wrong behind our back — a process killed with
// SIGKILL, Redis data lost, an SQL write that failed for good, a Rails app that
// edited a list. It runs at startup and periodically; it is idempotent.
//
//   1. Orphans: every clientId in every uid_to_clientIds map, and every clientId
//      this process tracks, that the Faye engine no longer knows departs (a full
//      sweep, not a sample; the second half matters when Redis lost its data).
//   This sweep, and step 3's, go a chunk at a time and carry nothing from one
//   chunk to the next but the clientIds already found alive: the pass is a
//   trickle of short-lived allocations, not a burst of long-lived ones (see
//   step 1).
//   2. Lists: each room's online list becomes the set of users that have a live
//      clientId in the room (kept in its order; newcomers appended).
//   3. Timers: a timer running for a user without a clientId in its time channel
//      is stopped now (when the user was last seen is unknown at this point).
//   In both, a user whose leave is pending there (a mark of the grace period)
//   is left to that leave: its process confirms it when the grace ends, or, if
//   that process died, Presence.leaveAbandoned does once the mark is too old,
//   as of when the user was last seen and with its leave diff.
//   4. Engaged time: likewise, a running engaged session of a user without an
//      engaged clientId in its time channel is stopped now.
import type { Logger } from '../log';
import type { LeaveMark, PendingLeave, PresenceStore } from '../stores/store';
import { systemClock, type Clock } from './clock';

export interface ReconcileRecords {
  allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>>;
  /** The running timers of at most `limit` users after `afterUid` (null: from the first), and the uid to go on after (null: no more). */
  runningTimersPage(afterUid: number | null, limit: number): Promise<{ timers: Array<{ uid: number; timeChannel: string }>; next: number | null }>;
  addToOnlineList(room: string, uid: number): Promise<number[]>;
  removeFromOnlineList(room: string, uid: number): Promise<number[]>;
  stopTimer(uid: number, timeChannel: string, at: Date): Promise<number | null>;
  runningEngagements(): Promise<Array<{ uid: number; timeChannel: string; session: number }>>;
  /** `reason` goes into the engaged_end event when events are on ('reconciled'). */
  stopEngaged(uid: number, timeChannel: string, session: number, at: Date, reason?: string): Promise<boolean>;
}

export interface ReconcileOptions {
  store: PresenceStore;
  records: ReconcileRecords;
  logger: Logger;
  /** Does the Faye engine still know this clientId (anywhere in the cluster)? */
  clientExists(clientId: string): Promise<boolean>;
  /** clientIds this process is tracking (their auth is in memory, even if Redis lost it). */
  localClientIds(): string[];
  /** Processes a departure for a clientId the engine no longer knows; false when its auth is not remembered. */
  departOrphan(clientId: string): Promise<boolean>;
  /** Runs `task` exclusively with the user's own arrivals and departures in this process. */
  forUser<T>(uid: number, task: () => Promise<T>): Promise<T>;
  /** A room's list changed (to publish <room>/user_list). */
  onListChanged(room: string, list: number[]): void;
  /** Whether engaged time is recorded (step 4 runs only then; its table may not exist otherwise). Default true. */
  engagement?: boolean;
  /** When timers and engaged sessions found running without a page stop. Default: the system clock. */
  clock?: Clock;
  /**
   * A pending leave of a user with no clientId left where it was, whose process
   * may have died (Presence.leaveAbandoned): confirmed now when its mark is too
   * old for that process, else later; true when something took effect now.
   * Without it such users are treated as if there were no mark.
   */
  leaveAbandoned?(pending: PendingLeave, scope: { room: boolean; timer: boolean }): Promise<boolean>;
  /** A room's list was repaired for a user (events: a join or leave with reason 'reconciled'). */
  listRepaired?(repair: { kind: 'join' | 'leave'; uid: number; room: string; at: number }): Promise<void>;
}

export interface ReconcileReport {
  orphanClientIds: string[];
  lists: Array<{ room: string; added: number[]; removed: number[] }>;
  timersStopped: Array<{ uid: number; timeChannel: string }>;
  engagementsStopped: Array<{ uid: number; timeChannel: string }>;
}

/** How many clientIds the pass asks the engine about at once. */
const CLIENT_CHECKS_AT_ONCE = 100;
/** How many users' online times the pass reads at once. */
const TIMER_PAGE = 500;

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const { store, records, logger } = options;
  const clock = options.clock ?? systemClock;
  const report: ReconcileReport = { orphanClientIds: [], lists: [], timersStopped: [], engagementsStopped: [] };

  // 1. Orphans. Channel by channel, a chunk of clientIds at a time: the pass
  // never holds every channel's map at once (with 10,000 pages, what it held
  // lived long enough to reach V8's old generation, and that burst made V8 let
  // the old generation grow to several times the live heap), and the engine
  // is asked about a chunk at once (one after another, 10,000 pages would be
  // 10,000 round trips in a row). A page is in its room and its time channel,
  // and tracked here too: the engine is asked about it once per pass, which
  // the pass remembers (one string a page).
  const alive = new Set<string>();
  const orphans = new Set<string>();
  const depart = async (clientId: string) => {
    if (orphans.has(clientId)) return;
    orphans.add(clientId);
    await options.departOrphan(clientId);
  };
  /** Asks the engine about those of `clientIds` not asked yet this pass; `alive` then has every live one. */
  const check = async (clientIds: string[]) => {
    const ask = clientIds.filter((clientId) => !alive.has(clientId) && !orphans.has(clientId));
    const exists = await Promise.all(ask.map((clientId) => options.clientExists(clientId)));
    ask.forEach((clientId, i) => {
      if (exists[i]) alive.add(clientId);
    });
  };
  for (const channel of await store.channels()) {
    const places: Array<{ clientId: string; uid: number }> = [];
    for (const [uid, clientIds] of await store.clientIdsByUser(channel)) for (const clientId of clientIds) places.push({ clientId, uid });
    for (let i = 0; i < places.length; i += CLIENT_CHECKS_AT_ONCE) {
      const chunk = places.slice(i, i + CLIENT_CHECKS_AT_ONCE);
      await check(chunk.map(({ clientId }) => clientId));
      for (const { clientId, uid } of chunk) {
        if (alive.has(clientId)) continue;
        // The departure leaves from where the remembered auth says, and logs
        // it. Wherever else the clientId still is (no remembered auth any
        // more, or a place it was put in by a message the auth no longer
        // names) it is removed from the map; steps 2 and 3 then fix that
        // user's list and timer.
        await depart(clientId);
        await store.forget(channel, uid, [clientId]);
      }
    }
  }
  // Pages this process tracks that no channel names any more (Redis lost its data).
  const local = options.localClientIds();
  for (let i = 0; i < local.length; i += CLIENT_CHECKS_AT_ONCE) {
    const chunk = local.slice(i, i + CLIENT_CHECKS_AT_ONCE);
    await check(chunk);
    for (const clientId of chunk) if (!alive.has(clientId)) await depart(clientId);
  }
  report.orphanClientIds.push(...orphans);

  // 2. Lists.
  // Users gone from a room or time channel whose leave is still pending there
  // are left to the pending leave (step 3 pairs a room's with its time channel's).
  const leaving = { rooms: [] as Array<{ room: string; uid: number; mark: LeaveMark }>, timers: [] as Array<{ timeChannel: string; uid: number; mark: LeaveMark }> };
  const markOf = async (channel: string, uid: number) => (options.leaveAbandoned ? await store.leaveMarkOf(channel, uid) : undefined);
  // A row may be named in another case than the room whose list it holds:
  // MySQL finds rows regardless of case, and the gem (which accepted capitals)
  // or an older version may have created it as /rooms/aBx. Our keys are
  // lower case (the edge refuses other names), the gem's keep the row's case.
  const clientIdsOf = async (room: string) => {
    const live = await store.clientIdsByUser(room);
    if (room === room.toLowerCase()) return live;
    for (const [uid, clientIds] of await store.clientIdsByUser(room.toLowerCase())) live.set(uid, [...(live.get(uid) ?? []), ...clientIds]);
    return live;
  };
  const userClientIdsOf = async (room: string, uid: number) => {
    const [named, lower] = await Promise.all([store.clientIdsOfUser(room, uid), room === room.toLowerCase() ? [] : store.clientIdsOfUser(room.toLowerCase(), uid)]);
    return [...named, ...lower];
  };
  for (const { room, uids } of await records.allOnlineLists()) {
    const live = await clientIdsOf(room);
    const removed: number[] = [];
    for (const uid of uids.filter((u) => !live.has(u))) {
      const mark = await markOf(room, uid);
      if (mark) leaving.rooms.push({ room, uid, mark });
      else removed.push(uid);
    }
    // A set, not uids.includes: a 10,000-member room would be 10^8 comparisons.
    const listed = new Set(uids);
    const added = [...live.keys()].filter((uid) => !listed.has(uid));
    if (removed.length === 0 && added.length === 0) continue;
    // A room's removals at once, then its additions at once, each in its
    // user's queue: the records write each group in a batch (a crowded room's
    // list is written at most every 0.05 ms per member, so one repair after
    // another would take minutes after a crash that took half of a
    // 5,000-member room), and the events come in the order they always did.
    // Batches are written in order, so the last list answered is the room's
    // list as it stands.
    let list: number[] | undefined;
    const repair = (uid: number) => options.forUser(uid, async () => {
      // Look again inside the user's queue: an arrival or departure may have
      // fixed it since the first look.
      const present = (await userClientIdsOf(room, uid)).length > 0;
      const repaired = await (present ? records.addToOnlineList(room, uid) : records.removeFromOnlineList(room, uid));
      await options.listRepaired?.({ kind: present ? 'join' : 'leave', uid, room, at: clock.now() });
      return repaired;
    }).then((repaired) => {
      list = repaired;
    });
    await Promise.all(removed.map(repair));
    await Promise.all(added.map(repair));
    report.lists.push({ room, added, removed });
    if (list) options.onListChanged(room, list);
  }

  // 3. Timers, the rows of TIMER_PAGE users at a time (for the reason of step
  // 1); the store is asked about a page's users once per time channel. The
  // stops of a page go out at once, each in its user's queue: the records
  // write them in batches.
  let after: number | null = null;
  do {
    const page = await records.runningTimersPage(after, TIMER_PAGE);
    after = page.next;
    const uidsIn = new Map<string, number[]>();
    for (const { uid, timeChannel } of page.timers) {
      const uids = uidsIn.get(timeChannel);
      if (uids) uids.push(uid);
      else uidsIn.set(timeChannel, [uid]);
    }
    const present = new Map(await Promise.all([...uidsIn].map(async ([timeChannel, uids]) => [timeChannel, await store.withClientIds(timeChannel, uids)] as const)));
    const stops: Array<{ uid: number; timeChannel: string }> = [];
    for (const { uid, timeChannel } of page.timers) {
      if (present.get(timeChannel)!.has(uid)) continue;
      const mark = await markOf(timeChannel, uid);
      if (mark) leaving.timers.push({ timeChannel, uid, mark });
      else stops.push({ uid, timeChannel });
    }
    const stopped = await Promise.all(stops.map(({ uid, timeChannel }) => options.forUser(uid, async () => {
      if ((await store.clientIdsOfUser(timeChannel, uid)).length > 0) return null;
      return records.stopTimer(uid, timeChannel, new Date(clock.now()));
    })));
    stops.forEach((stop, i) => {
      if (stopped[i] !== null) report.timersStopped.push(stop);
    });
  } while (after !== null);
  // One departure set a room's mark and its time channel's alike: pair them.
  // The confirmations go out at once, each in its user's queue, so that the
  // records write them in batches (one after another, each would wait for a
  // batch window).
  const markKey = (uid: number, mark: LeaveMark) => `${uid} ${mark.at} ${mark.markedAt}`;
  const timersByMark = new Map<string, Array<(typeof leaving.timers)[number]>>();
  for (const timer of leaving.timers) {
    const key = markKey(timer.uid, timer.mark);
    timersByMark.set(key, [...(timersByMark.get(key) ?? []), timer]);
  }
  const paired = new Set<(typeof leaving.timers)[number]>();
  const abandoned: Array<{ pending: PendingLeave; scope: { room: boolean; timer: boolean } }> = [];
  for (const { room, uid, mark } of leaving.rooms) {
    const timer = timersByMark.get(markKey(uid, mark))?.find((t) => !paired.has(t));
    if (timer) paired.add(timer);
    abandoned.push({ pending: { uid, room, timeChannel: timer?.timeChannel ?? room, ...mark }, scope: { room: true, timer: timer !== undefined } });
  }
  for (const timer of leaving.timers.filter((t) => !paired.has(t))) {
    abandoned.push({ pending: { uid: timer.uid, room: timer.timeChannel, timeChannel: timer.timeChannel, ...timer.mark }, scope: { room: false, timer: true } });
  }
  const confirmed = await Promise.all(abandoned.map(({ pending, scope }) => options.leaveAbandoned!(pending, scope)));
  abandoned.forEach(({ pending, scope }, i) => {
    if (!confirmed[i]) return;
    if (scope.room) report.lists.push({ room: pending.room, added: [], removed: [pending.uid] });
    if (scope.timer) report.timersStopped.push({ uid: pending.uid, timeChannel: pending.timeChannel });
  });

  // 4. Engaged time.
  const engagedByChannel = new Map<string, Map<number, string[]>>();
  for (const { uid, timeChannel, session } of options.engagement === false ? [] : await records.runningEngagements()) {
    if (!engagedByChannel.has(timeChannel)) engagedByChannel.set(timeChannel, await store.engagedByUser(timeChannel));
    if (engagedByChannel.get(timeChannel)!.has(uid)) continue;
    const stopped = await options.forUser(uid, async () => {
      if ((await store.engagedOfUser(timeChannel, uid)).length > 0) return false;
      return records.stopEngaged(uid, timeChannel, session, new Date(clock.now()), 'reconciled');
    });
    if (stopped) report.engagementsStopped.push({ uid, timeChannel });
  }

  if (report.orphanClientIds.length || report.lists.length || report.timersStopped.length || report.engagementsStopped.length) {
    logger.info(
      { orphans: report.orphanClientIds.length, lists: report.lists.length, timers: report.timersStopped.length, engagements: report.engagementsStopped.length },
      'reconciliation repaired presence records',
    );
  }
  return report;
}
