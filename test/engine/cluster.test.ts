// needs: redis
// Two real Faye servers on one Redis form a cluster: real faye.Clients over HTTP
// long-polling and WebSocket reach each other, dead clients are collected with
// the time they were last seen, and held connections can be flushed from anywhere.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { RedisEngine, type DisconnectInfo } from '../../lib/engine';
import { silentLogger } from '../../lib/log';
import { createTestRedis, type TestRedis } from '../support/redis';
import { eventuallyPasses, sleep } from '../support/wait';
import { clientIdOf, closeClient, collect, fayeClient, rawConnect, rawHandshake, startFayeServer, transportOf, type FayeServer } from './servers';
import { EngineKeys } from '../../lib/stores/keys';

describe('two Faye servers sharing the Redis engine', () => {
  let testRedis: TestRedis;
  let servers: FayeServer[] = [];
  let clients: any[] = [];

  const engine = (extra: Record<string, unknown> = {}) => ({
    type: RedisEngine, redis: testRedis.url, namespace: testRedis.namespace, logger: silentLogger, ...extra,
  });
  const server = async (timeout: number, extra: Record<string, unknown> = {}) => {
    const started = await startFayeServer({ timeout, engine: engine(extra) });
    servers.push(started);
    return started;
  };
  const client = (url: string, transport: 'long-polling' | 'websocket') => {
    const created = fayeClient(url, transport);
    clients.push(created);
    return created;
  };

  beforeEach(async () => {
    testRedis = await createTestRedis();
  });

  afterEach(async () => {
    for (const c of clients) await closeClient(c);
    for (const s of servers) await s.close();
    clients = [];
    servers = [];
    await testRedis.cleanup();
  });

  it('delivers messages both ways between a long-polling client on one server and a WebSocket client on the other', async () => {
    const left = await server(2);
    const right = await server(2);
    const polling = client(left.url, 'long-polling');
    const socket = client(right.url, 'websocket');

    const atPolling = await collect(polling, '/chat/room1');
    const atSocket = await collect(socket, '/chat/room1');
    assert.equal(transportOf(polling), 'long-polling');
    assert.equal(transportOf(socket), 'websocket');

    await polling.publish('/chat/room1', { text: 'from polling', n: 1 });
    await socket.publish('/chat/room1', { text: 'from socket', n: 2 });

    const both = [{ text: 'from polling', n: 1 }, { text: 'from socket', n: 2 }];
    await eventuallyPasses(() => assert.deepEqual(atSocket, both), 5000);
    await eventuallyPasses(() => assert.deepEqual(atPolling, both), 5000);
  });

  it('delivers a message published on the server side of one process to clients of the other', async () => {
    const left = await server(2);
    const right = await server(2);
    const received = await collect(client(right.url, 'websocket'), '/news/**');
    await left.adapter.getClient().publish('/news/today', { headline: 'cluster works' });
    await eventuallyPasses(() => assert.deepEqual(received, [{ headline: 'cluster works' }]), 5000);
  });

  it('collects a client that vanished, reporting when it was last seen, and keeps live clients', async () => {
    const timeout = 1;
    const left = await server(timeout, { gc: 0.2 });
    await server(timeout, { gc: 0.2 });
    const disconnects: [string, DisconnectInfo][] = [];
    for (const s of servers) s.adapter.bind('disconnect', (clientId: string) => disconnects.push([clientId, RedisEngine.fromAdapter(s.adapter)!.disconnectInfo(clientId)!]));

    const live = client(left.url, 'long-polling');
    await collect(live, '/keep/alive');

    // A tab that handshakes, connects once and is gone without a /meta/disconnect.
    const vanished = await rawHandshake(left.url);
    await rawConnect(left.url, vanished); // held for `timeout`, then returns
    const lastPing = Number(await testRedis.redis.zscore(new EngineKeys(testRedis.namespace).clients, vanished));
    assert.ok(lastPing > 0);

    await eventuallyPasses(() => assert.equal(disconnects.length, 1), 6000);
    const [clientId, info] = disconnects[0]!;
    assert.equal(clientId, vanished);
    assert.deepEqual(info, { reason: 'timeout', lastSeen: lastPing });

    await sleep(500);
    assert.equal(disconnects.length, 1, 'reported once across both servers, and the live client stays');
    assert.equal(await testRedis.redis.zscore(new EngineKeys(testRedis.namespace).clients, vanished), null);
    assert.deepEqual(await testRedis.redis.keys(`${new EngineKeys(testRedis.namespace).clientsPrefix}${vanished}/*`), []);
    const liveId = clientIdOf(live);
    assert.ok(Number(await testRedis.redis.zscore(new EngineKeys(testRedis.namespace).clients, liveId)) > 0);
  });

  it('reports an explicit disconnect with its reason', async () => {
    const left = await server(2);
    const disconnects: [string, DisconnectInfo][] = [];
    left.adapter.bind('disconnect', (clientId: string) => disconnects.push([clientId, RedisEngine.fromAdapter(left.adapter)!.disconnectInfo(clientId)!]));
    const leaving = client(left.url, 'websocket');
    await collect(leaving, '/bye');
    const clientId = clientIdOf(leaving);
    await leaving.disconnect();
    await eventuallyPasses(() => assert.equal(disconnects.length, 1));
    assert.equal(disconnects[0]![0], clientId);
    assert.equal(disconnects[0]![1].reason, 'disconnect');
    assert.ok((disconnects[0]![1].lastSeen ?? 0) > Date.now() - 10_000);
  });

  it('flushes a held /meta/connect from another server, so the client comes back at once', async () => {
    const left = await server(10);
    const right = await server(10);
    const clientId = await rawHandshake(left.url);
    await rawConnect(left.url, clientId, true);

    const startedAt = Date.now();
    const held = rawConnect(left.url, clientId);
    await sleep(200);
    await RedisEngine.fromAdapter(right.adapter)!.nudge(clientId);
    const [reply] = await held;
    assert.equal(reply.successful, true);
    assert.ok(Date.now() - startedAt < 2000, `returned after ${Date.now() - startedAt} ms, not the 10 s timeout`);
  });

  it('finds the engine behind an adapter and tells when a client was last seen', async () => {
    const left = await server(2);
    const found = RedisEngine.fromAdapter(left.adapter);
    assert.ok(found instanceof RedisEngine);
    const before = Date.now();
    const clientId = await rawHandshake(left.url);
    const seen = await found.lastSeen(clientId);
    assert.ok(seen !== null && seen >= before && seen <= Date.now());
    assert.equal(await found.lastSeen('nobody'), null);
  });
});

describe('the Redis engine given an ioredis instance', () => {
  let testRedis: TestRedis;
  before(async () => {
    testRedis = await createTestRedis();
  });
  after(() => testRedis.cleanup());

  it('uses it without closing it', async () => {
    const shared = testRedis.redis.duplicate();
    const started = await startFayeServer({ timeout: 2, engine: { type: RedisEngine, redis: shared, namespace: testRedis.namespace, logger: silentLogger } });
    const clientId = await rawHandshake(started.url);
    assert.ok(Number(await shared.zscore(new EngineKeys(testRedis.namespace).clients, clientId)) > 0);
    await started.close();
    assert.equal(await shared.ping(), 'PONG');
    shared.disconnect();
  });
});
