// bench:events: what presence events cost. (1) One user's arrival and departure
// in a room on the Redis store (one Lua call each), with events off and on (the
// same scripts then also append join/occupied and leave/vacated to the outbox);
// (2) the drainer moving a full outbox into faye_online_events on MariaDB.
//   npm run bench:events -- --cycles 2000 --events 20000
import { systemClock } from '../lib/core/clock';
import { EventDrainer, RedisOutbox } from '../lib/events';
import { encodeOutboxEntry } from '../lib/events/event';
import { silentLogger } from '../lib/log';
import { openDatabase } from '../lib/records';
import { migrate } from '../lib/schema';
import { RedisStore } from '../lib/stores/redis-store';
import { createTestDatabase } from '../test/support/mariadb';
import { createTestRedis, REDIS_URL } from '../test/support/redis';
import { parseFlags } from './support/args';
import { table } from './support/report';
import { PresenceKeys } from '../lib/stores/keys';

const flags = parseFlags({ cycles: 2000, events: 20000, batch: 200 });

async function cycles(outboxLimit: number): Promise<number> {
  const test = await createTestRedis(REDIS_URL);
  const store = new RedisStore({ redis: test.redis, ownsConnection: false, namespace: test.namespace, maxClientIdsPerUser: 32, outboxLimit });
  const where = { room: '/bench/room', timeChannel: '/bench/lesson' };
  const authJson = JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: 1, uname: 'u' } });
  const started = process.hrtime.bigint();
  for (let i = 0; i < flags.cycles; i++) {
    const at = Date.now();
    await store.arrive({ clientId: `c${i}`, uid: 1, ...where, authJson, at });
    await store.depart({ clientId: `c${i}`, uid: 1, ...where, at, deferLeave: false, now: at, reason: 'disconnect' });
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await test.cleanup();
  return ms;
}

async function main(): Promise<void> {
  const off = await cycles(0);
  const on = await cycles(1_000_000);
  console.log(table(['events', 'arrive+depart cycles', 'ms', 'µs per cycle'], [
    ['off', flags.cycles, Math.round(off), Math.round((off * 1000) / flags.cycles)],
    ['on', flags.cycles, Math.round(on), Math.round((on * 1000) / flags.cycles)],
  ]));

  const db = await createTestDatabase('bench_events');
  const redis = await createTestRedis(REDIS_URL);
  const sequelize = openDatabase(db.url);
  try {
    await migrate(sequelize, 'up');
    const key = new PresenceKeys(redis.namespace).outbox;
    const entries = Array.from({ length: flags.events }, (_, i) => encodeOutboxEntry({ kind: i % 2 ? 'leave' : 'join', uid: 1 + (i % 500), channel: `/bench/room${i % 50}`, occurredMs: Date.now() + i, reason: 'connect', seq: i + 1, clientId: `c${i}` }));
    for (let i = 0; i < entries.length; i += 1000) await redis.redis.rpush(key, ...entries.slice(i, i + 1000));
    const drainer = new EventDrainer({ outbox: new RedisOutbox(redis.redis, redis.namespace), sequelize, logger: silentLogger, clock: systemClock, intervalMs: 60_000, batchSize: flags.batch });
    const started = process.hrtime.bigint();
    const written = await drainer.drain();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(table(['events drained', 'batch', 'rows', 'ms', 'events/s'], [[flags.events, flags.batch, written, Math.round(ms), Math.round((written * 1000) / ms)]]));
  } finally {
    await sequelize.close();
    await redis.cleanup();
    await db.drop();
  }
}

void main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
