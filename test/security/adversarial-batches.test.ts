// Hostile traffic, finding 1: one request or frame carrying thousands of
// messages. Faye's Server#process costs the square of a batch's length, so a
// batch past maxMessagesPerRequest is refused before any message is handled.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPresenceServer, type PresenceServer } from '../support/presence-server';
import { MAX_FRAMES_WAITING, PAUSE_FRAMES_WAITING } from '../../lib/edge/request-limit';
import { eventually } from '../support/wait';
import { handshakes, rawWebSocket } from './adversarial-support';
import { loudLines, postBayeux, recordingLogger } from './support';

describe('a batch past maxMessagesPerRequest', () => {
  let server: PresenceServer;
  const log = recordingLogger();
  before(async () => {
    server = await startPresenceServer('sqlite+memory', { logger: log.logger, maxMessagesPerRequest: 20 });
  });
  after(() => server.close());

  test('over HTTP is refused whole with one Bayeux error, and none of its messages is handled', async () => {
    const from = log.lines.length;
    const { status, replies } = await postBayeux(server, handshakes(21));
    assert.equal(status, 200);
    assert.deepEqual(replies, [{ channel: '/meta/batch', successful: false, error: '413::More than 20 messages in one request' }]);
    const lines = loudLines(log.lines, from);
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0].fields, { messages: 21, limit: 20, transport: 'http' });
  });

  test('over HTTP a batch at the limit is handled message by message', async () => {
    const { replies } = await postBayeux(server, handshakes(20));
    assert.equal(replies.length, 20);
    assert.ok(replies.every((reply) => reply.successful === true && typeof reply.clientId === 'string'));
  });

  test('over a WebSocket a batch at the limit is answered, one past it closes the connection', async () => {
    const socket = await rawWebSocket(server);
    socket.send(JSON.stringify(handshakes(20)));
    while (socket.replies.length < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(socket.replies.every((reply) => reply.successful === true));
    const from = log.lines.length;
    socket.send(JSON.stringify(handshakes(21)));
    await socket.closed;
    assert.equal(socket.replies.length, 20, 'nothing of the refused frame was answered');
    assert.deepEqual(loudLines(log.lines, from).map((line) => line.fields), [{ messages: 21, limit: 20, transport: 'websocket' }]);
  });

  test('frames sent back to back are answered in order, a few at a time', async () => {
    const socket = await rawWebSocket(server);
    for (let i = 0; i < 30; i++) socket.send(JSON.stringify([{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], id: `o${i}` }]));
    while (socket.replies.length < 30) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(socket.replies.map((reply) => reply.id), Array.from({ length: 30 }, (_, i) => `o${i}`));
    socket.close();
  });

  test('frames of one WebSocket reach Faye one at a time, so their answers never pile up in one turn', async () => {
    // A slow extension (as a database-backed rule would be) holds each frame; the next one waits for its answer.
    let inFaye = 0;
    let most = 0;
    server.handle.adapter.addExtension({
      incoming(message: { id?: unknown }, callback: (m: unknown) => void) {
        if (typeof message.id !== 'string' || !message.id.startsWith('one')) return callback(message);
        inFaye += 1;
        most = Math.max(most, inFaye);
        setTimeout(() => {
          inFaye -= 1;
          callback(message);
        }, 20);
      },
    } as never);
    const socket = await rawWebSocket(server);
    for (let i = 0; i < 8; i++) socket.send(JSON.stringify([{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], id: `one${i}` }]));
    while (socket.replies.length < 8) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(socket.replies.map((reply) => reply.id), Array.from({ length: 8 }, (_, i) => `one${i}`));
    assert.equal(most, 1);
    socket.close();
  });

  test(`a WebSocket with more than ${MAX_FRAMES_WAITING} frames waiting to be answered is closed, and the frames after are not even parsed`, async () => {
    const socket = await rawWebSocket(server);
    const from = log.lines.length;
    // Counts the frames Faye parses once the connection is being closed: the
    // driver hands over every frame of a socket read in one go, and decoding
    // the rest of that read only to drop it held the event loop.
    const adapter = server.handle.adapter as unknown as { _parseJSON(text: string): unknown };
    const parse = adapter._parseJSON;
    let parsedAfterClose = 0;
    adapter._parseJSON = function (this: unknown, text: string) {
      if (loudLines(log.lines, from).length > 0) parsedAfterClose += 1;
      return parse.call(this, text);
    };
    try {
      // Tiny frames, so that more than the limit come in one socket read (64 KiB): while frames
      // wait the socket is not read, and only the rest of the read in progress can pile up.
      const frame = JSON.stringify([{ channel: '/f' }]);
      for (let i = 0; i < 3 * MAX_FRAMES_WAITING; i++) socket.send(frame);
      await socket.closed;
    } finally {
      adapter._parseJSON = parse;
    }
    assert.ok(socket.replies.length < 3 * MAX_FRAMES_WAITING, `${socket.replies.length} replies`);
    assert.deepEqual(loudLines(log.lines, from).map((line) => line.message), ['closed a WebSocket sending frames faster than they are answered']);
    assert.equal(parsedAfterClose, 0);
  });

  test(`a flood of larger frames is read only as fast as it is answered: ${PAUSE_FRAMES_WAITING} waiting stop the reads, and every frame is answered in order`, async () => {
    const socket = await rawWebSocket(server);
    const from = log.lines.length;
    const frames = 200;
    for (let i = 0; i < frames; i++) socket.send(JSON.stringify(handshakes(20).map((message, j) => ({ ...message, id: `h${i}.${j}` }))));
    await eventually(async () => socket.replies.length === frames * 20, 30_000);
    assert.deepEqual(socket.replies.map((reply) => reply.id), Array.from({ length: frames * 20 }, (_, n) => `h${Math.floor(n / 20)}.${n % 20}`));
    assert.ok(socket.replies.every((reply) => reply.successful === true));
    assert.deepEqual(loudLines(log.lines, from).map((line) => line.message), []);
    socket.close();
  });

  test('frames holding /meta/connect wait their turn too: one such frame reaches Faye per turn of the event loop', async () => {
    // Faye holds a connect open, so such a frame gives its slot back on the next turn instead of at
    // Faye's answer; let through without waiting, 200 frames of 50 connects held the loop for 282 ms.
    const { replies: [shaken] } = await postBayeux(server, handshakes(1));
    const clientId = String(shaken!.clientId);
    // Ahead of every other extension: it sees the messages in the order and the turn Faye takes them.
    let seen = 0;
    let inTurn = 0;
    let most = 0;
    let counting = false;
    const spy = {
      incoming(message: { id?: unknown }, callback: (m: unknown) => void) {
        if (typeof message.id === 'string' && message.id.startsWith('flood')) {
          seen += 1;
          inTurn += 1;
          most = Math.max(most, inTurn);
          if (!counting) {
            counting = true;
            setImmediate(() => {
              counting = false;
              inTurn = 0;
            });
          }
        }
        callback(message);
      },
    };
    const extensions = (server.handle.adapter as unknown as { _server: { _extensions: unknown[] } })._server._extensions;
    extensions.unshift(spy);
    try {
      const socket = await rawWebSocket(server);
      const auth = { room_channel: '/rooms/flood', time_channel: '/lessons/flood', current_user: { uid: 77, uname: 'flood' } };
      for (let i = 0; i < 100; i++) {
        socket.send(JSON.stringify(Array.from({ length: 20 }, (_, j) => ({ channel: '/meta/connect', clientId, connectionType: 'websocket', id: `flood${i}.${j}`, auth }))));
      }
      await eventually(async () => seen === 2000, 30_000);
      assert.equal(most, 20, 'the messages of one frame, and only those, in one turn');
      socket.close();
    } finally {
      extensions.splice(extensions.indexOf(spy), 1);
    }
  });

  test('a WebSocket frame larger than the body limit (2 x maxMessageBytes) closes the connection unread', async () => {
    const socket = await rawWebSocket(server);
    // One message of 200 KB: under the driver's own 64 MiB, over our 128 KiB.
    socket.send(JSON.stringify([{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], pad: 'x'.repeat(200_000) }]));
    await socket.closed;
    assert.equal(socket.replies.length, 0);
  });
});
