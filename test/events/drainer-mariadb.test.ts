// needs: mysql, redis
// The drainer moves the Redis outbox into faye_online_events idempotently:
// drained twice (a process killed between the insert and the removal, two
// processes draining at once), an event is one row; while the database does
// not answer, entries wait in the outbox and the failure is logged and counted.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import { systemClock } from '../../lib/core/clock';
import { EventDrainer } from '../../lib/events/drainer';
import { encodeOutboxEntry, type PresenceRecordEvent } from '../../lib/events/event';
import { RedisOutbox } from '../../lib/events/redis-outbox';
import type { Logger } from '../../lib/log';
import { openDatabase } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { createTestRedis, type TestRedis } from '../support/redis';
import { PresenceKeys } from '../../lib/stores/keys';

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0);

function events(count: number, room: string): PresenceRecordEvent[] {
  return Array.from({ length: count }, (_, i) => ({ kind: i % 2 ? 'leave' : 'join', uid: 1 + (i >> 1), channel: room, occurredMs: T0 + i, reason: 'connect', seq: i + 1, clientId: `c${i}` }));
}

function recordingLogger(): Logger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (_fields: object, message: string) => lines.push({ level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('the events drainer on MariaDB and Redis', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let sequelize: Sequelize;
  let outbox: RedisOutbox;
  before(async () => {
    db = await createTestDatabase('events_drain');
    redis = await createTestRedis();
    sequelize = openDatabase(db.url);
    await migrate(sequelize, 'up');
    outbox = new RedisOutbox(redis.redis, redis.namespace);
  });
  after(async () => {
    await sequelize.close();
    await redis.cleanup();
    await db.drop();
  });

  const fill = (list: PresenceRecordEvent[]) => redis.redis.rpush(new PresenceKeys(redis.namespace).outbox, ...list.map(encodeOutboxEntry));
  const rows = async (room: string) => (await db.raw.query(`SELECT kind, user_id, seq FROM faye_online_events WHERE channel = ? ORDER BY id`, [room]))[0] as Array<{ kind: string; user_id: number; seq: number }>;
  const drainer = (options: Partial<ConstructorParameters<typeof EventDrainer>[0]> = {}) =>
    new EventDrainer({ outbox, sequelize, logger: recordingLogger(), clock: systemClock, intervalMs: 60_000, batchSize: 7, ...options });

  test('two drainers racing over the same entries write each event once, in order, and empty the outbox', async () => {
    const room = '/drain/race';
    await fill(events(50, room));
    const [a, b] = [drainer(), drainer()];
    const written = await Promise.all([a.drain(), b.drain()]);
    assert.equal(written[0] + written[1], 50, 'new rows between the two');
    const found = await rows(room);
    assert.equal(found.length, 50);
    assert.deepEqual(found.map((r) => Number(r.seq)), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.deepEqual(await outbox.stats(), { length: 0, dropped: 0 });
  });

  test('an event drained again after its insert (the process died before removing it) is still one row', async () => {
    const room = '/drain/again';
    await fill(events(5, room));
    // The removal never happens: as if the process were killed right after the insert.
    const dying = drainer({ outbox: { peek: (n) => outbox.peek(n), remove: async () => { throw new Error('killed'); }, stats: () => outbox.stats() } });
    await dying.drain();
    assert.equal((await rows(room)).length, 5);
    assert.equal((await outbox.stats()).length, 5, 'still in the outbox');
    assert.equal(await drainer().drain(), 0, 'nothing new');
    assert.equal((await rows(room)).length, 5);
    assert.equal((await outbox.stats()).length, 0);
  });

  test('while the database does not answer, entries wait and the failure is logged and counted; then they are written', async () => {
    const room = '/drain/outage';
    await fill(events(4, room));
    const down = openDatabase('mysql://root@127.0.0.1:1/nowhere');
    const logger = recordingLogger();
    const register = new Registry();
    try {
      const failing = drainer({ sequelize: down, logger, register });
      assert.equal(await failing.drain(), 0);
      assert.equal((await outbox.stats()).length, 4);
      assert.match(logger.lines.find((l) => l.level === 'warn')?.message ?? '', /could not write events .*wait in the outbox/);
      assert.match(await register.metrics(), /faye_online_events_drain_failures_total 1/);
      await failing.close();
    } finally {
      await down.close();
    }
    assert.equal(await drainer().drain(), 4);
    assert.equal((await rows(room)).length, 4);
  });

  test('events a full outbox could not take are reported as dropped, in the log and the metrics', async () => {
    await redis.redis.incrby(new PresenceKeys(redis.namespace).outboxDropped, 3);
    const logger = recordingLogger();
    const register = new Registry();
    const d = drainer({ logger, register });
    await d.drain();
    assert.match(logger.lines.find((l) => l.level === 'error')?.message ?? '', /3 presence events were dropped because the events outbox was full/);
    assert.match(await register.metrics(), /faye_online_events_dropped_total 3/);
    await d.drain();
    assert.equal(logger.lines.filter((l) => l.level === 'error').length, 1, 'reported once');
    await d.close();
  });

  test('an entry that is not an event is logged and removed, never inserted', async () => {
    await redis.redis.rpush(new PresenceKeys(redis.namespace).outbox, '{"k":"nonsense"}', 'not json');
    const logger = recordingLogger();
    await drainer({ logger }).drain();
    assert.equal(logger.lines.filter((l) => /not an event/.test(l.message)).length, 2);
    assert.equal((await outbox.stats()).length, 0);
  });
});
