// Hostile traffic, finding 2: subscribe amplification. One /meta/subscribe
// repeating <room>/presence thousands of times once read the room's state once
// per repetition; now repetitions collapse, a message names at most
// MAX_SUBSCRIPTIONS_PER_MESSAGE channels, and concurrent replies share reads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { MAX_SUBSCRIPTIONS_PER_MESSAGE } from '../../lib/edge/extension';
import { SharedSnapshots, SNAPSHOT_WINDOW_MS, type PresenceSnapshot } from '../../lib/edge/presence-diffs';
import { MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST } from '../../lib/edge/request-limit';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { postBayeux, rawHandshake, recordingLogger } from './support';

describe('subscribe amplification', () => {
  let server: PresenceServer;
  const log = recordingLogger();
  const pages: TestClient[] = [];
  const room = `/amp/rooms/${process.pid}`;
  before(async () => {
    server = await startPresenceServer('sqlite+memory', { logger: log.logger });
    for (const uid of [1, 2, 3]) {
      const page = onlineClient(server.url, auth(uid, `u${uid}`, room, '/amp/lessons/1'));
      pages.push(page);
      await page.connected();
    }
    await eventually(async () => (await server.handle.onlineCount(room)) === 3);
  });
  after(async () => {
    await Promise.all(pages.map((page) => page.disconnect()));
    await server.close();
  });

  test('a channel repeated 2,300 times in one subscribe is subscribed and answered once', async () => {
    const clientId = await rawHandshake(server);
    const channel = `${room}/presence`;
    const { replies } = await postBayeux(server, [{ channel: '/meta/subscribe', clientId, subscription: Array(2300).fill(channel), id: 's1' }]);
    assert.equal(replies.length, 1);
    assert.equal(replies[0].successful, true);
    assert.deepEqual(replies[0].subscription, [channel]);
    const state = (replies[0].ext as { faye_online_presence: Record<string, { members: unknown[] }> }).faye_online_presence;
    assert.deepEqual(Object.keys(state), [channel]);
    assert.equal(state[channel].members.length, 3);
  });

  test(`more than ${MAX_SUBSCRIPTIONS_PER_MESSAGE} distinct channels in one subscribe are refused, none subscribed`, async () => {
    const clientId = await rawHandshake(server);
    const channels = Array.from({ length: MAX_SUBSCRIPTIONS_PER_MESSAGE + 1 }, (_, i) => `/amp/other/${i}`);
    const from = log.lines.length;
    const { replies } = await postBayeux(server, [{ channel: '/meta/subscribe', clientId, subscription: channels, id: 's2' }]);
    assert.equal(replies.length, 1);
    assert.equal(replies[0].successful, false);
    assert.equal(replies[0].error, `413::More than ${MAX_SUBSCRIPTIONS_PER_MESSAGE} channels in one /meta/subscribe`);
    assert.equal(replies[0].subscription, undefined, 'the refused list is not echoed');
    assert.equal(log.lines.slice(from).filter((line) => line.level === 'warn').length, 1);
    // Exactly the limit is fine.
    const { replies: ok } = await postBayeux(server, [{ channel: '/meta/subscribe', clientId, subscription: channels.slice(1), id: 's3' }]);
    assert.equal(ok[0].successful, true);
  });

  test(`more than ${MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST} presence subscriptions in one request are refused whole`, async () => {
    const clientId = await rawHandshake(server);
    const subscribe = (n: number) => Array.from({ length: n }, (_, i) => ({ channel: '/meta/subscribe', clientId, subscription: `/amp/r${i}/presence`, id: `p${i}` }));
    const { replies } = await postBayeux(server, subscribe(MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST + 1));
    assert.deepEqual(replies, [{ channel: '/meta/batch', successful: false, error: `413::More than ${MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST} presence subscriptions in one request` }]);
    const { replies: ok } = await postBayeux(server, subscribe(MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST));
    assert.equal(ok.length, MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST);
    assert.ok(ok.every((reply) => reply.successful === true));
  });
});

describe('shared snapshot reads', () => {
  function fakeReads() {
    const started: Array<{ room: string; finish: () => void }> = [];
    let seq = 0;
    const shared = new SharedSnapshots((room) => new Promise<PresenceSnapshot>((resolve) => {
      const snapshot = { room, seq: ++seq, members: [] };
      started.push({ room, finish: () => resolve(snapshot) });
    }));
    return { shared, started };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  test('replies asking for a room before its read starts share that one read', async () => {
    const { shared, started } = fakeReads();
    const replies = Array.from({ length: 500 }, () => shared.snapshot('/r/1'));
    await tick();
    assert.equal(started.length, 1);
    started[0].finish();
    const snapshots = await Promise.all(replies);
    assert.ok(snapshots.every((snapshot) => snapshot === snapshots[0]));
  });

  test('a reply asking while a read runs gets the next read, started after the running one ends', async () => {
    const { shared, started } = fakeReads();
    const first = shared.snapshot('/r/1');
    await tick();
    const late = [shared.snapshot('/r/1'), shared.snapshot('/r/1')];
    await tick();
    assert.equal(started.length, 1, 'no second read while the first runs');
    started[0].finish();
    assert.equal((await first).seq, 1);
    await tick();
    assert.equal(started.length, 2);
    started[1].finish();
    const [a, b] = await Promise.all(late);
    assert.equal(a.seq, 2);
    assert.equal(a, b);
  });

  test('newcomers asking over a window, after a read ended, share one read started once the window passed', async () => {
    const started: number[] = [];
    const clock = new ManualClock(0);
    const shared = new SharedSnapshots(async (room) => {
      started.push(started.length + 1);
      return { room, seq: started.length, members: [] };
    }, 2000, clock);
    assert.equal((await shared.snapshot('/r/1')).seq, 1);
    const newcomers: Array<Promise<PresenceSnapshot>> = [];
    for (let i = 0; i < 20; i++) {
      newcomers.push(shared.snapshot('/r/1'));
      await tick();
    }
    assert.equal(started.length, 1, 'no second read within the first one\'s window');
    await clock.advance(2000);
    const snapshots = await Promise.all(newcomers);
    assert.equal(started.length, 2);
    assert.ok(snapshots.every((snapshot) => snapshot.seq === 2));
  });

  test('a crowded room\'s reads start at most once per window grown with its members (1 s at 10,000)', async () => {
    const started: number[] = [];
    const clock = new ManualClock(0);
    const members = Array.from({ length: 10_000 }, (_, i) => ({ uid: i + 1, user: { uid: i + 1, uname: `u${i + 1}` }, clientIds: [`c${i + 1}`] }));
    const shared = new SharedSnapshots(async (room) => {
      started.push(clock.now());
      return { room, seq: started.length, members };
    }, SNAPSHOT_WINDOW_MS, clock);
    assert.equal((await shared.snapshot('/big')).seq, 1);
    await clock.advance(SNAPSHOT_WINDOW_MS);
    const newcomer = shared.snapshot('/big');
    await clock.advance(998 - SNAPSHOT_WINDOW_MS);
    assert.deepEqual(started, [0], 'no second read while 10,000 members\' window runs');
    await clock.advance(2);
    assert.equal((await newcomer).seq, 2);
    assert.deepEqual(started, [0, 1000]);
  });

  test('a small room\'s reads keep the configured window', async () => {
    const started: number[] = [];
    const clock = new ManualClock(0);
    const shared = new SharedSnapshots(async (room) => {
      started.push(clock.now());
      return { room, seq: started.length, members: [] };
    }, SNAPSHOT_WINDOW_MS, clock);
    await shared.snapshot('/small');
    const next = shared.snapshot('/small');
    await clock.advance(SNAPSHOT_WINDOW_MS);
    assert.equal((await next).seq, 2);
    assert.deepEqual(started, [0, SNAPSHOT_WINDOW_MS]);
  });

  test('rooms are read independently', async () => {
    const { shared, started } = fakeReads();
    const replies = [shared.snapshot('/r/1'), shared.snapshot('/r/2'), shared.snapshot('/r/1')];
    await tick();
    assert.deepEqual(started.map((read) => read.room), ['/r/1', '/r/2']);
    for (const read of started) read.finish();
    const [a, b, c] = await Promise.all(replies);
    assert.equal(a, c);
    assert.notEqual(a, b);
  });
});
