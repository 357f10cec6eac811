// Both stores append the same presence events for the same changes, in the
// same step (the Lua scripts on Redis, the memory store in process): one suite
// drives both through identical cases and reads their outboxes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeOutboxEntry, type PresenceRecordEvent } from '../../lib/events/event';
import type { EventOutbox } from '../../lib/events/outbox';
import type { PresenceStore } from '../../lib/stores/store';

export const GRACE_MS = 5000;

export interface OutboxUnderTest {
  store: PresenceStore;
  outbox: EventOutbox;
  cleanup(): Promise<void>;
}

/** A fresh store whose events go to `outbox` holding at most `limit` (0: events off). */
export type OutboxFactory = (limit: number) => Promise<OutboxUnderTest>;

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);
let counter = 0;

function place(): { room: string; timeChannel: string } {
  counter += 1;
  return { room: `/outbox/room${counter}`, timeChannel: `/outbox/lesson${counter}` };
}

const authJson = (uid: number, where: { room: string; timeChannel: string }) =>
  JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid, uname: `u${uid}` } });

export function outboxContract(name: string, factory: OutboxFactory): void {
  describe(`events outbox of the presence store (${name})`, () => {
    let subject: OutboxUnderTest;
    let store: PresenceStore;
    before(async () => {
      subject = await factory(1000);
      store = subject.store;
    });
    after(() => subject.cleanup());

    const arrive = (clientId: string, uid: number, where: { room: string; timeChannel: string }, at: number) =>
      store.arrive({ clientId, uid, ...where, authJson: authJson(uid, where), at });
    const depart = (clientId: string, uid: number, where: { room: string; timeChannel: string }, at: number, deferLeave = false, reason = 'disconnect') =>
      store.depart({ clientId, uid, ...where, at, deferLeave, now: at, reason });
    /** The events appended since the last call, removed from the outbox. */
    async function take(): Promise<PresenceRecordEvent[]> {
      const entries = await subject.outbox.peek(1000);
      await subject.outbox.remove(entries);
      return entries.map((entry) => decodeOutboxEntry(entry)!);
    }
    const brief = (events: PresenceRecordEvent[]) => events.map((e) => [e.kind, e.uid, e.occurredMs - T0, e.seq, e.reason, e.clientId]);

    test('the first user in makes a join and occupied, the last one out a leave and vacated; tabs and other users make only joins and leaves', async () => {
      const where = place();
      await take();
      await arrive('a1', 1, where, T0);
      await arrive('a2', 1, where, T0 + 1); // a second tab: nothing
      await arrive('b1', 2, where, T0 + 2);
      await depart('a1', 1, where, T0 + 3);
      await depart('b1', 2, where, T0 + 4, false, 'timeout');
      await depart('a2', 1, where, T0 + 5);
      assert.deepEqual(brief(await take()), [
        ['join', 1, 0, 1, 'connect', 'a1'], ['occupied', null, 0, 1, 'connect', 'a1'],
        ['join', 2, 2, 2, 'connect', 'b1'],
        ['leave', 2, 4, 3, 'timeout', 'b1'],
        ['leave', 1, 5, 4, 'disconnect', 'a2'], ['vacated', null, 5, 4, 'disconnect', 'a2'],
      ]);
      assert.ok((await take()).length === 0);
    });

    test('a leave in its grace period is an event only once confirmed, and the room is vacated only then', async () => {
      const where = place();
      await take();
      await arrive('a', 1, where, T0);
      await arrive('b', 2, where, T0 + 1);
      await depart('a', 1, where, T0 + 10, true);
      await depart('b', 2, where, T0 + 20);
      assert.deepEqual(brief(await take()), [
        ['join', 1, 0, 1, 'connect', 'a'], ['occupied', null, 0, 1, 'connect', 'a'], ['join', 2, 1, 2, 'connect', 'b'], ['leave', 2, 20, 3, 'disconnect', 'b'],
      ], 'the pending leave keeps the room occupied');
      const confirmed = await store.confirmLeave({ uid: 1, ...where, at: T0 + 10, markedAt: T0 + 10, reason: 'disconnect', clientId: 'a' });
      assert.equal(confirmed.leftRoom, true);
      assert.deepEqual(brief(await take()), [['leave', 1, 10, 4, 'disconnect', 'a'], ['vacated', null, 10, 4, 'disconnect', 'a']]);
    });

    test('a timer\'s abandoned mark confirmed with the time channel in the room\'s place makes no room event', async () => {
      const where = place();
      await take();
      await arrive('a', 1, where, T0);
      await depart('a', 1, where, T0 + 10, true);
      await take();
      const timeOnly = { room: where.timeChannel, timeChannel: where.timeChannel };
      const confirmed = await store.confirmLeave({ uid: 1, ...timeOnly, at: T0 + 10, markedAt: T0 + 10, reason: 'abandoned', roomEvents: false });
      assert.equal(confirmed.stoppedTimer, true);
      assert.deepEqual(await take(), []);
    });

    test('a user back within the grace period never left: no event', async () => {
      const where = place();
      await take();
      await arrive('a', 1, where, T0);
      await depart('a', 1, where, T0 + 10, true);
      await arrive('a2', 1, where, T0 + 1000);
      assert.deepEqual(brief(await take()), [['join', 1, 0, 1, 'connect', 'a'], ['occupied', null, 0, 1, 'connect', 'a']]);
    });

    test('a room whose last user left in their grace period is occupied again by a newcomer only after it was vacated', async () => {
      const where = place();
      await take();
      await arrive('a', 1, where, T0);
      await depart('a', 1, where, T0 + 10, true);
      await arrive('b', 2, where, T0 + 20);
      const events = brief(await take());
      assert.deepEqual(events.map((e) => e[0]), ['join', 'occupied', 'join'], 'no occupied while the first user\'s leave is pending');
    });

    test('with events off nothing is appended; a full outbox counts what it could not take', async () => {
      const off = await factory(0);
      const full = await factory(2);
      try {
        const where = place();
        await off.store.arrive({ clientId: 'x', uid: 1, ...where, authJson: authJson(1, where), at: T0 });
        assert.deepEqual(await off.outbox.stats(), { length: 0, dropped: 0 });
        for (const [i, uid] of [1, 2, 3].entries()) await full.store.arrive({ clientId: `c${uid}`, uid, ...where, authJson: authJson(uid, where), at: T0 + i });
        assert.deepEqual(await full.outbox.stats(), { length: 2, dropped: 2 }, 'join+occupied kept; the next two joins dropped and counted');
      } finally {
        await off.cleanup();
        await full.cleanup();
      }
    });

    test('entries are removed by value: two drainers removing the same entries remove each once, and never a newer one', async () => {
      const where = place();
      await take();
      await arrive('a', 1, where, T0);
      const seen = await subject.outbox.peek(10);
      await arrive('b', 2, where, T0 + 1);
      await Promise.all([subject.outbox.remove(seen), subject.outbox.remove(seen)]);
      assert.deepEqual(brief(await take()), [['join', 2, 1, 2, 'connect', 'b']]);
    });
  });
}
