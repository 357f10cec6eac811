// A page that publishes many messages at once over a WebSocket: Faye's
// WebSocket transport sends each message in a frame of its own, so a burst
// of publishes arrives as a burst of frames in one socket read. The server
// answers a connection's frames one at a time and stops reading its socket
// while they wait; it must not take such a page for a flood (closing the
// connection at 64 waiting frames lost all but 3 of 200 publishes).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import { BACKENDS, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { eventually } from '../support/wait';
import { loudLines, recordingLogger } from './support';

for (const backend of BACKENDS) {
  describe(`a real Faye client publishing a burst over a WebSocket (${backend})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    before(async () => {
      server = await startPresenceServer(backend, { logger: log.logger });
    });
    after(() => server.close());

    test('2,000 publishes in one loop all arrive in order, and the connection is not closed', async () => {
      const publisher = new faye.Client(server.url);
      const receiver = new faye.Client(server.url);
      try {
        const received: number[] = [];
        await receiver.subscribe('/burst/chat', (data: { n: number }) => { received.push(data.n); });
        await publisher.publish('/burst/chat', { n: -1 });
        await eventually(async () => received.includes(-1));
        const from = log.lines.length;
        let acknowledged = 0;
        for (let n = 0; n < 2000; n++) void Promise.resolve(publisher.publish('/burst/chat', { n })).then(() => (acknowledged += 1));
        await eventually(async () => received.length === 2001 && acknowledged === 2000, 30_000);
        assert.deepEqual(received.slice(1), Array.from({ length: 2000 }, (_, n) => n));
        assert.deepEqual(loudLines(log.lines, from).map((line) => line.message), []);
      } finally {
        await Promise.all([publisher.disconnect(), receiver.disconnect()]);
      }
    });
  });
}
