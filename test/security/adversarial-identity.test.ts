// needs: mysql, redis
// Hostile traffic, findings 4 and 5 about identities in a cluster (two
// processes on MariaDB + Redis): a clientId someone else learned. Faye lets
// whoever knows a clientId connect, subscribe, unsubscribe or disconnect with
// it; signed mode binds a tracked clientId to its user, on the process that
// tracks it and on any other.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signAuth } from '../../lib/security';
import {
  auth, clientIdsByUser, createBacking, eventually, onlineClient, startPresenceServer,
  type Backing, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { loudLines, postBayeux, rawConnect, recordingLogger, type LogLine } from './support';
import { PresenceKeys } from '../../lib/stores/keys';

const SECRET = 'identity-suite-secret-0123456789abcdef';
const room = `/idn/rooms/${process.pid}`;
const time = `/idn/lessons/${process.pid}`;
const signed = (uid: number) => signAuth(auth(uid, `u${uid}`, room, time) as Parameters<typeof signAuth>[0], { secret: SECRET });

describe('a tracked clientId in signed mode is bound to its user (two processes)', () => {
  let backing: Backing;
  let servers: PresenceServer[];
  const logs = [recordingLogger(), recordingLogger()];
  let victim: TestClient;
  let victimId: string;
  before(async () => {
    backing = await createBacking('mysql+redis');
    servers = [
      await startPresenceServer('mysql+redis', { secret: SECRET, logger: logs[0].logger }, backing),
      await startPresenceServer('mysql+redis', { secret: SECRET, logger: logs[1].logger }, backing),
    ];
    victim = onlineClient(servers[0].url, signed(1), { transport: 'long-polling' });
    victimId = await victim.connected();
    await eventually(async () => (await clientIdsByUser(servers[0], room))['1']?.includes(victimId), 10_000, 'victim tracked');
  });
  after(async () => {
    await victim.disconnect();
    for (const server of servers) await server.close();
    await backing.release();
  });

  const messages = (clientId: string, wire: unknown) => [
    { channel: '/meta/connect', clientId, connectionType: 'long-polling', advice: { timeout: 0 }, id: 'c', ...(wire ? { auth: wire } : {}) },
    { channel: '/meta/subscribe', clientId, subscription: '/idn/secret/chat', id: 's', ...(wire ? { auth: wire } : {}) },
    { channel: '/meta/unsubscribe', clientId, subscription: `${room}/user_list`, id: 'u', ...(wire ? { auth: wire } : {}) },
    { channel: '/meta/disconnect', clientId, id: 'd', ...(wire ? { auth: wire } : {}) },
  ];

  for (const [where, index] of [['the process that tracks it', 0], ['another process of the cluster', 1]] as const) {
    for (const [who, wire, text] of [
      ['without auth', undefined, '401::This clientId is tracked - send its auth'],
      ['with another user\'s valid auth', 'other', '401::This clientId is tracked for another user'],
    ] as const) {
      test(`connect, subscribe, unsubscribe and disconnect ${who} are refused on ${where}`, async () => {
        const from = logs[index].lines.length;
        const { replies } = await postBayeux(servers[index], messages(victimId, wire === 'other' ? signed(2) : undefined));
        // Faye answers in the order the messages finish, not as sent.
        const order = ['c', 's', 'u', 'd'];
        const sorted = [...replies].sort((a, b) => order.indexOf(String(a.id)) - order.indexOf(String(b.id)));
        assert.deepEqual(sorted.map((reply) => [reply.id, reply.successful, reply.error]), [
          ['c', false, text], ['s', false, text], ['u', false, text], ['d', false, text],
        ]);
        const lines = loudLines(logs[index].lines, from);
        assert.equal(lines.length, 4);
        // One warning each, no stack (a connect with auth on another process is refused by the store, which names no owner).
        assert.ok(lines.every((line: LogLine) => line.level === 'warn' && line.fields.err === undefined), JSON.stringify(lines));
        assert.ok(lines.filter((line) => !line.message.startsWith('refused a connect for a clientId another process')).every((line) => line.fields.owner === 1));
        // The victim is still online, with its one clientId, and still polling.
        assert.deepEqual(await clientIdsByUser(servers[0], room), { 1: [victimId] });
      });
    }
  }

  test('the remembered auth holds only the signed fields, whatever the page padded it with', async () => {
    const padded = { ...signed(3), pad: 'x'.repeat(1500), current_user: { uid: 3, uname: 'u3', avatar: 'y'.repeat(1500) } };
    // The signature covers uid and uname, so the padded user still verifies.
    const page = onlineClient(servers[0].url, padded, { transport: 'long-polling' });
    try {
      const id = await page.connected();
      await eventually(async () => (await clientIdsByUser(servers[0], room))['3']?.includes(id), 10_000, 'tracked');
      const stored = await backing.redis!.redis.get(new PresenceKeys(backing.namespace).auth(id));
      assert.equal(stored, JSON.stringify({ room_channel: room, time_channel: time, current_user: { uid: 3, uname: 'u3' } }));
      const members = (await servers[1].handle.presenceState(room)).members;
      assert.deepEqual(members.find((m) => m.uid === 3)?.user, { uid: 3, uname: 'u3' }, 'other pages see no unsigned extras');
    } finally {
      await page.disconnect();
    }
  });

  test('the owner\'s own messages with its auth still go through', async () => {
    const { replies } = await postBayeux(servers[1], [{ channel: '/meta/subscribe', clientId: victimId, subscription: '/idn/own/chat', id: 'own', auth: signed(1) }]);
    assert.equal(replies[0].successful, true);
  });
});

describe('a cluster takeover the store refuses (unsigned mode)', () => {
  let backing: Backing;
  let servers: PresenceServer[];
  const logs = [recordingLogger(), recordingLogger()];
  before(async () => {
    backing = await createBacking('mysql+redis');
    servers = [
      await startPresenceServer('mysql+redis', { logger: logs[0].logger }, backing),
      await startPresenceServer('mysql+redis', { logger: logs[1].logger }, backing),
    ];
  });
  after(async () => {
    for (const server of servers) await server.close();
    await backing.release();
  });

  test('is answered 401 with one warning and no stack trace, and the owner keeps the clientId', async () => {
    const victim = onlineClient(servers[0].url, auth(1, 'u1', room, time), { transport: 'long-polling' });
    try {
      const victimId = await victim.connected();
      await eventually(async () => (await clientIdsByUser(servers[0], room))['1']?.includes(victimId), 10_000, 'victim tracked');
      const from = logs[1].lines.length;
      const reply = await rawConnect(servers[1], victimId, auth(2, 'u2', room, time));
      assert.equal(reply.successful, false);
      assert.equal(reply.error, '401::This clientId is tracked for another user');
      const lines = loudLines(logs[1].lines, from);
      assert.deepEqual(lines.map((line) => [line.level, line.message]), [['warn', 'refused a connect for a clientId another process tracks for another user']]);
      await servers[1].handle.settled();
      assert.deepEqual(await clientIdsByUser(servers[0], room), { 1: [victimId] });
    } finally {
      await victim.disconnect();
    }
  });
});
