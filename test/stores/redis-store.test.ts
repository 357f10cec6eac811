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

test("arrival times and sightings live in keys of our own, gone once the user's pages are; the gem's values stay JSON arrays of clientIds", async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
    const where = { room: '/own/room', timeChannel: '/own/lesson' };
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    const authJson = JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: 1, uname: 'a' } });
    await store.arrive({ clientId: 'a', uid: 1, ...where, authJson, at });
    await store.arrive({ clientId: 'b', uid: 1, ...where, authJson, at: at + 5000 });
    assert.equal(await redis.redis.hget(store.channelKey(where.timeChannel), '1'), '["a","b"]');
    assert.deepEqual(await redis.redis.hgetall(store.arrivedKey(where.timeChannel)), { a: String(at), b: String(at + 5000) });
    await store.depart({ clientId: 'a', uid: 1, ...where, at: at + 9000, deferLeave: false, now: at + 9000 });
    assert.equal(await redis.redis.hget(store.departedKey(where.timeChannel), '1'), `${at}:${at + 9000}`);
    await store.depart({ clientId: 'b', uid: 1, ...where, at: at + 12_000, deferLeave: false, now: at + 12_000 });
    for (const key of [store.arrivedKey(where.timeChannel), store.departedKey(where.timeChannel), store.channelKey(where.timeChannel)]) {
      assert.equal(await redis.redis.exists(key), 0, key);
    }
  } finally {
    await redis.cleanup();
  }
});
