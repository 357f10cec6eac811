// <room>/user_list coalescing. Each message is the whole list, to every
// member: a room's changes are merged into one message once the room is quiet
// for four times its recent gap between changes, within a window and 2 s of
// the last message (longer while the process's waiting rooms hold more than
// 2,000 members); a crowded room's window grows with its list (0.1 ms per
// member past 1,000). The last message always carries the final list.
// Simulated time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { UserListBroadcaster, windowFor } from '../../lib/edge/user-list';

const uids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function broadcaster(clock: ManualClock, current: (room: string) => number[]) {
  const sent: Array<{ at: number; room: string; count: number }> = [];
  const lists = new UserListBroadcaster({
    windowMs: 100,
    clock,
    publish: (channel, data) => sent.push({ at: clock.now(), room: channel, count: data.count }),
    read: async (room) => current(room),
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
    return sent.map(({ at, count }) => ({ at, count })); // one room: when, and how many
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

  it('a 5,000-member room with a join every 50 ms gets a list at most every 5 s, and the last one, final, right after the last join', async () => {
    const sent = await joinsEvery(50, 5000, 120);
    // Joins 50 ms apart never leave the room quiet for four gaps. Its members are more than the process's
    // busy rooms may reach in 2 s (1,000 a second): the second list waits 1 ms per member, 5,102 ms at the
    // join of 5,100 ms; the last join at 6,000 ms, the last list four gaps (200 ms) after it.
    assert.deepEqual(sent.map((m) => m.at), [0, 5102, 6200]);
    assert.equal(sent.at(-1)!.count, 5120, 'the last message carries the final list');
  });

  it("a busy room's share of the budget holds its list back 10 s at most", async () => {
    const sent = await joinsEvery(50, 40_000, 240);
    // 40,000 members would be 40 s of the budget. The last join at 12,000 ms; its list a window (4,020 ms
    // for the 40,200 members of the list sent at 10 s) after the last one.
    assert.deepEqual(sent.map((m) => m.at), [0, 10_000, 14_020]);
  });

  it('busy rooms share a budget of deliveries: 40 rooms of 100 get a list every 4 s or more, and 2 s again once the others are quiet', async () => {
    const clock = new ManualClock(0);
    const sizes = new Map<string, number>();
    const { lists, sent } = broadcaster(clock, (room) => uids(sizes.get(room)!));
    const rooms = Array.from({ length: 40 }, (_, i) => `/rooms/${i}`);
    const join = (room: string) => {
      sizes.set(room, (sizes.get(room) ?? 99) + 1);
      lists.changed(room, uids(sizes.get(room)!));
    };
    try {
      rooms.forEach(join); // each room's first list: at once
      // A join in every room every 400 ms for 20 s: the rooms never go quiet.
      for (let t = 400; t <= 20_000; t += 400) {
        await clock.advance(400);
        rooms.forEach(join);
      }
      const busy = sent.filter((m) => m.at > 0 && m.at <= 20_000);
      const delivered = busy.reduce((sum, m) => sum + m.count, 0);
      // The waiting rooms hold about 40 times the members of each, so a list waits about 40 ms per member:
      // room 0's first merged list 4,361 ms after its first, when it reached 110 and the others held 109.
      assert.deepEqual(busy.filter((m) => m.room === '/rooms/0/user_list').map((m) => [m.at, m.count]), [[4361, 110], [9242, 123], [14_643, 136]]);
      assert.equal(busy.length, 120, 'every room the same');
      assert.ok(delivered <= 1000 * 20, `at most 1,000 members reached a second while busy: ${delivered} in 20 s`);
      // Every room goes quiet; the last lists carry the final lists.
      await clock.advance(10_000);
      for (const room of rooms) assert.equal(sent.filter((m) => m.room === `${room}/user_list`).at(-1)!.count, sizes.get(room));
      // One room alone busy again: its budget share is its own 150-160 members, so 2 s.
      const mark = sent.length;
      for (let i = 0; i < 10; i++) {
        await clock.advance(400);
        join(rooms[0]);
      }
      await clock.advance(5000);
      const again = sent.slice(mark).map((m) => m.at - sent[mark].at);
      assert.deepEqual(again, [0, 2000, 4000], 'at once (a quiet room), then every 2 s');
    } finally {
      await lists.flush();
    }
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
