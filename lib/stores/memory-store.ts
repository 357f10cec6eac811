// Presence state in this process only: the embedded default (one server process,
// no Redis). Same semantics as the Redis store; JavaScript's single thread makes
// each step atomic.
import { FayeOnlineError } from '../errors';
import type { MemoryOutbox } from '../events/outbox';
import { NOTHING_DEPARTED, REFUSED, rememberedPlace, TIMER_RESOLUTION_MS, type Arrival, type ArrivalResult, type Departure, type DepartureResult, type Engagement, type EngagementResult, type LeaveConfirmation, type PendingLeave, type PresenceStore, type RoomState, isFreshMark, type LeaveMark, type UnseenGap } from './store';

function rememberedUid(json: string): number | null {
  try {
    const uid = Number(JSON.parse(json)?.current_user?.uid);
    return Number.isInteger(uid) ? uid : null;
  } catch {
    return null;
  }
}

/**
 * From a departing clientId's last sighting `at` on, the user was seen in the
 * time channel during `spans` (of clientIds that left) and, from `earliest` on,
 * by the clientIds that stay (null: none stay). The spans nobody saw, and where
 * the sightings end (see depart.lua).
 */
function unseenAfter(at: number, spans: Array<[number, number]>, earliest: number | null): { unseen: UnseenGap[]; seenUntil: number } {
  const unseen: UnseenGap[] = [];
  let seenUntil = at;
  for (const [from, until] of spans) {
    if (earliest !== null && from >= earliest) break;
    if (until <= seenUntil) continue;
    if (from - seenUntil >= TIMER_RESOLUTION_MS) unseen.push({ from: seenUntil, until: from });
    seenUntil = until;
  }
  if (earliest !== null && earliest - seenUntil >= TIMER_RESOLUTION_MS) unseen.push({ from: seenUntil, until: earliest });
  return { unseen, seenUntil };
}

/** Sorted spans, those closer than the timer's resolution merged; spans that end before `from` are dropped (no later departure needs them). */
function mergeSpans(spans: Array<[number, number]>, from: number): Array<[number, number]> {
  const kept: Array<[number, number]> = [];
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (end < from) continue;
    const last = kept[kept.length - 1];
    if (last && start - last[1] < TIMER_RESOLUTION_MS) last[1] = Math.max(last[1], end);
    else kept.push([start, end]);
  }
  return kept;
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

  /** room → clientId → when the grace began of the user's pending leave that its arrival cancelled (ms; see arrive.lua) */
  private readonly resumedLeaves = new Map<string, Map<string, number>>();

  /** time channel → clientId → when it arrived there (ms) */
  private readonly arrivals = new Map<string, Map<string, number>>();
  /** time channel → uid → when the user's departed clientIds were seen there since their timer started: sorted, merged spans (ms) */
  private readonly seenSpans = new Map<string, Map<number, Array<[number, number]>>>();

  /** time channel → uid → the running engaged session: its start (ms) and engaged clientIds */
  private readonly engaged = new Map<string, Map<number, { since: number; clientIds: string[] }>>();
  /** clientId → number of its last engagement report applied */
  private readonly reports = new Map<string, number>();

  /** `outbox`: where presence events go, in the same step as their change (lib/events); none when events are off. */
  constructor(private readonly maxClientIdsPerUser: number, private readonly leaveGraceMs = 0, private readonly outbox?: MemoryOutbox) {}

  /** Nobody in the room: no user with a clientId, none whose leave is pending (outbox.lua's roomEmpty). */
  private roomEmpty(room: string): boolean {
    return !this.lists.get(room)?.size && !this.leaving.get(room)?.size;
  }

  /** A user joined or left a room: its event, and occupied/vacated when it was the first in or the last out (as the Lua scripts). */
  private roomEvent(kind: 'join' | 'leave', uid: number, room: string, at: number, seq: number, reason: string | undefined, clientId: string | undefined): void {
    if (!this.outbox) return;
    const common = { channel: room, occurredMs: at, seq, reason: reason || null, clientId: clientId || null };
    this.outbox.append({ kind, uid, ...common });
    const first = kind === 'join' && this.lists.get(room)?.size === 1 && !this.leaving.get(room)?.size;
    if (first) this.outbox.append({ kind: 'occupied', uid: null, ...common });
    if (kind === 'leave' && this.roomEmpty(room)) this.outbox.append({ kind: 'vacated', uid: null, ...common });
  }

  /** A pending leave of this user is cancelled: its mark, while fresh (see arrive.lua). */
  private resumes(channel: string, uid: number, now: number): LeaveMark | null {
    const marks = this.leaving.get(channel);
    const mark = marks?.get(uid);
    if (!marks || !mark) return null;
    marks.delete(uid);
    if (marks.size === 0) this.leaving.delete(channel);
    return isFreshMark(mark, this.leaveGraceMs, now) ? mark : null;
  }

  private setIn<K, V>(maps: Map<string, Map<K, V>>, channel: string, key: K, value: V): void {
    if (!maps.has(channel)) maps.set(channel, new Map());
    maps.get(channel)!.set(key, value);
  }

  private deleteIn<K, V>(maps: Map<string, Map<K, V>>, channel: string, key: K): void {
    const map = maps.get(channel);
    if (map?.delete(key) && map.size === 0) maps.delete(channel);
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
    // Faye's engine is asked by the caller: its records are not in this process's memory.
    if (a.engineClients) throw new FayeOnlineError('INVALID_ARGUMENT', 'the memory store cannot check the engine\'s clients; ask the engine before the arrival');
    const remembered = this.auths.get(a.clientId);
    if (remembered !== undefined && rememberedUid(remembered) !== null && rememberedUid(remembered) !== a.uid) return { ...REFUSED };
    const room = this.add(a.room, a.uid, a.clientId);
    let resumedFrom = 0;
    const roomResumed = room.first ? this.resumes(a.room, a.uid, a.at) : null;
    if (roomResumed !== null) {
      room.first = false;
      this.setIn(this.resumedLeaves, a.room, a.clientId, roomResumed.markedAt);
    }
    for (const id of room.evicted) this.deleteIn(this.resumedLeaves, a.room, id);
    const time = a.timeChannel === a.room ? { ...room } : this.add(a.timeChannel, a.uid, a.clientId);
    if (a.timeChannel === a.room) {
      resumedFrom = roomResumed?.at ?? 0;
    } else {
      const timerResumed = time.first ? this.resumes(a.timeChannel, a.uid, a.at) : null;
      if (timerResumed !== null) {
        time.first = false;
        resumedFrom = timerResumed.at;
      }
    }
    if (time.added) this.setIn(this.arrivals, a.timeChannel, a.clientId, a.at);
    for (const id of time.evicted) this.deleteIn(this.arrivals, a.timeChannel, id);
    if (time.first || resumedFrom > 0) this.deleteIn(this.seenSpans, a.timeChannel, a.uid);
    this.auths.set(a.clientId, a.authJson);
    const logLogin = !this.loggedIn.has(a.clientId);
    this.loggedIn.add(a.clientId);
    const seq = room.first ? this.nextSeq(a.room) : 0;
    if (room.first) this.roomEvent('join', a.uid, a.room, a.at, seq, 'connect', a.clientId);
    return {
      added: room.added, joinedRoom: room.first, startedTimer: time.first, logLogin, evicted: room.evicted, seq,
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

  async engagedOfUser(timeChannel: string, uid: number): Promise<string[]> {
    return this.liveEngaged(timeChannel, uid);
  }

  async depart(t: Departure): Promise<DepartureResult> {
    const remembered = t.ifRemembered ? this.auths.get(t.clientId) : undefined;
    const place = remembered === undefined ? null : rememberedPlace(remembered);
    if (remembered !== undefined && place !== null && place !== `${t.room} ${t.timeChannel}`) return { ...NOTHING_DEPARTED, leaveAt: t.at, elsewhere: remembered };
    const engagedBefore = this.liveEngaged(t.timeChannel, t.uid);
    const session = this.engaged.get(t.timeChannel)?.get(t.uid);
    const wasEngaged = session?.clientIds.includes(t.clientId) ?? false;
    // The user's other clientIds in the time channel, before anything changes (see depart.lua).
    const present = this.lists.get(t.timeChannel)?.get(t.uid) ?? [];
    const inTime = present.includes(t.clientId);
    const arrivals = this.arrivals.get(t.timeChannel);
    const arrivedAt = arrivals?.get(t.clientId) ?? 0;
    const others = present.filter((id) => id !== t.clientId);
    // A clientId without an arrival time counts as there all along.
    const earliest = others.length > 0 ? Math.min(...others.map((id) => arrivals?.get(id) ?? 0)) : null;
    const spans = this.seenSpans.get(t.timeChannel)?.get(t.uid) ?? [];
    const { unseen, seenUntil } = inTime ? unseenAfter(t.at, spans, earliest) : { unseen: [], seenUntil: t.at };
    const leaveAt = earliest === null ? seenUntil : t.at;
    // A move within the room keeps the clientId there; a move out of a room
    // whose pending leave its arrival cancelled hands that leave back while
    // its grace lasts (see depart.lua).
    const staysInRoom = t.movingTo === t.room && t.timeChannel !== t.room;
    const room = staysInRoom ? { removed: false, last: false } : this.remove(t.room, t.uid, t.clientId);
    const resumedAt = staysInRoom ? undefined : this.resumedLeaves.get(t.room)?.get(t.clientId);
    if (!staysInRoom) this.deleteIn(this.resumedLeaves, t.room, t.clientId);
    const handedBack = t.movingTo !== undefined && !t.deferLeave && resumedAt !== undefined && resumedAt + this.leaveGraceMs > t.now ? resumedAt : null;
    const time = t.timeChannel === t.room ? { last: room.last } : this.remove(t.timeChannel, t.uid, t.clientId);
    const roomLeavePending = room.last && (t.deferLeave || handedBack !== null);
    const timerStopPending = time.last && (t.deferLeave || (handedBack !== null && t.timeChannel === t.room));
    const markedAt = !roomLeavePending && !timerStopPending ? 0 : t.deferLeave ? t.now : handedBack!;
    if (roomLeavePending) this.markLeaving(t.room, t.uid, leaveAt, markedAt);
    if (timerStopPending && t.timeChannel !== t.room) this.markLeaving(t.timeChannel, t.uid, leaveAt, markedAt);
    if (roomLeavePending) room.last = false;
    if (timerStopPending) time.last = false;
    if (inTime) {
      this.deleteIn(this.arrivals, t.timeChannel, t.clientId);
      const kept = earliest === null ? [] : mergeSpans([...spans, [arrivedAt, t.at]], earliest);
      if (kept.length > 0) this.setIn(this.seenSpans, t.timeChannel, t.uid, kept);
      else this.deleteIn(this.seenSpans, t.timeChannel, t.uid);
    }
    const engagedAfter = this.liveEngaged(t.timeChannel, t.uid);
    const disengaged = engagedBefore.length > 0 && engagedAfter.length === 0;
    const since = session?.since ?? t.at;
    // The engaged session pauses over unseen gaps (see depart.lua).
    const spanned = engagedBefore.length > 0 && !disengaged ? unseen.find((gap) => gap.until > since) : undefined;
    const engagedGap = spanned ? { from: Math.max(since, spanned.from), until: unseen[unseen.length - 1].until } : null;
    this.setEngaged(t.timeChannel, t.uid, engagedAfter, engagedGap?.until ?? since);
    const logLogout = this.loggedIn.delete(t.clientId);
    // Unlike Redis keys, nothing here expires: forget the clientId once it is gone.
    this.auths.delete(t.clientId);
    this.reports.delete(t.clientId);
    const seq = room.last ? this.nextSeq(t.room) : 0;
    if (room.last) this.roomEvent('leave', t.uid, t.room, leaveAt, seq, t.reason, t.clientId);
    return {
      removed: room.removed, leftRoom: room.last, stoppedTimer: time.last, logLogout, seq,
      roomLeavePending, timerStopPending, markedAt, wasEngaged, disengaged, engagedSession: disengaged || engagedGap ? since : 0, engagedGap,
      leaveAt, unseen, elsewhere: null,
    };
  }

  async confirmLeave(p: PendingLeave): Promise<LeaveConfirmation> {
    const leftRoom = this.confirm(p.room, p.uid, p.at, p.markedAt);
    const stoppedTimer = p.timeChannel === p.room ? leftRoom : this.confirm(p.timeChannel, p.uid, p.at, p.markedAt);
    const seq = leftRoom ? this.nextSeq(p.room) : 0;
    if (leftRoom && p.roomEvents !== false) this.roomEvent('leave', p.uid, p.room, p.at, seq, p.reason, p.clientId);
    return { leftRoom, stoppedTimer, seq };
  }

  async leaveMarks(channel: string): Promise<Map<number, LeaveMark>> {
    return new Map([...(this.leaving.get(channel) ?? [])].map(([uid, mark]) => [uid, { ...mark }]));
  }

  async leaveMarkOf(channel: string, uid: number): Promise<LeaveMark | undefined> {
    const mark = this.leaving.get(channel)?.get(uid);
    return mark && { ...mark };
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
  /** Nothing here expires: nothing to extend. */
  async confirmClient(): Promise<void> {}


  async clientIdsByUser(channel: string): Promise<Map<number, string[]>> {
    const users = this.lists.get(channel);
    return new Map([...(users ?? new Map<number, string[]>())].map(([uid, ids]) => [uid, [...ids]]));
  }

  async clientIdsOfUser(channel: string, uid: number): Promise<string[]> {
    return [...(this.lists.get(channel)?.get(uid) ?? [])];
  }

  async withClientIds(channel: string, uids: readonly number[]): Promise<Set<number>> {
    const users = this.lists.get(channel);
    return new Set(uids.filter((uid) => (users?.get(uid)?.length ?? 0) > 0));
  }

  async userPresent(channel: string, uid: number): Promise<boolean> {
    return (this.lists.get(channel)?.get(uid)?.length ?? 0) > 0 || (this.leaving.get(channel)?.has(uid) ?? false);
  }

  async channels(): Promise<string[]> {
    return [...this.lists.keys()].sort();
  }

  async forget(channel: string, uid: number, clientIds: string[]): Promise<void> {
    for (const clientId of clientIds) {
      if (!this.remove(channel, uid, clientId).removed) continue;
      this.deleteIn(this.arrivals, channel, clientId);
      this.deleteIn(this.resumedLeaves, channel, clientId);
    }
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
    this.arrivals.clear();
    this.seenSpans.clear();
    this.resumedLeaves.clear();
  }
}
