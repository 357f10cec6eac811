// needs: mysql
// Engaged times (our own table faye_online_engaged_times, lib/records/engaged-times.ts)
// through the public Records API, on MariaDB and on SQLite. The file proves:
// finished sessions add their exact milliseconds and a running one counts up to
// `now`; a repeated or older start is a no-op; every order of the same start and
// stop writes ends with the same row (a stop may overtake its own start, or land
// after the next session's start); lock_version is bumped by every write as
// ActiveRecord would; two processes and a Rails writer racing on one row (and 20
// first writes racing on a user without a row) lose nothing and end with one row;
// and the per-channel and running-session reads return exactly what was written.
// Every time is explicit: sessions are named by their start in ms, stops and
// reads are given their Dates.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueryTypes, type Sequelize } from 'sequelize';
import { Records, type EngagedTime } from '../../lib/records';
import { engagedTimesOf } from '../../lib/records/engaged-times';
import { Sql } from '../../lib/records/sql';
import { migrate } from '../../lib/schema';
import { createMariadbBackend, createSqliteBackend, type TestBackend } from '../support/databases';

const T = Date.parse('2026-11-28T07:00:00.000Z');
const at = (ms: number) => new Date(ms);
const RAILS_INCREMENT = 'UPDATE faye_online_engaged_times SET engaged_ms = engaged_ms + 1000, lock_version = lock_version + 1 WHERE user_id = ? AND channel_id = ?';

interface EngagedRow {
  engaged_ms: number;
  engaged_since_ms: number | null;
  last_session_ms: number | null;
  lock_version: number;
}

const ms = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** Every permutation of `items` (small arrays only). */
function permutations<X>(items: readonly X[]): X[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

function engagedTimesSuite(name: string, createBackend: () => Promise<TestBackend>): void {
  describe(name, () => {
    let backend: TestBackend;
    let records: Records;
    let lastUid = 1000;
    let lastChannel = 0;
    const newUid = () => ++lastUid;
    const newChannel = () => `/courses/7/lessons/${++lastChannel}`;
    const recordsOn = (b: TestBackend = backend) => new Records({ sequelize: b.open() });

    /** The raw rows of (uid, channel), as Rails would read them. */
    const rowsOf = async (uid: number, timeChannel: string, b: TestBackend = backend): Promise<EngagedRow[]> => {
      const rows = await b.rows<Record<string, unknown>>(
        'SELECT e.engaged_ms, e.engaged_since_ms, e.last_session_ms, e.lock_version FROM faye_online_engaged_times e ' +
          'JOIN faye_channels c ON c.id = e.channel_id WHERE e.user_id = ? AND c.name = ? ORDER BY e.id',
        [uid, timeChannel]);
      return rows.map((row) => ({
        engaged_ms: Number(row.engaged_ms),
        engaged_since_ms: ms(row.engaged_since_ms),
        last_session_ms: ms(row.last_session_ms),
        lock_version: Number(row.lock_version),
      }));
    };
    const rowOf = async (uid: number, timeChannel: string, b: TestBackend = backend): Promise<EngagedRow> => {
      const rows = await rowsOf(uid, timeChannel, b);
      assert.equal(rows.length, 1, `one engaged-times row for user ${uid} in ${timeChannel}`);
      return rows[0];
    };
    const withoutLock = ({ engaged_ms, engaged_since_ms, last_session_ms }: EngagedRow) => ({ engaged_ms, engaged_since_ms, last_session_ms });

    before(async () => {
      backend = await createBackend();
      await migrate(backend.open(), 'up');
      records = recordsOn();
    });
    after(() => backend.cleanup());

    describe('sessions', () => {
      it('adds a finished session exactly in ms, counts a running one up to now, and writes the row as documented', async () => {
        const uid = newUid();
        const c = newChannel();
        const none: EngagedTime = { spentSeconds: 0, runningSince: null, totalSeconds: 0 };
        assert.deepEqual(await records.engagedTime(uid, c, at(T)), none, 'no row: nothing engaged');

        assert.equal(await records.startEngaged(uid, c, T), true);
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 2500)), { spentSeconds: 0, runningSince: at(T), totalSeconds: 2 });
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 0, engaged_since_ms: T, last_session_ms: T });

        assert.equal(await records.stopEngaged(uid, c, T, at(T + 1234)), true);
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 100_000)), { spentSeconds: 1, runningSince: null, totalSeconds: 1 });
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 1234, engaged_since_ms: null, last_session_ms: T });

        // A second session T+5000..T+7000; while it runs, its part up to `now` counts.
        assert.equal(await records.startEngaged(uid, c, T + 5000), true);
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 5000 + 2500)), {
          spentSeconds: 1, runningSince: at(T + 5000), totalSeconds: 3, // floor((1234 + 2500) / 1000)
        });
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 5000 + 2765)), {
          spentSeconds: 1, runningSince: at(T + 5000), totalSeconds: 3, // 3999 ms: summed in ms, then floored
        });
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 5000 + 2766)), { spentSeconds: 1, runningSince: at(T + 5000), totalSeconds: 4 });
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 4000)), { spentSeconds: 1, runningSince: at(T + 5000), totalSeconds: 1 },
          'a now before the running start counts nothing of it');
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 1234, engaged_since_ms: T + 5000, last_session_ms: T + 5000 });

        assert.equal(await records.stopEngaged(uid, c, T + 5000, at(T + 7000)), true);
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 3234, engaged_since_ms: null, last_session_ms: T + 5000 });
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 100_000)), { spentSeconds: 3, runningSince: null, totalSeconds: 3 });
        assert.deepEqual(await records.engagedTime(uid, ` ${c} `, at(T + 100_000)), { spentSeconds: 3, runningSince: null, totalSeconds: 3 },
          'the time channel is stripped, as the gem does');
        assert.deepEqual(await records.engagedTime(uid, newChannel(), at(T + 100_000)), none, 'another time channel is its own row');
      });

      it('adds nothing for a stop before its start (duration clamped at 0)', async () => {
        const uid = newUid();
        const c = newChannel();
        assert.equal(await records.startEngaged(uid, c, T), true);
        assert.equal(await records.stopEngaged(uid, c, T, at(T - 500)), true);
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 0, engaged_since_ms: null, last_session_ms: T });
      });

      it('makes a repeated start, or the start of an older session than the last written, a no-op returning false', async () => {
        const uid = newUid();
        const c = newChannel();
        assert.equal(await records.startEngaged(uid, c, T), true);
        const started = await rowOf(uid, c);
        assert.equal(await records.startEngaged(uid, c, T), false, 'the same session again');
        assert.equal(await records.startEngaged(uid, c, T - 1), false, 'an older session');
        assert.deepEqual(await rowOf(uid, c), started, 'nothing written, lock_version included');

        assert.equal(await records.stopEngaged(uid, c, T, at(T + 3000)), true);
        const stopped = await rowOf(uid, c);
        assert.equal(await records.startEngaged(uid, c, T), false, 'the finished session does not run again');
        assert.equal(await records.startEngaged(uid, c, T - 10_000), false, 'an older session after a stop');
        assert.deepEqual(await rowOf(uid, c), stopped);
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 60_000)), { spentSeconds: 3, runningSince: null, totalSeconds: 3 });

        assert.equal(await records.startEngaged(uid, c, T + 1), true, 'a later session starts');
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 3000, engaged_since_ms: T + 1, last_session_ms: T + 1 });
      });
    });

    describe('order independence', () => {
      it("a session's stop written after the next session's start adds its duration and leaves the next one running", async () => {
        const uid = newUid();
        const c = newChannel();
        const s1 = T;
        const s2 = T + 4000;
        assert.equal(await records.startEngaged(uid, c, s1), true);
        assert.equal(await records.startEngaged(uid, c, s2), true, 'the next session is later: it starts');
        assert.equal(await records.stopEngaged(uid, c, s1, at(s1 + 1500)), true);
        assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 1500, engaged_since_ms: s2, last_session_ms: s2 });
        assert.deepEqual(await records.engagedTime(uid, c, at(s2 + 1000)), { spentSeconds: 1, runningSince: at(s2), totalSeconds: 2 });

        // The same events in their natural order end with the same row.
        const natural = newUid();
        await records.startEngaged(natural, c, s1);
        await records.stopEngaged(natural, c, s1, at(s1 + 1500));
        await records.startEngaged(natural, c, s2);
        assert.deepEqual(withoutLock(await rowOf(natural, c)), withoutLock(await rowOf(uid, c)));
      });

      it('a stop written before its own start creates the row finished; the late start is a no-op', async () => {
        const uid = newUid();
        const c = newChannel();
        assert.equal(await records.stopEngaged(uid, c, T, at(T + 2345)), true);
        assert.deepEqual(await rowOf(uid, c), { engaged_ms: 2345, engaged_since_ms: null, last_session_ms: T, lock_version: 0 });
        assert.equal(await records.startEngaged(uid, c, T), false, 'the late start finds its session written');
        assert.deepEqual(await rowOf(uid, c), { engaged_ms: 2345, engaged_since_ms: null, last_session_ms: T, lock_version: 0 });
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 60_000)), { spentSeconds: 2, runningSince: null, totalSeconds: 2 });
        assert.ok(!(await records.runningEngagements()).some((r) => r.uid === uid), 'not running');

        // The natural order ends with the same row.
        const natural = newUid();
        await records.startEngaged(natural, c, T);
        await records.stopEngaged(natural, c, T, at(T + 2345));
        assert.deepEqual(withoutLock(await rowOf(natural, c)), withoutLock(await rowOf(uid, c)));
      });

      type Event = { kind: 'start' | 'stop'; session: number; end: number };
      const s1 = T;
      const s2 = T + 4000;
      const start1: Event = { kind: 'start', session: s1, end: 0 };
      const stop1: Event = { kind: 'stop', session: s1, end: s1 + 1500 };
      const start2: Event = { kind: 'start', session: s2, end: 0 };
      const stop2: Event = { kind: 'stop', session: s2, end: s2 + 2200 };
      const write = (uid: number, c: string, e: Event) =>
        (e.kind === 'start' ? records.startEngaged(uid, c, e.session) : records.stopEngaged(uid, c, e.session, at(e.end)));
      const label = (order: Event[]) => order.map((e) => `${e.kind}${e.session === s1 ? 1 : 2}`).join(', ');

      it('all 6 orders of start 1, stop 1, start 2 end with the same row: session 1 counted, session 2 running', async () => {
        const c = newChannel();
        for (const order of permutations([start1, stop1, start2])) {
          const uid = newUid();
          for (const e of order) await write(uid, c, e);
          assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 1500, engaged_since_ms: s2, last_session_ms: s2 }, label(order));
        }
      });

      it('all 24 orders of two sessions\' starts and stops end with the same row: both counted, nothing running', async () => {
        const c = newChannel();
        for (const order of permutations([start1, stop1, start2, stop2])) {
          const uid = newUid();
          for (const e of order) await write(uid, c, e);
          assert.deepEqual(withoutLock(await rowOf(uid, c)), { engaged_ms: 3700, engaged_since_ms: null, last_session_ms: s2 }, label(order));
        }
      });
    });

    describe('lock_version', () => {
      it('is 0 on insert and bumped by every write, so a Rails model holding the old version fails to save', async () => {
        const uid = newUid();
        const c = newChannel();
        await records.startEngaged(uid, c, T);
        assert.equal((await rowOf(uid, c)).lock_version, 0, 'created by the start');
        await records.stopEngaged(uid, c, T, at(T + 1000));
        assert.equal((await rowOf(uid, c)).lock_version, 1);
        await records.startEngaged(uid, c, T + 2000);
        assert.equal((await rowOf(uid, c)).lock_version, 2);
        await records.startEngaged(uid, c, T + 2000); // no-op
        assert.equal((await rowOf(uid, c)).lock_version, 2, 'a no-op start writes nothing');
        await records.stopEngaged(uid, c, T - 5000, at(T - 4000)); // an older session's late stop still writes
        assert.equal((await rowOf(uid, c)).lock_version, 3);
        await records.stopEngaged(uid, c, T + 2000, at(T + 2500));
        const row = await rowOf(uid, c);
        assert.deepEqual(row, { engaged_ms: 2500, engaged_since_ms: null, last_session_ms: T + 2000, lock_version: 4 });

        // Rails read the row at lock_version 4; we write; its optimistic save must find nothing to update.
        const channelId = await records.channelId(c);
        await records.startEngaged(uid, c, T + 10_000);
        const stale = await backend.exec(
          'UPDATE faye_online_engaged_times SET engaged_ms = 0, lock_version = lock_version + 1 WHERE user_id = ? AND channel_id = ? AND lock_version = ?',
          [uid, channelId, 4]);
        assert.equal(stale, 0, 'the stale Rails save changes nothing');
        assert.deepEqual(await rowOf(uid, c), { engaged_ms: 2500, engaged_since_ms: T + 10_000, last_session_ms: T + 10_000, lock_version: 5 });
      });

      it('first written by a stop: 0 on insert too', async () => {
        const uid = newUid();
        const c = newChannel();
        await records.stopEngaged(uid, c, T, at(T + 10));
        assert.equal((await rowOf(uid, c)).lock_version, 0);
      });
    });

    describe('races', () => {
      it('two processes and a Rails writer racing on one row lose nothing', async () => {
        const a = recordsOn();
        const b = recordsOn();
        const rails: Sequelize = backend.open();
        const c = newChannel();
        const channelId = await a.channelId(c);
        assert.equal(await b.channelId(c), channelId);

        // The raced user: Rails' UPDATE changes nothing without a row, so the row exists first (a finished session of 700 ms).
        const uid = newUid();
        const railsIncrement = async () =>
          Number(await rails.query(RAILS_INCREMENT, { replacements: [uid, channelId], type: QueryTypes.BULKUPDATE }));
        const seed = T - 60_000;
        assert.equal(await a.stopEngaged(uid, c, seed, at(seed + 700)), true);

        // 40 sessions of `uid`, split across the two processes, each a start then its stop, all at once,
        // interleaved with 40 Rails increments.
        const sessions = Array.from({ length: 40 }, (_, k) => ({ start: T + k * 10_000, duration: 1000 + 37 * k, by: k % 2 === 0 ? a : b }));
        const durations = sessions.map((s) => s.duration);

        // Other users of the channel, several sessions each, raced at the same time.
        const others = Array.from({ length: 3 }, (_, u) => ({
          uid: newUid(),
          sessions: Array.from({ length: 6 }, (_, k) => ({ start: T + k * 20_000 + u, duration: 500 + 101 * k + u, by: (k + u) % 2 === 0 ? a : b })),
        }));

        // One user whose 20 finished sessions' starts were written in order (the last one is running),
        // and whose 20 stops are all written at once by both processes.
        const stopper = newUid();
        const stops = Array.from({ length: 20 }, (_, k) => ({ start: T + k * 3000, duration: 200 + 53 * k, by: k % 2 === 0 ? b : a }));
        for (const s of stops) assert.equal(await s.by.startEngaged(stopper, c, s.start), true);
        assert.deepEqual(withoutLock(await rowOf(stopper, c)), { engaged_ms: 0, engaged_since_ms: stops[19].start, last_session_ms: stops[19].start });

        type Session = { start: number; duration: number; by: Records };
        const run = async (u: number, s: Session) => {
          const started = await s.by.startEngaged(u, c, s.start);
          const stopped = await s.by.stopEngaged(u, c, s.start, at(s.start + s.duration));
          return { started, stopped };
        };
        const raced: Array<Promise<{ started: boolean; stopped: boolean }>> = [];
        const railsWrites: Array<Promise<number>> = [];
        sessions.forEach((s, k) => {
          raced.push(run(uid, s));
          railsWrites.push(railsIncrement());
          if (k < stops.length) raced.push(stops[k].by.stopEngaged(stopper, c, stops[k].start, at(stops[k].start + stops[k].duration)).then((stopped) => ({ started: true, stopped })));
          for (const other of others) if (k < other.sessions.length) raced.push(run(other.uid, other.sessions[k]));
        });
        const results = await Promise.all(raced);
        const changedByRails = await Promise.all(railsWrites);

        assert.deepEqual(changedByRails, Array(40).fill(1), 'every Rails increment found the row');
        assert.ok(results.every((r) => r.stopped), 'every stop was written');

        const row = await rowOf(uid, c);
        assert.equal(row.engaged_ms, 700 + sum(durations) + 40 * 1000, 'every session and every Rails increment counted');
        assert.equal(row.engaged_since_ms, null, 'nothing left running');
        assert.equal(row.last_session_ms, sessions[39].start);

        for (const other of others) {
          assert.deepEqual(withoutLock(await rowOf(other.uid, c)), {
            engaged_ms: sum(other.sessions.map((s) => s.duration)), engaged_since_ms: null, last_session_ms: other.sessions[5].start,
          }, `user ${other.uid}`);
        }
        assert.deepEqual(withoutLock(await rowOf(stopper, c)), { engaged_ms: sum(stops.map((s) => s.duration)), engaged_since_ms: null, last_session_ms: stops[19].start });
        assert.deepEqual((await records.runningEngagements()).filter((r) => r.timeChannel === c), [], 'no running session in the channel');
        const total = Math.floor((700 + sum(durations) + 40_000) / 1000);
        assert.deepEqual(await records.engagedTime(uid, c, at(T + 10_000_000)), { spentSeconds: total, runningSince: null, totalSeconds: total });
      });

      it('counts lock_version exactly under the race: one bump per applied write, Rails included', async () => {
        const a = recordsOn();
        const b = recordsOn();
        const rails: Sequelize = backend.open();
        const c = newChannel();
        const uid = newUid();
        const channelId = await a.channelId(c);
        assert.equal(await a.startEngaged(uid, c, T - 1000), true); // the row, lock_version 0
        const sessions = Array.from({ length: 20 }, (_, k) => ({ start: T + k * 1000, duration: 300 + k, by: k % 2 === 0 ? a : b }));
        const raced = sessions.map(async (s) => {
          const started = await s.by.startEngaged(uid, c, s.start);
          const stopped = await s.by.stopEngaged(uid, c, s.start, at(s.start + s.duration));
          return Number(started) + Number(stopped);
        });
        const railsWrites = Array.from({ length: 20 }, () => rails.query(RAILS_INCREMENT, { replacements: [uid, channelId], type: QueryTypes.BULKUPDATE }).then(Number));
        const applied = sum(await Promise.all(raced)) + sum(await Promise.all(railsWrites));
        const row = await rowOf(uid, c);
        assert.equal(row.lock_version, applied, `0 on insert, then one per applied write (${applied})`);
        // The seed session T-1000 was never stopped: it stays counted out, its mark replaced by later sessions.
        assert.deepEqual(withoutLock(row), { engaged_ms: sum(sessions.map((s) => s.duration)) + 20 * 1000, engaged_since_ms: null, last_session_ms: sessions[19].start });
      });

      it('20 concurrent first writes on a user without a row end with one row and every session counted', async () => {
        const processes = [recordsOn(), recordsOn()];
        const c = newChannel();
        await Promise.all(processes.map((p) => p.channelId(c)));
        const uid = newUid();
        const sessions = Array.from({ length: 10 }, (_, k) => ({ start: T + k * 5000, duration: 1000 + 111 * k }));
        const writes: Array<Promise<boolean>> = [];
        const isStop: boolean[] = [];
        sessions.forEach((s, k) => {
          writes.push(processes[k % 2].stopEngaged(uid, c, s.start, at(s.start + s.duration)));
          isStop.push(true);
          writes.push(processes[(k + 1) % 2].startEngaged(uid, c, s.start));
          isStop.push(false);
        });
        const results = await Promise.all(writes);
        const rows = await rowsOf(uid, c);
        assert.equal(rows.length, 1, 'the unique index leaves one row');
        assert.deepEqual(results.filter((_, i) => isStop[i]), Array(10).fill(true), 'every stop was written');
        assert.deepEqual(withoutLock(rows[0]), { engaged_ms: sum(sessions.map((s) => s.duration)), engaged_since_ms: null, last_session_ms: sessions[9].start });
        assert.equal(rows[0].lock_version, results.filter(Boolean).length - 1, '0 on insert, then one per applied write');
      });

      // The window between a write's UPDATE (which found no row yet) and its SELECT, opened on purpose:
      // right after process A's UPDATE, process B writes an older session's stop, creating the row.
      const openWindow = () => {
        const a = recordsOn();
        const b = recordsOn();
        const c = newChannel();
        const interleave = (write: () => Promise<unknown>) => {
          let fired = false;
          a.sequelize.addHook('afterQuery', 'engaged-times-window', async (_options: unknown, query: unknown) => {
            if (fired || !/^UPDATE faye_online_engaged_times/.test((query as { sql?: string }).sql ?? '')) return;
            fired = true;
            await write();
          });
        };
        return { a, b, c, interleave };
      };

      it('a first stop whose UPDATE found no row is still counted when another process creates the row before it looks again', async () => {
        const { a, b, c, interleave } = openWindow();
        const uid = newUid();
        interleave(() => b.stopEngaged(uid, c, T, at(T + 1000)));
        const stopped = await a.stopEngaged(uid, c, T + 5000, at(T + 7000));
        assert.deepEqual({ stopped, row: withoutLock(await rowOf(uid, c)) }, { stopped: true, row: { engaged_ms: 3000, engaged_since_ms: null, last_session_ms: T + 5000 } },
          "A's session T+5000..T+7000 is counted next to B's T..T+1000");
      });

      it('a first start whose UPDATE found no row still runs when another process creates the row with an older session before it looks again', async () => {
        const { a, b, c, interleave } = openWindow();
        const uid = newUid();
        interleave(() => b.stopEngaged(uid, c, T, at(T + 1000)));
        const started = await a.startEngaged(uid, c, T + 5000);
        assert.deepEqual({ started, row: withoutLock(await rowOf(uid, c)) }, { started: true, row: { engaged_ms: 1000, engaged_since_ms: T + 5000, last_session_ms: T + 5000 } },
          "A's later session T+5000 runs next to B's finished T..T+1000");
      });
    });

    describe('reads', () => {
      it('engagedTimesOf (the login report\'s read) returns every user of the channel only, and runningEngagements exactly the running sessions', async () => {
        // A database of its own, so that "exactly the running sessions" sees no other test's rows.
        const own = await createBackend();
        try {
          await migrate(own.open(), 'up');
          const r = recordsOn(own);
          const sql = new Sql(own.open());
          const c = '/courses/9/lessons/1';
          const other = '/courses/9/lessons/2';
          // In c: 601 finished 1500 ms; 602 running since T; 603 finished 2600 ms then running since T+3000.
          await r.startEngaged(601, c, T - 10_000);
          await r.stopEngaged(601, c, T - 10_000, at(T - 8500));
          await r.startEngaged(602, c, T);
          await r.startEngaged(603, c, T - 5000);
          await r.stopEngaged(603, c, T - 5000, at(T - 2400));
          await r.startEngaged(603, c, T + 3000);
          // In the other channel: 601 running since T+100 and 604 finished 9000 ms.
          await r.startEngaged(601, other, T + 100);
          await r.stopEngaged(604, other, T - 20_000, at(T - 11_000));

          const now = at(T + 4000);
          assert.deepEqual(await engagedTimesOf(sql, c, now), new Map<number, EngagedTime>([
            [601, { spentSeconds: 1, runningSince: null, totalSeconds: 1 }],
            [602, { spentSeconds: 0, runningSince: at(T), totalSeconds: 4 }],
            [603, { spentSeconds: 2, runningSince: at(T + 3000), totalSeconds: 3 }], // 2600 + 1000 ms
          ]));
          assert.deepEqual(await engagedTimesOf(sql, ` ${other}`, now), new Map<number, EngagedTime>([
            [601, { spentSeconds: 0, runningSince: at(T + 100), totalSeconds: 3 }],
            [604, { spentSeconds: 9, runningSince: null, totalSeconds: 9 }],
          ]));
          assert.deepEqual(await engagedTimesOf(sql, '/courses/9/lessons/3', now), new Map(), 'an unknown channel has nobody');

          const byUser = (x: { uid: number; timeChannel: string }, y: { uid: number; timeChannel: string }) => x.uid - y.uid || x.timeChannel.localeCompare(y.timeChannel);
          assert.deepEqual((await r.runningEngagements()).sort(byUser), [
            { uid: 601, timeChannel: other, session: T + 100 },
            { uid: 602, timeChannel: c, session: T },
            { uid: 603, timeChannel: c, session: T + 3000 },
          ]);

          // Stopping them empties the list.
          await r.stopEngaged(601, other, T + 100, at(T + 200));
          await r.stopEngaged(602, c, T, at(T + 1000));
          await r.stopEngaged(603, c, T + 3000, at(T + 4000));
          assert.deepEqual(await r.runningEngagements(), []);
          assert.deepEqual(await engagedTimesOf(sql, c, at(T + 1_000_000)), new Map<number, EngagedTime>([
            [601, { spentSeconds: 1, runningSince: null, totalSeconds: 1 }],
            [602, { spentSeconds: 1, runningSince: null, totalSeconds: 1 }],
            [603, { spentSeconds: 3, runningSince: null, totalSeconds: 3 }],
          ]));
        } finally {
          await own.cleanup();
        }
      });
    });
  });
}

engagedTimesSuite('engaged times on MariaDB', () => createMariadbBackend('eng'));
engagedTimesSuite('engaged times on SQLite', () => createSqliteBackend());
