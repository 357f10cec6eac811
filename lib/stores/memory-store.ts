// Presence state in this process only: the embedded default (one server process,
// no Redis). Same semantics as the Redis store; JavaScript's single thread makes
// each step atomic.
import { REFUSED, type Arrival, type ArrivalResult, type Departure, type DepartureResult, type Engagement, type EngagementResult, type LeaveConfirmation, type PendingLeave, type PresenceStore, type RoomState, isFreshMark, type LeaveMark } from './store';

function rememberedUid(json: string): number | null {
  try {
    const uid = Number(JSON.parse(json)?.current_user?.uid);
    return Number.isInteger(uid) ? uid : null;
  } catch {
    return null;
  }
}

export class MemoryStore implements PresenceStore {
  /** channel → uid → clientIds in arrival order */
  private readonly lists = new Map<string, Map<number, string[]>>();
  private readonly auths = new Map<string, string>();
  /** clientIds whose login was logged and whose logout was not */
  private readonly loggedIn = new Set<string>();
  /** room → sequence number of its last join or leave */
  private readonly seqs = new Map<string, number>();

  /** channel → uid → leaves in their grace period: the last sighting and when the mark was set (ms) */
  private readonly leaving = new Map<string, Map<number, { at: number; markedAt: number }>>();

  /** time channel → uid → the running engaged session: its start (ms) and engaged clientIds */
  private readonly engaged = new Map<string, Map<number, { since: number; clientIds: string[] }>>();
  /** clientId → number of its last engagement report applied */
  private readonly reports = new Map<string, number>();

  constructor(private readonly maxClientIdsPerUser: number, private readonly leaveGraceMs = 0) {}

  /** A pending leave of this user is cancelled: the last sighting it was for, while fresh (see arrive.lua). */
  private resumes(channel: string, uid: number, now: number): number | null {
    const marks = this.leaving.get(channel);
    const mark = marks?.get(uid);
    if (!marks || !mark) return null;
    marks.delete(uid);
    if (marks.size === 0) this.leaving.delete(channel);
    return isFreshMark(mark, this.leaveGraceMs, now) ? mark.at : null;
  }

  private markLeaving(channel: string, uid: number, at: number, markedAt: number): void {
    if (!this.leaving.has(channel)) this.leaving.set(channel, new Map());
    this.leaving.get(channel)!.set(uid, { at, markedAt });
  }

  private confirm(channel: string, uid: number, at: number, markedAt: number): boolean {
    const marks = this.leaving.get(channel);
    const mark = marks?.get(uid);
    if (!marks || mark?.at !== at || mark.markedAt !== markedAt) return false;
    marks.delete(uid);
    if (marks.size === 0) this.leaving.delete(channel);
    return !this.lists.get(channel)?.has(uid);
  }

  private add(channel: string, uid: number, clientId: string): { added: boolean; first: boolean; evicted: string[] } {
    let users = this.lists.get(channel);
    if (!users) this.lists.set(channel, (users = new Map()));
    const list = users.get(uid) ?? [];
    if (list.includes(clientId)) return { added: false, first: false, evicted: [] };
    const first = list.length === 0;
    list.push(clientId);
    const evicted = list.length > this.maxClientIdsPerUser ? list.splice(0, list.length - this.maxClientIdsPerUser) : [];
    users.set(uid, list);
    return { added: true, first, evicted };
  }

  private remove(channel: string, uid: number, clientId: string): { removed: boolean; last: boolean } {
    const users = this.lists.get(channel);
    const list = users?.get(uid);
    const index = list ? list.indexOf(clientId) : -1;
    if (!users || !list || index < 0) return { removed: false, last: false };
    list.splice(index, 1);
    if (list.length > 0) return { removed: true, last: false };
    users.delete(uid);
    if (users.size === 0) this.lists.delete(channel);
    return { removed: true, last: true };
  }

  async arrive(a: Arrival): Promise<ArrivalResult> {
    const remembered = this.auths.get(a.clientId);
    if (remembered !== undefined && rememberedUid(remembered) !== null && rememberedUid(remembered) !== a.uid) return { ...REFUSED };
    const room = this.add(a.room, a.uid, a.clientId);
    let resumedFrom = 0;
    const roomResumed = room.first ? this.resumes(a.room, a.uid, a.at) : null;
    if (roomResumed !== null) room.first = false;
    const time = a.timeChannel === a.room ? { first: room.first } : this.add(a.timeChannel, a.uid, a.clientId);
    if (a.timeChannel === a.room) {
      resumedFrom = roomResumed ?? 0;
    } else {
      const timerResumed = time.first ? this.resumes(a.timeChannel, a.uid, a.at) : null;
      if (timerResumed !== null) {
        time.first = false;
        resumedFrom = timerResumed;
      }
    }
    this.auths.set(a.clientId, a.authJson);
    const logLogin = !this.loggedIn.has(a.clientId);
    this.loggedIn.add(a.clientId);
    return {
      added: room.added, joinedRoom: room.first, startedTimer: time.first, logLogin, evicted: room.evicted, seq: room.first ? this.nextSeq(a.room) : 0,
      resumedFrom, previousAuth: remembered !== undefined && remembered !== a.authJson ? remembered : null,
    };
  }

  /** The user's engaged clientIds still in the time channel (see engage.lua). */
  private liveEngaged(timeChannel: string, uid: number): string[] {
    const present = this.lists.get(timeChannel)?.get(uid) ?? [];
    return (this.engaged.get(timeChannel)?.get(uid)?.clientIds ?? []).filter((id) => present.includes(id));
  }

  private setEngaged(timeChannel: string, uid: number, clientIds: string[], since: number): void {
    let users = this.engaged.get(timeChannel);
    if (clientIds.length > 0) {
      if (!users) this.engaged.set(timeChannel, (users = new Map()));
      users.set(uid, { since, clientIds });
    } else if (users) {
      users.delete(uid);
      if (users.size === 0) this.engaged.delete(timeChannel);
    }
  }

  async engage(e: Engagement): Promise<EngagementResult> {
    const result = { absent: false, stale: false, started: false, stopped: false, session: 0 };
    if (!this.lists.get(e.timeChannel)?.get(e.uid)?.includes(e.clientId)) return { ...result, absent: true };
    if (e.seq !== null) {
      if ((this.reports.get(e.clientId) ?? -Infinity) >= e.seq) return { ...result, stale: true };
      this.reports.set(e.clientId, e.seq);
    }
    const before = this.liveEngaged(e.timeChannel, e.uid);
    const after = before.filter((id) => id !== e.clientId);
    if (e.engaged) after.push(e.clientId);
    const started = before.length === 0 && after.length > 0;
    const stopped = before.length > 0 && after.length === 0;
    const since = started ? e.at : this.engaged.get(e.timeChannel)?.get(e.uid)?.since ?? e.at;
    this.setEngaged(e.timeChannel, e.uid, after, since);
    return { ...result, started, stopped, session: started || stopped ? since : 0 };
  }

  async engagedByUser(timeChannel: string): Promise<Map<number, string[]>> {
    const result = new Map<number, string[]>();
    for (const uid of this.engaged.get(timeChannel)?.keys() ?? []) {
      const live = this.liveEngaged(timeChannel, uid);
      if (live.length > 0) result.set(uid, live);
    }
    return result;
  }

  async depart(t: Departure): Promise<DepartureResult> {
    const engagedBefore = this.liveEngaged(t.timeChannel, t.uid);
    const session = this.engaged.get(t.timeChannel)?.get(t.uid);
    const wasEngaged = session?.clientIds.includes(t.clientId) ?? false;
    const room = this.remove(t.room, t.uid, t.clientId);
    const time = t.timeChannel === t.room ? { last: room.last } : this.remove(t.timeChannel, t.uid, t.clientId);
    const roomLeavePending = room.last && t.deferLeave;
    const timerStopPending = time.last && t.deferLeave;
    if (roomLeavePending) this.markLeaving(t.room, t.uid, t.at, t.now);
    if (timerStopPending && t.timeChannel !== t.room) this.markLeaving(t.timeChannel, t.uid, t.at, t.now);
    if (t.deferLeave) {
      room.last = false;
      time.last = false;
    }
    const engagedAfter = this.liveEngaged(t.timeChannel, t.uid);
    this.setEngaged(t.timeChannel, t.uid, engagedAfter, session?.since ?? t.at);
    const disengaged = engagedBefore.length > 0 && engagedAfter.length === 0;
    const logLogout = this.loggedIn.delete(t.clientId);
    // Unlike Redis keys, nothing here expires: forget the clientId once it is gone.
    this.auths.delete(t.clientId);
    this.reports.delete(t.clientId);
    return {
      removed: room.removed, leftRoom: room.last, stoppedTimer: time.last, logLogout, seq: room.last ? this.nextSeq(t.room) : 0,
      roomLeavePending, timerStopPending, wasEngaged, disengaged, engagedSession: disengaged ? session?.since ?? t.at : 0,
    };
  }

  async confirmLeave(p: PendingLeave): Promise<LeaveConfirmation> {
    const leftRoom = this.confirm(p.room, p.uid, p.at, p.markedAt);
    const stoppedTimer = p.timeChannel === p.room ? leftRoom : this.confirm(p.timeChannel, p.uid, p.at, p.markedAt);
    return { leftRoom, stoppedTimer, seq: leftRoom ? this.nextSeq(p.room) : 0 };
  }

  async leaveMarks(channel: string): Promise<Map<number, LeaveMark>> {
    return new Map([...(this.leaving.get(channel) ?? [])].map(([uid, mark]) => [uid, { ...mark }]));
  }

  private nextSeq(room: string): number {
    const seq = (this.seqs.get(room) ?? 0) + 1;
    this.seqs.set(room, seq);
    return seq;
  }

  async roomState(room: string): Promise<RoomState> {
    return { seq: this.seqs.get(room) ?? 0, users: await this.clientIdsByUser(room) };
  }

  async rememberedAuth(clientId: string): Promise<string | null> {
    return this.auths.get(clientId) ?? null;
  }

  async rememberedAuths(clientIds: string[]): Promise<Array<string | null>> {
    return clientIds.map((id) => this.auths.get(id) ?? null);
  }

  async clientIdsByUser(channel: string): Promise<Map<number, string[]>> {
    const users = this.lists.get(channel);
    return new Map([...(users ?? new Map<number, string[]>())].map(([uid, ids]) => [uid, [...ids]]));
  }

  async channels(): Promise<string[]> {
    return [...this.lists.keys()].sort();
  }

  async forget(channel: string, uid: number, clientIds: string[]): Promise<void> {
    for (const clientId of clientIds) this.remove(channel, uid, clientId);
  }

  async lock(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.lists.clear();
    this.auths.clear();
    this.loggedIn.clear();
    this.seqs.clear();
    this.leaving.clear();
    this.engaged.clear();
    this.reports.clear();
  }
}
