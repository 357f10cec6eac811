// Publishes a room's online list on <room>/user_list with the gem's payload,
// {"count": N, "user_list": [uid, ...]}, coalescing bursts: a room gets at most
// one message per window; the first change of a quiet room goes out at once,
// later changes within the window are merged into one message at its end,
// which re-reads the list so that the last message carries the final list even
// when concurrent writes finished out of order.
//
// Each message is the whole list, to every subscriber: in a crowded room a
// fixed window would send O(members) bytes to each of O(members) subscribers
// several times a second (49 KB per message at 10,000 members). So a room's
// window grows with its list, 0.1 ms per member once it holds more than
// 1,000 (1 s at 10,000): what one subscriber receives per second stays bounded
// (about 50 KB/s), and the last message still carries the final list.
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
  /** drops the state of a room that stayed quiet for a window */
  expire?: ClockTimer;
}

/** The longest wait between two reads of a list that could not be read. */
const MAX_RETRY_MS = 2000;
/** A room's window grows by this much per member of the list last sent, ms (1 s at 10,000 members). */
const WINDOW_MS_PER_MEMBER = 0.1;

/** The window after sending `members` uids: the configured one, or longer for a crowded room. */
export function windowFor(windowMs: number, members: number): number {
  return Math.max(windowMs, Math.ceil(members * WINDOW_MS_PER_MEMBER));
}

export class UserListBroadcaster {
  private readonly rooms = new Map<string, RoomState>();
  private readonly sending = new Set<Promise<void>>();
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly options: UserListOptions) {
    this.clock = options.clock ?? systemClock;
  }

  changed(room: string, list: number[]): void {
    const state = this.rooms.get(room);
    if (!state) {
      this.send(room, list);
      const fresh: RoomState = {
        lastSentAt: this.clock.now(), windowMs: windowFor(this.options.windowMs, list.length), reading: false, dirty: false, failures: 0, lastSent: list, confirmed: false,
      };
      this.rooms.set(room, fresh);
      this.scheduleExpiry(room, fresh);
      return;
    }
    if (state.due) return;
    if (state.reading) {
      state.dirty = true;
      return;
    }
    this.scheduleTrailing(room, state);
  }

  private send(room: string, list: number[]): void {
    this.options.publish(userListChannel(room), { count: list.length, user_list: list });
  }

  private scheduleTrailing(room: string, state: RoomState): void {
    state.expire?.cancel();
    state.expire = undefined;
    if (this.closed) return;
    // After failed reads, try less and less often (up to every 2 s) while the database is away.
    const backoff = state.failures > 0 ? Math.min(this.options.windowMs * 2 ** state.failures, MAX_RETRY_MS) : state.windowMs;
    const wait = Math.max(0, state.lastSentAt + backoff - this.clock.now());
    state.due = this.clock.after(wait, () => this.trailing(room, state));
  }

  private scheduleExpiry(room: string, state: RoomState): void {
    state.expire = this.clock.after(state.windowMs, () => {
      if (this.rooms.get(room) !== state || state.due || state.reading) return;
      if (this.options.confirm && !state.confirmed && !this.closed) this.trailing(room, state, true);
      else this.rooms.delete(room);
    });
  }

  // Reads the list when the window ends, so that the message carries the list
  // as it is now even if concurrent writes reported their lists out of order.
  // A confirming read (a window after the last message) sends only a list
  // that differs from the one last sent; the room's state is dropped once a
  // confirming read found nothing new.
  private trailing(room: string, state: RoomState, confirming = false): void {
    state.due = undefined;
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
  }
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((uid, i) => uid === b[i]);
}
