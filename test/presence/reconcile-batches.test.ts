// needs: mysql
// After a crash that took many users of a crowded room with it, the repair
// pass sends the room's repairs, the timer stops and the confirmations of
// leaves the dead process left pending all at once, each in its user's queue,
// so that the records write them in batches: one after another, each would
// wait for the room's window (0.05 ms per member) and the pass would take
// minutes. The counts are exact: every repair reaches the records within one
// turn of the event loop. The pass reads the store per user, never a whole
// channel per user (which would make it quadratic in the room's size).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { Presence } from '../../lib/core/presence';
import { reconcile } from '../../lib/core/reconcile';
import { silentLogger } from '../../lib/log';
import { countStatements, Records } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import type { PresenceStore } from '../../lib/stores/store';
import { createMariadbBackend, type TestBackend } from '../support/databases';

const ROOM = '/rooms/crowded';
const LESSON = '/lessons/crowded';
const GONE = Array.from({ length: 600 }, (_, i) => 700_000 + i);

let backend: TestBackend;
let records: Records;

before(async () => {
  backend = await createMariadbBackend('reconcile_batches');
  const sequelize = backend.open();
  await migrate(sequelize, 'up');
  records = new Records({ sequelize, timeZone: 'UTC' });
});

after(() => backend.cleanup());

test("600 users a dead process left in a room's list and timers: one list write and two timer writes", async () => {
  const started = new Date('2026-12-01T08:00:00Z');
  await Promise.all(GONE.map((uid) => Promise.all([records.addToOnlineList(ROOM, uid), records.startTimer(uid, LESSON, started)])));
  const store = new MemoryStore(32); // the store knows none of them: their process died
  const counter = countStatements(records.sequelize);
  const queued: number[] = [];
  const listsPublished: number[][] = [];
  const report = await reconcile({
    store, records, logger: silentLogger, engagement: false,
    clock: { now: () => started.getTime() + 60_000, after: () => ({ cancel() {} }) },
    clientExists: async () => false,
    localClientIds: () => [],
    departOrphan: async () => false,
    forUser: (uid, task) => {
      queued.push(uid);
      return task();
    },
    onListChanged: (_room, list) => listsPublished.push(list),
  });
  counter.stop();
  assert.deepEqual(report.lists, [{ room: ROOM, added: [], removed: GONE }]);
  assert.deepEqual(report.timersStopped, GONE.map((uid) => ({ uid, timeChannel: LESSON })), 'reported in the order the timers were found');
  assert.equal(queued.length, 1200, 'each repair and each stop in its user\'s queue');
  const writes = counter.statements.filter((sql) => /^(UPDATE|INSERT)/.test(sql)).map((sql) => /faye_\w+/.exec(sql)![0]);
  assert.deepEqual(writes.sort(), ['faye_channel_online_lists', 'faye_user_online_times', 'faye_user_online_times'], '500 timers per UPDATE');
  assert.deepEqual(listsPublished, [[]]);
  assert.equal(JSON.parse((await backend.rows<{ l: string }>('SELECT user_info_list AS l FROM faye_channel_online_lists'))[0].l).length, 0);
  const times = await backend.rows<{ t: string }>('SELECT online_times AS t FROM faye_user_online_times WHERE user_id = ?', [GONE[599]]);
  assert.equal(times[0].t, `{"${LESSON}_spended":60}`);
});

/** The store, counting the calls of each of its methods. */
function counting(store: PresenceStore): { store: PresenceStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

function authOf(uid: number, room: string, timeChannel: string): Auth {
  return (readAuth({ room_channel: room, time_channel: timeChannel, current_user: { uid, uname: `u${uid}` } }) as { auth: Auth }).auth;
}

test("600 leaves a dead process left pending in a room: confirmed in one list write and two timer writes, each user's mark read alone", async () => {
  const room = '/rooms/abandoned';
  const lesson = '/lessons/abandoned';
  const shared = new MemoryStore(32);
  // The process that dies: its users time out, their leaves wait out the
  // grace period on its clock, which never moves again.
  const deadClock = new ManualClock();
  const dead = new Presence({ store: shared, records, logger: silentLogger, clock: deadClock, leaveGraceMs: 5000 });
  await Promise.all(GONE.map((uid) => dead.arrive(`c${uid}`, authOf(uid, room, lesson))));
  await dead.idle();
  await Promise.all(GONE.map((uid) => dead.depart(`c${uid}`, 'timeout', deadClock.now() + 1000)));
  await dead.idle();
  assert.equal((await shared.leaveMarks(room)).size, 600, 'every leave pending');
  assert.equal((await records.onlineList(room)).length, 600);

  const clock = new ManualClock(deadClock.now() + 60_000);
  const { store, calls } = counting(shared);
  const survivor = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: 5000 });
  const counter = countStatements(records.sequelize);
  const report = await reconcile({
    store, records, logger: silentLogger, engagement: false, clock,
    clientExists: async () => false,
    localClientIds: () => [],
    departOrphan: async () => false,
    forUser: (uid, task) => survivor.forUser(uid, task),
    leaveAbandoned: (pending, scope) => survivor.leaveAbandoned(pending, scope),
    onListChanged: () => undefined,
  });
  await survivor.idle();
  counter.stop();
  assert.deepEqual(report.lists, GONE.map((uid) => ({ room, added: [], removed: [uid] })));
  assert.deepEqual(report.timersStopped, GONE.map((uid) => ({ uid, timeChannel: lesson })));
  const writes = counter.statements.filter((sql) => /^(UPDATE|INSERT)/.test(sql)).map((sql) => /faye_\w+/.exec(sql)![0]);
  assert.deepEqual(writes.sort(), ['faye_channel_online_lists', 'faye_user_online_times', 'faye_user_online_times'], '500 timers per UPDATE');
  assert.deepEqual(await records.onlineList(room), []);
  assert.equal(calls.get('leaveMarks') ?? 0, 0, 'no channel\'s marks read whole');
  assert.equal(calls.get('leaveMarkOf'), 1200, 'each user\'s mark in the room and in the time channel');
  assert.equal(calls.get('confirmLeave'), 600);
  const times = await backend.rows<{ t: string }>('SELECT online_times AS t FROM faye_user_online_times WHERE user_id = ?', [GONE[599]]);
  assert.equal(JSON.parse(times[0].t)[`${lesson}_spended`], 1, 'stopped as of the last sighting: one second after the start');
});

test('the engine is asked about each clientId once per pass, 100 at a time', async () => {
  const room = '/rooms/checked';
  const lesson = '/lessons/checked';
  const users = Array.from({ length: 250 }, (_, i) => 800_000 + i);
  const store = new MemoryStore(32);
  const clock = new ManualClock();
  const presence = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: 5000 });
  await Promise.all(users.map((uid) => presence.arrive(`c${uid}`, authOf(uid, room, lesson))));
  await presence.idle();
  // Every fifth page's process died; each page is in its room and its time channel, and tracked here too.
  const deadIds = users.filter((uid) => uid % 5 === 0).map((uid) => `c${uid}`);
  const asked = new Map<string, number>();
  let inFlight = 0;
  let mostInFlight = 0;
  const report = await reconcile({
    store, records, logger: silentLogger, engagement: false, clock,
    clientExists: async (clientId) => {
      asked.set(clientId, (asked.get(clientId) ?? 0) + 1);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
      return !deadIds.includes(clientId);
    },
    localClientIds: () => users.map((uid) => `c${uid}`),
    departOrphan: async () => false,
    forUser: (uid, task) => presence.forUser(uid, task),
    onListChanged: () => undefined,
  });
  await presence.idle();
  assert.equal(asked.size, 250);
  assert.ok([...asked.values()].every((n) => n === 1), 'each clientId asked once');
  assert.equal(mostInFlight, 100, 'in chunks of 100');
  assert.deepEqual(report.orphanClientIds, deadIds, 'in the order they were found');
  assert.deepEqual(report.lists, [{ room, added: [], removed: deadIds.map((id) => Number(id.slice(1))) }]);
  assert.deepEqual(await records.onlineList(room), users.filter((uid) => uid % 5 !== 0));
});

test('running timers are read 500 users at a time: 1,200 users, the 800 without a page stop, across the pages', async () => {
  const room = '/rooms/paged';
  const lesson = '/lessons/paged';
  const users = Array.from({ length: 1200 }, (_, i) => 900_000 + i);
  const present = users.filter((uid) => uid % 3 === 0);
  // The tests above left timers and lists of their own in this database.
  await backend.rows('DELETE FROM faye_user_online_times');
  await backend.rows('DELETE FROM faye_channel_online_lists');
  const clock = new ManualClock(Date.parse('2026-12-01T09:00:00Z'));
  const { store, calls } = counting(new MemoryStore(32));
  const presence = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: 5000 });
  await Promise.all(present.map((uid) => presence.arrive(`c${uid}`, authOf(uid, room, lesson))));
  await presence.idle();
  // Their process died: timers running, nothing in the store.
  await Promise.all(users.filter((uid) => uid % 3 !== 0).map((uid) => records.startTimer(uid, lesson, new Date(clock.now()))));
  // A row without a user (nobody's timer to stop) is passed over.
  await backend.rows(
    'INSERT INTO faye_user_online_times (user_id, online_times, lock_version, created_at, updated_at) VALUES (NULL, ?, 0, NOW(), NOW())',
    [`{"${lesson}_started_at":"2026-12-01 09:00:00"}`],
  );
  await clock.advance(90_000);
  calls.clear();
  const counter = countStatements(records.sequelize);
  const report = await reconcile({
    store, records, logger: silentLogger, engagement: false, clock,
    clientExists: async () => true,
    localClientIds: () => present.map((uid) => `c${uid}`),
    departOrphan: async () => false,
    forUser: (uid, task) => presence.forUser(uid, task),
    onListChanged: () => undefined,
  });
  await presence.idle();
  counter.stop();
  const pages = counter.statements.filter((sql) => /^SELECT user_id, online_times FROM faye_user_online_times/.test(sql));
  assert.equal(pages.length, 3, 'pages of 500, 500 and 200 users');
  const absent = users.filter((uid) => uid % 3 !== 0);
  assert.deepEqual(report.timersStopped, absent.map((uid) => ({ uid, timeChannel: lesson })), 'every absent user\'s timer, in uid order, none twice');
  assert.equal(calls.get('withClientIds'), 3, 'a page\'s users of a time channel looked up at once');
  assert.equal(calls.get('clientIdsOfUser'), absent.length, 'and each absent user again, alone, in the user\'s queue before its stop');
  assert.equal(calls.get('clientIdsByUser'), 3, 'whole maps: the room and the time channel (step 1), the room (step 2); never a time channel per page');
  for (const uid of [absent[0], absent[absent.length - 1]]) {
    assert.deepEqual(await records.onlineTime(uid, lesson, new Date(clock.now())), { spentSeconds: 90, runningSince: null, totalSeconds: 90 });
  }
  assert.notEqual((await records.onlineTime(present[present.length - 1], lesson, new Date(clock.now()))).runningSince, null, 'present users\' timers run on');
  await backend.rows('DELETE FROM faye_user_online_times WHERE user_id IS NULL');
});

test('a pass that cannot ask the engine about a clientId fails and departs nobody', async () => {
  const room = '/rooms/unasked';
  const lesson = '/lessons/unasked';
  const clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
  const store = new MemoryStore(32);
  const presence = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: 5000 });
  await Promise.all([1, 2, 3].map((i) => presence.arrive(`u${i}`, authOf(950_000 + i, room, lesson))));
  await presence.idle();
  const departed: string[] = [];
  await assert.rejects(reconcile({
    store, records, logger: silentLogger, engagement: false, clock,
    clientExists: async (clientId) => {
      if (clientId === 'u2') throw new Error('Redis read timed out');
      return true;
    },
    localClientIds: () => ['u1', 'u2', 'u3'],
    departOrphan: async (clientId) => {
      departed.push(clientId);
      return true;
    },
    forUser: (uid, task) => presence.forUser(uid, task),
    onListChanged: () => undefined,
  }), /Redis read timed out/);
  assert.deepEqual(departed, []);
  assert.equal((await store.clientIdsByUser(room)).size, 3);
});
