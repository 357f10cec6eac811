// needs: redis
// The cluster survives Redis going away: on a Redis server of the test's own
// (never the shared one), killed connections and a full restart that loses all
// data are both followed by messages flowing again between the two servers.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisEngine } from '../../lib/engine';
import { silentLogger } from '../../lib/log';
import { eventuallyPasses, sleep } from '../support/wait';
import { closeClient, collect, fayeClient, PrivateRedis, startFayeServer, type FayeServer } from './servers';

describe('the Redis engine when Redis goes away', () => {
  let redis: PrivateRedis;
  let servers: FayeServer[];
  let clients: any[];
  let polling: any;
  let socket: any;
  let atSocket: unknown[];

  beforeEach(async () => {
    redis = await PrivateRedis.start();
    servers = [];
    clients = [];
  });

  async function startCluster(timeout: number): Promise<void> {
    const engine = { type: RedisEngine, redis: redis.url, namespace: 'restart', logger: silentLogger, gc: 1 };
    servers = [await startFayeServer({ timeout, engine: { ...engine } }), await startFayeServer({ timeout, engine: { ...engine } })];
    polling = fayeClient(servers[0]!.url, 'long-polling');
    socket = fayeClient(servers[1]!.url, 'websocket');
    clients = [polling, socket];
    atSocket = await collect(socket, '/room');
    await polling.publish('/room', 'before');
    await eventuallyPasses(() => assert.deepEqual(atSocket, ['before']), 5000);
  }

  afterEach(async () => {
    for (const client of clients) await closeClient(client);
    for (const server of servers) await server.close();
    await redis.stop();
  });

  /** Publishes numbered messages until one arrives: some may be lost while the cluster recovers. */
  async function messagesFlowAgain(within: number): Promise<void> {
    const deadline = Date.now() + within;
    for (let i = 0; Date.now() < deadline; i++) {
      polling.publish('/room', `after ${i}`).then(() => {}, () => {});
      await sleep(300);
      if (atSocket.some((message) => String(message).startsWith('after'))) return;
    }
    assert.fail(`no message arrived after Redis came back; received ${JSON.stringify(atSocket)}`);
  }

  it('re-subscribes to the notifications when Redis kills every connection', async () => {
    // Long polls of 30 s: within the 5 s allowed, only a notification can bring the message.
    await startCluster(30);
    const admin = new Redis(redis.url);
    await admin.client('KILL', 'TYPE', 'pubsub');
    await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    admin.disconnect();
    await messagesFlowAgain(5000);
  });

  it('recovers when Redis restarts empty: clients handshake again and messages flow', async () => {
    await startCluster(1);
    await redis.stop();
    await sleep(500);
    await redis.start();
    await messagesFlowAgain(20_000);
  });
});
