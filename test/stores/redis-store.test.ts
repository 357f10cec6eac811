// needs: redis
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisStore } from '../../lib/stores/redis-store';
import { createTestRedis } from '../support/redis';
import { GRACE_MS, LIMIT, storeContract } from './contract';

storeContract('redis', async () => {
  const redis = await createTestRedis();
  const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
  return { store, cleanup: () => redis.cleanup() };
});

test('a pending-leave mark written before marks carried their own time (a bare last sighting) still resumes while fresh', async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
    const where = { room: '/legacy/room', timeChannel: '/legacy/lesson' };
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    await redis.redis.hset(store.leavingKey(where.room), '1', String(at));
    await redis.redis.hset(store.leavingKey(where.timeChannel), '1', String(at));
    const authJson = JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: 1, uname: 'a' } });
    const back = await store.arrive({ clientId: 'x', uid: 1, ...where, authJson, at: at + 2000 });
    assert.deepEqual({ joinedRoom: back.joinedRoom, startedTimer: back.startedTimer, resumedFrom: back.resumedFrom }, { joinedRoom: false, startedTimer: false, resumedFrom: at });
  } finally {
    await redis.cleanup();
  }
});
