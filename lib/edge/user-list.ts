// Publishes a room's online list on <room>/user_list with the gem's payload,
// {"count": N, "user_list": [uid, ...]}, coalescing bursts: a room gets at most
// one message per window; the first change of a quiet room goes out at once,
// later changes within the window are merged into one message at its end,
// which re-reads the list so that the last message carries the final list even
// when concurrent writes finished out of order.

import { systemClock, type Clock, type ClockTimer } from '../core/clock';

export interface UserListOptions {
  windowMs: number;
  publish(channel: string, data: { count: number; user_list: number[] }): void;
  /** Reads the room's current list (for the trailing message of a window). */
  read(room: string): Promise<number[]>;
  onError(error: unknown, room: string): void;
  /** Default: the system clock. */
  clock?: Clock;
}

interface RoomState {
  /** when the last message was handed to the engine */
  lastSentAt: number;
  /** the trailing message of the current window */
  due?: ClockTimer;
  /** a trailing message is reading the list */
  reading: boolean;
  /** the list changed while it was being read: one more message is needed */
  dirty: boolean;
  /** drops the state of a room that stayed quiet for a window */
  expire?: ClockTimer;
}

export function userListChannel(room: string): string {
  return `${room}/user_list`;
}

export class UserListBroadcaster {
  private readonly rooms = new Map<string, RoomState>();
  private readonly sending = new Set<Promise<void>>();
  private readonly clock: Clock;

  constructor(private readonly options: UserListOptions) {
    this.clock = options.clock ?? systemClock;
  }

  changed(room: string, list: number[]): void {
    const state = this.rooms.get(room);
    if (!state) {
      this.send(room, list);
      const fresh: RoomState = { lastSentAt: this.clock.now(), reading: false, dirty: false };
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
    const wait = Math.max(0, state.lastSentAt + this.options.windowMs - this.clock.now());
    state.due = this.clock.after(wait, () => this.trailing(room, state));
  }

  private scheduleExpiry(room: string, state: RoomState): void {
    state.expire = this.clock.after(this.options.windowMs, () => {
      if (this.rooms.get(room) === state && !state.due && !state.reading) this.rooms.delete(room);
    });
  }

  // Reads the list when the window ends, so that the message carries the list
  // as it is now even if concurrent writes reported their lists out of order.
  private trailing(room: string, state: RoomState): void {
    state.due = undefined;
    state.reading = true;
    state.dirty = false;
    const sending = this.options
      .read(room)
      .then((list) => {
        this.send(room, list);
        state.lastSentAt = this.clock.now();
      })
      .catch((error) => this.options.onError(error, room))
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
