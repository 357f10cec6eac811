// needs: mysql, redis
// The reverse of timer-race.test.ts. Page A of the user opens on one process
// (the store decides: the timer starts) and closes on another right after (the
// store decides: it stops). The two SQL writes can land in the other order:
// the stop then finds the timer stopped and does nothing, and the start,
// landing last, left the timer running while the user was gone. The stop now
// looks again once that start has landed. The records here keep one timer
// with the rules of lib/records (start only when stopped, stop only when
// running) and let the test hold a start back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { Presence, type PresenceRecords } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { Records } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import { auth, TimerRow, timerRowRecords } from './timer-row';
import { RedisStore } from '../../lib/stores/redis-store';
import { createMariadbBackend } from '../support/databases';
import { createTestRedis } from '../support/redis';

const START = Date.UTC(2026, 0, 5, 9, 0, 0);

async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !condition(); turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), 'never happened');
}

describe("a stop that overtakes another process's start of the user's timer", () => {
  it('looks again once the start landed and stops the timer as of the leave: it does not run while the user is gone', async () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore(32, 5000);
    const row = new TimerRow();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const one = new Presence({ store, records: timerRowRecords(row, { starts: held }), logger: silentLogger, clock, leaveGraceMs: 5000 });
    const two = new Presence({ store, records: timerRowRecords(row), logger: silentLogger, clock, leaveGraceMs: 5000 });
    const failed: Error[] = [];
    for (const p of [one, two]) p.on('writeFailed', (error) => failed.push(error));

    // A opens on the first process: the store starts the timer, its SQL write held back...
    const arriving = one.arrive('a', auth('/rooms/a'));
    await until(() => row.starts === 1);
    await clock.advance(10_000);
    // ...while A closes on the second (before_leave: the timer stops at once), which SQL sees first.
    await two.depart('a', 'before_leave', clock.now());
    assert.equal(row.stops, 1);
    assert.equal(row.since, null, "A's stop found the timer stopped");
    release();
    await arriving;
    assert.equal(row.since, START, "A's start landed last");
    // The stop looks again 100 ms (retryDelay) later, on the clock.
    await clock.advance(100, () => two.idle());
    assert.equal(row.stops, 2);
    assert.equal(row.since, null, 'the timer is stopped');
    assert.equal(row.spentMs, 10_000, "A's session counted up to its leave, not to the second look");
    await clock.advance(10_000, () => two.idle());
    assert.equal(row.stops, 2, 'a stop that did its work looks no more');
    assert.equal(clock.scheduled, 0);
    assert.deepEqual(failed, []);
  });

  it('leaves the timer of a user back in the time channel alone, and gives up after writeAttempts', async () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore(32, 5000);
    const row = new TimerRow();
    const presence = new Presence({ store, records: timerRowRecords(row), logger: silentLogger, clock, leaveGraceMs: 5000, writeAttempts: 3 });
    await presence.arrive('a', auth('/rooms/a'));
    await clock.advance(10_000);
    row.since = null; // something else (reconciliation, say) stopped it already
    await presence.depart('a', 'before_leave', clock.now());
    assert.equal(row.stops, 1, 'the departure does not wait for the second look');
    // Waits of 100 and 200 ms between the three looks, then none: nothing runs, nothing is stopped.
    await clock.advance(10_000, () => presence.idle());
    assert.equal(row.stops, 3);
    assert.equal(clock.scheduled, 0);

    // B opens and closes, and C opens: the user is back when the closing stop looks again.
    await presence.arrive('b', auth('/rooms/a'));
    row.since = null;
    await presence.depart('b', 'before_leave', clock.now());
    assert.equal(row.stops, 4);
    const cameBack = clock.now();
    await presence.arrive('c', auth('/rooms/a'));
    assert.equal(row.since, cameBack, "C's start");
    await clock.advance(10_000, () => presence.idle());
    assert.equal(row.stops, 4, 'no second look stops the timer of a user who is back');
    assert.equal(row.since, cameBack, 'C runs on');
    assert.equal(clock.scheduled, 0);
  });

  it('on MariaDB and Redis: the timer row (the gem\'s format, optimistically locked) ends stopped, with the session counted up to its leave', async () => {
    const backend = await createMariadbBackend('timerstop');
    const redis = await createTestRedis();
    try {
      const sequelize = backend.open();
      await migrate(sequelize, 'up');
      const records = new Records({ sequelize, timeZone: 'UTC' });
      const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: 32, leaveGraceMs: 5000 });
      const clock = new ManualClock(START);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let starts = 0;
      const real: PresenceRecords = {
        addToOnlineList: (room, uid) => records.addToOnlineList(room, uid),
        removeFromOnlineList: (room, uid) => records.removeFromOnlineList(room, uid),
        startTimer: (uid, timeChannel, at) => records.startTimer(uid, timeChannel, at),
        stopTimer: (uid, timeChannel, at) => records.stopTimer(uid, timeChannel, at),
        writeLoginLog: (entry) => records.writeLoginLog(entry),
        startEngaged: (uid, timeChannel, session) => records.startEngaged(uid, timeChannel, session),
        stopEngaged: (uid, timeChannel, session, at) => records.stopEngaged(uid, timeChannel, session, at),
      };
      const heldStarts: PresenceRecords = {
        ...real,
        startTimer: async (uid, timeChannel, at) => {
          starts += 1;
          await held;
          return records.startTimer(uid, timeChannel, at);
        },
      };
      const one = new Presence({ store, records: heldStarts, logger: silentLogger, clock, leaveGraceMs: 5000 });
      const two = new Presence({ store, records: real, logger: silentLogger, clock, leaveGraceMs: 5000 });
      const failed: Error[] = [];
      for (const p of [one, two]) p.on('writeFailed', (error) => failed.push(error));

      const arriving = one.arrive('a', auth('/rooms/a'));
      await until(() => starts === 1);
      await clock.advance(10_000);
      await two.depart('a', 'before_leave', clock.now());
      release();
      await arriving;
      assert.notEqual((await records.onlineTime(4, '/lessons/1')).runningSince, null, "A's start landed last");
      await clock.advance(100, () => two.idle());
      const time = await records.onlineTime(4, '/lessons/1', new Date(clock.now()));
      assert.equal(time.runningSince, null, 'the timer is stopped');
      assert.equal(time.spentSeconds, 10, "A's session counted up to its leave");
      assert.deepEqual(failed, []);
      await clock.advance(10_000, () => two.idle());
      assert.equal(clock.scheduled, 0);
    } finally {
      await redis.cleanup();
      await backend.cleanup();
    }
  });
});
