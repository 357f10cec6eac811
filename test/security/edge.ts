// Trust and bad input at the Bayeux edge, with real servers and real clients:
// signed identities, protected channels and the subscription hook, validation of
// every field of `auth`, size limits, before_leave and clientId hijacking, and
// hostile channel names. Run on both backends by the *.test.ts files beside it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import { signAuth } from '../../lib/security';
import {
  auth, clientIdsByUser, eventually, onlineClient, startPresenceServer,
  type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { loginRows, userInfoList } from '../presence/sql-helpers';
import { loudLines, postBayeux, rawConnect, rawHandshake, rawPublish, recordingLogger, writtenState, type LogLine } from './support';
import { sleep } from '../support/wait';
import { PresenceKeys } from '../../lib/stores/keys';

const SECRET = 'security-suite-secret-0123456789abcdef';

let counter = 0;
function fresh() {
  counter += 1;
  return { room: `/sec/rooms/${counter}${process.pid}`, time: `/sec/lessons/${counter}${process.pid}` };
}

/** Closes every client and server a describe block opened. */
function lifecycle() {
  const clients: TestClient[] = [];
  const fayeClients: faye.Client[] = [];
  return {
    clients,
    fayeClients,
    async closeAll() {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      await Promise.all(fayeClients.map((c) => Promise.resolve(c.disconnect()).catch(() => undefined)));
    },
  };
}

export function securityScenarios(backend: Backend): void {
  describe(`signed identities (${backend})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    const opened = lifecycle();
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, secret: SECRET, logger: log.logger });
    });
    after(async () => {
      await opened.closeAll();
      await server.close();
    });

    const signed = (uid: number, uname: string, room: string, time: string, now?: Date, expiresIn?: number) =>
      signAuth(auth(uid, uname, room, time) as Parameters<typeof signAuth>[0], { secret: SECRET, now, expiresIn });

    test('with a secret there is no unsigned-mode warning, and a signed page is tracked', async () => {
      assert.equal(log.lines.filter((l) => /no `secret`/.test(l.message)).length, 0);
      const { room, time } = fresh();
      const page = onlineClient(server.url, signed(31, 'ann', room, time));
      opened.clients.push(page);
      const id = await page.connected();
      await eventually(async () => (await userInfoList(server, room)) === '[31]', 5000, 'joined');
      assert.deepEqual(await clientIdsByUser(server, room), { 31: [id] });
      assert.deepEqual(page.errors, []);
    });

    test('a uid rendered as a decimal string is signed and tracked as the number', async () => {
      const { room, time } = fresh();
      const wire = signed(32, 'bob', room, time);
      const page = onlineClient(server.url, { ...wire, current_user: { uid: '32', uname: 'bob' } });
      opened.clients.push(page);
      await page.connected();
      await eventually(async () => (await userInfoList(server, room)) === '[32]', 5000, 'joined');
    });

    const refusals: Array<[string, (room: string, time: string) => unknown, RegExp]> = [
      ['unsigned', (room, time) => auth(40, 'eve', room, time), /^401::Auth not accepted - auth has no signature/],
      ['tampered (uname changed)', (room, time) => ({ ...signed(41, 'eve', room, time), current_user: { uid: 41, uname: 'admin' } }), /^401::Auth not accepted - auth\.signature does not match/],
      ['replayed for another user', (room, time) => ({ ...signed(42, 'eve', room, time), current_user: { uid: 1, uname: 'eve' } }), /^401::Auth not accepted - auth\.signature does not match/],
      ['replayed in another room', (room, time) => ({ ...signed(43, 'eve', '/sec/other', time), room_channel: room }), /^401::Auth not accepted - auth\.signature does not match/],
      ['expired', (room, time) => signed(44, 'eve', room, time, new Date(Date.now() - 3600_000), 60), /^401::Auth not accepted - auth expired at/],
      ['with half a signature', (room, time) => ({ ...signed(45, 'eve', room, time), signature: 'ab' }), /^401::Auth not accepted - auth\.signature must be 64 lowercase hex/],
    ];
    for (const [name, make, expected] of refusals) {
      test(`an ${name} auth is refused with a 401 error, one log line, and is never tracked`, async () => {
        const { room, time } = fresh();
        const wire = make(room, time);
        const beforeState = await writtenState(server);

        // A real page: it is refused at the handshake and keeps retrying.
        // Long-polling only: a WebSocket probe of a never-connected client would outlive it.
        const page = onlineClient(server.url, wire as Record<string, unknown>, { connectTimeoutMs: 1500, transport: 'long-polling' });
        await assert.rejects(page.connected(), /did not connect/);
        page.vanish(); // stops its handshake retries
        assert.ok(page.errors.length > 0 && page.errors.every((e) => expected.test(e)), page.errors.join('; '));

        // One message, one refusal, one log line.
        const clientId = await rawHandshake(server);
        const from = log.lines.length;
        const reply = await rawConnect(server, clientId, wire);
        assert.equal(reply.successful, false);
        assert.match(String(reply.error), expected);
        // (The refused page above still retries its handshake, with its own lines.)
        const ours = loudLines(log.lines, from).filter((l) => l.fields.clientId === clientId);
        assert.deepEqual(ours.map((l) => l.message), ['refused a message with an unsigned or bad signature']);

        assert.deepEqual(await writtenState(server), beforeState, 'nothing written');
      });
    }
  });

  describe(`unsigned mode (${backend})`, () => {
    test('without a secret the gem\'s unsigned auth works, with one warning at startup', async () => {
      const log = recordingLogger();
      const server = await startPresenceServer(backend, { timeout: 1, logger: log.logger });
      const page = onlineClient(server.url, auth(50, 'plain', '/sec/unsigned', '/sec/unsigned/lesson'));
      try {
        await page.connected();
        await eventually(async () => (await userInfoList(server, '/sec/unsigned')) === '[50]', 5000, 'joined');
        await sleep(1500); // a few polls
        const warnings = log.lines.filter((l) => /no `secret`/.test(l.message));
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0].level, 'warn');
      } finally {
        await page.disconnect();
        await server.close();
      }
    });
  });

  describe(`protected channels and authorizeSubscription (${backend})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    const opened = lifecycle();
    const asked: Array<{ channel: string; uid: number | null }> = [];
    before(async () => {
      server = await startPresenceServer(backend, {
        timeout: 1,
        logger: log.logger,
        // Only members of a room may follow its lists; /sec/throws/* makes the hook fail.
        async authorizeSubscription({ channel, auth: who }) {
          asked.push({ channel, uid: who?.user.uid ?? null });
          await sleep(5);
          if (channel.startsWith('/sec/throws/')) throw new Error('the membership service is down');
          const room = channel.replace(/\/(user_list|presence)$/, '');
          if (room === channel) return true;
          return who !== null && who.room === room;
        },
      });
    });
    after(async () => {
      await opened.closeAll();
      await server.close();
    });

    test('clients cannot publish on user_list, presence or /faye_online/*, even with a valid auth; before_leave is allowed', async () => {
      const { room, time } = fresh();
      const page = onlineClient(server.url, auth(60, 'pub', room, time));
      opened.clients.push(page);
      await page.connected();
      for (const channel of [`${room}/user_list`, `${room}/presence`, '/faye_online/anything', '/faye_online/before_leave/x', '/other/deep/user_list']) {
        await assert.rejects(Promise.resolve(page.faye.publish(channel, { count: 0, user_list: [] })), /403/, channel);
      }
      await page.faye.publish('/faye_online/before_leave', {});
    });

    test('a member subscribes to its room\'s user_list; a non-member and a page without auth get 403; plain channels are allowed', async () => {
      const { room, time } = fresh();
      const member = onlineClient(server.url, auth(61, 'member', room, time));
      const outsider = onlineClient(server.url, auth(62, 'outsider', '/sec/elsewhere', time));
      const anonymous = new faye.Client(server.url);
      opened.clients.push(member, outsider);
      opened.fayeClients.push(anonymous);
      await Promise.all([member.connected(), outsider.connected()]);

      const lists: unknown[] = [];
      await member.faye.subscribe(`${room}/user_list`, (data) => lists.push(data));
      // Someone else joins the room: the member, subscribed, gets the new list.
      const joiner = onlineClient(server.url, auth(63, 'joiner', room, time));
      opened.clients.push(joiner);
      await joiner.connected();
      await eventually(() => lists.length > 0, 5000, 'a user_list for the member');

      const from = log.lines.length;
      await assert.rejects(Promise.resolve(outsider.faye.subscribe(`${room}/user_list`, () => undefined)), /403/);
      assert.ok(outsider.errors.some((e) => e === `403::Subscription to ${room}/user_list refused`), outsider.errors.join('; '));
      await assert.rejects(Promise.resolve(anonymous.subscribe(`${room}/presence`, () => undefined)), /403/);
      assert.deepEqual(loudLines(log.lines, from).map((l) => l.message), ['refused a subscription (authorizeSubscription)', 'refused a subscription (authorizeSubscription)']);
      assert.ok(asked.some((a) => a.channel === `${room}/presence` && a.uid === null), 'the hook sees auth null for a page without auth');

      await anonymous.subscribe('/chat/plain', () => undefined);
    });

    test('a hook that throws refuses the subscription (403) and the server keeps serving', async () => {
      const page = new faye.Client(server.url);
      opened.fayeClients.push(page);
      await assert.rejects(Promise.resolve(page.subscribe('/sec/throws/user_list', () => undefined)), /403/);
      await page.subscribe('/sec/fine', () => undefined);
    });
  });

  describe(`validation at the edge (${backend})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, logger: log.logger });
    });
    after(async () => server.close());

    const good = (): Record<string, unknown> => auth(70, 'valid', '/sec/valid/room', '/sec/valid/lesson') as Record<string, unknown>;
    const withUser = (user: Record<string, unknown>) => ({ ...good(), current_user: user });
    const longName = `/${'a'.repeat(255)}`;
    const badAuths: Array<[string, unknown]> = [
      // channels: letters, digits and '/' only, at most 255 characters
      ['a room with a quote (SQL)', { ...good(), room_channel: "/a'; DROP TABLE faye_channels; --" }],
      ['a room with Lua', { ...good(), room_channel: '/x") redis.call("FLUSHALL") --' }],
      ['a room with a space', { ...good(), room_channel: '/classes/4 5' }],
      ['a room with ..', { ...good(), room_channel: '/classes/../admin' }],
      ['a room with an empty segment', { ...good(), room_channel: '/classes//4' }],
      ['a room without a leading slash', { ...good(), room_channel: 'classes/4' }],
      ['a room with a glob', { ...good(), room_channel: '/classes/*' }],
      ['a room of unicode letters', { ...good(), room_channel: '/课堂/4' }],
      ['a room with a newline', { ...good(), room_channel: '/classes/4\n/x' }],
      ['a room of 256 characters', { ...good(), room_channel: longName }],
      ['a room that is a number', { ...good(), room_channel: 4 }],
      ['a room that is an object', { ...good(), room_channel: { toString: '/a' } }],
      ['a time channel with a quote', { ...good(), time_channel: "/l'1" }],
      ['a time channel with __proto__', { ...good(), time_channel: '/__proto__' }],
      ['a time channel of 256 characters', { ...good(), time_channel: longName }],
      // uid: a positive integer within MySQL INT
      ['uid 0', withUser({ uid: 0, uname: 'x' })],
      ['uid -1', withUser({ uid: -1, uname: 'x' })],
      ['uid 1.5', withUser({ uid: 1.5, uname: 'x' })],
      ['uid 2^31', withUser({ uid: 2 ** 31, uname: 'x' })],
      ['uid 1e300', withUser({ uid: 1e300, uname: 'x' })],
      ['uid "01"', withUser({ uid: '01', uname: 'x' })],
      ['uid "1e3"', withUser({ uid: '1e3', uname: 'x' })],
      ['uid "1 OR 1=1"', withUser({ uid: '1 OR 1=1', uname: 'x' })],
      ['uid true', withUser({ uid: true, uname: 'x' })],
      ['uid null', withUser({ uid: null, uname: 'x' })],
      ['uid []', withUser({ uid: [1], uname: 'x' })],
      ['no uid', withUser({ uname: 'x' })],
      // uname: a bounded string
      ['an empty uname', withUser({ uid: 71, uname: '' })],
      ['a uname of 256 characters', withUser({ uid: 71, uname: 'u'.repeat(256) })],
      ['a uname with a newline', withUser({ uid: 71, uname: 'a\nb' })],
      ['a uname with NUL', withUser({ uid: 71, uname: 'a\u0000b' })],
      ['a uname that is a number', withUser({ uid: 71, uname: 71 })],
      ['current_user a string', { ...good(), current_user: 'admin' }],
      // the whole auth object is bounded
      ['an auth of more than 4096 bytes', { ...good(), padding: 'p'.repeat(5000) }],
      ['a current_user with a huge extra key', withUser({ uid: 71, uname: 'x', avatar: 'a'.repeat(4500) })],
      ['an auth that is an array', [good()]],
      ['an auth that is a string', 'room_channel=/a'],
    ];

    for (const [name, bad] of badAuths) {
      test(`${name}: a 401 error to that client, one log line, nothing written`, async () => {
        const clientId = await rawHandshake(server);
        const beforeState = await writtenState(server);
        const from = log.lines.length;
        const reply = await rawConnect(server, clientId, bad);
        assert.equal(reply.successful, false, JSON.stringify(reply));
        assert.match(String(reply.error), /^401::Invalid auth - /);
        const loud = loudLines(log.lines, from);
        assert.equal(loud.length, 1, loud.map((l: LogLine) => l.message).join('; '));
        assert.equal(loud[0].message, 'refused a message with invalid auth');
        assert.equal(loud[0].fields.clientId, clientId);
        assert.deepEqual(await writtenState(server), beforeState);
      });
    }

    test('the same bad auth on a handshake refuses the handshake: no client, nothing written', async () => {
      const beforeState = await writtenState(server);
      const { replies } = await postBayeux(server, [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'], id: 'h', auth: withUser({ uid: -1, uname: 'x' }) }]);
      assert.equal(replies[0].successful, false);
      assert.equal(replies[0].clientId, undefined);
      assert.match(String(replies[0].error), /^401::Invalid auth - current_user\.uid/);
      assert.deepEqual(await writtenState(server), beforeState);
    });

    const malformed: Array<[string, unknown, RegExp]> = [
      ['a message that is a number', [42], /^400::A Bayeux message must be a JSON object/],
      ['a message that is a string', ['/meta/connect'], /^400::A Bayeux message must be a JSON object/],
      ['a channel that is an object', [{ channel: { toString: 1 }, data: {} }], /^400::Malformed message - channel/],
      ['a clientId that is an array', [{ channel: '/chat/x', clientId: ['a'], data: {} }], /^400::Malformed message - clientId/],
      // Faye would loop up to this "length" (a hang of the whole server) without the check.
      ['supportedConnectionTypes an object with a huge length', [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: { length: 1e12 } }], /^400::Malformed message - supportedConnectionTypes/],
      ['a subscription list with an object', [{ channel: '/meta/subscribe', clientId: 'x', subscription: [{}] }], /^400::Malformed message - subscription/],
      ['advice.timeout a string', [{ channel: '/meta/connect', clientId: 'x', connectionType: 'long-polling', advice: { timeout: 'forever' } }], /^400::Malformed message - advice\.timeout/],
    ];
    for (const [name, body, expected] of malformed) {
      test(`${name}: a 400 error, one log line, the server keeps serving`, async () => {
        const from = log.lines.length;
        const { status, replies } = await postBayeux(server, body);
        assert.equal(status, 200);
        assert.equal(replies.length, 1, JSON.stringify(replies));
        assert.match(String(replies[0].error), expected);
        assert.equal(loudLines(log.lines, from).length, 1);
        await rawHandshake(server);
      });
    }

    test('__proto__ and constructor keys in current_user are kept as data, never as prototypes', async () => {
      const { room, time } = fresh();
      const clientId = await rawHandshake(server);
      const raw = `{"room_channel":"${room}","time_channel":"${time}","current_user":{"uid":72,"uname":"proto","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}`;
      const reply = await rawConnect(server, clientId, JSON.parse(raw));
      assert.equal(reply.successful, true, JSON.stringify(reply));
      await eventually(async () => (await userInfoList(server, room)) === '[72]', 5000, 'tracked');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    });

    test('valid names that look odd work: deep nesting, 255 characters, digits only (lower case: see channel-case.test.ts)', async () => {
      const deep = '/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p';
      const longest = `/${'z9'.repeat(127)}`;
      assert.equal(longest.length, 255);
      for (const [room, time] of [[deep, `${deep}/t`], [longest, '/0/1/2']]) {
        const clientId = await rawHandshake(server);
        const reply = await rawConnect(server, clientId, auth(73, 'odd', room, time));
        assert.equal(reply.successful, true, JSON.stringify(reply));
        await eventually(async () => (await userInfoList(server, room)) === '[73]', 5000, `tracked in ${room.slice(0, 20)}`);
        assert.deepEqual(await clientIdsByUser(server, room), { 73: [clientId] });
        assert.deepEqual(await clientIdsByUser(server, time), { 73: [clientId] });
        const names = await server.query<{ name: string }>('SELECT name FROM faye_channels');
        assert.ok(names.some((row) => row.name === room) && names.some((row) => row.name === time));
        if (server.redis) assert.equal(await server.redis.redis.exists(new PresenceKeys(server.namespace).channel(room)), 1);
      }
    });
  });

  describe(`limits (${backend})`, () => {
    let server: PresenceServer;
    const log = recordingLogger();
    const opened = lifecycle();
    before(async () => {
      server = await startPresenceServer(backend, { timeout: 1, beforeLeaveDelay: 1.5, maxClientIdsPerUser: 2, maxMessageBytes: 16 * 1024, logger: log.logger });
    });
    after(async () => {
      await opened.closeAll();
      await server.close();
    });

    test('past maxClientIdsPerUser the oldest clientId of that user in that room is dropped, with its logout', async () => {
      const { room, time } = fresh();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const clientId = await rawHandshake(server);
        assert.equal((await rawConnect(server, clientId, auth(80, 'tabs', room, time))).successful, true);
        ids.push(clientId);
        await server.handle.settled();
      }
      assert.deepEqual(await clientIdsByUser(server, room), { 80: [ids[1], ids[2]] });
      assert.deepEqual(await clientIdsByUser(server, time), { 80: [ids[1], ids[2]] });
      assert.equal(await userInfoList(server, room), '[80]', 'the user stays online');
      assert.deepEqual((await loginRows(server, [ids[0]])).map((r) => r.status), [1, 0]);
      assert.ok(log.lines.some((l) => l.message.startsWith('too many clientIds for one user in a room')));
    });

    test('a message larger than maxMessageBytes is refused with 413, over long-polling and WebSocket', async () => {
      const big = { text: 'x'.repeat(17 * 1024) };
      for (const transport of ['long-polling', 'websocket'] as const) {
        const page = onlineClient(server.url, {}, { transport });
        opened.clients.push(page);
        await page.connected();
        if (transport === 'websocket') await eventually(() => transportName(page) === 'websocket', 5000, 'on WebSocket');
        const from = log.lines.length;
        await assert.rejects(Promise.resolve(page.faye.publish('/sec/big', big)), /413/);
        assert.ok(page.errors.includes('413::Message larger than 16384 bytes'), page.errors.join('; '));
        assert.equal(loudLines(log.lines, from).length, 1);
        await page.faye.publish('/sec/small', { text: 'still served' });
      }
    });

    test('a short text whose numbers JSON spells out past maxMessageBytes is still measured and refused', async () => {
      // The size check skips messages whose text is too short to pass the limit
      // once written again; numbers in exponent form are what grows most.
      const clientId = await rawHandshake(server);
      const numbers = Array.from({ length: 1000 }, () => '1e20').join(',');
      const raw = `[{"channel":"/sec/numbers","clientId":"${clientId}","id":"n1","data":{"n":[${numbers}]}}]`;
      assert.ok(raw.length < 16 * 1024 && raw.length * 4 > 16 * 1024, `${raw.length} characters`);
      const from = log.lines.length;
      const { status, replies } = await postBayeux(server, null, { raw });
      assert.equal(status, 200);
      assert.equal(replies.length, 1);
      assert.equal(replies[0].error, '413::Message larger than 16384 bytes');
      assert.equal(loudLines(log.lines, from).length, 1);
    });

    test('an HTTP body over twice maxMessageBytes is refused before Faye reads it (413); a chunked body gets 411', async () => {
      const { status, text } = await postBayeux(server, null, { raw: JSON.stringify([{ channel: '/sec/big', data: 'y'.repeat(40 * 1024) }]) });
      assert.equal(status, 413);
      assert.match(text, /larger than 32768 bytes/);
      const chunked = await new Promise<number>((resolve, reject) => {
        const request = http.request(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.write('[{"channel":"/sec/x",');
        request.end('"data":1}]');
      });
      assert.equal(chunked, 411);
      await rawHandshake(server);
    });

    test('before_leave with another user\'s clientId is refused (403) and the victim stays online', async () => {
      const { room, time } = fresh();
      const victim = onlineClient(server.url, auth(90, 'victim', room, time), { transport: 'long-polling' });
      opened.clients.push(victim);
      const victimId = await victim.connected();
      await eventually(async () => (await userInfoList(server, room)) === '[90]', 5000, 'victim joined');

      const attacker = await rawHandshake(server);
      const reply = await rawPublish(server, victimId, '/faye_online/before_leave', {}, auth(91, 'attacker', room, time));
      assert.equal(reply.successful, false);
      assert.equal(reply.error, '403::before_leave is accepted for your own clientId only');
      void attacker;

      // Without a secret the attacker can also claim the victim's uid: accepted,
      // but the liveness check finds the victim alive and nothing happens.
      const claimed = await rawPublish(server, victimId, '/faye_online/before_leave', {}, auth(90, 'victim', room, time));
      assert.equal(claimed.successful, true);
      await sleep(3000);
      await server.handle.settled();
      assert.equal(await userInfoList(server, room), '[90]', 'the victim is still online');
      assert.deepEqual((await loginRows(server, [victimId])).map((r) => r.status), [1]);
      assert.equal(victim.clientId(), victimId);
    });

    test('a /meta/connect with someone else\'s clientId and one\'s own auth cannot take it over; a made-up clientId is never tracked', async () => {
      const { room, time } = fresh();
      const victim = onlineClient(server.url, auth(92, 'victim', room, time));
      opened.clients.push(victim);
      const victimId = await victim.connected();
      await eventually(async () => (await userInfoList(server, room)) === '[92]', 5000, 'victim joined');

      const hijack = await rawConnect(server, victimId, auth(93, 'thief', room, time));
      assert.equal(hijack.successful, false);
      assert.equal(hijack.error, '401::This clientId is tracked for another user');

      const beforeState = await writtenState(server);
      const madeUp = await rawConnect(server, 'madeupclientid0000000000000000', auth(94, 'ghost', room, time));
      assert.equal(madeUp.successful, false);
      assert.match(String(madeUp.error), /^401:madeupclientid/);
      await sleep(200);
      assert.deepEqual(await writtenState(server), beforeState, 'nothing written for a clientId Faye does not know');
      assert.equal(await userInfoList(server, room), '[92]');
      assert.deepEqual(await clientIdsByUser(server, room), { 92: [victimId] });
    });
  });
}

function transportName(client: TestClient): string | undefined {
  return (client.faye as unknown as { _dispatcher: { connectionType?: string } })._dispatcher.connectionType;
}
