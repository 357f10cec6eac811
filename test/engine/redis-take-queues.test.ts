// needs: redis
// The clients whose queues the engine is asked to empty in one tick (the
// notifications of one publish to a room arrive together) are emptied in one
// script call, which sends each distinct message once, and each client gets
// its own messages (its own objects), in order; a client whose connection
// closed meanwhile gets its messages put back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Redis from 'ioredis';
import { RedisEngine } from '../../lib/engine';
import { silentLogger } from '../../lib/log';
import { createTestRedis } from '../support/redis';
import { eventually } from '../support/wait';

test('one script call empties the queues of every client asked for in the same tick', async () => {
  const testRedis = await createTestRedis();
  const redis = new Redis(testRedis.url);
  const calls: string[] = [];
  const replies: unknown[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string; args: unknown[]; promise: Promise<unknown> }) => {
    // ioredis sends a script's first call on a connection as EVAL, later ones as EVALSHA.
    calls.push(command.name.toLowerCase() === 'eval' ? 'evalsha' : command.name.toLowerCase());
    command.promise.then((reply) => replies.push(reply), () => undefined);
    return send(command as never);
  }) as typeof redis.sendCommand;
  const delivered = new Map<string, object[]>();
  const connected = new Set(['a', 'b', 'c', 'd']);
  const server = {
    timeout: 10,
    hasConnection: (clientId: string) => connected.has(clientId),
    deliver(clientId: string, messages: object[]) {
      delivered.set(clientId, [...(delivered.get(clientId) ?? []), ...messages]);
      return true;
    },
    flushConnection: () => {},
    trigger: () => {},
    bind: () => {},
    unbind: () => {},
  };
  const engine = new RedisEngine(server, { redis, namespace: testRedis.namespace, logger: silentLogger });
  try {
    await engine.ready();
    const queue = (clientId: string) => `${testRedis.namespace}/clients/${clientId}/messages`;
    const message = (n: number) => JSON.stringify({ channel: '/room/user_list', data: { count: n } });
    for (const clientId of ['a', 'b', 'c', 'd']) await redis.rpush(queue(clientId), message(1), message(2));
    await redis.zadd(`${testRedis.namespace}/clients`, Date.now(), 'd');
    calls.length = 0;
    replies.length = 0;

    for (const clientId of ['a', 'b', 'c']) engine.emptyQueue(clientId);
    engine.emptyQueue('a'); // asked twice in the tick: taken once
    engine.emptyQueue('d');
    connected.delete('d'); // its connection closes before the queues come back
    engine.emptyQueue('nobody-here'); // not held by this process: not asked for

    await eventually(() => delivered.size === 3, 5000, 'three deliveries');
    await eventually(async () => (await testRedis.redis.llen(queue('d'))) === 2, 5000, 'd\'s messages put back');
    // One call to take the four queues, one to put d's messages back.
    assert.deepEqual(calls, ['evalsha', 'evalsha'], calls.join(' '));
    // The two messages came once for the four queues (a, b, c, d: a asked for once).
    assert.deepEqual(replies[0], [[message(1), message(2)], [[1, 2], [1, 2], [1, 2], [1, 2]]]);
    calls.length = 0;
    assert.notEqual(delivered.get('a')![0], delivered.get('b')![0], 'each client its own objects (an outgoing extension may change one)');
    for (const clientId of ['a', 'b', 'c']) {
      assert.deepEqual(delivered.get(clientId), [{ channel: '/room/user_list', data: { count: 1 } }, { channel: '/room/user_list', data: { count: 2 } }], clientId);
      assert.equal(await testRedis.redis.exists(queue(clientId)), 0, `${clientId}'s queue is empty`);
    }
    assert.deepEqual(await testRedis.redis.lrange(queue('d'), 0, -1), [message(1), message(2)]);
  } finally {
    await engine.disconnect();
    redis.disconnect();
    await testRedis.cleanup();
  }
});
