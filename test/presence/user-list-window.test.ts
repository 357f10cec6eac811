// <room>/user_list coalescing. Each message is the whole list, to every
// member: a room's changes are merged into one message once the room is quiet
// for four times its recent gap between changes, within a window and 2 s of
// the last message; a crowded room's window grows with its list (0.1
// ms per member past 1,000). The last message always carries the final list.
// Simulated time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { UserListBroadcaster, windowFor } from '../../lib/edge/user-list';

const uids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function broadcaster(clock: ManualClock, current: () => number[]) {
  const sent: Array<{ at: number; count: number }> = [];
  const lists = new UserListBroadcaster({
    windowMs: 100,
    clock,
    publish: (_channel, data) => sent.push({ at: clock.now(), count: data.count }),
    read: async () => current(),
    onError: (error) => assert.fail(String(error)),
  });
  return { lists, sent };
}

/** A room of `members` that gets `count` more, one every `gapMs` (simulated time), then settles: what was sent, when. */
async function joinsEvery(gapMs: number, members: number, count: number): Promise<Array<{ at: number; count: number }>> {
  const clock = new ManualClock(0);
  const { lists, sent } = broadcaster(clock, () => uids(members));
  try {
    lists.changed('/rooms/r', uids(members)); // a quiet room: at once
    for (let i = 0; i < count; i++) {
      await clock.advance(gapMs);
      members += 1;
      lists.changed('/rooms/r', uids(members));
    }
    await clock.advance(3000);
    return sent;
  } finally {
    await lists.flush();
  }
}

describe('user_list windows', () => {
  it('keep the configured window up to 1,000 members and grow with the list past it', () => {
    assert.equal(windowFor(100, 0), 100);
    assert.equal(windowFor(100, 1000), 100);
    assert.equal(windowFor(100, 5000), 500);
    assert.equal(windowFor(100, 10_000), 1000);
    assert.equal(windowFor(2000, 10_000), 2000, 'a longer configured window stays');
  });

  it('a 10,000-member room with a join every 50 ms gets a list at most every 2 s, and the last one, final, right after the last join', async () => {
    const sent = await joinsEvery(50, 10_000, 60);
    // Joins 50 ms apart never leave the room quiet for four gaps: 2 s after the first list, the second;
    // the last join at 3,000 ms, the last list four gaps (200 ms) after it. None sooner than the 1 s window of 10,000 members.
    assert.deepEqual(sent.map((m) => m.at), [0, 2000, 3200]);
    assert.equal(sent.at(-1)!.count, 10_060, 'the last message carries the final list');
  });

  it('a storm in a small room: a list every 2 s while it lasts, the final one four gaps after its end', async () => {
    const sent = await joinsEvery(10, 10, 500);
    assert.deepEqual(sent.map((m) => m.at), [0, 2000, 4000, 5040]);
    assert.equal(sent.at(-1)!.count, 510);
  });

  it('a short burst: the merged list goes out once the room is quiet, not sooner than a window after the last one', async () => {
    const clock = new ManualClock(0);
    let members = 10;
    const { lists, sent } = broadcaster(clock, () => uids(members));
    try {
      lists.changed('/rooms/small', uids(members));
      await clock.advance(10);
      members += 1;
      lists.changed('/rooms/small', uids(members)); // 10 ms after: due a window after the first list
      await clock.advance(500);
      for (let i = 0; i < 6; i++) {
        await clock.advance(50);
        members += 1;
        lists.changed('/rooms/small', uids(members));
      }
      await clock.advance(1000);
      // The room's gap, averaged over its changes, came down from the pause (550 ms) to 73 ms in the second
      // burst: its list goes out four gaps (291 ms) after the burst's last change, at 810 ms.
      assert.deepEqual(sent.map((m) => m.at), [0, 100, 1101]);
      assert.equal(sent.at(-1)!.count, 17);
    } finally {
      await lists.flush();
    }
  });

  it('a room of 100 whose members come back 400 ms apart (a reconnect wave) gets a list every 2 s, not one per join', async () => {
    const sent = await joinsEvery(400, 1, 99);
    // 100 joins over 39.6 s: a list every 2 s (the last join's in the one at 40 s).
    assert.equal(sent.length, 21);
    sent.slice(1).forEach((m, i) => assert.equal(m.at - sent[i].at, 2000));
    assert.deepEqual(sent.at(-1), { at: 40_000, count: 100 });
  });

  it('a change 2 s after the last one is a quiet room\'s: at once', async () => {
    const clock = new ManualClock(0);
    let members = 10;
    const { lists, sent } = broadcaster(clock, () => uids(members));
    try {
      lists.changed('/rooms/quiet', uids(members));
      await clock.advance(1500);
      members += 1;
      lists.changed('/rooms/quiet', uids(members)); // within 2 s of the last message: merged, sent 2 s after it
      await clock.advance(4000);
      members += 1;
      lists.changed('/rooms/quiet', uids(members)); // 2 s after that, quiet again: at once
      assert.deepEqual(sent.map((m) => m.at), [0, 2000, 5500]);
    } finally {
      await lists.flush();
    }
  });

  it("in a cluster, a list another process sent late is not the room's last message: a window later each process reads it again", async () => {
    // Two processes publish to one subscriber. B wrote the newer list and sent
    // it; A's message, the list its own write saw just before, reached the
    // engine after B's (A was slowed down).
    for (const confirm of [true, false]) {
      const clock = new ManualClock(0);
      let stored = [3, 4, 5, 6];
      const received: number[][] = [];
      const process = () => new UserListBroadcaster({
        windowMs: 100, clock, confirm,
        publish: (_channel, data) => received.push(data.user_list),
        read: async () => [...stored],
        onError: (error) => assert.fail(String(error)),
      });
      const [a, b] = [process(), process()];
      try {
        b.changed('/rooms/r', [3, 4, 5, 6]);
        a.changed('/rooms/r', [1, 3, 4, 5, 6]);
        await clock.advance(1000);
        if (confirm) {
          assert.deepEqual(received, [[3, 4, 5, 6], [1, 3, 4, 5, 6], [3, 4, 5, 6]], 'A sends the stored list again; B finds its own current and sends nothing');
        } else {
          assert.deepEqual(received.at(-1), [1, 3, 4, 5, 6], 'without confirming, the late list stays the last one');
        }
        // The rooms' states are dropped once confirmed and quiet for 2 s: a later change is a quiet room's, sent at once.
        await clock.advance(2000);
        stored = [3, 4, 5];
        const before = received.length;
        b.changed('/rooms/r', [3, 4, 5]);
        assert.equal(received.length, before + 1);
      } finally {
        await Promise.all([a.flush(), b.flush()]);
      }
    }
  });
});
