// The browser client's way out when a crowded room's pages cannot be
// collected: each time its page request names a read the server no longer
// keeps while the room changed, the server starts it over with a new read;
// after MAX_PAGE_RESTARTS it follows <room>/user_list instead, and its member
// list is still the room's. Simulated time (ManualClock) expires the kept reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import faye from 'faye';
import { createOnlineClient, type OnlineUser } from '../../lib/client';
import { MAX_PAGE_RESTARTS } from '../../lib/client/online-client';
import type { FayeMessage } from '../../lib/client/types';
import { ManualClock } from '../../lib/core/clock';
import { KEEP_READ_MS } from '../../lib/edge/presence-pages';
import { PRESENCE_PAGE_EXT } from '../../lib/protocol';
import { auth, eventually, onlineClient, startPresenceServer, type TestClient } from '../support/presence-server';
import { PAGE_SIZE, stateIn } from './pages';

test(`after ${MAX_PAGE_RESTARTS} restarts the browser client follows <room>/user_list, and its list is the room's (sqlite+memory)`, async () => {
  const clock = new ManualClock(Date.now());
  // The engine times clients out on this clock too: a timeout longer than all
  // the simulated time this test moves keeps every page connected meanwhile.
  const server = await startPresenceServer('sqlite+memory', { presencePageSize: PAGE_SIZE, clock, timeout: 600 });
  const room = `/pages/fallback${process.pid}`;
  const time = '/pages/fallbacklesson';
  const pages: TestClient[] = [];
  const join = async (uid: number) => {
    const page = onlineClient(server.url, auth(uid, `user${uid}`, room, time));
    pages.push(page);
    await page.connected();
    await eventually(async () => (await server.handle.members(room)).some((m) => m.uid === uid), 10_000, `user ${uid} in`);
    await server.handle.settled();
  };
  const online = createOnlineClient({ Faye: faye as never, url: server.url, room, timeChannel: time, user: { uid: 99, uname: 'watcher' }, pageLifecycle: null });
  try {
    for (let uid = 1; uid <= 9; uid++) await join(uid);
    // Page requests are held until released, the time it takes the room to change and the read to expire.
    const held: Array<() => void> = [];
    const seen = { restarts: 0, subscriptions: [] as string[], members: [] as OnlineUser[], userLists: 0 };
    online.client.addExtension({
      outgoing(message: FayeMessage, callback: (m: FayeMessage) => void) {
        if (message.channel === '/meta/subscribe') seen.subscriptions.push(String(message.subscription));
        if (message.channel === '/meta/subscribe' && (message.ext as Record<string, unknown> | undefined)?.[PRESENCE_PAGE_EXT]) held.push(() => callback(message));
        else callback(message);
      },
      incoming(message: FayeMessage, callback: (m: FayeMessage) => void) {
        const state = message.channel === '/meta/subscribe' ? stateIn(message, `${room}/presence`) : undefined;
        if (state?.offset === 0 && seen.subscriptions.length > 1) seen.restarts += 1;
        if (message.channel === `${room}/user_list`) seen.userLists += 1;
        callback(message);
      },
    });
    const ready = online.onMembers((members) => {
      seen.members = members;
    }).ready;
    await ready;
    for (let restart = 1; restart <= MAX_PAGE_RESTARTS + 1; restart++) {
      await eventually(() => held.length === 1, 10_000, `page request ${restart} held`);
      await join(10 + restart);
      await clock.advance(KEEP_READ_MS + 1);
      held.shift()!();
      await eventually(() => seen.restarts === restart, 10_000, `restart ${restart}`);
    }
    await eventually(() => seen.subscriptions.includes(`${room}/user_list`), 10_000, 'the client subscribed to user_list');
    assert.equal(held.length, 0, 'no page asked after the fallback');
    // The last join's trailing user_list may land just after the subscription: that one may set the list.
    if (seen.userLists === 0) assert.equal(seen.members.length, 0, 'no list before the first user_list');

    // The next change publishes <room>/user_list: the list is the room's.
    await join(20);
    const truth = async () => (await server.handle.members(room)).map((m) => m.uid).sort((a, b) => a - b);
    await eventually(async () => {
      await clock.advance(1000);
      return JSON.stringify(seen.members.map((m) => m.uid).sort((a, b) => a - b)) === JSON.stringify(await truth());
    }, 10_000, 'the list follows user_list').catch(async (error) => {
      assert.deepEqual(seen.members.map((m) => m.uid).sort((a, b) => a - b), await truth(), String(error));
    });
    assert.equal(seen.members.find((m) => m.uid === 20)?.uname, 'user20', 'named from its join diff');
    assert.equal(seen.members.find((m) => m.uid === 1)?.uname, 'user1', 'named from a page');
  } finally {
    await online.leave();
    await Promise.all(pages.map((page) => page.disconnect()));
    await server.close();
  }
});
