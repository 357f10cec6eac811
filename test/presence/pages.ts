// Pages of a crowded room's state: a newcomer of a room larger than one page
// gets the first page in its subscribe reply and the others on request, and
// still ends with exactly the room's members, joins and leaves during its
// paging included; in a cluster, a page asked of another process is answered
// from that process' read of the same seq, or starts over when the room changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import faye from 'faye';
import { createOnlineClient, type OnlineClient, type OnlineUser } from '../../lib/client';
import type { FayeMessage } from '../../lib/client/types';
import { PRESENCE_PAGE_EXT, PRESENCE_STATE_EXT } from '../../lib/protocol';
import { postBayeux, rawHandshake, type Reply } from '../security/support';
import {
  auth, createBacking, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { sleep } from '../support/wait';

export const PAGE_SIZE = 4;

/** The state a subscribe reply carries for one presence channel (a whole state or a page). */
export function stateIn(reply: Reply | FayeMessage, channel: string): Record<string, unknown> | undefined {
  const all = (reply.ext as Record<string, unknown> | undefined)?.[PRESENCE_STATE_EXT] as Record<string, Record<string, unknown>> | undefined;
  return all?.[channel];
}

let ids = 0;
/** A raw /meta/subscribe of a presence channel, with a page request when given. */
export async function subscribe(server: PresenceServer, clientId: string, channel: string, page?: unknown): Promise<Reply> {
  const message = { channel: '/meta/subscribe', clientId, subscription: channel, id: `page${++ids}`, ...(page === undefined ? {} : { ext: { [PRESENCE_PAGE_EXT]: page } }) };
  const { replies } = await postBayeux(server, [message]);
  const reply = replies.find((r) => r.channel === '/meta/subscribe');
  if (!reply) throw new Error(`no subscribe reply: ${JSON.stringify(replies)}`);
  return reply;
}

/** A watcher page on the typed browser client, recording the state replies it gets; its page requests wait `delayMs`. */
function watcher(url: string, room: string, time: string, uid: number, delayMs: number) {
  const online = createOnlineClient({ Faye: faye as never, url, room, timeChannel: time, user: { uid, uname: `watcher${uid}` }, pageLifecycle: null });
  const seen = { pages: 0, pageRequests: 0, largestReply: 0, diffsWhilePaging: 0, complete: false, members: [] as OnlineUser[] };
  online.client.addExtension({
    outgoing(message: FayeMessage, callback: (m: FayeMessage) => void) {
      const ext = message.ext as Record<string, unknown> | undefined;
      if (message.channel === '/meta/subscribe' && ext?.[PRESENCE_PAGE_EXT]) {
        seen.pageRequests += 1;
        setTimeout(() => callback(message), delayMs);
      } else {
        callback(message);
      }
    },
    incoming(message: FayeMessage, callback: (m: FayeMessage) => void) {
      if (message.channel === `${room}/presence` && seen.pages > 0 && !seen.complete) seen.diffsWhilePaging += 1;
      const state = message.channel === '/meta/subscribe' ? stateIn(message, `${room}/presence`) : undefined;
      if (state) {
        if (typeof state.page === 'string') seen.pages += 1;
        const members = typeof state.page === 'string' ? (JSON.parse(state.page) as unknown[]) : (state.members as unknown[]);
        seen.largestReply = Math.max(seen.largestReply, members.length);
      }
      callback(message);
    },
  });
  const ready = online.onMembers((members) => {
    seen.complete = true;
    seen.members = members;
  }).ready;
  return { online, seen, ready };
}

const byUid = (members: Array<{ uid: number }>) => members.map((m) => m.uid).sort((a, b) => a - b);

export function pagedRoomScenario(backend: Backend, serverCount: number): void {
  test(`newcomers of a room larger than one page end with exactly its members, joins and leaves during their paging included (${backend}, ${serverCount} server(s))`, async () => {
    const backing = await createBacking(backend);
    const servers: PresenceServer[] = [];
    const pages: TestClient[] = [];
    const watchers: Array<ReturnType<typeof watcher>> = [];
    const room = `/pages/room${process.pid}`;
    const time = `/pages/lesson${process.pid}`;
    try {
      for (let i = 0; i < serverCount; i++) servers.push(await startPresenceServer(backend, { timeout: 2, userListWindow: 50, presencePageSize: PAGE_SIZE }, backing));
      const join = async (uid: number) => {
        const page = onlineClient(servers[uid % serverCount].url, auth(uid, `user${uid}`, room, time));
        pages.push(page);
        await page.connected();
        return page;
      };
      const first = await Promise.all(Array.from({ length: 10 }, (_, i) => join(i + 1)));
      await eventually(async () => (await servers[0].handle.onlineCount(room)) === 10, 10_000, 'ten members');

      // Three newcomers page slowly (each page request waits 150 ms) while
      // users join and leave: their diffs come while the pages do.
      for (let i = 0; i < 3; i++) watchers.push(watcher(servers[i % serverCount].url, room, time, 100 + i, 150));
      const churn = (async () => {
        for (let uid = 11; uid <= 14; uid++) {
          await join(uid);
          await sleep(60);
        }
        await first[0].disconnect();
        await first[1].disconnect();
      })();
      await Promise.all([churn, ...watchers.map((w) => w.ready)]);

      const truth = async () => {
        for (const s of servers) await s.handle.settled();
        return servers[0].handle.members(room);
      };
      await eventually(async () => {
        const expected = byUid(await truth());
        return watchers.every((w) => JSON.stringify(byUid(w.seen.members)) === JSON.stringify(expected));
      }, 15_000, 'every newcomer has the room\'s members').catch(async (error) => {
        const expected = byUid(await truth());
        for (const w of watchers) assert.deepEqual(byUid(w.seen.members), expected, String(error));
      });
      const members = await truth();
      assert.equal(members.length, 15, '10 + 4 joined - 2 left + 3 newcomers');
      assert.ok(watchers.some((w) => w.seen.diffsWhilePaging > 0), 'diffs came while pages did');
      for (const w of watchers) {
        assert.ok(w.seen.pages >= 3, `the state came in pages: ${w.seen.pages}`);
        assert.ok(w.seen.pageRequests >= 2, `the newcomer asked for the next pages: ${w.seen.pageRequests}`);
        assert.ok(w.seen.largestReply <= PAGE_SIZE, `no reply carried more than one page: ${w.seen.largestReply}`);
        for (const m of members) assert.equal(w.seen.members.find((x) => x.uid === m.uid)?.uname, m.uname, 'names come with the pages and diffs');
      }
    } finally {
      await Promise.all(watchers.map((w) => w.online.leave()));
      await Promise.all(pages.map((p) => p.disconnect().catch(() => undefined)));
      for (const s of servers) await s.close();
      await backing.release();
    }
  });
}

/** Two processes of one cluster: a page asked of the process that did not read it. */
export function clusterPagesScenario(): void {
  test('a page asked of another process comes from its read of the same seq, or starts over once the room changed (mysql+redis, 2 servers)', async () => {
    const backing = await createBacking('mysql+redis');
    const pages: TestClient[] = [];
    let a: PresenceServer | undefined;
    let b: PresenceServer | undefined;
    let c: PresenceServer | undefined;
    const room = `/pages/cluster${process.pid}`;
    const channel = `${room}/presence`;
    try {
      a = await startPresenceServer('mysql+redis', { timeout: 2, presencePageSize: PAGE_SIZE }, backing);
      b = await startPresenceServer('mysql+redis', { timeout: 2, presencePageSize: PAGE_SIZE }, backing);
      for (let uid = 1; uid <= 9; uid++) {
        const page = onlineClient(a.url, auth(uid, `user${uid}`, room, '/pages/lesson'));
        pages.push(page);
        await page.connected();
      }
      await eventually(async () => (await a!.handle.onlineCount(room)) === 9);
      await a.handle.settled();
      const clientId = await rawHandshake(a);

      const first = stateIn(await subscribe(a, clientId, channel), channel)!;
      assert.deepEqual({ count: first.count, offset: first.offset, next: first.next }, { count: 9, offset: 0, next: 4 });
      const seq = first.seq as number;
      const fromA = stateIn(await subscribe(a, clientId, channel, { seq, cursor: 4 }), channel)!;
      const fromB = stateIn(await subscribe(b, clientId, channel, { seq, cursor: 4 }), channel)!;
      assert.deepEqual(fromB, fromA, 'the room did not change: B\'s read of the same seq has the same page');
      assert.deepEqual({ seq: fromA.seq, offset: fromA.offset, next: fromA.next }, { seq, offset: 4, next: 8 });

      // The room changes: a third process, which never read the old seq, can
      // only start over with its own read.
      c = await startPresenceServer('mysql+redis', { timeout: 2, presencePageSize: PAGE_SIZE }, backing);
      const late = onlineClient(a.url, auth(10, 'user10', room, '/pages/lesson'));
      pages.push(late);
      await late.connected();
      await eventually(async () => (await a!.handle.onlineCount(room)) === 10);
      await a.handle.settled();
      const restart = stateIn(await subscribe(c, clientId, channel, { seq, cursor: 4 }), channel)!;
      assert.equal(restart.offset, 0, 'a page of a read of another process, whose room changed since, starts over');
      assert.equal(restart.count, 10);
      assert.ok((restart.seq as number) > seq);
      const last = stateIn(await subscribe(a, clientId, channel, { seq, cursor: 8 }), channel)!;
      assert.deepEqual({ seq: last.seq, offset: last.offset, next: last.next }, { seq, offset: 8, next: undefined }, 'A still keeps its read of the old seq');
      assert.deepEqual(byUid(JSON.parse(first.page as string)).concat(byUid(JSON.parse(fromA.page as string)), byUid(JSON.parse(last.page as string))), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await Promise.all(pages.map((p) => p.disconnect().catch(() => undefined)));
      await a?.close();
      await b?.close();
      await c?.close();
      await backing.release();
    }
  });
}

export type { OnlineClient };
