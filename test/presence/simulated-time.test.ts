// needs: redis
// The presence core at the default settings (Faye timeout 10 s, leave grace
// 5 s) in simulated time: a ManualClock moves time, the stores are real (in
// memory, and Redis), the records are real (SQLite). Each case is one of the
// failures issue 13 reported, replayed step by step.
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import type { Sequelize } from 'sequelize';
import { readAuth, rememberedAuthJson, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { departureOf } from '../../lib/core/departures';
import { Presence } from '../../lib/core/presence';
import { reconcile } from '../../lib/core/reconcile';
import { silentLogger } from '../../lib/log';
import { Records } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import { RedisStore } from '../../lib/stores/redis-store';
import type { PresenceStore } from '../../lib/stores/store';
import { createSqliteBackend, type TestBackend } from '../support/databases';
import { createTestRedis, type TestRedis } from '../support/redis';

const TIMEOUT_MS = 10_000;
const GRACE_MS = 5000;
const LIMIT = 2;

function authOf(uid: number, room: string, timeChannel: string): Auth {
  const reading = readAuth({ room_channel: room, time_channel: timeChannel, current_user: { uid, uname: `user${uid}` } });
  assert.equal(reading.kind, 'valid');
  return (reading as { auth: Auth }).auth;
}

interface World {
  clock: ManualClock;
  records: Records;
  db: TestBackend;
  sequelize: Sequelize;
  /** A presence process on its own store instance (the same state underneath for Redis). */
  process(): { presence: Presence; store: PresenceStore };
  /** Every join and leave, as "join <uid> <room>". */
  events: string[];
  /** Lets every process finish what it started. */
  settle(): Promise<void>;
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

type StoreKind = 'memory' | 'redis';

async function world(kind: StoreKind): Promise<World> {
  const clock = new ManualClock();
  const db = await createSqliteBackend();
  const sequelize = db.open();
  await migrate(sequelize, 'up');
  const records = new Records({ sequelize });
  const redis: TestRedis | undefined = kind === 'redis' ? await createTestRedis() : undefined;
  const memory = new MemoryStore(LIMIT, GRACE_MS);
  const processes: Presence[] = [];
  const events: string[] = [];
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await Promise.all(processes.map((p) => p.idle()));
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return {
    clock, records, db, sequelize, events, settle,
    process() {
      const store = redis
        ? new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS })
        : memory;
      const presence = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: GRACE_MS });
      presence.on('transition', (t) => {
        if (t.membership) events.push(`${t.membership === 'joined' ? 'join' : 'leave'} ${t.uid} ${t.room}`);
      });
      processes.push(presence);
      return { presence, store };
    },
    advance: (ms) => clock.advance(ms, settle),
    async close() {
      await settle();
      await redis?.cleanup();
      await db.cleanup();
    },
  };
}

async function loginLog(w: World, uid: number): Promise<Array<{ status: number; clientId: string; channel: string; at: number }>> {
  const rows = await w.db.rows<{ status: number; clientId: string; name: string; t: string }>(
    'SELECT l.status, l.clientId, c.name, l.t FROM faye_user_login_logs l JOIN faye_channels c ON c.id = l.channel_id WHERE l.uid = ? ORDER BY l.t, l.status DESC',
    [uid],
  );
  return rows.map((r) => ({ status: Number(r.status), clientId: r.clientId, channel: r.name, at: Date.parse(`${r.t.replace(' ', 'T')}Z`) }));
}

/** The total length (ms) of the login log's sessions of one user in one time channel; an open one runs until `now`. */
async function loggedMs(w: World, uid: number, timeChannel: string): Promise<number> {
  const open = new Map<string, number>();
  let total = 0;
  for (const row of (await loginLog(w, uid)).filter((r) => r.channel === timeChannel)) {
    if (row.status === 1) open.set(row.clientId, row.at);
    else if (open.has(row.clientId)) {
      total += row.at - open.get(row.clientId)!;
      open.delete(row.clientId);
    }
  }
  for (const since of open.values()) total += w.clock.now() - since;
  return total;
}

for (const kind of ['memory', 'redis'] as const) {
  describe(`presence at the default settings in simulated time (${kind} store)`, () => {
    let w: World;
    beforeEach(async () => {
      w = await world(kind);
    });
    afterEach(() => w.close());

    test('a return within the grace after an engine timeout: no second join, no leave, and the unseen gap is not online time', async () => {
      const { presence } = w.process();
      const page = authOf(1, '/rooms/a', '/lessons/a');
      // One /meta/connect, then silence; Faye's engine gives up on the client
      // after two timeouts and a GC pass (here 25 s after its last sighting).
      const lastSeen = w.clock.now();
      await presence.arrive('tab1', page);
      await w.advance(2 * TIMEOUT_MS + 5000);
      const timeout = departureOf({ explicit: false, engineLastSeen: lastSeen, trackedLastSeen: presence.lastSeen('tab1'), now: w.clock.now() });
      assert.deepEqual(timeout, { reason: 'timeout', at: lastSeen });
      await presence.depart('tab1', timeout.reason, timeout.at);
      await w.advance(1500);
      await presence.arrive('tab2', page);
      await w.advance(6000);
      assert.deepEqual(await w.records.onlineList('/rooms/a'), [1], 'never off the list during the grace');
      const disconnect = departureOf({ explicit: true, now: w.clock.now() });
      await presence.depart('tab2', disconnect.reason, disconnect.at);
      await w.advance(GRACE_MS);

      assert.deepEqual(w.events, ['join 1 /rooms/a', 'leave 1 /rooms/a']);
      assert.deepEqual(await w.records.onlineList('/rooms/a'), []);
      const time = await w.records.onlineTime(1, '/lessons/a', new Date(w.clock.now()));
      assert.equal(time.runningSince, null);
      assert.equal(time.totalSeconds, 6, 'the 6 s of the second tab; the first was seen once');
      assert.equal(time.totalSeconds * 1000, await loggedMs(w, 1, '/lessons/a'), 'as the login log says');
    });

    test('a user back with a new tab before the engine dropped the lost one: the unseen gap is cut out of online time with one stop and one start', async () => {
      const { presence } = w.process();
      const writes: string[] = [];
      const { startTimer, stopTimer } = w.records;
      w.records.startTimer = (uid, timeChannel, at) => (writes.push(`start ${(at.getTime() - t0) / 1000}`), startTimer.call(w.records, uid, timeChannel, at));
      w.records.stopTimer = (uid, timeChannel, at) => (writes.push(`stop ${(at.getTime() - t0) / 1000}`), stopTimer.call(w.records, uid, timeChannel, at));
      const t0 = w.clock.now();
      await presence.arrive('lost', authOf(4, '/rooms/d1', '/lessons/d'));
      await w.advance(40_000);
      await presence.arrive('back', authOf(4, '/rooms/d2', '/lessons/d'));
      await w.advance(25_000);
      // The engine's GC noticed only now, and reports the lost tab's last ping.
      await presence.depart('lost', 'timeout', t0);
      await w.advance(GRACE_MS + 1000);
      assert.deepEqual(writes, ['start 0', 'stop 0', 'start 40']);
      assert.deepEqual(w.events, ['join 4 /rooms/d1', 'join 4 /rooms/d2', 'leave 4 /rooms/d1']);
      await presence.depart('back', 'disconnect', w.clock.now());
      await w.advance(GRACE_MS);
      assert.deepEqual(writes, ['start 0', 'stop 0', 'start 40', 'stop 71']);
      const time = await w.records.onlineTime(4, '/lessons/d', new Date(w.clock.now()));
      assert.deepEqual({ running: time.runningSince !== null, total: time.totalSeconds }, { running: false, total: 31 });
      assert.equal(time.totalSeconds * 1000, await loggedMs(w, 4, '/lessons/d'), 'as the login log says');
    });

    test("a lost tab dropped after the user's other tab closed: the timer stops at that close, not at the lost tab's last ping", async () => {
      const { presence } = w.process();
      const t0 = w.clock.now();
      await presence.arrive('first', authOf(5, '/rooms/e1', '/lessons/e'));
      await w.advance(30_000);
      await presence.arrive('second', authOf(5, '/rooms/e2', '/lessons/e'));
      await w.advance(100_000);
      const lastPing = w.clock.now();
      await w.advance(12_000);
      await presence.depart('first', 'before_leave', w.clock.now());
      await w.advance(30_000);
      await presence.depart('second', 'timeout', lastPing);
      await w.advance(GRACE_MS + 1000);
      const time = await w.records.onlineTime(5, '/lessons/e', new Date(w.clock.now()));
      // The login log's sessions are 0-142 s and 30-130 s: their union, 142 s.
      assert.deepEqual({ running: time.runningSince !== null, total: time.totalSeconds }, { running: false, total: 142 });
      const log = (await loginLog(w, 5)).map((r) => `${r.status} ${r.clientId} ${(r.at - t0) / 1000}`);
      assert.deepEqual(log.sort(), ['0 first 142', '0 second 130', '1 first 0', '1 second 30']);
    });

    test('an evicted tab closes its own login session and stops its own time channel, not the newcomer\'s', async () => {
      const { presence } = w.process();
      await presence.arrive('old', authOf(2, '/rooms/b', '/lessons/old'));
      await w.advance(1000);
      await presence.arrive('mid', authOf(2, '/rooms/b', '/lessons/new'));
      await w.advance(1000);
      await presence.arrive('newest', authOf(2, '/rooms/b', '/lessons/new'));
      await w.settle();

      const log = await loginLog(w, 2);
      assert.deepEqual(log.filter((r) => r.clientId === 'old').map((r) => `${r.status} ${r.channel}`), ['1 /lessons/old', '0 /lessons/old']);
      const old = await w.records.onlineTime(2, '/lessons/old', new Date(w.clock.now()));
      assert.deepEqual({ running: old.runningSince !== null, total: old.totalSeconds }, { running: false, total: 2 });
      const fresh = await w.records.onlineTime(2, '/lessons/new', new Date(w.clock.now()));
      assert.equal(fresh.runningSince !== null, true, 'the newcomer\'s timer runs on');
    });

    test('reconciliation removes a dead clientId from every room it is found in, once: the next pass finds nothing', async () => {
      const { presence, store } = w.process();
      await presence.arrive('split', authOf(3, '/rooms/c1', '/lessons/c'));
      await w.settle();
      // A state left by an older version: the same clientId in a second room
      // that its remembered auth does not name.
      await store.arrive({ clientId: 'split', uid: 3, room: '/rooms/c2', timeChannel: '/lessons/c', authJson: rememberedAuthJson(authOf(3, '/rooms/c2', '/lessons/c')), at: w.clock.now() });
      await store.arrive({ clientId: 'split', uid: 3, room: '/rooms/c1', timeChannel: '/lessons/c', authJson: rememberedAuthJson(authOf(3, '/rooms/c1', '/lessons/c')), at: w.clock.now() });
      await w.records.addToOnlineList('/rooms/c2', 3);
      presence.forgetLocally('split');
      const pass = () => reconcile({
        store, records: w.records, logger: silentLogger, clock: w.clock,
        clientExists: async () => false,
        localClientIds: () => presence.knownClientIds(),
        departOrphan: (clientId) => presence.depart(clientId, 'timeout', w.clock.now()),
        forUser: (uid, task) => presence.forUser(uid, task),
        onListChanged: () => undefined,
      });
      const first = await pass();
      assert.deepEqual(first.orphanClientIds, ['split']);
      assert.equal((await store.clientIdsByUser('/rooms/c1')).size, 0);
      assert.equal((await store.clientIdsByUser('/rooms/c2')).size, 0);
      assert.deepEqual(await w.records.onlineList('/rooms/c2'), []);
      const second = await pass();
      assert.deepEqual(second.orphanClientIds, [], 'nothing left to report');
    });
  });
}

describe('two processes (Redis store) at the default settings in simulated time', () => {
  let w: World;
  beforeEach(async () => {
    w = await world('redis');
  });
  after(() => w.close());

  test('two messages of one clientId naming two rooms, handled at once by two processes, leave it in one room; its disconnect leaves nothing running', async () => {
    const one = w.process();
    const two = w.process();
    const roomA = authOf(4, '/rooms/d1', '/lessons/d1');
    const roomB = authOf(4, '/rooms/d2', '/lessons/d2');
    await Promise.all([one.presence.arrive('page', roomA), two.presence.arrive('page', roomB)]);
    await w.settle();
    const inA = (await one.store.clientIdsByUser('/rooms/d1')).has(4);
    const inB = (await one.store.clientIdsByUser('/rooms/d2')).has(4);
    assert.equal(Number(inA) + Number(inB), 1, `in exactly one room (d1: ${inA}, d2: ${inB})`);
    const remembered = readAuth(JSON.parse((await one.store.rememberedAuth('page'))!));
    assert.equal(remembered.kind === 'valid' && remembered.auth.room, inA ? '/rooms/d1' : '/rooms/d2', 'the room the store remembers');

    // The page disconnects at the process that saw the other room.
    await w.advance(3000);
    const holder = inA ? two : one;
    await holder.presence.depart('page', 'disconnect', w.clock.now());
    await w.advance(GRACE_MS);
    for (const room of ['/rooms/d1', '/rooms/d2']) {
      assert.equal((await one.store.clientIdsByUser(room)).size, 0, `${room} is empty`);
      assert.deepEqual(await w.records.onlineList(room), [], `${room}'s list is empty`);
    }
    for (const lesson of ['/lessons/d1', '/lessons/d2']) {
      assert.equal((await w.records.onlineTime(4, lesson, new Date(w.clock.now()))).runningSince, null, `no timer runs in ${lesson}`);
    }
  });
});
