// The reconciliation pass: makes the SQL records agree with the presence store
// again after something went wrong behind our back — a process killed with
// SIGKILL, Redis data lost, an SQL write that failed for good, a Rails app that
// edited a list. It runs at startup and periodically; it is idempotent.
//
//   1. Orphans: every clientId in every uid_to_clientIds map, and every clientId
//      this process tracks, that the Faye engine no longer knows departs (a full
//      sweep, not a sample; the second half matters when Redis lost its data).
//   2. Lists: each room's online list becomes the set of users that have a live
//      clientId in the room (kept in its order; newcomers appended).
//   3. Timers: a timer running for a user without a clientId in its time channel
//      is stopped now (when the user was last seen is unknown at this point).
//   4. Engaged time: likewise, a running engaged session of a user without an
//      engaged clientId in its time channel is stopped now.
import type { Logger } from '../log';
import type { PresenceStore } from '../stores/store';
import { systemClock, type Clock } from './clock';

export interface ReconcileRecords {
  allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>>;
  runningTimers(): Promise<Array<{ uid: number; timeChannel: string }>>;
  addToOnlineList(room: string, uid: number): Promise<number[]>;
  removeFromOnlineList(room: string, uid: number): Promise<number[]>;
  stopTimer(uid: number, timeChannel: string, at: Date): Promise<number | null>;
  runningEngagements(): Promise<Array<{ uid: number; timeChannel: string; session: number }>>;
  stopEngaged(uid: number, timeChannel: string, session: number, at: Date): Promise<boolean>;
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
}

export interface ReconcileReport {
  orphanClientIds: string[];
  lists: Array<{ room: string; added: number[]; removed: number[] }>;
  timersStopped: Array<{ uid: number; timeChannel: string }>;
  engagementsStopped: Array<{ uid: number; timeChannel: string }>;
}

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const { store, records, logger } = options;
  const clock = options.clock ?? systemClock;
  const report: ReconcileReport = { orphanClientIds: [], lists: [], timersStopped: [], engagementsStopped: [] };

  // 1. Orphans.
  const dead = new Map<string, Array<{ channel: string; uid: number }>>();
  for (const channel of await store.channels()) {
    for (const [uid, clientIds] of await store.clientIdsByUser(channel)) {
      for (const clientId of clientIds) {
        if (dead.has(clientId)) dead.get(clientId)!.push({ channel, uid });
        else if (!(await options.clientExists(clientId))) dead.set(clientId, [{ channel, uid }]);
      }
    }
  }
  for (const clientId of options.localClientIds()) {
    if (!dead.has(clientId) && !(await options.clientExists(clientId))) dead.set(clientId, []);
  }
  for (const [clientId, places] of dead) {
    report.orphanClientIds.push(clientId);
    await options.departOrphan(clientId);
    // The departure leaves from where the remembered auth says, and logs it.
    // Anywhere else the clientId still is (no remembered auth any more, or a
    // place it was put in by a message the auth no longer names) it is
    // removed from the map; steps 2 and 3 then fix that user's list and timer.
    for (const { channel, uid } of places) await store.forget(channel, uid, [clientId]);
  }

  // 2. Lists.
  for (const { room, uids } of await records.allOnlineLists()) {
    const live = await store.clientIdsByUser(room);
    const removed = uids.filter((uid) => !live.has(uid));
    const added = [...live.keys()].filter((uid) => !uids.includes(uid));
    if (removed.length === 0 && added.length === 0) continue;
    let list: number[] | undefined;
    for (const uid of [...removed, ...added]) {
      list = await options.forUser(uid, async () => {
        // Look again inside the user's queue: an arrival or departure may have
        // fixed it since the first look.
        const present = (await store.clientIdsByUser(room)).has(uid);
        return present ? records.addToOnlineList(room, uid) : records.removeFromOnlineList(room, uid);
      });
    }
    report.lists.push({ room, added, removed });
    if (list) options.onListChanged(room, list);
  }

  // 3. Timers.
  const byChannel = new Map<string, Map<number, string[]>>();
  for (const { uid, timeChannel } of await records.runningTimers()) {
    if (!byChannel.has(timeChannel)) byChannel.set(timeChannel, await store.clientIdsByUser(timeChannel));
    if (byChannel.get(timeChannel)!.has(uid)) continue;
    const stopped = await options.forUser(uid, async () => {
      if ((await store.clientIdsByUser(timeChannel)).has(uid)) return null;
      return records.stopTimer(uid, timeChannel, new Date(clock.now()));
    });
    if (stopped !== null) report.timersStopped.push({ uid, timeChannel });
  }

  // 4. Engaged time.
  const engagedByChannel = new Map<string, Map<number, string[]>>();
  for (const { uid, timeChannel, session } of options.engagement === false ? [] : await records.runningEngagements()) {
    if (!engagedByChannel.has(timeChannel)) engagedByChannel.set(timeChannel, await store.engagedByUser(timeChannel));
    if (engagedByChannel.get(timeChannel)!.has(uid)) continue;
    const stopped = await options.forUser(uid, async () => {
      if ((await store.engagedByUser(timeChannel)).has(uid)) return false;
      return records.stopEngaged(uid, timeChannel, session, new Date(clock.now()));
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
