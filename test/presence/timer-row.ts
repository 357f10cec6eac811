// One user's timer row shared by the records of several processes, with the
// rules of lib/records (start only when stopped, stop only when running), for
// the timer-race tests: a test may hold starts or stops back to make two
// processes' SQL writes land in the other order than the store decided them.
import assert from 'node:assert/strict';
import { readAuth, type Auth } from '../../lib/core/auth';
import type { PresenceRecords } from '../../lib/core/presence';

export class TimerRow {
  since: number | null = null;
  spentMs = 0;
  starts = 0;
  stops = 0;
}

/** Records over `row`; `hold.starts` / `hold.stops` delay every start / stop until they resolve. */
export function timerRowRecords(row: TimerRow, hold: { starts?: Promise<void>; stops?: Promise<void> } = {}): PresenceRecords {
  return {
    addToOnlineList: async (_room, uid) => [uid],
    removeFromOnlineList: async () => [],
    startTimer: async (_uid, _timeChannel, at) => {
      row.starts += 1;
      await hold.starts;
      if (row.since !== null) return false;
      row.since = at.getTime();
      return true;
    },
    stopTimer: async (_uid, _timeChannel, at) => {
      row.stops += 1;
      await hold.stops;
      if (row.since === null) return null;
      const added = Math.floor((at.getTime() - row.since) / 1000);
      row.spentMs += at.getTime() - row.since;
      row.since = null;
      return added;
    },
    writeLoginLog: async () => undefined,
    startEngaged: async () => true,
    stopEngaged: async () => true,
  };
}

/** User 4's auth in `room`, lesson /lessons/1. */
export function auth(room: string): Auth {
  const reading = readAuth({ room_channel: room, time_channel: '/lessons/1', current_user: { uid: 4, uname: 'u4' } });
  assert.equal(reading.kind, 'valid');
  return reading.auth;
}
