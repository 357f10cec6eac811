// Hostile traffic: a WebSocket client that does not read what it is sent. The
// server must not keep answering it into its own memory: a client flooding
// frames is held back by TCP until it reads again, and a client subscribed to
// a busy channel is cut off once maxUnsentBytes wait for it. The client
// here speaks the WebSocket protocol by hand over a TCP socket, so that it can
// stop reading, as no WebSocket library lets a caller do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BayeuxMessage } from 'faye';
import { isFayeOnlineError } from '../../lib/errors';
import { DEFAULTS, MIN_UNSENT_BYTES, resolveOptions } from '../../lib/options';
import { BACKENDS, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { clientFrame, handWebSocket } from '../support/hand-websocket';
import { eventually, sleep } from '../support/wait';
import { loudLines, recordingLogger } from './support';

test('maxUnsentBytes: 4 MiB by default, a whole number of bytes of at least 256 KiB, else an error naming it', () => {
  assert.equal(resolveOptions({}).maxUnsentBytes, 4 * 1024 * 1024);
  assert.equal(resolveOptions({ maxUnsentBytes: MIN_UNSENT_BYTES }).maxUnsentBytes, 256 * 1024);
  for (const [value, pattern] of [[1000, /`maxUnsentBytes`: must be at least 262144 bytes/], [1.5e6 + 0.5, /must be a positive integer/], ['4MB', /must be a positive integer/]] as const) {
    assert.throws(() => resolveOptions({ maxUnsentBytes: value as number }), (e) => isFayeOnlineError(e, 'INVALID_OPTION') && pattern.test(e.message), String(value));
  }
});

const handshake = (id: string) => ({ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], id });

describe('a WebSocket client that floods frames and does not read the answers', () => {
  let server: PresenceServer;
  let handled = 0;
  before(async () => {
    server = await startPresenceServer('sqlite+memory');
    server.handle.adapter.addExtension({
      incoming(message: BayeuxMessage, callback: (message: BayeuxMessage) => void) {
        if (message.channel === '/meta/handshake') handled += 1;
        callback(message);
      },
    });
  });
  after(() => server.close());

  test('is held back: the server stops reading it, and answers every frame in order once it reads again', async () => {
    const client = await handWebSocket(server.url);
    try {
      client.reading(false);
      // Frames of about 100 bytes, in writes of 60 KB (600 frames each), until
      // the client's own socket stops taking them: the server no longer reads.
      let sent = 0;
      for (let write = 0; write < 400 && client.socket.writableLength < 1024 * 1024; write++) {
        const batch = Array.from({ length: 600 }, () => clientFrame(JSON.stringify([handshake(`f${sent++}`)])));
        client.socket.write(Buffer.concat(batch));
        await sleep(10);
      }
      assert.ok(client.socket.writableLength >= 1024 * 1024, `the server kept reading: the client wrote ${sent} frames without being held back`);
      // The server answers what it has read until the system's socket buffers
      // hold all the answers they can take, then stops: held back, not cut off.
      await eventually(async () => {
        const seen = handled;
        await sleep(500);
        return handled === seen;
      }, 60_000, 'the answers to stop');
      assert.ok(handled < sent, `the server answered all ${sent} frames of a client that does not read`);

      client.reading(true);
      await eventually(() => client.replies.length === sent, 60_000, `all ${sent} answers`);
      assert.deepEqual(client.replies.map((reply) => reply.id), Array.from({ length: sent }, (_, i) => `f${i}`));
      assert.ok(client.replies.every((reply) => reply.successful === true));
    } finally {
      client.socket.destroy();
    }
  });
});

// At the default limit on both backends, and at a limit set by the option.
const cases = [...BACKENDS.map((backend) => ({ backend, limit: undefined as number | undefined })), { backend: BACKENDS[0], limit: 1024 * 1024 }];
for (const { backend, limit } of cases) {
  const MAX_UNSENT_BYTES = limit ?? DEFAULTS.maxUnsentBytes;
  describe(`a WebSocket client subscribed to a busy channel that does not read (${backend}, maxUnsentBytes ${limit ?? 'default'})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    before(async () => {
      server = await startPresenceServer(backend, { logger: log.logger, ...(limit ? { maxUnsentBytes: limit } : {}) });
    });
    after(() => server.close());

    test(`is closed once ${MAX_UNSENT_BYTES} bytes wait for it, with one log line, and other subscribers still receive`, async () => {
      const slow = await handWebSocket(server.url);
      const sockets = [slow.socket];
      const stop: Array<() => void> = [];
      try {
      slow.send([handshake('h')]);
      const clientId = (await eventually(() => slow.replies.find((reply) => reply.id === 'h'))).clientId!;
      slow.send([{ channel: '/meta/subscribe', clientId, subscription: '/rooms/busy/chat', id: 's' }]);
      await eventually(() => slow.replies.find((reply) => reply.id === 's'));
      // Faye holds a connect open until the timeout or a delivery: its answer is not waited for.
      slow.send([{ channel: '/meta/connect', clientId, connectionType: 'websocket', id: 'c' }]);
      slow.reading(false);

      const reader = await handWebSocket(server.url);
      sockets.push(reader.socket);
      reader.send([handshake('h2')]);
      const readerId = (await eventually(() => reader.replies.find((reply) => reply.id === 'h2'))).clientId!;
      reader.send([{ channel: '/meta/subscribe', clientId: readerId, subscription: '/rooms/busy/chat', id: 's2' }]);
      await eventually(() => reader.replies.find((reply) => reply.id === 's2'));
      // Faye holds a connect open until the timeout or a delivery: its answer is not waited for.
      reader.send([{ channel: '/meta/connect', clientId: readerId, connectionType: 'websocket', id: 'c2' }]);

      // 32 KB messages until the slow client is cut off (its log line); far more than the limit may be published:
      // the system's socket buffers take a few MB before anything waits in the server.
      const from = log.lines.length;
      const publisher = server.handle.adapter.getClient();
      stop.push(() => publisher.disconnect());
      const text = 'x'.repeat(32 * 1024);
      let published = 0;
      while (loudLines(log.lines, from).length === 0 && published < (4 * Math.max(MAX_UNSENT_BYTES, DEFAULTS.maxUnsentBytes)) / text.length) {
        await publisher.publish('/rooms/busy/chat', { text, n: published++ });
        if (published % 8 === 0) await sleep(5);
      }
      // A socket that is not read does not notice it was closed: it reads again, what was sent, then the end.
      slow.reading(true);
      await slow.closed;
      assert.ok(slow.replies.length < published, 'the slow client was closed before it received everything');
      const lines = loudLines(log.lines, from);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0].message, 'closed a WebSocket whose client does not take what it is sent');
      assert.equal(lines[0].fields.limit, MAX_UNSENT_BYTES);
      assert.ok((lines[0].fields.unsentBytes as number) > MAX_UNSENT_BYTES);

      // The reader received every message published, in order.
      await eventually(() => reader.replies.filter((reply) => reply.channel === '/rooms/busy/chat').length === published, 30_000, 'the reader\'s deliveries');
      const received = reader.replies.filter((reply) => reply.channel === '/rooms/busy/chat').map((reply) => (reply.data as { n: number }).n);
      assert.deepEqual(received, Array.from({ length: published }, (_, i) => i));
      } finally {
        for (const socket of sockets) socket.destroy();
        for (const step of stop) step();
      }
    });
  });
}
