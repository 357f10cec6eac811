// needs: mysql
// The `webhooks` option of attachFayeOnline: the server sends what the events
// table holds, shows it in its metrics, releases the lease when it closes, and
// requires the webhook tables at startup only while the option is set.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { describe, it } from 'node:test';
import express from 'express';
import { attachFayeOnline, type FayeOnlineOptions } from '../../lib';
import { silentLogger } from '../../lib/log';
import { migrate } from '../../lib/schema';
import { WebhookState } from '../../lib/webhooks';
import { createMariadbBackend, createSqliteBackend, type TestBackend } from '../support/databases';
import { eventually } from '../support/wait';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { insertEvents, roomEvents, SECRET } from './helpers';

async function attach(backend: TestBackend, options: FayeOnlineOptions) {
  const app = express();
  const server = http.createServer(app);
  const sequelize = backend.open();
  const handle = attachFayeOnline(app, server, { logger: silentLogger, database: sequelize, reconcileInterval: 0, ...options });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    handle,
    async close() {
      await handle.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('the webhooks option of attachFayeOnline', () => {
  it('sends the events table\'s rows of the chosen kinds, counts them in the metrics, and releases the lease on close', async () => {
    const backend = await createSqliteBackend();
    const receiver = await startWebhookReceiver({ secret: SECRET, now: () => Date.now() });
    try {
      const server = await attach(backend, { metrics: true, webhooks: { url: receiver.url, secret: SECRET, events: ['join', 'occupied'], pollMs: 50 } });
      await server.handle.ready;
      const state = new WebhookState(backend.open());
      await eventually(async () => (await state.read())?.holder, 10_000, 'the server took the lease');
      const ids = await insertEvents(backend, [...roomEvents(6, 2, Date.now()), { kind: 'occupied', channel: '/rooms/0', occurredMs: Date.now() }]);
      const joins = ids.filter((_, i) => i === 6 || Math.floor(i / 2) % 2 === 0);
      await eventually(() => receiver.acknowledged().length === joins.length, 10_000, 'the joins and the occupied event delivered');
      assert.deepEqual(receiver.acknowledged().map((e) => e.id), joins);
      assert.ok(receiver.requests.every((r) => r.verified.ok));
      // The receiver records an event before its answer reaches the sender, which counts it then.
      const delivered = new RegExp(`faye_online_webhook_events_delivered_total ${joins.length}\\n`);
      await eventually(async () => delivered.test(await server.handle.metricsRegistry!.metrics()), 10_000, 'the sender counted the deliveries');
      assert.match(await server.handle.metricsRegistry!.metrics(), /faye_online_webhook_lease_held 1\n/);
      await server.close();
      assert.equal((await state.read())!.holder, null, 'released: another process takes over at once');
    } finally {
      await receiver.close();
      await backend.cleanup();
    }
  });

  it('requires the webhook tables at startup only while the option is set', async () => {
    const backend = await createMariadbBackend('wha');
    try {
      const sequelize = backend.open();
      await migrate(sequelize, 'up');
      await migrate(sequelize, 'down'); // the newest: the webhook tables
      const refused = await attach(backend, { webhooks: { url: 'http://127.0.0.1:9/hooks', secret: SECRET } });
      await assert.rejects(refused.handle.ready, (error: Error & { code?: string }) => error.code === 'SCHEMA_NOT_MIGRATED' && /20261130100000/.test(error.message) && /migrate up/.test(error.message));
      await refused.close();
      const without = await attach(backend, {});
      await without.handle.ready;
      await without.close();
    } finally {
      await backend.cleanup();
    }
  });
});
