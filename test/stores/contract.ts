// One rulebook, two implementations: the Lua scripts beside redis-store.ts and
// memory-store.ts decide the same transitions. This suite drives both through
// identical cases; a rule changed in one and not the other fails here, not in
// an end-to-end run.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Arrival, Departure, PresenceStore } from '../../lib/stores/store';

export const GRACE_MS = 5000;
export const LIMIT = 3;

export interface StoreUnderTest {
  store: PresenceStore;
  cleanup(): Promise<void>;
}

/** Builds a fresh, empty store: at most LIMIT clientIds per user in a room, leaves deferred by GRACE_MS. */
export type StoreFactory = () => Promise<StoreUnderTest>;

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let counter = 0;

/** A fresh room and time channel for each case, so that cases never see each other's state. */
function place(): { room: string; timeChannel: string } {
  counter += 1;
  return { room: `/contract/room${counter}`, timeChannel: `/contract/lesson${counter}` };
}

function authJson(uid: number, room: string, timeChannel: string): string {
  return JSON.stringify({ room_channel: room, time_channel: timeChannel, current_user: { uid, uname: `user${uid}` } });
}

function arrival(clientId: string, uid: number, where: { room: string; timeChannel: string }, at: number): Arrival {
  return { clientId, uid, ...where, authJson: authJson(uid, where.room, where.timeChannel), at };
}

function departure(clientId: string, uid: number, where: { room: string; timeChannel: string }, at: number, deferLeave: boolean, now = at): Departure {
  return { clientId, uid, ...where, at, deferLeave, now };
}

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`presence store contract (${name})`, () => {
    let subject: StoreUnderTest;
    let store: PresenceStore;
    before(async () => {
      subject = await factory();
      store = subject.store;
    });
    after(() => subject.cleanup());

    test("a user's first clientId joins the room, starts the timer and logs the login; the second only logs its login", async () => {
      const where = place();
      const first = await store.arrive(arrival('c1a', 1, where, T0));
      assert.deepEqual(first, { added: true, joinedRoom: true, startedTimer: true, logLogin: true, evicted: [], seq: 1, resumedFrom: 0, previousAuth: null });
      const second = await store.arrive(arrival('c1b', 1, where, T0 + 1000));
      assert.deepEqual(second, { added: true, joinedRoom: false, startedTimer: false, logLogin: true, evicted: [], seq: 0, resumedFrom: 0, previousAuth: null });
      const again = await store.arrive(arrival('c1a', 1, where, T0 + 2000));
      assert.deepEqual(again, { added: false, joinedRoom: false, startedTimer: false, logLogin: false, evicted: [], seq: 0, resumedFrom: 0, previousAuth: null });
      assert.deepEqual([...(await store.clientIdsByUser(where.room))], [[1, ['c1a', 'c1b']]]);
      assert.deepEqual([...(await store.clientIdsByUser(where.timeChannel))], [[1, ['c1a', 'c1b']]]);
      assert.deepEqual(await store.clientIdsOfUser(where.room, 1), ['c1a', 'c1b'], 'one user read alone, as in the whole map');
      assert.deepEqual(await store.clientIdsOfUser(where.room, 2), []);
      assert.deepEqual([...(await store.withClientIds(where.timeChannel, [2, 1, 7]))], [1], 'of several users read at once, those with a clientId');
      assert.deepEqual([...(await store.withClientIds(where.timeChannel, []))], []);
    });

    test('only the last clientId to depart leaves the room and stops the timer; each logs its logout once', async () => {
      const where = place();
      await store.arrive(arrival('c2a', 2, where, T0));
      await store.arrive(arrival('c2b', 2, where, T0));
      const first = await store.depart(departure('c2a', 2, where, T0 + 1000, false));
      assert.equal(first.removed, true);
      assert.equal(first.leftRoom, false);
      assert.equal(first.stoppedTimer, false);
      assert.equal(first.logLogout, true);
      const repeated = await store.depart(departure('c2a', 2, where, T0 + 1000, false));
      assert.equal(repeated.removed, false);
      assert.equal(repeated.logLogout, false);
      const last = await store.depart(departure('c2b', 2, where, T0 + 2000, false));
      assert.deepEqual(
        { removed: last.removed, leftRoom: last.leftRoom, stoppedTimer: last.stoppedTimer, logLogout: last.logLogout, seq: last.seq, pending: last.roomLeavePending || last.timerStopPending },
        { removed: true, leftRoom: true, stoppedTimer: true, logLogout: true, seq: 2, pending: false },
      );
      assert.equal((await store.clientIdsByUser(where.room)).size, 0);
      assert.deepEqual(await store.clientIdsOfUser(where.timeChannel, 2), []);
      assert.equal((await store.roomState(where.room)).seq, 2);
    });

    test('a room that is also the time channel joins and starts the timer in one step', async () => {
      const { room } = place();
      const where = { room, timeChannel: room };
      const arrived = await store.arrive(arrival('c3', 3, where, T0));
      assert.equal(arrived.joinedRoom, true);
      assert.equal(arrived.startedTimer, true);
      const departed = await store.depart(departure('c3', 3, where, T0 + 1000, false));
      assert.equal(departed.leftRoom, true);
      assert.equal(departed.stoppedTimer, true);
    });

    test('a deferred leave is pending until confirmed after the grace; the confirmation names its mark', async () => {
      const where = place();
      await store.arrive(arrival('c4', 4, where, T0));
      const departed = await store.depart(departure('c4', 4, where, T0 + 1000, true, T0 + 1500));
      assert.deepEqual(
        { leftRoom: departed.leftRoom, stoppedTimer: departed.stoppedTimer, roomLeavePending: departed.roomLeavePending, timerStopPending: departed.timerStopPending, seq: departed.seq },
        { leftRoom: false, stoppedTimer: false, roomLeavePending: true, timerStopPending: true, seq: 0 },
      );
      const pending = { uid: 4, ...where, at: T0 + 1000, markedAt: T0 + 1500 };
      assert.deepEqual(await store.confirmLeave({ ...pending, markedAt: T0 + 1499 }), { leftRoom: false, stoppedTimer: false, seq: 0 }, 'another mark');
      assert.deepEqual(await store.confirmLeave(pending), { leftRoom: true, stoppedTimer: true, seq: 2 });
      assert.deepEqual(await store.confirmLeave(pending), { leftRoom: false, stoppedTimer: false, seq: 0 }, 'only once');
    });

    test('pending marks can be read per channel (reconciliation finds leaves whose process died) until confirmed', async () => {
      const where = place();
      await store.arrive(arrival('c14', 14, where, T0));
      await store.depart(departure('c14', 14, where, T0 + 1000, true, T0 + 1500));
      const mark = { at: T0 + 1000, markedAt: T0 + 1500 };
      assert.deepEqual(await store.leaveMarks(where.room), new Map([[14, mark]]));
      assert.deepEqual(await store.leaveMarks(where.timeChannel), new Map([[14, mark]]));
      assert.deepEqual(await store.leaveMarkOf(where.room, 14), mark, 'one user read alone, as in the whole map');
      assert.equal(await store.leaveMarkOf(where.room, 15), undefined);
      await store.confirmLeave({ uid: 14, ...where, ...mark });
      assert.deepEqual(await store.leaveMarks(where.room), new Map());
      assert.deepEqual(await store.leaveMarks(where.timeChannel), new Map());
      assert.equal(await store.leaveMarkOf(where.timeChannel, 14), undefined);
    });

    test("a user is present in a channel while they have a clientId or a leave in its grace there, and only that user's fields count", async () => {
      const where = place();
      assert.equal(await store.userPresent(where.timeChannel, 31), false, 'never came');
      await store.arrive(arrival('c31', 31, where, T0));
      await store.arrive(arrival('c32', 32, where, T0));
      assert.equal(await store.userPresent(where.timeChannel, 31), true, 'a clientId');
      await store.depart(departure('c31', 31, where, T0 + 1000, true, T0 + 1500));
      assert.equal(await store.userPresent(where.timeChannel, 31), true, 'a leave in its grace');
      await store.confirmLeave({ uid: 31, ...where, at: T0 + 1000, markedAt: T0 + 1500 });
      assert.equal(await store.userPresent(where.timeChannel, 31), false, 'gone');
      assert.equal(await store.userPresent(where.room, 31), false, 'gone from the room too');
      assert.equal(await store.userPresent(where.timeChannel, 32), true, 'another user stays');
      await store.depart(departure('c32', 32, where, T0 + 2000, false));
      assert.equal(await store.userPresent(where.timeChannel, 32), false, 'left at once');
    });

    test('coming back within the grace is no join and no timer start, and reports the last sighting the pending stop was for', async () => {
      const where = place();
      await store.arrive(arrival('c5a', 5, where, T0));
      await store.depart(departure('c5a', 5, where, T0 + 1000, true));
      const back = await store.arrive(arrival('c5b', 5, where, T0 + 3000));
      assert.deepEqual(
        { joinedRoom: back.joinedRoom, startedTimer: back.startedTimer, logLogin: back.logLogin, seq: back.seq, resumedFrom: back.resumedFrom },
        { joinedRoom: false, startedTimer: false, logLogin: true, seq: 0, resumedFrom: T0 + 1000 },
      );
      assert.deepEqual(await store.confirmLeave({ uid: 5, ...where, at: T0 + 1000, markedAt: T0 + 1000 }), { leftRoom: false, stoppedTimer: false, seq: 0 });
      assert.equal((await store.roomState(where.room)).seq, 1, 'one join, no leave');
    });

    test('coming back within the grace after an engine timeout resumes although the last sighting is long past', async () => {
      // Faye drops a silent client two timeouts (20 s at the defaults) after its
      // last ping; the mark's freshness counts from the departure, not from then.
      const where = place();
      await store.arrive(arrival('c6a', 6, where, T0));
      const lastSeen = T0 + 1000;
      const destroyedAt = lastSeen + 25_000;
      await store.depart(departure('c6a', 6, where, lastSeen, true, destroyedAt));
      const back = await store.arrive(arrival('c6b', 6, where, destroyedAt + 1500));
      assert.equal(back.joinedRoom, false);
      assert.equal(back.startedTimer, false);
      assert.equal(back.resumedFrom, lastSeen);
    });

    test('a mark left by a process that never confirmed it goes stale: the user joins afresh', async () => {
      const where = place();
      await store.arrive(arrival('c7a', 7, where, T0));
      await store.depart(departure('c7a', 7, where, T0, true));
      const back = await store.arrive(arrival('c7b', 7, where, T0 + 2 * GRACE_MS + 10_001));
      assert.equal(back.joinedRoom, true);
      assert.equal(back.startedTimer, true);
      assert.equal(back.resumedFrom, 0);
      const fresh = await store.depart(departure('c7b', 7, where, T0 + 30_000, false));
      assert.equal(fresh.leftRoom, true, 'the stale mark is gone');
    });

    test('a return to another time channel of the same room resumes the room only: the old timer stops on confirmation', async () => {
      const where = place();
      const other = { room: where.room, timeChannel: `${where.timeChannel}b` };
      await store.arrive(arrival('c8a', 8, where, T0));
      await store.depart(departure('c8a', 8, where, T0 + 1000, true));
      const back = await store.arrive(arrival('c8b', 8, other, T0 + 2000));
      assert.deepEqual({ joinedRoom: back.joinedRoom, startedTimer: back.startedTimer, resumedFrom: back.resumedFrom }, { joinedRoom: false, startedTimer: true, resumedFrom: 0 });
      assert.deepEqual(await store.confirmLeave({ uid: 8, ...where, at: T0 + 1000, markedAt: T0 + 1000 }), { leftRoom: false, stoppedTimer: true, seq: 0 });
    });

    test('past the limit the oldest clientIds of a user in a room are evicted; their remembered auth stays for their departure', async () => {
      const where = place();
      const other = { room: where.room, timeChannel: `${where.timeChannel}b` };
      await store.arrive(arrival('c9a', 9, other, T0));
      for (const id of ['c9b', 'c9c']) await store.arrive(arrival(id, 9, where, T0));
      const result = await store.arrive(arrival('c9d', 9, where, T0 + 1000));
      assert.deepEqual(result.evicted, ['c9a']);
      assert.deepEqual((await store.clientIdsByUser(where.room)).get(9), ['c9b', 'c9c', 'c9d']);
      assert.equal(await store.rememberedAuth('c9a'), authJson(9, other.room, other.timeChannel));
      const gone = await store.depart(departure('c9a', 9, other, T0 + 1000, false));
      assert.deepEqual({ removed: gone.removed, leftRoom: gone.leftRoom, stoppedTimer: gone.stoppedTimer, logLogout: gone.logLogout }, { removed: false, leftRoom: false, stoppedTimer: true, logLogout: true });
    });

    test("a clientId remembered for one user is refused to another, and nothing changes", async () => {
      const where = place();
      await store.arrive(arrival('c10', 10, where, T0));
      const taken = await store.arrive(arrival('c10', 11, where, T0));
      assert.equal(taken.refused, true);
      assert.deepEqual([...(await store.clientIdsByUser(where.room))], [[10, ['c10']]]);
    });

    test('an arrival naming another place reports the auth remembered before (the caller moves the clientId out of it)', async () => {
      const a = place();
      const b = place();
      await store.arrive(arrival('c11', 11, a, T0));
      const moved = await store.arrive(arrival('c11', 11, b, T0));
      assert.equal(moved.previousAuth, authJson(11, a.room, a.timeChannel));
      assert.equal(await store.rememberedAuth('c11'), authJson(11, b.room, b.timeChannel));
      assert.equal((await store.arrive(arrival('c11', 11, b, T0))).previousAuth, null, 'the same auth again');
    });

    test('a departure from a place the clientId is no longer remembered in changes nothing when asked to check, and says where it is', async () => {
      // A process that saw the page in `a` while another one moved it to `b` (a hop, then a move).
      const a = place();
      const b = place();
      await store.arrive(arrival('c12', 12, a, T0));
      await store.depart(departure('c12', 12, a, T0 + 1000, false));
      await store.arrive(arrival('c12', 12, b, T0 + 1000));
      const stale = await store.depart({ ...departure('c12', 12, a, T0 + 2000, false), sawLogin: true, ifRemembered: true });
      assert.equal(stale.elsewhere, authJson(12, b.room, b.timeChannel));
      assert.deepEqual({ removed: stale.removed, logLogout: stale.logLogout }, { removed: false, logLogout: false });
      assert.deepEqual([...(await store.clientIdsByUser(b.timeChannel))], [[12, ['c12']]], 'still in b');
      const right = await store.depart({ ...departure('c12', 12, b, T0 + 2000, false), sawLogin: true, ifRemembered: true });
      assert.deepEqual({ elsewhere: right.elsewhere, removed: right.removed, stoppedTimer: right.stoppedTimer, logLogout: right.logLogout }, { elsewhere: null, removed: true, stoppedTimer: true, logLogout: true }, "b's logout is logged");
      const unknown = await store.depart({ ...departure('c12x', 12, a, T0 + 2000, false), ifRemembered: true });
      assert.deepEqual({ elsewhere: unknown.elsewhere, removed: unknown.removed }, { elsewhere: null, removed: false }, 'nothing remembered: no check');
    });

    test('one user in two rooms joins and leaves each independently, with its own sequence numbers', async () => {
      const a = place();
      const b = place();
      assert.equal((await store.arrive(arrival('c12a', 12, a, T0))).seq, 1);
      assert.equal((await store.arrive(arrival('c12b', 12, b, T0))).seq, 1);
      assert.equal((await store.depart(departure('c12a', 12, a, T0, false))).seq, 2);
      assert.deepEqual([...(await store.roomState(b.room)).users], [[12, ['c12b']]]);
      assert.equal((await store.roomState(b.room)).seq, 1);
    });

    test('engagement: the first engaged clientId starts a session, the last one ends it; old reports and absent clientIds change nothing', async () => {
      const where = place();
      const t = where.timeChannel;
      await store.arrive(arrival('c13a', 13, where, T0));
      await store.arrive(arrival('c13b', 13, where, T0));
      assert.deepEqual(await store.engage({ clientId: 'c13x', uid: 13, timeChannel: t, engaged: true, seq: 1, at: T0 }), { absent: true, stale: false, started: false, stopped: false, session: 0 });
      assert.deepEqual(await store.engage({ clientId: 'c13a', uid: 13, timeChannel: t, engaged: true, seq: 1, at: T0 + 100 }), { absent: false, stale: false, started: true, stopped: false, session: T0 + 100 });
      assert.deepEqual(await store.engage({ clientId: 'c13b', uid: 13, timeChannel: t, engaged: true, seq: 1, at: T0 + 200 }), { absent: false, stale: false, started: false, stopped: false, session: 0 });
      assert.deepEqual(await store.engage({ clientId: 'c13a', uid: 13, timeChannel: t, engaged: false, seq: 1, at: T0 + 300 }), { absent: false, stale: true, started: false, stopped: false, session: 0 });
      assert.deepEqual(await store.engage({ clientId: 'c13a', uid: 13, timeChannel: t, engaged: false, seq: 2, at: T0 + 300 }), { absent: false, stale: false, started: false, stopped: false, session: 0 });
      assert.deepEqual([...(await store.engagedByUser(t))], [[13, ['c13b']]]);
      assert.deepEqual(await store.engagedOfUser(t, 13), ['c13b'], 'one user read alone, as in the whole map');
      assert.deepEqual(await store.engagedOfUser(t, 14), []);
      const gone = await store.depart(departure('c13b', 13, where, T0 + 400, true));
      assert.deepEqual({ wasEngaged: gone.wasEngaged, disengaged: gone.disengaged, engagedSession: gone.engagedSession }, { wasEngaged: true, disengaged: true, engagedSession: T0 + 100 });
      assert.equal((await store.engagedByUser(t)).size, 0);
      assert.deepEqual(await store.engagedOfUser(t, 13), []);
    });

    test('a backdated last departure stops the timer as of the latest departure of the user\'s clientIds there', async () => {
      // Two tabs: the second loses its network at 136 s, the first closes at 148 s,
      // then the engine drops the second, backdated to its last ping.
      const first = place();
      const second = { room: `${first.room}b`, timeChannel: first.timeChannel };
      await store.arrive(arrival('c15a', 15, first, T0));
      await store.arrive(arrival('c15b', 15, second, T0 + 30_000));
      const closed = await store.depart(departure('c15a', 15, first, T0 + 148_000, false));
      assert.deepEqual({ stoppedTimer: closed.stoppedTimer, leaveAt: closed.leaveAt, unseen: closed.unseen }, { stoppedTimer: false, leaveAt: T0 + 148_000, unseen: [] });
      const lost = await store.depart(departure('c15b', 15, second, T0 + 136_000, true, T0 + 170_000));
      assert.deepEqual({ timerStopPending: lost.timerStopPending, leaveAt: lost.leaveAt, unseen: lost.unseen }, { timerStopPending: true, leaveAt: T0 + 148_000, unseen: [] });
      assert.deepEqual(await store.leaveMarks(first.timeChannel), new Map([[15, { at: T0 + 148_000, markedAt: T0 + 170_000 }]]));
      assert.deepEqual(await store.confirmLeave({ uid: 15, ...second, at: T0 + 148_000, markedAt: T0 + 170_000 }), { leftRoom: true, stoppedTimer: true, seq: 2 });
    });

    test('a user back before their lost page departed: the time nobody saw them is reported as an unseen gap', async () => {
      const lostPage = place();
      const back = { room: `${lostPage.room}b`, timeChannel: lostPage.timeChannel };
      await store.arrive(arrival('c16a', 16, lostPage, T0));
      await store.engage({ clientId: 'c16a', uid: 16, timeChannel: lostPage.timeChannel, engaged: true, seq: 1, at: T0 });
      await store.arrive(arrival('c16b', 16, back, T0 + 144_500));
      await store.engage({ clientId: 'c16b', uid: 16, timeChannel: back.timeChannel, engaged: true, seq: 1, at: T0 + 144_500 });
      const lost = await store.depart(departure('c16a', 16, lostPage, T0 + 107_000, true, T0 + 170_000));
      assert.deepEqual(
        { removed: lost.removed, stoppedTimer: lost.stoppedTimer, timerStopPending: lost.timerStopPending, leaveAt: lost.leaveAt, unseen: lost.unseen },
        { removed: true, stoppedTimer: false, timerStopPending: false, leaveAt: T0 + 107_000, unseen: [{ from: T0 + 107_000, until: T0 + 144_500 }] },
      );
      // Nor was the user engaged while nobody saw them: the engaged session pauses over the gap.
      assert.deepEqual(
        { disengaged: lost.disengaged, engagedSession: lost.engagedSession, engagedGap: lost.engagedGap },
        { disengaged: false, engagedSession: T0, engagedGap: { from: T0 + 107_000, until: T0 + 144_500 } },
      );
      // The timer restarted at the return: the returned page's own later loss is measured from there.
      const gone = await store.depart(departure('c16b', 16, back, T0 + 200_000, false));
      assert.deepEqual(
        { stoppedTimer: gone.stoppedTimer, leaveAt: gone.leaveAt, unseen: gone.unseen, engagedSession: gone.engagedSession },
        { stoppedTimer: true, leaveAt: T0 + 200_000, unseen: [], engagedSession: T0 + 144_500 },
      );
    });

    test('a gap shorter than the timer\'s resolution, or covered by a page that left meanwhile, is no gap', async () => {
      const where = place();
      await store.arrive(arrival('c17a', 17, where, T0));
      await store.arrive(arrival('c17b', 17, where, T0 + 10_000));
      await store.arrive(arrival('c17c', 17, where, T0 + 20_000));
      await store.depart(departure('c17b', 17, where, T0 + 30_000, false));
      assert.deepEqual((await store.depart(departure('c17a', 17, where, T0 + 9_500, true))).unseen, [], 'c17b was seen from 10 s until c17c came');
      await store.arrive(arrival('c17d', 17, where, T0 + 40_500));
      assert.deepEqual((await store.depart(departure('c17c', 17, where, T0 + 40_000, true))).unseen, [], 'half a second');
    });

    test('a page that moves within the time channel arrives anew: the gap before its first arrival still shows', async () => {
      // The move is a departure and an arrival at the same moment; it must not
      // count as a sighting of the user before the page first came.
      const where = place();
      const moved = { room: `${where.room}b`, timeChannel: where.timeChannel };
      await store.arrive(arrival('c18a', 18, where, T0));
      await store.arrive(arrival('c18b', 18, where, T0 + 14_000));
      await store.depart(departure('c18b', 18, where, T0 + 14_000, false));
      await store.arrive(arrival('c18b', 18, moved, T0 + 14_000));
      const lost = await store.depart(departure('c18a', 18, where, T0 + 3_600, true, T0 + 30_000));
      assert.deepEqual(lost.unseen, [{ from: T0 + 3_600, until: T0 + 14_000 }]);
    });

    test('a last departure backdated before pages that came and went: the gaps first, then the stop at the last sighting', async () => {
      const where = place();
      await store.arrive(arrival('c19a', 19, where, T0));
      await store.arrive(arrival('c19b', 19, where, T0 + 30_000));
      await store.depart(departure('c19b', 19, where, T0 + 40_000, false));
      const lost = await store.depart(departure('c19a', 19, where, T0 + 20_000, false));
      assert.deepEqual(
        { stoppedTimer: lost.stoppedTimer, leaveAt: lost.leaveAt, unseen: lost.unseen },
        { stoppedTimer: true, leaveAt: T0 + 40_000, unseen: [{ from: T0 + 20_000, until: T0 + 30_000 }] },
      );
      await store.arrive(arrival('c19c', 19, where, T0 + 50_000));
      const next = await store.depart(departure('c19c', 19, where, T0 + 60_000, false));
      assert.deepEqual({ leaveAt: next.leaveAt, unseen: next.unseen }, { leaveAt: T0 + 60_000, unseen: [] }, 'a new timer forgets the old sightings');
    });

    test("two pages of a user departing at once: exactly one stops the timer, as of the later sighting, whichever runs first", async () => {
      for (const laterFirst of [true, false]) {
        const where = place();
        await store.arrive(arrival('c20a', 20, where, T0));
        await store.arrive(arrival('c20b', 20, where, T0 + 1000));
        const later = () => store.depart(departure('c20a', 20, where, T0 + 60_000, false));
        const earlier = () => store.depart(departure('c20b', 20, where, T0 + 50_000, false));
        const results = await Promise.all(laterFirst ? [later(), earlier()] : [earlier(), later()]);
        const stops = results.filter((r) => r.stoppedTimer);
        assert.equal(stops.length, 1);
        assert.equal(stops[0].leaveAt, T0 + 60_000);
        assert.deepEqual(results.flatMap((r) => r.unseen), []);
      }
    });

    test('a move to another time channel of the same room keeps the clientId in the room: the user neither leaves nor joins', async () => {
      const where = place();
      const other = { room: where.room, timeChannel: `${where.timeChannel}b` };
      await store.arrive(arrival('c21', 21, where, T0));
      const moved = await store.depart({ ...departure('c21', 21, where, T0 + 1000, false), movingTo: where.room });
      assert.deepEqual(
        { removed: moved.removed, leftRoom: moved.leftRoom, stoppedTimer: moved.stoppedTimer, logLogout: moved.logLogout, seq: moved.seq, roomLeavePending: moved.roomLeavePending },
        { removed: false, leftRoom: false, stoppedTimer: true, logLogout: true, seq: 0, roomLeavePending: false },
      );
      assert.deepEqual([...(await store.clientIdsByUser(where.room))], [[21, ['c21']]]);
      const arrived = await store.arrive(arrival('c21', 21, other, T0 + 1000));
      assert.deepEqual(
        { added: arrived.added, joinedRoom: arrived.joinedRoom, startedTimer: arrived.startedTimer, logLogin: arrived.logLogin, seq: arrived.seq },
        { added: false, joinedRoom: false, startedTimer: true, logLogin: true, seq: 0 },
      );
      const away = await store.depart({ ...departure('c21', 21, other, T0 + 2000, false), movingTo: `${where.room}x` });
      assert.deepEqual({ leftRoom: away.leftRoom, seq: away.seq }, { leftRoom: true, seq: 2 }, 'a move to another room leaves it');
    });

    test("a move out of a room that came within the user's grace there hands the pending leave back until that grace ends", async () => {
      const other = place();
      for (const [n, movedAt, handedBack] of [[0, T0 + 3000, true], [1, T0 + 1000 + GRACE_MS, false]] as const) {
        const where = place();
        const [gone, came] = [`c22a${n}`, `c22b${n}`];
        await store.arrive(arrival(gone, 22, where, T0));
        await store.depart(departure(gone, 22, where, T0 + 1000, true));
        assert.equal((await store.arrive(arrival(came, 22, where, T0 + 2000))).joinedRoom, false, 'back within the grace');
        const moved = await store.depart({ ...departure(came, 22, where, movedAt, false), movingTo: other.room });
        assert.deepEqual(
          { leftRoom: moved.leftRoom, roomLeavePending: moved.roomLeavePending, markedAt: moved.markedAt, stoppedTimer: moved.stoppedTimer, timerStopPending: moved.timerStopPending },
          handedBack
            ? { leftRoom: false, roomLeavePending: true, markedAt: T0 + 1000, stoppedTimer: true, timerStopPending: false }
            : { leftRoom: true, roomLeavePending: false, markedAt: 0, stoppedTimer: true, timerStopPending: false },
        );
        if (handedBack) {
          assert.deepEqual([...(await store.leaveMarks(where.room))], [[22, { at: movedAt, markedAt: T0 + 1000 }]]);
          assert.deepEqual(await store.confirmLeave({ uid: 22, ...where, at: movedAt, markedAt: T0 + 1000 }), { leftRoom: true, stoppedTimer: false, seq: 2 });
        }
      }
      // Not a move (a close after before_leave): the user leaves at once.
      const where = place();
      await store.arrive(arrival('c22c', 22, where, T0));
      await store.depart(departure('c22c', 22, where, T0 + 1000, true));
      await store.arrive(arrival('c22d', 22, where, T0 + 2000));
      const closed = await store.depart(departure('c22d', 22, where, T0 + 3000, false));
      assert.deepEqual({ leftRoom: closed.leftRoom, roomLeavePending: closed.roomLeavePending }, { leftRoom: true, roomLeavePending: false });
    });

    test('forget removes only the named clientIds', async () => {
      const where = place();
      for (const id of ['c14a', 'c14b']) await store.arrive(arrival(id, 14, where, T0));
      await store.forget(where.room, 14, ['c14a', 'nobody']);
      assert.deepEqual([...(await store.clientIdsByUser(where.room))], [[14, ['c14b']]]);
      assert.ok((await store.channels()).includes(where.room));
      await store.forget(where.room, 14, ['c14b']);
      assert.ok(!(await store.channels()).includes(where.room));
    });
  });
}
