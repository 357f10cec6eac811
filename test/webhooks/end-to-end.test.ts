// needs: mysql, redis
// From a page to the webhook receiver: real Faye clients join and leave a room
// on a server with only `webhooks` set (it turns the recording of events on);
// the receiver gets each change the events table holds, signed, once per
// idempotency key, in the room's order. On both backends.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, BACKENDS, eventually, onlineClient, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { eventRows } from '../events/scenarios';
import { SECRET } from './helpers';

for (const backend of BACKENDS) {
  describe(`webhooks of a live server (${backend})`, () => {
    let receiver: WebhookReceiver;
    let server: PresenceServer;
    before(async () => {
      receiver = await startWebhookReceiver({ secret: SECRET, now: () => Date.now() });
      server = await startPresenceServer(backend, { timeout: 1, gc: 1, webhooks: { url: receiver.url, secret: SECRET, pollMs: 50 } });
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    test('every join, leave, session and occupancy change of a room reaches the receiver, signed and in order', async () => {
      const room = `/hooks/room${process.pid}${backend === 'sqlite+memory' ? 'a' : 'b'}`;
      const lesson = `/hooks/lesson${process.pid}${backend === 'sqlite+memory' ? 'a' : 'b'}`;
      const first = onlineClient(server.url, auth(470801, 'user470801', room, lesson));
      await first.connected();
      const second = onlineClient(server.url, auth(470802, 'user470802', room, lesson));
      await second.connected();
      await server.handle.settled();
      await second.disconnect();
      await server.handle.settled();
      await first.disconnect();
      await server.handle.settled();

      const rows = await eventually(async () => {
        const found = await eventRows(server, room);
        return found.length >= 6 ? found : null;
      });
      const sessions = await eventually(async () => {
        const found = await eventRows(server, lesson);
        return found.filter((r) => r.kind.startsWith('session_')).length >= 4 ? found : null;
      });
      const expected = [...rows, ...sessions].map((r) => r.event_key).sort();
      await eventually(() => expected.every((key) => receiver.acknowledged().some((e) => e.idempotency_key === key)), 15_000, 'every row delivered');

      const delivered = receiver.acknowledged().filter((e) => e.channel === room);
      assert.deepEqual(delivered.map((e) => `${e.kind}${e.uid === null ? '' : ` ${e.uid}`}`),
        ['join 470801', 'occupied', 'join 470802', 'leave 470802', 'leave 470801', 'vacated']);
      assert.deepEqual(delivered.map((e) => e.idempotency_key), rows.map((r) => r.event_key), 'in the order of the table, keyed by its rows');
      assert.ok(receiver.requests.length > 0 && receiver.requests.every((r) => r.verified.ok), 'every request verifies');
      const keys = receiver.acknowledged().map((e) => e.idempotency_key);
      assert.equal(new Set(keys).size, keys.length, 'each event acknowledged once');
    });
  });
}
