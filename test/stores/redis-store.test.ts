// needs: redis
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisStore } from '../../lib/stores/redis-store';
import { CLIENT_RECORD_TTL_SECONDS, FIRST_CLIENT_RECORD_TTL_SECONDS, firstRecordTtlSeconds } from '../../lib/stores/store';
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
    await redis.redis.hset(store.keys.leaving(where.room), '1', String(at));
    await redis.redis.hset(store.keys.leaving(where.timeChannel), '1', String(at));
    const authJson = JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: 1, uname: 'a' } });
    const back = await store.arrive({ clientId: 'x', uid: 1, ...where, authJson, at: at + 2000 });
    assert.deepEqual({ joinedRoom: back.joinedRoom, startedTimer: back.startedTimer, resumedFrom: back.resumedFrom }, { joinedRoom: false, startedTimer: false, resumedFrom: at });
  } finally {
    await redis.cleanup();
  }
});

test('users read at once count as present only with a readable, non-empty list of clientIds, as when read alone', async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
    const key = store.keys.channel('/mixed/lesson');
    await redis.redis.hset(key, '1', '["a"]', '2', '[]', '3', 'not json', '4', '["b","c"]');
    assert.deepEqual([...(await store.withClientIds('/mixed/lesson', [1, 2, 3, 4, 5]))].sort(), [1, 4]);
    for (const uid of [1, 2, 3, 4, 5]) {
      assert.equal((await store.clientIdsOfUser('/mixed/lesson', uid)).length > 0, uid === 1 || uid === 4, `uid ${uid} read alone agrees`);
    }
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
    assert.equal(await redis.redis.hget(store.keys.channel(where.timeChannel), '1'), '["a","b"]');
    assert.deepEqual(await redis.redis.hgetall(store.keys.arrived(where.timeChannel)), { a: String(at), b: String(at + 5000) });
    await store.depart({ clientId: 'a', uid: 1, ...where, at: at + 9000, deferLeave: false, now: at + 9000 });
    assert.equal(await redis.redis.hget(store.keys.departed(where.timeChannel), '1'), `${at}:${at + 9000}`);
    await store.depart({ clientId: 'b', uid: 1, ...where, at: at + 12_000, deferLeave: false, now: at + 12_000 });
    for (const key of [store.keys.arrived(where.timeChannel), store.keys.departed(where.timeChannel), store.keys.channel(where.timeChannel)]) {
      assert.equal(await redis.redis.exists(key), 0, key);
    }
  } finally {
    await redis.cleanup();
  }
});

test("the grace a page's arrival cancelled is kept per clientId in a key of our own, gone when it departs", async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
    const where = { room: '/own/room', timeChannel: '/own/lesson' };
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    const authJson = JSON.stringify({ room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: 1, uname: 'a' } });
    await store.arrive({ clientId: 'a', uid: 1, ...where, authJson, at });
    await store.depart({ clientId: 'a', uid: 1, ...where, at: at + 1000, deferLeave: true, now: at + 1000 });
    await store.arrive({ clientId: 'b', uid: 1, ...where, authJson, at: at + 2000 });
    assert.deepEqual(await redis.redis.hgetall(store.keys.resumed(where.room)), { b: String(at + 1000) });
    await store.depart({ clientId: 'b', uid: 1, ...where, at: at + 3000, deferLeave: false, now: at + 3000 });
    assert.equal(await redis.redis.exists(store.keys.resumed(where.room)), 0);
  } finally {
    await redis.cleanup();
  }
});

test('auth and status keys of a clientId live the first TTL until its first connect succeeds, then the full 2 weeks; a key the gem wrote keeps its TTL', async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS, firstRecordTtlSeconds: 900 });
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    const place = (room: string, timeChannel: string) => ({ room, timeChannel, authJson: JSON.stringify({ room_channel: room, time_channel: timeChannel, current_user: { uid: 1, uname: 'a' } }) });
    const ttls = async (clientId: string) => [await redis.redis.ttl(store.keys.auth(clientId)), await redis.redis.ttl(store.keys.status(clientId))];
    const isFirst = (ttl: number) => ttl > 0 && ttl <= 900;
    const isFull = (ttl: number) => ttl > CLIENT_RECORD_TTL_SECONDS - 60;

    // Never connected: arrives, departs; its keys stay short.
    await store.arrive({ clientId: 'never', uid: 1, ...place('/ttl/a', '/ttl/l1'), at });
    assert.ok((await ttls('never')).every(isFirst), String(await ttls('never')));
    await store.depart({ clientId: 'never', uid: 1, room: '/ttl/a', timeChannel: '/ttl/l1', at: at + 1000, deferLeave: false, now: at + 1000 });
    assert.equal(await redis.redis.get(store.keys.status('never')), '0');
    assert.ok((await ttls('never')).every(isFirst), String(await ttls('never')));

    // Connected: full TTL, kept by a move (a departure and an arrival) and by its departure.
    await store.arrive({ clientId: 'page', uid: 1, ...place('/ttl/a', '/ttl/l1'), at });
    await store.confirmClient('page');
    assert.ok((await ttls('page')).every(isFull), String(await ttls('page')));
    await store.depart({ clientId: 'page', uid: 1, room: '/ttl/a', timeChannel: '/ttl/l1', at: at + 1000, deferLeave: false, now: at + 1000 });
    await store.arrive({ clientId: 'page', uid: 1, ...place('/ttl/b', '/ttl/l2'), at: at + 1000 });
    assert.ok((await ttls('page')).every(isFull), String(await ttls('page')));
    await store.depart({ clientId: 'page', uid: 1, room: '/ttl/b', timeChannel: '/ttl/l2', at: at + 2000, deferLeave: false, now: at + 2000 });
    assert.ok((await ttls('page')).every(isFull), String(await ttls('page')));

    // A clientId whose keys a gem server wrote (2 weeks) keeps them when it arrives here.
    const gem = place('/ttl/a', '/ttl/l1');
    await redis.redis.set(store.keys.auth('gem'), gem.authJson, 'EX', CLIENT_RECORD_TTL_SECONDS);
    await redis.redis.set(store.keys.status('gem'), '1', 'EX', CLIENT_RECORD_TTL_SECONDS);
    await store.arrive({ clientId: 'gem', uid: 1, ...gem, at });
    assert.ok((await ttls('gem')).every(isFull), String(await ttls('gem')));

    // Confirming keys that are gone creates nothing.
    await store.confirmClient('nobody');
    assert.deepEqual(await ttls('nobody'), [-2, -2]);
  } finally {
    await redis.cleanup();
  }
});

test('an arrival that comes with an accepted /meta/connect gives the keys their full TTL at once; one that does not keeps the first TTL', async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS, firstRecordTtlSeconds: 900 });
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    const where = { uid: 1, room: '/ttl/c', timeChannel: '/ttl/lc', authJson: JSON.stringify({ room_channel: '/ttl/c', time_channel: '/ttl/lc', current_user: { uid: 1, uname: 'a' } }), at };
    const ttls = async (clientId: string) => [await redis.redis.ttl(store.keys.auth(clientId)), await redis.redis.ttl(store.keys.status(clientId))];
    await store.arrive({ clientId: 'connecting', ...where, connecting: true });
    assert.ok((await ttls('connecting')).every((ttl) => ttl > CLIENT_RECORD_TTL_SECONDS - 60), String(await ttls('connecting')));
    // An engagement report before the first connect: the first TTL; the page's connect then extends both keys.
    await store.arrive({ clientId: 'reported', ...where });
    assert.ok((await ttls('reported')).every((ttl) => ttl > 0 && ttl <= 900), String(await ttls('reported')));
    await store.arrive({ clientId: 'reported', ...where, connecting: true });
    assert.ok((await ttls('reported')).every((ttl) => ttl > CLIENT_RECORD_TTL_SECONDS - 60), String(await ttls('reported')));
  } finally {
    await redis.cleanup();
  }
});

test('with the engine\'s clients, an arrival happens only for a live client, which it pings in the same step', async () => {
  const redis = await createTestRedis();
  try {
    const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: LIMIT, leaveGraceMs: GRACE_MS });
    const at = Date.UTC(2026, 0, 5, 9, 0, 0);
    const clients = `${redis.namespace}/clients`;
    const engineClients = { key: clients, aliveAfter: at - 16_000 };
    const arrival = (clientId: string) => ({
      clientId, uid: 1, room: '/engine/r', timeChannel: '/engine/l', at, connecting: true, engineClients,
      authJson: JSON.stringify({ room_channel: '/engine/r', time_channel: '/engine/l', current_user: { uid: 1, uname: 'a' } }),
    });
    await redis.redis.zadd(clients, at - 20_000, 'expired', at - 5000, 'live');

    for (const clientId of ['made-up', 'expired']) {
      const result = await store.arrive(arrival(clientId));
      assert.equal(result.unknownClient, true, clientId);
      assert.equal(result.joinedRoom, false, clientId);
      assert.equal(await redis.redis.get(store.keys.auth(clientId)), null, `${clientId}: nothing remembered`);
    }
    assert.deepEqual([...(await store.clientIdsByUser('/engine/r')).entries()], [], 'nobody arrived');
    assert.equal(await redis.redis.zscore(clients, 'made-up'), null, 'a made-up clientId is not added to the engine');
    assert.equal(await redis.redis.zscore(clients, 'expired'), String(at - 20_000), 'an expired one is not pinged back to life');

    const live = await store.arrive(arrival('live'));
    assert.equal(live.unknownClient, undefined);
    assert.equal(live.joinedRoom, true);
    assert.equal(await redis.redis.zscore(clients, 'live'), String(at), 'pinged as of the arrival');
    assert.deepEqual([...(await store.clientIdsByUser('/engine/r')).entries()], [[1, ['live']]]);
  } finally {
    await redis.cleanup();
  }
});

test('the first TTL outlives a departure at the given settings, within the 2 weeks', () => {
  assert.equal(firstRecordTtlSeconds({ timeout: 10, gc: 60, reconcileInterval: 300 }), FIRST_CLIENT_RECORD_TTL_SECONDS);
  assert.equal(firstRecordTtlSeconds({ timeout: 60, gc: 600, reconcileInterval: 3600 }), 2 * (600 + 120 + 3600));
  assert.equal(firstRecordTtlSeconds({ timeout: 60, gc: 600, reconcileInterval: 10 ** 9 }), CLIENT_RECORD_TTL_SECONDS);
});
