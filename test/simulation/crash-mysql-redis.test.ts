// needs: mysql, redis
// A process that dies while a user's leave is in its grace period takes its
// grace timer along. Found by the simulation: the user stayed in the room's
// diffs for ever, and reconciliation stopped the timer when it ran rather than
// when the user was last seen (and removed the user from the list during the
// grace, with no leave diff). Now reconciliation leaves a fresh pending leave
// to its process, and confirms one that is too old for it, as of the last
// sighting, with its leave diff, exactly once in the cluster.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { Presence } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { Records } from '../../lib/records';
import { RedisStore } from '../../lib/stores/redis-store';
import { mysqlRedisBackend, type SimBackend } from './backends';
import { runSteps } from './run';
import type { Step, TimedStep } from './scenario';
import { SETTINGS } from './world';
import { migrate } from '../../lib/schema';
import { createSqliteBackend } from '../support/databases';
import { createTestRedis } from '../support/redis';

const at = (seconds: number, step: Step): TimedStep => ({ at: seconds * 1000, step });

describe('a process crash during a leave grace period (3 processes, Redis, MariaDB)', () => {
  let backend: SimBackend;
  before(async () => {
    backend = await mysqlRedisBackend(3);
  });
  after(async () => {
    await backend?.close();
  });

  test('the leave still happens, as of the last sighting, with its diff; the other user stays', async () => {
    const result = await runSteps(backend, [
      at(1, { kind: 'open', page: 0, uid: 1, room: '/rooms/a', timeChannel: '/lessons/1', proc: 0, engaged: true }),
      at(2, { kind: 'open', page: 1, uid: 2, room: '/rooms/a', timeChannel: '/lessons/1', proc: 1, engaged: true }),
      at(30, { kind: 'hop', page: 1, proc: 2 }),
      at(40, { kind: 'disconnect', page: 0 }),
      // Its grace timer was in process 0; the fresh process 0 reconciles at once, inside the grace.
      at(41, { kind: 'crash', proc: 0 }),
      at(140, { kind: 'quiet' }),
      at(141, { kind: 'close', page: 1 }),
      at(240, { kind: 'quiet' }),
    ]);
    assert.equal(result.applied, 8);
    assert.deepEqual(result.violations, []);
  });

  test('the owner confirming and another process adopting the same leave at once make one leave', async () => {
    const redis = await createTestRedis();
    const db = await createSqliteBackend();
    const sequelize = db.open();
    try {
      await migrate(sequelize, 'up');
      const records = new Records({ sequelize, timeZone: 'UTC' });
      const owner = new ManualClock();
      // The other process looks later, when the mark is too old for a live owner to still confirm it.
      const later = new ManualClock(owner.now() + 60_000);
      const events: string[] = [];
      const process = (clock: ManualClock, name: string) => {
        const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: SETTINGS.maxClientIdsPerUser, leaveGraceMs: SETTINGS.leaveGraceMs });
        const presence = new Presence({ store, records, logger: silentLogger, clock, leaveGraceMs: SETTINGS.leaveGraceMs });
        presence.on('transition', (t) => {
          if (t.membership === 'left') events.push(`${name} leave ${t.uid} ${t.room} seq ${t.seq}`);
        });
        return { store, presence };
      };
      const a = process(owner, 'a');
      const b = process(later, 'b');
      const auth = readAuth({ room_channel: '/rooms/a', time_channel: '/lessons/1', current_user: { uid: 9, uname: 'nine' } });
      assert.equal(auth.kind, 'valid');
      const { auth: nine } = auth as { auth: Auth };
      await a.presence.arrive('page9', nine);
      const arrivedAt = owner.now();
      await owner.advance(20_000);
      await a.presence.depart('page9', 'disconnect', owner.now());
      const mark = (await b.store.leaveMarks('/rooms/a')).get(9);
      assert.ok(mark, 'the leave is pending');
      const [, adopted] = await Promise.all([
        a.presence.confirmPendingLeaves(),
        b.presence.leaveAbandoned({ uid: 9, room: '/rooms/a', timeChannel: '/lessons/1', ...mark }, { room: true, timer: true }),
      ]);
      await Promise.all([a.presence.idle(), b.presence.idle()]);
      assert.equal(events.length, 1, events.join('; '));
      assert.equal(adopted, events[0].startsWith('b'), 'b reports what it did');
      assert.deepEqual(await records.onlineList('/rooms/a'), []);
      const time = await records.onlineTime(9, '/lessons/1', new Date(later.now()));
      assert.equal(time.runningSince, null);
      assert.equal(time.totalSeconds, (mark.at - arrivedAt) / 1000, 'stopped as of the last sighting');
      assert.deepEqual(await b.store.leaveMarks('/rooms/a'), new Map());
    } finally {
      await db.cleanup();
      await redis.cleanup();
    }
  });
});
