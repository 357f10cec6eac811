// Two processes write one user's timer row. Page A of the user closes on one
// process (the store decides: the timer stops) and page B opens on another
// right after (the store decides: it starts again). The two SQL writes can
// land in the other order: the start then finds the timer still running and
// does nothing, and the stop, landing last, left the timer stopped while B was
// online. The start is now tried again once that stop has landed. The records here
// keep one timer with the rules of lib/records (start only when stopped, stop
// only when running) and let the test hold a stop back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { Presence } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { MemoryStore } from '../../lib/stores/memory-store';
import { auth, TimerRow, timerRowRecords } from './timer-row';

const START = Date.UTC(2026, 0, 5, 9, 0, 0);

describe("a start that overtakes another process's stop of the user's timer", () => {
  it('waits for the stop and starts the timer as of the arrival: it runs while the user is online', async () => {
    const clock = new ManualClock(START);
    const store = new MemoryStore(32, 5000);
    const row = new TimerRow();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const one = new Presence({ store, records: timerRowRecords(row, { stops: held }), logger: silentLogger, clock, leaveGraceMs: 5000 });
    const two = new Presence({ store, records: timerRowRecords(row), logger: silentLogger, clock, leaveGraceMs: 5000 });
    const failed: Error[] = [];
    for (const p of [one, two]) p.on('writeFailed', (error) => failed.push(error));

    await one.arrive('a', auth('/rooms/a'));
    await clock.advance(10_000);
    // A closes on the first process (before_leave: the timer stops at once), its stop held back...
    const leaving = one.depart('a', 'before_leave', clock.now());
    // ...while B opens on the second: the store starts the timer again, but SQL still runs A's session.
    await two.arrive('b', auth('/rooms/b'));
    assert.equal(row.starts, 2, "B's start found the timer running");
    release();
    await leaving;
    assert.equal(row.since, null, "A's stop landed last");
    // The start is tried again 100 ms (retryDelay) later, on the clock.
    await clock.advance(100, () => two.idle());
    assert.equal(row.starts, 3);
    assert.equal(row.since, START + 10_000, 'the timer runs again, as of B\'s arrival');
    assert.equal(row.spentMs, 10_000, "A's session counted once");
    assert.deepEqual(failed, []);
  });

  it('gives up after writeAttempts when the timer was left running by something else, and leaves it running', async () => {
    const clock = new ManualClock(START);
    const row = new TimerRow();
    row.since = START - 60_000; // a crash left it running, say
    const presence = new Presence({ store: new MemoryStore(32, 5000), records: timerRowRecords(row), logger: silentLogger, clock, leaveGraceMs: 5000, writeAttempts: 3 });
    await presence.arrive('b', auth('/rooms/b'));
    assert.equal(row.starts, 1, 'the arrival does not wait for the attempts');
    // Waits of 100 and 200 ms between the three attempts, then none.
    await clock.advance(10_000, () => presence.idle());
    assert.equal(row.starts, 3);
    assert.equal(row.since, START - 60_000);
    assert.equal(clock.scheduled, 0);
  });
});
