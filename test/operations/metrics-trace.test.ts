// Metrics scraped over HTTP after real traffic, and the per-message trace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import type { Logger } from '../../lib/log';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { sleep } from '../support/wait';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `no series ${series} in:\n${text}`);
  return Number(line.split(' ')[1]);
}

describe('metrics', () => {
  let server: PresenceServer;
  const register = new Registry();
  before(async () => {
    server = await startPresenceServer('sqlite+memory', { metrics: { path: '/internal/metrics', register } });
  });
  after(() => server.close());

  test('are off unless asked for', async () => {
    const plain = await startPresenceServer('sqlite+memory');
    try {
      assert.equal((await fetch(`http://127.0.0.1:${plain.port}/metrics`)).status, 404);
      assert.equal(plain.handle.metricsRegistry, undefined);
    } finally {
      await plain.close();
    }
  });

  test('count clients, users, joins, leaves and messages by channel type after real traffic', async () => {
    const ann1 = onlineClient(server.url, auth(1, 'ann', '/classes/4', '/courses/5/lessons/1'));
    const ann2 = onlineClient(server.url, auth(1, 'ann', '/classes/4', '/courses/5/lessons/1'));
    const bob = onlineClient(server.url, auth(2, 'bob', '/classes/4', '/courses/5/lessons/1'));
    after(() => Promise.all([ann1, ann2, bob].map((c) => c.disconnect().catch(() => undefined))));
    await Promise.all([ann1.connected(), ann2.connected(), bob.connected()]);
    await bob.faye.publish('/classes/4/chat', { text: 'hi' });
    await server.handle.settled();

    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/internal/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
      return response.text();
    };
    let text = await scrape();
    assert.equal(value(text, 'faye_online_tracked_clients'), 3);
    assert.equal(value(text, 'faye_online_online_users'), 2);
    assert.equal(value(text, 'faye_online_joins_total'), 2);
    assert.equal(value(text, 'faye_online_arrivals_total'), 3);
    assert.ok(value(text, 'faye_online_bayeux_messages_total{type="meta"}') >= 6, 'handshakes and connects');
    assert.equal(value(text, 'faye_online_bayeux_messages_total{type="publish"}'), 1);
    assert.ok(value(text, 'faye_online_presence_processing_seconds_count') >= 3, 'every arrival was timed');
    assert.equal(value(text, 'faye_online_sql_write_failures_total'), 0);
    assert.equal(value(text, 'faye_online_sql_lock_conflicts_total'), 0);

    await bob.disconnect();
    await ann1.disconnect();
    await eventually(async () => value(await scrape(), 'faye_online_leaves_total{reason="disconnect"}') === 1, 5000, 'bob left');
    text = await scrape();
    assert.equal(value(text, 'faye_online_departures_total{reason="disconnect"}'), 2);
    assert.equal(value(text, 'faye_online_tracked_clients'), 1);
    assert.equal(value(text, 'faye_online_online_users'), 1);
    // Bounded labels: nothing names a room, a channel, a user or a clientId.
    assert.doesNotMatch(text, /classes|courses|uid=|clientId=|room=|channel=/);
    await ann2.disconnect();
  });

  test('live in the registry the app passed, and leave it on close', async () => {
    assert.equal(server.handle.metricsRegistry, register);
    assert.ok(await register.getSingleMetric('faye_online_joins_total'));
  });
});

describe('trace', () => {
  test('one English debug line per tracked message that changed something', async () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const logger: Logger = { debug: (fields, message) => { if (message.startsWith('trace:')) lines.push({ fields: fields as Record<string, unknown>, message }); }, info() {}, warn() {}, error() {} };
    const server = await startPresenceServer('sqlite+memory', { trace: true, logger });
    try {
      const first = onlineClient(server.url, auth(7, 'cy', '/classes/9', '/courses/9/lessons/9'));
      const second = onlineClient(server.url, auth(7, 'cy', '/classes/9', '/courses/9/lessons/9'));
      const [a, b] = [await first.connected(), await second.connected()];
      await server.handle.settled();
      await first.disconnect();
      await second.disconnect();
      await eventually(() => lines.length === 4, 5000, 'four trace lines');
      await sleep(300); // no more lines come (repeated connects log nothing)
      assert.deepEqual(lines.map((l) => l.message), [
        `trace: user 7 (cy) joined /classes/9 with clientId ${a}; online list now [7]`,
        `trace: user 7 (cy) opened another clientId ${b} in /classes/9; online list unchanged`,
        `trace: clientId ${a} of user 7 (cy) departed from /classes/9 (disconnect); the user is still online there`,
        `trace: user 7 (cy) left /classes/9 (clientId ${b}, disconnect); online list now []`,
      ]);
      assert.deepEqual(lines[0].fields, { clientId: a, uid: 7, uname: 'cy', room: '/classes/9', timeChannel: '/courses/9/lessons/9', onlineList: [7], joined: true });
    } finally {
      await server.close();
    }
  });

  test('is off by default: no trace lines', async () => {
    let traced = 0;
    const logger: Logger = { debug: (_f, message) => { if (message.startsWith('trace:')) traced++; }, info() {}, warn() {}, error() {} };
    const server = await startPresenceServer('sqlite+memory', { logger, trace: false });
    try {
      const client = onlineClient(server.url, auth(8, 'dee'));
      await client.connected();
      await server.handle.settled();
      await client.disconnect();
      assert.equal(traced, 0);
    } finally {
      await server.close();
    }
  });
});
