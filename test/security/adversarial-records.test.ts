// needs: mysql, redis
// Hostile traffic, finding 4: short-lived clientIds left their auth keys in
// Redis for 2 weeks. Until a clientId's first /meta/connect succeeds, its auth
// and status keys live the first TTL only (minutes); a page that connected
// gets the gem's 2 weeks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLIENT_RECORD_TTL_SECONDS, FIRST_CLIENT_RECORD_TTL_SECONDS } from '../../lib/stores/store';
import { auth, clientIdsByUser, eventually, onlineClient, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { postBayeux, rawHandshake } from './support';
import { PresenceKeys } from '../../lib/stores/keys';

const room = `/ttl/rooms/${process.pid}`;
const time = `/ttl/lessons/${process.pid}`;

describe('records of clientIds that never connected expire quickly', () => {
  let server: PresenceServer;
  before(async () => {
    server = await startPresenceServer('mysql+redis');
  });
  after(() => server?.close());

  const ttls = async (clientId: string) => {
    const keys = new PresenceKeys(server.namespace);
    return Promise.all([keys.auth(clientId), keys.status(clientId)].map((key) => server.redis!.redis.ttl(key)));
  };

  test('a connect Faye refuses (after the edge tracked it) leaves keys that live the first TTL only', async () => {
    const clientId = await rawHandshake(server);
    // Faye refuses the connection type only after the extensions ran: the page was tracked, but never connected.
    const { replies } = await postBayeux(server, [{ channel: '/meta/connect', clientId, connectionType: 'carrier-pigeon', advice: { timeout: 0 }, id: 'c', auth: auth(21, 'u21', room, time) }]);
    assert.equal(replies.find((reply) => reply.id === 'c')?.successful, false);
    await server.handle.settled();
    assert.deepEqual(await clientIdsByUser(server, room), { 21: [clientId] }, 'tracked');
    const [authTtl, statusTtl] = await ttls(clientId);
    assert.ok(authTtl > 0 && authTtl <= FIRST_CLIENT_RECORD_TTL_SECONDS, `auth key TTL ${authTtl}`);
    assert.ok(statusTtl > 0 && statusTtl <= FIRST_CLIENT_RECORD_TTL_SECONDS, `status key TTL ${statusTtl}`);
  });

  test('a page whose connect succeeded keeps its keys for 2 weeks, as the gem does', async () => {
    const page = onlineClient(server.url, auth(22, 'u22', room, time), { transport: 'long-polling' });
    try {
      const clientId = await page.connected();
      await eventually(async () => (await ttls(clientId)).every((ttl) => ttl > CLIENT_RECORD_TTL_SECONDS - 60), 10_000, 'full TTL');
    } finally {
      await page.disconnect();
    }
  });
});
