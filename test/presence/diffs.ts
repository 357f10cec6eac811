// Presence diffs: a client that takes the state from its subscribe reply and
// then applies <room>/presence diffs keeps exactly the server's list, through
// random churn on one or two servers, without ever receiving the whole list again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import faye from 'faye';
import { createOnlineClient, type OnlineUser } from '../../lib/client';
import {
  auth, createBacking, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { userInfoList } from './sql-helpers';
import { sleep } from '../support/wait';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function diffScenarios(backend: Backend, serverCount: number): void {
  test(`a client rebuilt from presence diffs equals the server's list after random churn (${backend}, ${serverCount} server(s))`, async () => {
    const backing = await createBacking(backend);
    const servers: PresenceServer[] = [];
    const clients: TestClient[] = [];
    const seed = Number(process.env.CHURN_SEED ?? Date.now() % 100000);
    const rand = random(seed);
    try {
      for (let i = 0; i < serverCount; i++) servers.push(await startPresenceServer(backend, { timeout: 2, userListWindow: 50 }, backing));
      const room = `/diffs/room${seed}`;
      const time = `/diffs/lesson${seed}`;
      // The watcher is the typed browser client (a member itself, uid 99): its
      // onMembers list is built from the subscribe reply's state and the diffs.
      let watcherMembers: OnlineUser[] = [];
      let watcher: ReturnType<typeof createOnlineClient> | undefined;
      const diffBytes: number[] = [];
      const live: TestClient[] = [];
      const pending: Array<Promise<unknown>> = [];
      for (let step = 0; step < 40; step++) {
        if (step === 12) {
          watcher = createOnlineClient({
            Faye: faye as never, url: servers[0].url, room, timeChannel: time, user: { uid: 99, uname: 'watcher' }, pageLifecycle: null,
          });
          watcher.onPresence((change) => diffBytes.push(JSON.stringify(change).length));
          await watcher.onMembers((members) => {
            watcherMembers = members;
          }).ready;
        }
        if (live.length === 0 || rand() < 0.55) {
          const uid = 1 + Math.floor(rand() * 8);
          const client = onlineClient(servers[Math.floor(rand() * servers.length)].url, auth(uid, `user${uid}`, room, time));
          clients.push(client);
          live.push(client);
          pending.push(client.connected().catch(() => undefined));
        } else {
          const [gone] = live.splice(Math.floor(rand() * live.length), 1);
          pending.push(gone.disconnect().catch(() => undefined));
        }
        await sleep(rand() * 60);
      }
      // Let every page finish connecting or leaving before comparing.
      await Promise.all(pending);
      await eventually(async () => {
        for (const s of servers) await s.handle.settled();
        const truth = (await servers[0].handle.members(room)).map((m) => m.uid).sort();
        const list = JSON.parse((await userInfoList(servers[0], room)) ?? '[]').sort();
        return JSON.stringify(truth) === JSON.stringify(list) && JSON.stringify(watcherMembers.map((m) => m.uid).sort()) === JSON.stringify(truth);
      }, 10_000, `rebuilt list equals the server's (seed ${seed})`).catch(async (error) => {
        const truth = (await servers[0].handle.members(room)).map((m) => m.uid).sort();
        assert.deepEqual(watcherMembers.map((m) => m.uid).sort(), truth, `seed ${seed}: ${String(error)}`);
      });
      for (const s of servers) await s.handle.settled();
      const truth = await servers[0].handle.members(room);
      assert.deepEqual(watcherMembers.map((m) => m.uid).sort(), truth.map((m) => m.uid).sort());
      assert.ok(truth.some((m) => m.uid === 99), 'the watcher is a member too');
      for (const m of truth) assert.equal(watcherMembers.find((w) => w.uid === m.uid)?.uname, m.uname, `names come with the diffs: ${JSON.stringify(watcherMembers)} vs ${JSON.stringify(truth)}`);
      assert.ok(diffBytes.length > 0, 'diffs were received');
      assert.ok(Math.max(...diffBytes) < 200, `each diff is small (O(1)): at most ${Math.max(...diffBytes)} bytes`);
      await watcher!.leave();
    } finally {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      for (const s of servers) await s.close();
      await backing.release();
    }
  });
}

/** `presenceDiffs: false`: only the gem's <room>/user_list; <room>/presence stays silent and subscribe replies carry no state. */
export function diffsOffScenario(backend: Backend): void {
  test(`presenceDiffs: false publishes no diffs and no state (${backend})`, async () => {
    const server = await startPresenceServer(backend, { timeout: 2, userListWindow: 50, presenceDiffs: false });
    const room = `/diffsoff/room${process.pid}`;
    const watcher = new faye.Client(server.url);
    const replies: unknown[] = [];
    watcher.addExtension({
      incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
        if (message.channel === '/meta/subscribe') replies.push(message.ext);
        callback(message);
      },
    });
    const diffs: unknown[] = [];
    const lists: unknown[] = [];
    const page = onlineClient(server.url, auth(61, 'quiet', room, `/diffsoff/lesson${process.pid}`));
    try {
      await watcher.subscribe(`${room}/presence`, (data) => diffs.push(data));
      await watcher.subscribe(`${room}/user_list`, (data) => lists.push(data));
      await page.connected();
      await eventually(() => lists.length > 0, 5000, 'the gem\'s user_list still comes');
      await server.handle.settled();
      await sleep(300);
      assert.deepEqual(diffs, [], 'no join on <room>/presence');
      assert.ok(replies.every((ext) => !(ext && typeof ext === 'object' && 'faye_online_presence' in ext)), 'no state in subscribe replies');
      assert.deepEqual(lists.at(-1), { count: 1, user_list: [61] });
    } finally {
      await page.disconnect();
      await watcher.disconnect();
      await server.close();
    }
  });
}
