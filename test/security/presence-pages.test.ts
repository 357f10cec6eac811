// Hostile page requests: a page of a crowded room's state is asked by
// subscribing to <room>/presence again with {"seq", "cursor"}. Bad cursors and
// malformed requests get a clear Bayeux error and cost no read; a room the app
// does not let a page subscribe to gives nothing away; the page size is the
// server's; repeating a request costs no new read or serialization. And
// however many newcomers subscribe in one window, the room is read and its
// first page serialized once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { ManualClock } from '../../lib/core/clock';
import { SNAPSHOT_WINDOW_MS } from '../../lib/edge/presence-diffs';
import { MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST } from '../../lib/edge/request-limit';
import { PRESENCE_PAGE_EXT } from '../../lib/protocol';
import { PAGE_SIZE, stateIn, subscribe } from '../presence/pages';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { postBayeux, rawHandshake, recordingLogger } from './support';

async function counter(register: Registry, name: string): Promise<number> {
  const metric = await register.getSingleMetricAsString(name);
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(metric);
  return match ? Number(match[1]) : 0;
}

async function metaMessages(register: Registry): Promise<number> {
  const match = /^faye_online_bayeux_messages_total\{type="meta"\} (\d+)/m.exec(await register.getSingleMetricAsString('faye_online_bayeux_messages_total'));
  return match ? Number(match[1]) : 0;
}

async function fill(server: PresenceServer, room: string, count: number, pages: TestClient[]): Promise<void> {
  for (let uid = 1; uid <= count; uid++) {
    const page = onlineClient(server.url, auth(uid, `user${uid}`, room, '/pp/lessons/1'));
    pages.push(page);
    await page.connected();
  }
  await eventually(async () => (await server.handle.onlineCount(room)) === count);
  await server.handle.settled();
}

describe('hostile page requests', () => {
  let server: PresenceServer;
  const register = new Registry();
  const log = recordingLogger();
  const pages: TestClient[] = [];
  const room = `/pp/rooms/${process.pid}`;
  const secret = `/pp/secret/${process.pid}`;
  const channel = `${room}/presence`;
  let clientId: string;
  let seq: number;
  const reads = () => counter(register, 'faye_online_presence_state_reads_total');
  const serialized = () => counter(register, 'faye_online_presence_pages_serialized_total');

  before(async () => {
    server = await startPresenceServer('sqlite+memory', {
      presencePageSize: PAGE_SIZE, logger: log.logger, metrics: { register },
      authorizeSubscription: ({ channel: asked }) => !asked.startsWith(secret),
    });
    await fill(server, room, 9, pages);
    clientId = await rawHandshake(server);
    const first = stateIn(await subscribe(server, clientId, channel), channel)!;
    assert.deepEqual({ count: first.count, offset: first.offset, next: first.next }, { count: 9, offset: 0, next: PAGE_SIZE });
    seq = first.seq as number;
  });
  after(async () => {
    await Promise.all(pages.map((page) => page.disconnect()));
    await server.close();
  });

  async function refused(page: unknown, pattern: RegExp, subscription: unknown = channel): Promise<void> {
    const readsBefore = await reads();
    const { replies } = await postBayeux(server, [{ channel: '/meta/subscribe', clientId, subscription, id: 'bad', ext: { [PRESENCE_PAGE_EXT]: page } }]);
    const reply = replies.find((r) => r.channel === '/meta/subscribe')!;
    assert.equal(reply.successful, false, JSON.stringify(reply));
    assert.match(String(reply.error), pattern);
    assert.equal(stateIn(reply, channel), undefined, 'no state in a refused reply');
    assert.equal(await reads(), readsBefore, 'a refused request reads nothing');
  }

  test('a cursor out of range, or not at a page, is refused with 400', async () => {
    await refused({ seq, cursor: 12 }, /^400::Bad presence page request - cursor 12 is not a page of seq \d+ \(9 members in pages of 4\)$/);
    await refused({ seq, cursor: 3 }, /^400::.*cursor 3 is not a page/);
    await refused({ seq, cursor: 0 }, /^400::.*cursor must be the next of the previous page/);
    await refused({ seq, cursor: -4 }, /^400::.*cursor must be/);
    await refused({ seq, cursor: '4' }, /^400::.*cursor must be/);
    await refused({ seq: 'x', cursor: 4 }, /^400::.*seq must be/);
  });

  test('a page size asked for is refused: the page size is the server\'s', async () => {
    await refused({ seq, cursor: 4, size: 1_000_000 }, /^400::.*nothing else \(the page size is the servers\)$/);
    await refused({ seq, cursor: 4, limit: 1_000_000 }, /^400::.*the page size is the servers/);
  });

  test('a malformed request, or one naming other channels, is refused', async () => {
    await refused('next please', /^400::Bad presence page request - a page request is/);
    await refused([seq, 4], /^400::Bad presence page request - a page request is/);
    await refused({ seq, cursor: 4 }, /^400::.*exactly one presence channel of a room$/, [channel, `${room}/other/presence`]);
    await refused({ seq, cursor: 4 }, /^400::.*exactly one presence channel of a room$/, `${room}/chat`);
    const warned = log.lines.filter((line) => line.message === 'refused a presence page request');
    assert.ok(warned.length >= 4, 'each refusal is one log line');
  });

  test('a room the app does not let the page subscribe to gives nothing away', async () => {
    const secretPages: TestClient[] = [];
    await fill(server, secret, 6, secretPages);
    pages.push(...secretPages);
    const secretChannel = `${secret}/presence`;
    const { replies } = await postBayeux(server, [{ channel: '/meta/subscribe', clientId, subscription: secretChannel, id: 's', ext: { [PRESENCE_PAGE_EXT]: { seq: 6, cursor: 4 } } }]);
    const reply = replies.find((r) => r.channel === '/meta/subscribe')!;
    assert.equal(reply.successful, false);
    assert.match(String(reply.error), /^403::/);
    assert.doesNotMatch(JSON.stringify(replies), /user\d/, 'no member of the room in the answer');
  });

  test('repeating a page request costs no read and no serialization', async () => {
    const second = stateIn(await subscribe(server, clientId, channel, { seq, cursor: 4 }), channel)!;
    assert.equal(second.offset, 4);
    const [readsBefore, serializedBefore] = [await reads(), await serialized()];
    for (let round = 0; round < 25; round++) {
      const { replies } = await postBayeux(server, Array.from({ length: MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST }, (_, i) => ({
        channel: '/meta/subscribe', clientId, subscription: channel, id: `r${round}-${i}`, ext: { [PRESENCE_PAGE_EXT]: { seq, cursor: 4 } },
      })));
      assert.equal(replies.length, MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST);
      for (const reply of replies) assert.deepEqual(stateIn(reply, channel), second);
    }
    assert.equal(await reads(), readsBefore, '200 requests of a kept page read nothing');
    assert.equal(await serialized(), serializedBefore, 'and serialize nothing');
  });
});

describe('newcomers of a crowded room', () => {
  test('200 newcomers subscribing at once cost at most two reads (the one running, the next one after its window) and one first-page serialization per read', async () => {
    const clock = new ManualClock(Date.now());
    const register = new Registry();
    const server = await startPresenceServer('sqlite+memory', { presencePageSize: PAGE_SIZE, metrics: { register }, clock });
    const pages: TestClient[] = [];
    const room = `/pp/crowd/${process.pid}`;
    const channel = `${room}/presence`;
    try {
      await fill(server, room, 9, pages);
      const clientIds = await Promise.all(Array.from({ length: 200 }, () => rawHandshake(server)));
      const readsBefore = await counter(register, 'faye_online_presence_state_reads_total');
      const serializedBefore = await counter(register, 'faye_online_presence_pages_serialized_total');
      const metaBefore = await metaMessages(register);
      const replies = Promise.all(clientIds.map((id) => subscribe(server, id, channel)));
      // The window's end is the clock's: it passes once, after all 200 subscriptions arrived.
      await eventually(async () => (await metaMessages(register)) - metaBefore >= 200, 30_000, 'every subscription arrived');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await clock.advance(SNAPSHOT_WINDOW_MS);
      const states = (await replies).map((reply) => stateIn(reply, channel)!);
      assert.ok(states.every((state) => state.offset === 0 && state.count === 9 && typeof state.page === 'string'));
      const reads = (await counter(register, 'faye_online_presence_state_reads_total')) - readsBefore;
      const serialized = (await counter(register, 'faye_online_presence_pages_serialized_total')) - serializedBefore;
      const windows = new Set(states.map((state) => state.seq)).size;
      assert.ok(reads >= 1 && reads <= 2, `reads for 200 newcomers: ${reads}`);
      assert.equal(serialized, reads, 'one first page serialized per read, shared by its newcomers');
      assert.equal(windows, 1, 'the room did not change: every newcomer has the same seq');
    } finally {
      await Promise.all(pages.map((page) => page.disconnect()));
      await server.close();
    }
  });
});
