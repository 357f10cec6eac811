// <room>/user_list in a crowded room: each message is the whole list, so a
// room's coalescing window grows with its list (0.1 ms per member past 1,000),
// and the last message still carries the final list. Simulated time.
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

describe('user_list windows', () => {
  it('keep the configured window up to 1,000 members and grow with the list past it', () => {
    assert.equal(windowFor(100, 0), 100);
    assert.equal(windowFor(100, 1000), 100);
    assert.equal(windowFor(100, 5000), 500);
    assert.equal(windowFor(100, 10_000), 1000);
    assert.equal(windowFor(2000, 10_000), 2000, 'a longer configured window stays');
  });

  it('a 10,000-member room with a join every 50 ms gets about one list a second, and the last one is final', async () => {
    const clock = new ManualClock(0);
    let members = 10_000;
    const { lists, sent } = broadcaster(clock, () => uids(members));
    try {
      lists.changed('/rooms/big', uids(members)); // quiet room: at once
      for (let i = 0; i < 60; i++) {
        await clock.advance(50);
        members += 1;
        lists.changed('/rooms/big', uids(members));
      }
      await clock.advance(2000);
      // 10,000 members: 1,000 ms; each message's window follows the list it sent.
      assert.deepEqual(sent.map((m) => m.at), [0, 1000, 2002, 3006]);
      sent.slice(1).forEach((m, i) => assert.equal(m.at - sent[i].at, windowFor(100, sent[i].count)));
      assert.equal(sent.at(-1)!.count, 10_060, 'the last message carries the final list');
    } finally {
      await lists.flush();
    }
  });

  it('a small room keeps its 100 ms window', async () => {
    const clock = new ManualClock(0);
    let members = 10;
    const { lists, sent } = broadcaster(clock, () => uids(members));
    try {
      lists.changed('/rooms/small', uids(members));
      for (let i = 0; i < 6; i++) {
        await clock.advance(50);
        members += 1;
        lists.changed('/rooms/small', uids(members));
      }
      await clock.advance(500);
      assert.deepEqual(sent.map((m) => m.at), [0, 100, 200, 300, 400]);
      assert.equal(sent.at(-1)!.count, 16);
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
        // The rooms' states are dropped once confirmed: a later change is a quiet room's, sent at once.
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
