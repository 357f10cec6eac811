// needs: redis
// A page whose messages hopped to another process, which moved it (another
// time channel, the same room), comes back to the first process, whose memory
// of it is stale. Its next connect there names the place it is already in: that
// is no move. Before, the first process departed the page from its stale place
// (the soak's seeds 627940578 and 295216122 on mysql-redis): it took the
// clientId out of the room it was still in (the user left the list and joined
// again), logged the clientId's one logout in the old time channel, and the
// login session in the new one never closed (the login log held far more than
// the online time). Both stores; two Presence instances stand for two
// processes sharing one store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { Presence, type PresenceRecords, type Transition } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { MemoryStore } from '../../lib/stores/memory-store';
import { RedisStore } from '../../lib/stores/redis-store';
import type { PresenceStore } from '../../lib/stores/store';
import { createTestRedis } from '../support/redis';

/** What presence wrote, as lines in order. */
function recordingRecords(writes: string[]): PresenceRecords {
  const t = (at: Date) => `${(at.getTime() - START) / 1000}s`;
  return {
    addToOnlineList: async (room, uid) => (writes.push(`list + ${uid} ${room}`), [uid]),
    removeFromOnlineList: async (room, uid) => (writes.push(`list - ${uid} ${room}`), []),
    startTimer: async (uid, timeChannel, at) => (writes.push(`timer start ${timeChannel} ${t(at)}`), true),
    stopTimer: async (uid, timeChannel, at) => (writes.push(`timer stop ${timeChannel} ${t(at)}`), 1),
    writeLoginLog: async (e) => void writes.push(`${e.status ? 'login' : 'logout'} ${e.timeChannel} ${t(e.at)}`),
    startEngaged: async () => true,
    stopEngaged: async () => true,
  };
}

const START = Date.UTC(2026, 0, 5, 9, 0, 0);

function auth(room: string, timeChannel: string): Auth {
  const reading = readAuth({ room_channel: room, time_channel: timeChannel, current_user: { uid: 5, uname: 'u5' } });
  assert.equal(reading.kind, 'valid');
  return reading.auth;
}

const stores: Array<[string, () => Promise<{ store: PresenceStore; cleanup: () => Promise<void> }>]> = [
  ['memory', async () => ({ store: new MemoryStore(32, 5000), cleanup: async () => undefined })],
  ['redis', async () => {
    const redis = await createTestRedis();
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: 32, leaveGraceMs: 5000 });
    return { store, cleanup: () => redis.cleanup() };
  }],
];

for (const [name, open] of stores) {
  describe(`a process whose memory of a page is stale (${name} store)`, () => {
    it('does not move the page out of the place another process moved it to: nothing is written, and its logout closes the session where it is', async () => {
      const { store, cleanup } = await open();
      try {
        const clock = new ManualClock(START);
        const writes: string[] = [];
        const transitions: Transition[] = [];
        const processes = [0, 1].map(() => {
          const presence = new Presence({ store, records: recordingRecords(writes), logger: silentLogger, clock, leaveGraceMs: 5000 });
          presence.on('transition', (t) => transitions.push(t));
          return presence;
        });
        const [first, second] = processes;
        const old = auth('/rooms/a', '/lessons/3');
        const moved = auth('/rooms/a', '/lessons/1');

        await first.arrive('c1', old);
        await clock.advance(10_000);
        // The page's requests now reach the second process, which sees it move.
        await second.arrive('c1', moved);
        await clock.advance(10_000);
        const before = { writes: writes.length, transitions: transitions.length };
        // Back to the first process, which still remembers the old place.
        assert.equal(first.arrive('c1', moved) instanceof Promise, true, 'the first process sees a move from its memory');
        await first.idle();
        await second.idle();
        assert.deepEqual(writes.slice(before.writes), [], 'nothing is written: the page was there already');
        assert.deepEqual(transitions.slice(before.transitions), [], 'no leave, no join');

        // The page goes: its departure closes the new place's login session.
        await first.depart('c1', 'disconnect', clock.now());
        await clock.advance(5000);
        await first.idle();
        assert.deepEqual(writes.slice(before.writes), ['logout /lessons/1 20s', 'list - 5 /rooms/a', 'timer stop /lessons/1 20s']);
        // Every login of the page has its logout, in its own time channel.
        for (const lesson of ['/lessons/1', '/lessons/3']) {
          const log = writes.filter((w) => w.startsWith('log') && w.includes(` ${lesson} `)).map((w) => w.split(' ')[0]);
          assert.deepEqual(log, log.map((_, i) => (i % 2 === 0 ? 'login' : 'logout')), `${lesson}: ${log.join(', ')}`);
          assert.equal(log.length % 2, 0, `${lesson}: ${log.join(', ')}`);
        }
        for (const channel of ['/rooms/a', '/lessons/1', '/lessons/3']) assert.deepEqual([...(await store.clientIdsByUser(channel)).keys()], [], channel);
      } finally {
        await cleanup();
      }
    });
  });
}
