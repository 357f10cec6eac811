// needs: redis
// A server on the original faye-redis Node engine and a server on ours share one
// Redis namespace as one cluster (docs/rails.md): messages cross both ways,
// clients created by one are known to the other, our GC collects the other's
// dead clients, and the keys are exactly faye-redis' layout.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RedisEngine, type DisconnectInfo } from '../../lib/engine';
import { silentLogger } from '../../lib/log';
import { createTestRedis, type TestRedis } from '../support/redis';
import { eventuallyPasses, sleep } from '../support/wait';
import { bayeux, clientIdOf, closeClient, collect, fayeClient, rawConnect, rawHandshake, startFayeServer, type FayeServer } from './servers';
import { EngineKeys } from '../../lib/stores/keys';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const FayeRedis = require('faye-redis');

describe('a cluster of a faye-redis server and a RedisEngine server', () => {
  let testRedis: TestRedis;
  let theirs: FayeServer;
  let ours: FayeServer;
  let clients: any[];

  const ns = () => testRedis.namespace;
  const keys = () => new EngineKeys(ns());
  const database = () => Number(new URL(testRedis.url).pathname.slice(1) || 0);

  async function startPair(timeout: number, ourGc = 60): Promise<void> {
    const url = new URL(testRedis.url);
    theirs = await startFayeServer({
      timeout,
      engine: { type: FayeRedis, host: url.hostname, port: Number(url.port || 6379), database: database(), namespace: ns(), gc: 60 },
    });
    ours = await startFayeServer({ timeout, engine: { type: RedisEngine, redis: testRedis.url, namespace: ns(), gc: ourGc, logger: silentLogger } });
    // faye-redis subscribes without telling when; give its subscriber a moment.
    await sleep(100);
  }

  beforeEach(async () => {
    testRedis = await createTestRedis();
    clients = [];
  });

  afterEach(async () => {
    for (const client of clients) await closeClient(client);
    await theirs?.close();
    await ours?.close();
    await testRedis.cleanup();
  });

  it('delivers messages both ways between their clients and ours', async () => {
    await startPair(2);
    const atTheirs = fayeClient(theirs.url, 'long-polling');
    const atOurs = fayeClient(ours.url, 'websocket');
    clients.push(atTheirs, atOurs);
    const receivedTheirs = await collect(atTheirs, '/classes/4');
    const receivedOurs = await collect(atOurs, '/classes/**');

    // One message at a time: faye-redis itself can drop the second of two messages that
    // reach a long-polling client back to back (it empties the queue, then delivers
    // to a connection that may have closed meanwhile), which is not what this tests.
    await atTheirs.publish('/classes/4', { from: 'faye-redis' });
    await eventuallyPasses(() => assert.deepEqual(receivedOurs, [{ from: 'faye-redis' }]), 5000);
    await eventuallyPasses(() => assert.deepEqual(receivedTheirs, [{ from: 'faye-redis' }]), 5000);

    await atOurs.publish('/classes/4', { from: 'faye-online' });
    const both = [{ from: 'faye-redis' }, { from: 'faye-online' }];
    await eventuallyPasses(() => assert.deepEqual(receivedOurs, both), 5000);
    await eventuallyPasses(() => assert.deepEqual(receivedTheirs, both), 5000);
  });

  it('knows the clients the other engine created, in both directions', async () => {
    await startPair(2);
    const fromTheirs = await rawHandshake(theirs.url);
    const fromOurs = await rawHandshake(ours.url);
    const [atOurs] = await rawConnect(ours.url, fromTheirs, true);
    const [atTheirs] = await rawConnect(theirs.url, fromOurs, true);
    assert.equal(atOurs.successful, true, JSON.stringify(atOurs));
    assert.equal(atTheirs.successful, true, JSON.stringify(atTheirs));
  });

  it('lets a client handshake on theirs, subscribe on ours and be reached from theirs', async () => {
    await startPair(2);
    const clientId = await rawHandshake(theirs.url);
    const [subscribed] = await bayeux(ours.url, [{ channel: '/meta/subscribe', clientId, subscription: '/mixed' }]);
    assert.equal(subscribed.successful, true);
    assert.deepEqual(await testRedis.redis.smembers(keys().channel('/mixed')), [clientId]);

    const publisher = fayeClient(theirs.url, 'long-polling');
    clients.push(publisher);
    await publisher.publish('/mixed', { hello: 'there' });
    // faye-redis acknowledges a publish before it has queued the message.
    await eventuallyPasses(async () => assert.equal(await testRedis.redis.llen(keys().clientMessages(clientId)), 1));
    // A held connect: one that returns at once would leave before the queue is read.
    const replies = await rawConnect(ours.url, clientId);
    assert.deepEqual(replies.filter((reply) => reply.channel === '/mixed').map((reply) => reply.data), [{ hello: 'there' }]);
  });

  it('collects a dead client that faye-redis created, with when it was last seen', async () => {
    await startPair(1, 0.2);
    const disconnects: [string, DisconnectInfo | undefined][] = [];
    ours.adapter.bind('disconnect', (clientId: string) => disconnects.push([clientId, RedisEngine.fromAdapter(ours.adapter)!.disconnectInfo(clientId)]));
    const vanished = await rawHandshake(theirs.url);
    const lastPing = Number(await testRedis.redis.zscore(keys().clients, vanished));
    assert.ok(lastPing > 0);

    await eventuallyPasses(() => assert.deepEqual(disconnects, [[vanished, { reason: 'timeout', lastSeen: lastPing }]]), 6000);
    assert.equal(await testRedis.redis.zscore(keys().clients, vanished), null);
    assert.deepEqual(await testRedis.redis.keys(`${keys().clientsPrefix}${vanished}/*`), []);
  });
});

describe("faye-redis' key layout, read and written directly", () => {
  let testRedis: TestRedis;
  let ours: FayeServer;
  const ns = () => testRedis.namespace;
  const keys = () => new EngineKeys(ns());

  beforeEach(async () => {
    testRedis = await createTestRedis();
    ours = await startFayeServer({ timeout: 2, engine: { type: RedisEngine, redis: testRedis.url, namespace: `/${ns()}`, logger: silentLogger } });
  });

  afterEach(async () => {
    await ours.close();
    await testRedis.cleanup();
  });

  it('writes clients, subscriptions and queued messages where faye-redis reads them', async () => {
    const before = Date.now();
    const clientId = await rawHandshake(ours.url);
    await bayeux(ours.url, [{ channel: '/meta/subscribe', clientId, subscription: '/courses/5/lessons/1' }]);
    const publisher = fayeClient(ours.url, 'long-polling');
    await publisher.publish('/courses/5/lessons/1', { n: 1 });

    const { redis } = testRedis;
    const score = Number(await redis.zscore(keys().clients, clientId));
    assert.ok(score >= before && score <= Date.now(), 'score = last ping in ms');
    assert.deepEqual(await redis.smembers(keys().clientChannels(clientId)), ['/courses/5/lessons/1']);
    assert.deepEqual(await redis.smembers(keys().channel('/courses/5/lessons/1')), [clientId]);
    const queued = (await redis.lrange(keys().clientMessages(clientId), 0, -1)).map((json) => JSON.parse(json));
    assert.equal(queued.length, 1);
    assert.equal(queued[0].channel, '/courses/5/lessons/1');
    assert.deepEqual(queued[0].data, { n: 1 });
    assert.equal(queued[0].clientId, clientIdOf(publisher));
    await closeClient(publisher);
  });

  it('announces queued messages and destroyed clients on the notification channels', async () => {
    const listener = testRedis.redis.duplicate();
    const heard: [string, string][] = [];
    listener.on('message', (channel: string, payload: string) => heard.push([channel, payload]));
    await listener.subscribe(keys().topics.messages, keys().topics.close);

    const clientId = await rawHandshake(ours.url);
    await bayeux(ours.url, [{ channel: '/meta/subscribe', clientId, subscription: '/n' }]);
    await bayeux(ours.url, [{ channel: '/n', data: 1 }]);
    await bayeux(ours.url, [{ channel: '/meta/disconnect', clientId }]);

    await eventuallyPasses(() => assert.deepEqual(heard, [
      [keys().topics.messages, clientId],
      [keys().topics.close, clientId],
    ]));
    listener.disconnect();
  });

  it('accepts a client written by another engine, and ages it out by its score', async () => {
    const { redis } = testRedis;
    await redis.zadd(keys().clients, Date.now(), 'writtenbyruby');
    const [fresh] = await rawConnect(ours.url, 'writtenbyruby', true);
    assert.equal(fresh.successful, true);

    await redis.zadd(keys().clients, Date.now() - 1.6 * 2000 - 100, 'oldclient');
    const [stale] = await rawConnect(ours.url, 'oldclient', true);
    assert.equal(stale.successful, false, 'not newer than 1.6 x timeout: unknown');
  });

  it('respects a GC lock held by another engine, and takes over an expired one', async () => {
    const { redis } = testRedis;
    const engine = RedisEngine.fromAdapter(ours.adapter)!;
    await redis.zadd(keys().clients, Date.now() - 10_000, 'expired');
    const lockKey = keys().gcLock;

    await redis.set(lockKey, String(Date.now() + 60_000));
    assert.equal(await engine.gc(), 0, 'lock held elsewhere: no sweep');
    assert.notEqual(await redis.zscore(keys().clients, 'expired'), null);

    await redis.set(lockKey, String(Date.now() - 1));
    assert.equal(await engine.gc(), 1, 'expired lock: taken over');
    assert.equal(await redis.zscore(keys().clients, 'expired'), null);
    assert.equal(await redis.get(lockKey), null, 'released after the sweep');
  });

  it('sweeps every expired client, not a sample', async () => {
    const { redis } = testRedis;
    const engine = RedisEngine.fromAdapter(ours.adapter)!;
    const old = Date.now() - 10_000;
    const ids = Array.from({ length: 250 }, (_, i) => `dead${i}`);
    await redis.zadd(keys().clients, ...ids.flatMap((id) => [old, id]));
    await redis.sadd(keys().channel('/x'), ...ids);
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.sadd(keys().clientChannels(id), '/x');
    await pipeline.exec();
    const alive = await rawHandshake(ours.url);

    assert.equal(await engine.gc(), 250);
    assert.deepEqual(await redis.zrange(keys().clients, 0, -1), [alive]);
    assert.equal(await redis.exists(keys().channel('/x')), 0, 'every subscription of the dead clients removed');
    assert.deepEqual(await redis.keys(`${keys().clientsPrefix}dead*`), []);
  });
});
