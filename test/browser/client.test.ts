// The browser client without a browser: the typed entry against a real Faye
// server (Faye's Node client stands in for the browser one, same API), and the
// shipped bundle dist/client/faye-online.js run in a VM with a fake window.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import { createOnlineClient, isFayeOnlineError, type FayeModule, type OnlineClient, type PresenceChange, type UserList } from '../../lib/client';
import { sleep } from '../support/wait';

const root = resolve(__dirname, '..', '..');
const identity = { room: '/classes/4', timeChannel: '/courses/5/lessons/1', user: { uid: 470700, uname: 'mvj3', avatar: 'a.png' } };
const wireAuth = { room_channel: '/classes/4', time_channel: '/courses/5/lessons/1', current_user: { uid: 470700, uname: 'mvj3', avatar: 'a.png' } };

/** A stand-in for Faye's browser Client that records what the presence client does with it. */
class FakeFayeClient {
  static instances: FakeFayeClient[] = [];
  disabled: string[] = [];
  extensions: Array<{ outgoing?: Function; incoming?: Function }> = [];
  published: Array<[string, unknown]> = [];
  connected = false;
  disconnected = false;
  constructor(readonly url: string, readonly options: Record<string, unknown>) {
    FakeFayeClient.instances.push(this);
  }
  addExtension(extension: { outgoing?: Function; incoming?: Function }) { this.extensions.push(extension); }
  disable(feature: string) { this.disabled.push(feature); }
  subscribe() { return { then: (ok: () => void) => ok(), cancel() {} }; }
  publish(channel: string, data: unknown) { this.published.push([channel, data]); return Promise.resolve(); }
  bind() {}
  connect() { this.connected = true; }
  disconnect() { this.disconnected = true; return Promise.resolve(); }
  /** Runs a message through the outgoing extensions, as Faye does before sending it. */
  send(message: Record<string, unknown>): Record<string, any> {
    let out = message;
    for (const extension of this.extensions) extension.outgoing?.(out, (m: Record<string, unknown>) => { out = m; });
    return out;
  }
  receive(message: Record<string, unknown>) {
    for (const extension of this.extensions) extension.incoming?.(message, () => undefined);
  }
}
const FakeFaye = { Client: FakeFayeClient } as unknown as FayeModule;
const lastFake = () => FakeFayeClient.instances[FakeFayeClient.instances.length - 1];

function throwsNaming(fn: () => unknown, field: string) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isFayeOnlineError(error), `a FayeOnlineError, got ${error}`);
    assert.match((error as Error).message, new RegExp(field.replace(/[.]/g, '\\.')));
    return true;
  });
}

describe('createOnlineClient', () => {
  test('uses the gem\'s client defaults, lets clientOptions override them, disables autodisconnect and connects at once', () => {
    createOnlineClient({ Faye: FakeFaye, url: '/faye', ...identity, clientOptions: { timeout: 20 }, pageLifecycle: null });
    const fake = lastFake();
    assert.deepEqual(fake.options, { timeout: 20, interval: 5, retry: 5 });
    assert.deepEqual(fake.disabled, ['autodisconnect']);
    assert.equal(fake.connected, true);
  });

  test('attaches auth in wire names to every outgoing message, signature fields untouched', () => {
    createOnlineClient({ Faye: FakeFaye, url: '/faye', ...identity, signature: 'ab'.repeat(32), expiresAt: 1790000000, pageLifecycle: null });
    const sent = lastFake().send({ channel: '/meta/connect', auth: { csrf: 'kept' } });
    assert.deepEqual(sent.auth, { csrf: 'kept', ...wireAuth, expires_at: 1790000000, signature: 'ab'.repeat(32) });
  });

  test('names the field that is missing or invalid', () => {
    const base = { Faye: FakeFaye, url: '/faye', ...identity, pageLifecycle: null };
    throwsNaming(() => createOnlineClient({ ...base, room: '' }), 'room is missing');
    throwsNaming(() => createOnlineClient({ ...base, room: '/classes/4?x' }), 'room must be a channel name');
    throwsNaming(() => createOnlineClient({ ...base, timeChannel: 'lessons/1' }), 'timeChannel must be a channel name');
    throwsNaming(() => createOnlineClient({ ...base, user: { uid: 0, uname: 'x' } }), 'user.uid must be a positive integer');
    throwsNaming(() => createOnlineClient({ ...base, user: { uname: 'x' } as never }), 'user.uid is missing');
    throwsNaming(() => createOnlineClient({ ...base, user: { uid: 1, uname: '  ' } }), 'user.uname must be a non-empty string');
    throwsNaming(() => createOnlineClient({ ...base, url: '' }), 'url is missing');
    throwsNaming(() => createOnlineClient({ ...base, Faye: {} as FayeModule }), "Faye's client is missing");
  });

  test('reports what the server refused, with the Bayeux code and message', () => {
    const online = createOnlineClient({ Faye: FakeFaye, url: '/faye', ...identity, pageLifecycle: null });
    const refusals: unknown[] = [];
    online.on('refused', (refusal) => refusals.push(refusal));
    lastFake().receive({ channel: '/meta/handshake', successful: false, error: '401::Auth not accepted: auth has no signature: see README' });
    lastFake().receive({ channel: '/meta/connect', successful: true });
    assert.deepEqual(refusals, [{ channel: '/meta/handshake', code: 401, message: 'Auth not accepted: auth has no signature: see README' }]);
    assert.equal(online.state, 'offline');
  });

  test('a decimal string uid is sent as a number', () => {
    createOnlineClient({ Faye: FakeFaye, url: '/faye', ...identity, user: { uid: '42' as unknown as number, uname: 'x' }, pageLifecycle: null });
    assert.deepEqual(lastFake().send({ channel: '/meta/connect' }).auth.current_user, { uid: 42, uname: 'x' });
  });

  test('announces a page close once per attempt: beforeunload and pagehide together count once', async () => {
    const page = new EventTarget();
    const online = createOnlineClient({ Faye: FakeFaye, url: '/faye', ...identity, pageLifecycle: page });
    const fake = lastFake();
    page.dispatchEvent(new Event('beforeunload'));
    assert.deepEqual(fake.published, [], 'nothing is announced before the client is online');

    fake.receive({ channel: '/meta/handshake', successful: true, clientId: 'abc' });
    assert.equal(online.state, 'online');
    assert.equal(online.clientId, 'abc');
    page.dispatchEvent(new Event('beforeunload'));
    page.dispatchEvent(new Event('pagehide'));
    assert.deepEqual(fake.published, [['/faye_online/before_leave', {}]]);

    // The user cancelled the close and tries again later: a new attempt.
    await sleep(1100);
    page.dispatchEvent(new Event('beforeunload'));
    assert.equal(fake.published.length, 2);

    await online.leave();
    assert.equal(fake.disconnected, true);
    assert.equal(online.state, 'left');
    page.dispatchEvent(new Event('pagehide'));
    assert.equal(fake.published.length, 2, 'a client that left announces nothing');
  });
});

describe('createOnlineClient against a Faye server', () => {
  let server: http.Server;
  let adapter: InstanceType<typeof faye.NodeAdapter>;
  let url: string;
  const seen: Array<Record<string, unknown>> = [];

  before(async () => {
    adapter = new faye.NodeAdapter({ mount: '/faye', timeout: 1 });
    adapter.addExtension({
      incoming(message: Record<string, unknown>, callback: (m: Record<string, unknown>) => void) {
        seen.push(message);
        callback(message);
      },
    } as never);
    server = http.createServer();
    adapter.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/faye`;
  });

  after(async () => {
    adapter.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('delivers user lists and presence diffs, and leaves with /meta/disconnect', async () => {
    const online: OnlineClient = createOnlineClient({ Faye: faye as unknown as FayeModule, url, ...identity, pageLifecycle: null });
    const states: string[] = [];
    online.on('state', (state) => states.push(state));
    const lists: UserList[] = [];
    const changes: PresenceChange[] = [];
    const joins: PresenceChange[] = [];
    await Promise.all([online.onUserList((l) => lists.push(l)).ready, online.onPresence((c) => changes.push(c)).ready, online.on('join', (c) => joins.push(c)).ready]);

    const publisher = adapter.getClient();
    await publisher.publish('/classes/4/user_list', { count: 2, user_list: [470700, 1] });
    await publisher.publish('/classes/4/presence', { event: 'join', uid: 1, user: { uid: 1, uname: 'ann' } });
    await publisher.publish('/classes/4/presence', { event: 'leave', uid: 1, user: { uid: 1, uname: 'ann' } });
    for (let i = 0; i < 50 && changes.length < 2; i++) await sleep(20);

    assert.deepEqual(lists, [{ count: 2, uids: [470700, 1] }]);
    assert.deepEqual(changes.map((c) => [c.event, c.uid, c.user.uname]), [['join', 1, 'ann'], ['leave', 1, 'ann']]);
    assert.deepEqual(joins.map((c) => c.event), ['join']);
    assert.equal(online.state, 'online');

    // The server's own publisher handshakes too, without auth; ours is the one with it.
    assert.ok(seen.some((m) => m.channel === '/meta/handshake' && isDeepStrictEqual(m.auth, wireAuth)));
    const ours = seen.filter((m) => m.clientId === online.clientId);
    assert.deepEqual([...new Set(ours.map((m) => m.channel))].sort(), ['/meta/connect', '/meta/subscribe']);
    for (const message of ours) assert.deepEqual(message.auth, wireAuth, `auth on ${message.channel}`);

    await online.leave();
    await publisher.disconnect();
    assert.ok(seen.some((m) => m.channel === '/meta/disconnect' && m.clientId === online.clientId));
    assert.deepEqual(states, ['online', 'left']);
  });
});

describe('the bundled legacy script (dist/client/faye-online.js)', () => {
  const bundle = readFileSync(join(root, 'dist', 'client', 'faye-online.js'), 'utf8');

  function load(withFaye = true) {
    const page = new EventTarget();
    const window = Object.assign(page, { Faye: withFaye ? { Client: FakeFayeClient } : undefined }) as unknown as Record<string, unknown>;
    const context = vm.createContext({ window, console, setTimeout, clearTimeout, Date });
    vm.runInContext(bundle, context);
    return { window: window as any, page };
  }

  test('Faye.init_online_client takes the gem\'s options and returns the Faye client', () => {
    const { window } = load();
    const client = window.Faye.init_online_client({ faye_url: '/faye', client_opts: { retry: 2 }, auth_opts: wireAuth });
    assert.equal(client, lastFake());
    assert.equal(client.url, '/faye');
    assert.deepEqual(plain(client.options), { timeout: 10, interval: 5, retry: 2 });
    assert.deepEqual(client.disabled, ['autodisconnect']);
    assert.deepEqual(plain(client.send({ channel: '/meta/connect' }).auth), wireAuth);
  });

  test('its errors name the gem\'s fields', () => {
    const { window } = load();
    const init = (auth_opts: unknown, faye_url: unknown = '/faye') => () => window.Faye.init_online_client({ faye_url, auth_opts });
    throwsLike(init({ ...wireAuth, room_channel: undefined }), /auth_opts\.room_channel is missing/);
    throwsLike(init({ ...wireAuth, time_channel: '/a b' }), /auth_opts\.time_channel must be a channel name/);
    throwsLike(init({ ...wireAuth, current_user: { uid: -1, uname: 'x' } }), /auth_opts\.current_user\.uid must be a positive integer/);
    throwsLike(init({ ...wireAuth, current_user: { uid: 1 } }), /auth_opts\.current_user\.uname is missing/);
    throwsLike(init(undefined), /auth_opts is missing/);
    throwsLike(init(wireAuth, ''), /faye_url is missing/);
  });

  test('announces page closes through the window', () => {
    const { window, page } = load();
    const client = window.Faye.init_online_client({ faye_url: '/faye', auth_opts: wireAuth });
    client.receive({ channel: '/meta/handshake', successful: true, clientId: 'abc' });
    page.dispatchEvent(new Event('pagehide'));
    assert.deepEqual(plain(client.published), [['/faye_online/before_leave', {}]]);
  });

  test('exposes FayeOnline.connect for the typed API, and says when window.Faye is missing', () => {
    const { window } = load();
    const online = window.FayeOnline.connect({ url: '/faye', ...identity });
    assert.equal(online.client, lastFake());
    assert.equal(online.room, '/classes/4');
    throwsLike(() => load(false), /window\.Faye is missing; load Faye's browser client/);
  });
});

/** Objects made inside the VM have the VM's prototypes; compare their JSON. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function throwsLike(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.match(String((error as Error).message), pattern);
    return true;
  });
}
