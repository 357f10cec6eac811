// needs: redis
// The engine's options are checked once, with errors naming the option, and
// nothing that goes wrong later (Redis unreachable, a throwing listener) is
// thrown into Faye: it is logged and Faye gets an answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Redis from 'ioredis';
import { RedisEngine } from '../../lib/engine';
import { isFayeOnlineError } from '../../lib/errors';
import type { Logger } from '../../lib/log';
import { silentLogger } from '../../lib/log';
import { createTestRedis, type TestRedis } from '../support/redis';
import { eventuallyPasses } from '../support/wait';
import { EngineKeys } from '../../lib/stores/keys';

/** A stand-in for Faye's engine proxy: what the engine calls and what it emitted. */
function fakeServer(timeout = 2) {
  const events: unknown[][] = [];
  const listeners = new Map<string, ((...args: any[]) => void)[]>();
  return {
    events,
    timeout,
    hasConnection: () => false,
    deliver: () => false,
    flushConnection: () => {},
    trigger(event: string, ...args: unknown[]) {
      events.push([event, ...args]);
      for (const listener of listeners.get(event) ?? []) listener(...args);
    },
    bind(event: string, listener: (...args: any[]) => void) {
      listeners.set(event, [...(listeners.get(event) ?? []), listener]);
    },
    unbind() {},
  };
}

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { ...silentLogger, errors, error: (_fields: object, message: string) => errors.push(message) };
}

describe('RedisEngine options', () => {
  const invalidCases: [string, Record<string, unknown>][] = [
    ['namespace', { namespace: '' }],
    ['namespace', { namespace: 'has space' }],
    ['namespace', { namespace: 7 }],
    ['gc', { gc: 0 }],
    ['gc', { gc: 'often' }],
    ['database', { database: -1 }],
    ['redis', { redis: 42 }],
    ['redis', { redis: { keyPrefix: 'x:' } }],
  ];
  for (const [option, options] of invalidCases) {
    it(`rejects ${JSON.stringify(options)}, naming \`${option}\``, () => {
      assert.throws(() => RedisEngine.create(fakeServer(), { logger: silentLogger, ...options } as never), (error: unknown) => {
        return isFayeOnlineError(error, 'INVALID_OPTION') && error.message.includes(`\`${option}\``);
      });
    });
  }

  it('refuses to change the database of an ioredis instance it was given', () => {
    const given = new Redis('redis://127.0.0.1:6379/9', { lazyConnect: true });
    assert.throws(() => RedisEngine.create(fakeServer(), { redis: given, database: 3, logger: silentLogger }), /database/);
    given.disconnect();
  });
});

describe('RedisEngine against Redis', () => {
  let testRedis: TestRedis;
  before(async () => {
    testRedis = await createTestRedis();
  });
  after(() => testRedis.cleanup());

  it('writes its keys without the namespace\'s leading slash', async () => {
    const engine = RedisEngine.create(fakeServer(), { redis: testRedis.url, namespace: `/${testRedis.namespace}`, logger: silentLogger });
    const clientId = await new Promise<string>((resolve) => engine.createClient(resolve));
    assert.ok(await testRedis.redis.zscore(new EngineKeys(testRedis.namespace).clients, clientId));
    await engine.disconnect();
  });

  it('selects the database given beside a URL', async () => {
    const engine = RedisEngine.create(fakeServer(), { redis: 'redis://127.0.0.1:6379/0', database: 9, namespace: testRedis.namespace, logger: silentLogger });
    const clientId = await new Promise<string>((resolve) => engine.createClient(resolve));
    assert.ok(await testRedis.redis.zscore(new EngineKeys(testRedis.namespace).clients, clientId), 'written to db 9, where the test looks');
    await engine.disconnect();
  });

  it('keeps going when a Faye listener throws', async () => {
    const server = fakeServer();
    server.bind('disconnect', () => {
      throw new Error('listener bug');
    });
    const logger = recordingLogger();
    const engine = RedisEngine.create(server, { redis: testRedis.url, namespace: testRedis.namespace, logger });
    const clientId = await new Promise<string>((resolve) => engine.createClient(resolve));
    assert.equal(await engine.alive(clientId), true, 'reconciliation\'s check agrees with clientExists while Redis answers');
    await new Promise<void>((resolve) => engine.destroyClient(clientId, resolve));
    assert.equal(await engine.alive(clientId), false);
    assert.deepEqual(logger.errors, ['a Faye event listener threw']);
    await engine.disconnect();
  });
});

describe('RedisEngine when Redis cannot be reached', () => {
  it('answers Faye and logs instead of throwing', async () => {
    const logger = recordingLogger();
    const server = fakeServer();
    // Port 1 refuses connections; no retries, so every command fails at once.
    const engine = RedisEngine.create(server, {
      redis: { host: '127.0.0.1', port: 1, retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true },
      namespace: 'unreachable',
      logger,
    });
    const exists = await new Promise<boolean>((resolve) => engine.clientExists('someone', resolve));
    assert.equal(exists, false);
    // Reconciliation's check says it could not tell, rather than "gone": it must not depart a live client.
    await assert.rejects(engine.alive('someone'));
    await new Promise<void>((resolve) => engine.destroyClient('someone', resolve));
    engine.ping('someone');
    engine.publish({ channel: '/x', data: 1 }, ['/x', '/*', '/**']);
    assert.equal(await engine.gc(), 0);
    await eventuallyPasses(() => assert.ok(logger.errors.length >= 5, JSON.stringify(logger.errors)));
    await engine.disconnect();
  });
});
