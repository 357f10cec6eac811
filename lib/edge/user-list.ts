// Publishes a room's online list on <room>/user_list with the gem's payload,
// {"count": N, "user_list": [uid, ...]}, coalescing bursts. The first change of
// a quiet room goes out at once. Later changes are merged into one message,
// which re-reads the list so that the last message carries the final list even
// when concurrent writes finished out of order. That message goes out once the
// room has been quiet for four times its recent gap between changes, but not sooner
// than a window after the last message, nor later than 2 s after it (or a
// window, if that is longer): a storm (changes a millisecond apart) gets a
// list every 2 s and its last one right after it ends; a room whose
// members come back one by one, a few hundred milliseconds apart (a restart
// of the server, a class starting), gets one list every 2 s instead of one
// per join. Each of those lists goes to every member, and a long-polling
// page answers each with a new request: one list per join made a reconnect
// wave of 10,000 pages in rooms of 100 cost three times the CPU and twice
// the memory of the same wave with lists every 2 s.
//
// Each message is the whole list, to every subscriber: in a crowded room a
// fixed window would send O(members) bytes to each of O(members) subscribers
// several times a second (49 KB per message at 10,000 members). So a room's
// window grows with its list, 0.1 ms per member once it holds more than
// 1,000 (1 s at 10,000): what one subscriber receives per second stays bounded
// (about 50 KB/s), and the last message still carries the final list.
//
// Several busy rooms at once (a reconnect wave of a whole process) multiply
// that: 100 rooms of 100 members, each sending a list every 2 s, cost 5,000
// deliveries a second, each ending a long-polling page's request (about 0.1
// ms of CPU on a small machine), for as long as the wave lasts, which they
// lengthen. So a process shares a budget of 1,000 deliveries a second among
// its busy rooms: a busy room waits at most 2 s, or longer when the rooms
// waiting for a merged message hold more members than that budget delivers
// in 2 s (4 s for 40 rooms of 100, 5 s for one room of 5,000), but never more
// than 10 s (so that joins in thousands of rooms cannot hold every list back
// for long). One busy room of up to 2,000 members keeps the 2 s; a quiet
// room's first list still goes out at once.
//
// In a cluster every process publishes the lists its own joins and leaves
// wrote, and two processes' messages can cross on their way to the engine: a
// leave's list goes out once its timer stop is written too, and a process
// may be slowed down (by a database outage, say), so a list written before
// another process's write may be published after that process published the
// newer list, and a quiet room would show the older one until its next
// change. So with a shared store, a window after a room's last message, each
// process reads the list once more and sends it again if it changed.

import { systemClock, type Clock, type ClockTimer } from '../core/clock';
import { userListChannel, type UserListMessage } from '../protocol';

export interface UserListOptions {
  windowMs: number;
  publish(channel: string, data: UserListMessage): void;
  /** Reads the room's current list (for the trailing message of a window). */
  read(room: string): Promise<number[]>;
  onError(error: unknown, room: string): void;
  /** Other processes publish this room's lists too (a shared store): confirm each burst's last message with one more read. Default false. */
  confirm?: boolean;
  /** Default: the system clock. */
  clock?: Clock;
}

interface RoomState {
  /** when the last message was handed to the engine */
  lastSentAt: number;
  /** this room's window, ms: options.windowMs, longer for a long list (windowFor) */
  windowMs: number;
  /** the trailing message of the current window */
  due?: ClockTimer;
  /** a trailing message is reading the list */
  reading: boolean;
  /** the list changed while it was being read: one more message is needed */
  dirty: boolean;
  /** reads that failed in a row (the database is away): the next one waits longer */
  failures: number;
  /** the list last sent, and whether a read a window after it found it current (options.confirm) */
  lastSent: number[];
  confirmed: boolean;
  /** confirms the last message (options.confirm) a window after it, then drops the state of a room that stayed quiet */
  expire?: ClockTimer;
  /** when the list last changed, and the room's recent gap between changes, ms (from its second change on) */
  lastChangedAt: number;
  gapMs?: number;
  /** the length of the list the last change reported */
  members: number;
  /** the members this room counts toward the process's busy rooms while its merged message waits (0: none waits) */
  pendingMembers: number;
}

/** The longest wait between two reads of a list that could not be read. */
const MAX_RETRY_MS = 2000;
/** A room's window grows by this much per member of the list last sent, ms (1 s at 10,000 members). */
const WINDOW_MS_PER_MEMBER = 0.1;

/** A busy room's merged message waits at most this long after the last one, ms (or a window, if longer). */
const BUSY_MAX_MS = 2000;
/** The lists the busy rooms of a process wait for reach about this many members a second at most (see above). */
const BUSY_DELIVERIES_PER_S = 1000;
/** ... but a busy room's share of that budget keeps its merged message back at most this long, ms. */
const BUSY_SHARE_MAX_MS = 10_000;
/**
 * A room is quiet once no change came for this many of its recent gaps between changes, the gap being
 * averaged over its changes with this weight for the newest. Joins reach the lists in clumps (the
 * records write them in batches), and the pause after a clump must not pass for the end of the burst.
 * With these, a reconnect wave of 10,000 pages in 100 rooms over 16.6 s sent 1,076 lists, where one
 * every 2 s per room would be about 930 (bench:capacity prints the count).
 */
const QUIET_GAPS = 4;
const GAP_WEIGHT = 0.25;

/** The window after sending `members` uids: the configured one, or longer for a crowded room. */
export function windowFor(windowMs: number, members: number): number {
  return Math.max(windowMs, Math.ceil(members * WINDOW_MS_PER_MEMBER));
}

export class UserListBroadcaster {
  private readonly rooms = new Map<string, RoomState>();
  private readonly sending = new Set<Promise<void>>();
  private readonly clock: Clock;
  private closed = false;
  /** the members of the rooms whose merged message waits (RoomState.pendingMembers summed) */
  private pendingMembers = 0;

  constructor(private readonly options: UserListOptions) {
    this.clock = options.clock ?? systemClock;
  }

  changed(room: string, list: number[]): void {
    const now = this.clock.now();
    const state = this.rooms.get(room);
    if (!state) {
      this.send(room, list);
      const fresh: RoomState = {
        lastSentAt: now, windowMs: windowFor(this.options.windowMs, list.length), reading: false, dirty: false, failures: 0, lastSent: list, confirmed: false,
        lastChangedAt: now, members: list.length, pendingMembers: 0,
      };
      this.rooms.set(room, fresh);
      this.scheduleExpiry(room, fresh);
      return;
    }
    const gap = now - state.lastChangedAt;
    state.gapMs = state.gapMs === undefined ? gap : (1 - GAP_WEIGHT) * state.gapMs + GAP_WEIGHT * gap;
    state.lastChangedAt = now;
    state.members = list.length;
    if (state.reading) {
      state.dirty = true;
      return;
    }
    this.scheduleTrailing(room, state);
  }

  /** The longest a merged message waits after the last one: 2 s, a crowded room's window, or the busy rooms' share of the budget. */
  private longestWait(state: RoomState): number {
    const share = Math.min(BUSY_SHARE_MAX_MS, Math.ceil((this.pendingMembers * 1000) / BUSY_DELIVERIES_PER_S));
    return Math.max(state.windowMs, BUSY_MAX_MS, share);
  }

  /** The room's merged message waits from now on (counted once however often it is rescheduled), or no longer does. */
  private setPending(state: RoomState, pending: boolean): void {
    const members = pending ? Math.max(1, state.members) : 0;
    this.pendingMembers += members - state.pendingMembers;
    state.pendingMembers = members;
  }

  /** When the room's merged message is due: once quiet for QUIET_GAPS recent gaps, within [a window, the longest wait] after the last message. */
  private dueAt(state: RoomState): number {
    const longest = this.longestWait(state);
    const quiet = Math.min(QUIET_GAPS * (state.gapMs ?? 0), longest);
    return Math.ceil(Math.min(state.lastSentAt + longest, Math.max(state.lastSentAt + state.windowMs, state.lastChangedAt + quiet)));
  }

  private send(room: string, list: number[]): void {
    this.options.publish(userListChannel(room), { count: list.length, user_list: list });
  }

  private scheduleTrailing(room: string, state: RoomState): void {
    state.expire?.cancel();
    state.expire = undefined;
    if (this.closed) return;
    this.setPending(state, true);
    // After failed reads, try less and less often (up to every 2 s) while the database is away.
    const at = state.failures > 0 ? state.lastSentAt + Math.min(this.options.windowMs * 2 ** state.failures, MAX_RETRY_MS) : this.dueAt(state);
    state.due?.cancel();
    state.due = this.clock.after(Math.max(0, at - this.clock.now()), () => this.trailing(room, state));
  }

  // A window after the last message: confirm it (options.confirm). Then the
  // room's state stays as long as a merged message could wait, so that a
  // change a few hundred milliseconds after the last one is merged, and is
  // dropped once the room stayed quiet that long.
  private scheduleExpiry(room: string, state: RoomState): void {
    const current = () => this.rooms.get(room) === state && !state.due && !state.reading;
    state.expire = this.clock.after(state.windowMs, () => {
      if (!current()) return;
      if (this.options.confirm && !state.confirmed && !this.closed) {
        this.trailing(room, state, true);
        return;
      }
      const quietUntil = Math.max(state.lastSentAt, state.lastChangedAt) + this.longestWait(state);
      state.expire = this.clock.after(Math.max(0, quietUntil - this.clock.now()), () => {
        if (current()) this.rooms.delete(room);
      });
    });
  }

  // Reads the list when the window ends, so that the message carries the list
  // as it is now even if concurrent writes reported their lists out of order.
  // A confirming read (a window after the last message) sends only a list
  // that differs from the one last sent; the room's state is dropped once a
  // confirming read found nothing new.
  private trailing(room: string, state: RoomState, confirming = false): void {
    state.due = undefined;
    this.setPending(state, false);
    state.reading = true;
    state.dirty = false;
    state.confirmed = confirming;
    const sending = this.options
      .read(room)
      .then((list) => {
        state.failures = 0;
        if (confirming && sameList(list, state.lastSent)) return;
        this.send(room, list);
        state.lastSent = list;
        state.confirmed = false; // a list sent is confirmed in its turn
        state.lastSentAt = this.clock.now();
        state.windowMs = windowFor(this.options.windowMs, list.length);
      })
      .catch((error) => {
        // The change that asked for this message may be the room's last: the
        // list must still go out, so read it again later (logged once).
        if (state.failures === 0) this.options.onError(error, room);
        state.failures += 1;
        state.lastSentAt = this.clock.now();
        state.dirty = true;
      })
      .finally(() => {
        state.reading = false;
        this.sending.delete(sending);
        if (state.dirty) this.scheduleTrailing(room, state);
        else this.scheduleExpiry(room, state);
      });
    this.sending.add(sending);
  }

  /** Sends what is due now and stops; used by close(). */
  async flush(): Promise<void> {
    this.closed = true;
    for (const [room, state] of this.rooms) {
      state.expire?.cancel();
      if (state.due) {
        state.due.cancel();
        this.trailing(room, state);
      }
    }
    await Promise.all([...this.sending]);
    for (const state of this.rooms.values()) state.expire?.cancel();
    this.rooms.clear();
    this.pendingMembers = 0;
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((uid, i) => uid === b[i]);
}
