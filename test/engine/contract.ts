// The scenarios every Faye engine must pass, after Faye's own engine
// specification, written for node:test. Each engine under test supplies the
// `engine` options for Faye's engine proxy; the scenarios drive the proxy exactly
// as Faye's server does (createClient, connect, subscribe, publish, ...).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { eventuallyPasses, sleep } from '../support/wait';

// Faye's engine proxy is internal to the faye package; the scenarios need it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const FayeEngineProxy = require('faye/src/engines/proxy') as new (options: Record<string, unknown>) => TestProxy;

export interface TestProxy {
  timeout: number;
  _engine: { ready?(): Promise<void>; disconnect?(): unknown };
  createClient(callback: (clientId: string) => void): void;
  clientExists(clientId: string, callback: (exists: boolean) => void): void;
  destroyClient(clientId: string, callback?: () => void): void;
  ping(clientId: string): void;
  subscribe(clientId: string, channel: string, callback?: () => void): void;
  unsubscribe(clientId: string, channel: string, callback?: () => void): void;
  connect(clientId: string, options: object, callback: (messages: Message[]) => void): void;
  publish(message: Message): void;
  bind(event: string, listener: (...args: unknown[]) => void): void;
  close(): void;
}

export interface Message {
  channel: string;
  data?: unknown;
  clientId?: string;
  id?: string;
  [key: string]: unknown;
}

export interface EngineUnderTest {
  /** Options merged into Faye's engine options (e.g. `{ type: RedisEngine, redis, namespace }`); `{}` = memory. */
  setup(): Promise<{ engineOptions: Record<string, unknown>; teardown(): Promise<void> }>;
  /** Several proxies over the same engine options share state (a cluster). */
  distributed: boolean;
}

/** How long a message that should not arrive is given to arrive anyway. */
const QUIET_MS = 150;

/** Named clients over one or more proxies, with what each received. */
class World {
  readonly clients = new Map<string, string>();
  readonly inboxes = new Map<string, Message[]>();
  private readonly proxies: TestProxy[] = [];

  constructor(private readonly engineOptions: Record<string, unknown>) {}

  async proxy(options: Record<string, unknown> = {}): Promise<TestProxy> {
    // Faye's server passes its own timeout inside the engine options.
    const proxy = new FayeEngineProxy({ timeout: 1, ...this.engineOptions, ...options });
    this.proxies.push(proxy);
    await proxy._engine.ready?.();
    return proxy;
  }

  id(name: string): string {
    const clientId = this.clients.get(name);
    assert.ok(clientId, `no client named ${name}`);
    return clientId;
  }

  async createClient(proxy: TestProxy, name: string): Promise<string> {
    const clientId = await new Promise<string>((resolve) => proxy.createClient(resolve));
    this.clients.set(name, clientId);
    this.inboxes.set(name, this.inboxes.get(name) ?? []);
    return clientId;
  }

  /** Opens a held /meta/connect for the client; what it returns lands in its inbox. */
  connect(proxy: TestProxy, name: string): void {
    proxy.connect(this.id(name), {}, (messages) => {
      for (const message of messages) {
        delete message.id;
        this.inboxes.get(name)!.push(message);
      }
    });
  }

  exists(proxy: TestProxy, name: string): Promise<boolean> {
    return new Promise((resolve) => proxy.clientExists(this.clients.get(name) ?? name, resolve));
  }

  async subscribe(proxy: TestProxy, name: string, channel: string): Promise<void> {
    await new Promise<void>((resolve) => proxy.subscribe(this.id(name), channel, () => resolve()));
  }

  async unsubscribe(proxy: TestProxy, name: string, channel: string): Promise<void> {
    await new Promise<void>((resolve) => proxy.unsubscribe(this.id(name), channel, () => resolve()));
  }

  async destroy(proxy: TestProxy, name: string): Promise<void> {
    await new Promise<void>((resolve) => proxy.destroyClient(this.id(name), resolve));
  }

  publish(proxy: TestProxy, message: Message, by?: string): void {
    proxy.publish({ ...structuredClone(message), id: Math.random().toString(36).slice(2), ...(by ? { clientId: this.id(by) } : {}) });
  }

  async expectMessages(name: string, expected: Message[]): Promise<void> {
    await eventuallyPasses(() => assert.deepEqual(this.inboxes.get(name), expected));
    await sleep(QUIET_MS);
    assert.deepEqual(this.inboxes.get(name), expected, `${name} received more than expected`);
  }

  async expectNoMessage(...names: string[]): Promise<void> {
    await sleep(QUIET_MS);
    for (const name of names) assert.deepEqual(this.inboxes.get(name), [], `${name} should have received nothing`);
  }

  /** Records the arguments of every `event` the proxy emits. */
  record(proxy: TestProxy, event: string): unknown[][] {
    const calls: unknown[][] = [];
    proxy.bind(event, (...args) => calls.push(args));
    return calls;
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies) {
      proxy.close();
      await proxy._engine.disconnect?.();
    }
  }
}

export function engineContract(engine: EngineUnderTest): void {
  let world: World;
  let engineProxy: TestProxy;
  let teardown: () => Promise<void>;

  async function start(options: Record<string, unknown> = {}): Promise<void> {
    const setup = await engine.setup();
    teardown = setup.teardown;
    world = new World(setup.engineOptions);
    engineProxy = await world.proxy(options);
    for (const name of ['alice', 'bob', 'carol']) await world.createClient(engineProxy, name);
  }

  async function stop(): Promise<void> {
    await world.close();
    await teardown();
  }

  describe('a Faye engine', () => {
    describe('with a timeout of 1 s', () => {
      beforeEach(() => start());
      afterEach(() => stop());

      describe('createClient', () => {
        it('returns a client id of lowercase letters and digits', async () => {
          assert.match(await world.createClient(engineProxy, 'dave'), /^[a-z0-9]+$/);
        });

        it('returns a different id every time', async () => {
          for (let i = 1; i <= 7; i++) await world.createClient(engineProxy, `client${i}`);
          assert.equal(new Set(world.clients.values()).size, 10);
        });

        it('publishes a handshake event with the new id', async () => {
          const calls = world.record(engineProxy, 'handshake');
          const clientId = await world.createClient(engineProxy, 'dave');
          assert.deepEqual(calls, [[clientId]]);
        });
      });

      describe('clientExists', () => {
        it('is true for a created client', async () => {
          assert.equal(await world.exists(engineProxy, 'alice'), true);
        });

        it('is false for an id nobody created', async () => {
          assert.equal(await world.exists(engineProxy, 'anything'), false);
        });
      });

      describe('destroyClient', () => {
        it('removes the client', async () => {
          await world.destroy(engineProxy, 'alice');
          assert.equal(await world.exists(engineProxy, 'alice'), false);
        });

        it('publishes a disconnect event with the clientId and nothing else', async () => {
          // Faye's listeners (and its own engine specification) expect exactly `disconnect(clientId)`.
          const calls = world.record(engineProxy, 'disconnect');
          await world.destroy(engineProxy, 'alice');
          await eventuallyPasses(() => assert.deepEqual(calls, [[world.id('alice')]]));
        });

        it('leaves the other clients alone', async () => {
          await world.destroy(engineProxy, 'alice');
          assert.equal(await world.exists(engineProxy, 'bob'), true);
        });

        describe('when the client has subscriptions', () => {
          const message = { channel: '/messages/foo', data: 'ok' };
          beforeEach(() => world.subscribe(engineProxy, 'alice', '/messages/foo'));

          it('stops the client receiving messages', async () => {
            world.connect(engineProxy, 'alice');
            await world.destroy(engineProxy, 'alice');
            world.publish(engineProxy, message);
            await world.expectNoMessage('alice');
          });

          it('publishes an unsubscribe event per subscription, then a disconnect event', async () => {
            const events: unknown[][] = [];
            engineProxy.bind('unsubscribe', (...args) => events.push(['unsubscribe', ...args]));
            engineProxy.bind('disconnect', (...args) => events.push(['disconnect', ...args]));
            await world.destroy(engineProxy, 'alice');
            await eventuallyPasses(() => assert.deepEqual(events, [
              ['unsubscribe', world.id('alice'), '/messages/foo'],
              ['disconnect', world.id('alice')],
            ]));
          });
        });
      });

      describe('subscribe', () => {
        it('publishes a subscribe event', async () => {
          const calls = world.record(engineProxy, 'subscribe');
          await world.subscribe(engineProxy, 'alice', '/messages/foo');
          await eventuallyPasses(() => assert.deepEqual(calls, [[world.id('alice'), '/messages/foo']]));
        });

        it('publishes no event when the client is already subscribed', async () => {
          await world.subscribe(engineProxy, 'alice', '/messages/foo');
          const calls = world.record(engineProxy, 'subscribe');
          await world.subscribe(engineProxy, 'alice', '/messages/foo');
          await sleep(QUIET_MS);
          assert.deepEqual(calls, []);
        });
      });

      describe('unsubscribe', () => {
        beforeEach(() => world.subscribe(engineProxy, 'alice', '/messages/bar'));

        it('publishes no event for a channel the client is not subscribed to', async () => {
          const calls = world.record(engineProxy, 'unsubscribe');
          await world.unsubscribe(engineProxy, 'alice', '/messages/foo');
          await sleep(QUIET_MS);
          assert.deepEqual(calls, []);
        });

        it('publishes an unsubscribe event for a subscribed channel', async () => {
          await world.subscribe(engineProxy, 'alice', '/messages/foo');
          const calls = world.record(engineProxy, 'unsubscribe');
          await world.unsubscribe(engineProxy, 'alice', '/messages/foo');
          await eventuallyPasses(() => assert.deepEqual(calls, [[world.id('alice'), '/messages/foo']]));
        });
      });

      describe('publish', () => {
        const message = { channel: '/messages/foo', data: 'ok' };
        beforeEach(() => {
          for (const name of ['alice', 'bob', 'carol']) world.connect(engineProxy, name);
        });

        describe('with no subscriptions', () => {
          it('delivers no messages', async () => {
            world.publish(engineProxy, message);
            await world.expectNoMessage('alice', 'bob', 'carol');
          });

          it('publishes a publish event with the publisher', async () => {
            const calls = world.record(engineProxy, 'publish');
            world.publish(engineProxy, message, 'bob');
            assert.deepEqual(calls, [[world.id('bob'), '/messages/foo', 'ok']]);
          });

          it('publishes a publish event without a publisher', async () => {
            const calls = world.record(engineProxy, 'publish');
            world.publish(engineProxy, message);
            assert.deepEqual(calls, [[undefined, '/messages/foo', 'ok']]);
          });
        });

        describe('with a subscriber', () => {
          beforeEach(() => world.subscribe(engineProxy, 'alice', '/messages/foo'));

          it('delivers the message to the subscribed client', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
          });

          it('delivers multibyte text intact', async () => {
            const multibyte = { channel: '/messages/foo', data: 'Apple = \uf8ff, 北京 ☃ 😀' };
            world.publish(engineProxy, multibyte);
            await world.expectMessages('alice', [multibyte]);
          });

          it('delivers structured data intact', async () => {
            const structured = { channel: '/messages/foo', data: { count: 2, user_list: [470700, 1], nested: { ok: true, none: null } } };
            world.publish(engineProxy, structured);
            await world.expectMessages('alice', [structured]);
          });

          it('delivers nothing to the other clients', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
            await world.expectNoMessage('bob', 'carol');
          });
        });

        describe('with a subscriber that is removed', () => {
          beforeEach(async () => {
            await world.subscribe(engineProxy, 'alice', '/messages/foo');
            await world.unsubscribe(engineProxy, 'alice', '/messages/foo');
          });

          it('delivers no messages', async () => {
            world.publish(engineProxy, message);
            await world.expectNoMessage('alice', 'bob', 'carol');
          });
        });

        describe('with multiple subscribers', () => {
          beforeEach(async () => {
            await world.subscribe(engineProxy, 'alice', '/messages/foo');
            await world.subscribe(engineProxy, 'bob', '/messages/bar');
            await world.subscribe(engineProxy, 'carol', '/messages/foo');
          });

          it('delivers the message to each subscribed client', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
            await world.expectMessages('carol', [message]);
            await world.expectNoMessage('bob');
          });
        });

        describe('with a single-segment wildcard', () => {
          beforeEach(async () => {
            await world.subscribe(engineProxy, 'alice', '/messages/*');
            await world.subscribe(engineProxy, 'bob', '/messages/bar');
            await world.subscribe(engineProxy, 'carol', '/*');
          });

          it('delivers to /messages/* but not to /* or a sibling channel', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
            await world.expectNoMessage('bob', 'carol');
          });
        });

        describe('with a multi-segment wildcard', () => {
          beforeEach(async () => {
            await world.subscribe(engineProxy, 'alice', '/messages/**');
            await world.subscribe(engineProxy, 'bob', '/messages/bar');
            await world.subscribe(engineProxy, 'carol', '/**');
          });

          it('delivers to /messages/** and /** but not to a sibling channel', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
            await world.expectMessages('carol', [message]);
            await world.expectNoMessage('bob');
          });

          it('delivers a copy of its own to each client', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
            await world.expectMessages('carol', [message]);
            assert.notEqual(world.inboxes.get('alice')![0], world.inboxes.get('carol')![0]);
          });

          it('reaches deeper channels too', async () => {
            const deep = { channel: '/messages/foo/bar', data: 'deep' };
            world.publish(engineProxy, deep);
            await world.expectMessages('alice', [deep]);
            await world.expectMessages('carol', [deep]);
          });
        });

        describe('with several matching subscriptions of one client', () => {
          beforeEach(async () => {
            await world.subscribe(engineProxy, 'alice', '/messages/*');
            await world.subscribe(engineProxy, 'alice', '/messages/foo');
          });

          it('delivers each message once', async () => {
            world.publish(engineProxy, message);
            await world.expectMessages('alice', [message]);
          });

          it('delivers the message as many times as it is published, in order', async () => {
            const second = { channel: '/messages/foo', data: 'second' };
            world.publish(engineProxy, message);
            world.publish(engineProxy, second);
            await world.expectMessages('alice', [message, second]);
          });
        });
      });

      describe('while a client has no open connection', () => {
        const message = { channel: '/messages/foo', data: 'queued' };
        beforeEach(() => world.subscribe(engineProxy, 'alice', '/messages/foo'));

        it('queues its messages and delivers them, in order, when it connects', async () => {
          const later = { channel: '/messages/foo', data: 'later' };
          world.publish(engineProxy, message);
          world.publish(engineProxy, later);
          await world.expectNoMessage('alice');
          world.connect(engineProxy, 'alice');
          await world.expectMessages('alice', [message, later]);
        });

        it('drops the queue when the client is destroyed', async () => {
          world.publish(engineProxy, message);
          await sleep(QUIET_MS);
          await world.destroy(engineProxy, 'alice');
          world.connect(engineProxy, 'alice');
          await world.expectNoMessage('alice');
        });
      });
    });

    describe('with a timeout of 0.5 s', () => {
      beforeEach(() => start({ timeout: 0.5, gc: 0.1 }));
      afterEach(() => stop());

      it('forgets a client that does not ping', async () => {
        await sleep(1200);
        assert.equal(await world.exists(engineProxy, 'alice'), false);
      });

      it('keeps a client alive while it pings', async () => {
        await sleep(600);
        engineProxy.ping(world.id('alice'));
        await sleep(600);
        assert.equal(await world.exists(engineProxy, 'alice'), true, 'alive 600 ms after its ping');
        assert.equal(await world.exists(engineProxy, 'bob'), false, 'bob, who never pinged, is gone');
        await sleep(650);
        assert.equal(await world.exists(engineProxy, 'alice'), false, 'gone 1250 ms after its ping');
      });
    });

    if (engine.distributed) {
      describe('over two servers, with a timeout of 0.3 s', () => {
        let left: TestProxy;
        let right: TestProxy;
        beforeEach(async () => {
          await start({ timeout: 0.3, gc: 0.08 });
          left = engineProxy;
          right = await world.proxy({ timeout: 0.3, gc: 0.08 });
        });
        afterEach(() => stop());

        it('tells every server, once, when GC removes a client', async () => {
          // Whichever server's sweep removes the client, the others may hold
          // its connection and must close it: each hears `close` exactly once.
          const closedOnLeft = world.record(left, 'close');
          const closedOnRight = world.record(right, 'close');
          world.connect(left, 'alice');
          const alice = world.id('alice');
          const closesOf = (calls: unknown[][]) => calls.filter(([clientId]) => clientId === alice).length;
          await eventuallyPasses(() => {
            assert.equal(closesOf(closedOnLeft), 1, 'close on the server holding the client');
            assert.equal(closesOf(closedOnRight), 1, 'close on the other server');
          }, 3000);
          await sleep(QUIET_MS);
          assert.deepEqual([closesOf(closedOnLeft), closesOf(closedOnRight)], [1, 1]);
          assert.equal(await world.exists(right, 'alice'), false);
        });
      });

      describe('over two servers', () => {
        let left: TestProxy;
        let right: TestProxy;
        beforeEach(async () => {
          await start();
          left = engineProxy;
          right = await world.proxy();
        });
        afterEach(() => stop());

        it('sees clients created by the other server', async () => {
          assert.equal(await world.exists(right, 'alice'), true);
        });

        it('delivers each message once, wherever the client connects', async () => {
          const first = { channel: '/foo', data: 'first' };
          const second = { channel: '/foo', data: 'second' };
          world.connect(left, 'alice');
          await world.subscribe(left, 'alice', '/foo');
          world.publish(left, first);
          await world.expectMessages('alice', [first]);
          world.publish(left, second);
          await sleep(QUIET_MS);
          world.connect(right, 'alice');
          await world.expectMessages('alice', [first, second]);
        });

        it('delivers a message published just before the client moves to the other server, once', async () => {
          // The client's next /meta/connect lands on the other server while the
          // publish may still be on its way: whichever comes first, the message
          // arrives exactly once and nothing delivered before comes again.
          const first = { channel: '/foo', data: 'first' };
          const second = { channel: '/foo', data: 'second' };
          world.connect(left, 'alice');
          await world.subscribe(left, 'alice', '/foo');
          world.publish(left, first);
          await world.expectMessages('alice', [first]);
          world.publish(left, second);
          world.connect(right, 'alice');
          await world.expectMessages('alice', [first, second]);
        });

        it('delivers a message published on one server to a client held by the other', async () => {
          const message = { channel: '/foo', data: 'across' };
          world.connect(right, 'bob');
          await world.subscribe(left, 'bob', '/foo');
          world.publish(left, message);
          await world.expectMessages('bob', [message]);
        });

        it('reports a destroyed client once, on the server that destroyed it', async () => {
          const onLeft = world.record(left, 'disconnect');
          const onRight = world.record(right, 'disconnect');
          await Promise.all([world.destroy(left, 'alice'), world.destroy(right, 'alice')]);
          await sleep(QUIET_MS);
          assert.equal(onLeft.length + onRight.length, 1);
        });
      });
    }
  });
}
