// Presence diffs: a client that takes the state from its subscribe reply and
// then applies <room>/presence diffs keeps exactly the server's list, through
// random churn on one or two servers, without ever receiving the whole list again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import faye from 'faye';
import {
  auth, createBacking, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient,
} from '../support/presence-server';
import { userInfoList } from './sql-helpers';

interface Diff { event: 'join' | 'leave'; uid: number; user: { uid: number; uname: string }; seq: number }

/** The client side of the protocol, as the browser client implements it. */
class RebuiltList {
  readonly members = new Map<number, { uid: number; uname: string }>();
  private readonly lastSeq = new Map<number, number>();
  private baseSeq = 0;
  private ready = false;
  private readonly early: Diff[] = [];
  diffBytes: number[] = [];

  setState(state: { seq: number; members: Array<{ uid: number; user: { uid: number; uname: string } }> }): void {
    this.baseSeq = state.seq;
    for (const m of state.members) this.members.set(m.uid, m.user);
    this.ready = true;
    for (const diff of this.early.splice(0)) this.apply(diff);
  }

  apply(diff: Diff): void {
    if (!this.ready) {
      this.early.push(diff);
      return;
    }
    // A diff older than what we know of this user is stale (it may arrive late
    // from another process): skip it.
    if (diff.seq <= (this.lastSeq.get(diff.uid) ?? this.baseSeq)) return;
    this.lastSeq.set(diff.uid, diff.seq);
    if (diff.event === 'join') this.members.set(diff.uid, diff.user);
    else this.members.delete(diff.uid);
  }
}

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
      const rebuilt = new RebuiltList();
      const watcher = new faye.Client(servers[0].url);
      watcher.addExtension({
        incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
          const state = (message.ext as Record<string, any> | undefined)?.faye_online_presence?.[`${room}/presence`];
          if (message.channel === '/meta/subscribe' && state) rebuilt.setState(state);
          callback(message);
        },
      });

      const live: TestClient[] = [];
      for (let step = 0; step < 40; step++) {
        if (step === 12) {
          await watcher.subscribe(`${room}/presence`, (diff: Diff) => {
            rebuilt.diffBytes.push(JSON.stringify(diff).length);
            rebuilt.apply(diff);
          });
        }
        if (live.length === 0 || rand() < 0.55) {
          const uid = 1 + Math.floor(rand() * 8);
          const client = onlineClient(servers[Math.floor(rand() * servers.length)].url, auth(uid, `user${uid}`, room, time));
          clients.push(client);
          live.push(client);
          void client.connected().catch(() => undefined);
        } else {
          const [gone] = live.splice(Math.floor(rand() * live.length), 1);
          void gone.disconnect().catch(() => undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, rand() * 60));
      }
      await eventually(async () => {
        for (const s of servers) await s.handle.settled();
        const truth = (await servers[0].handle.members(room)).map((m) => m.uid).sort();
        const list = JSON.parse((await userInfoList(servers[0], room)) ?? '[]').sort();
        return JSON.stringify(truth) === JSON.stringify(list) && JSON.stringify([...rebuilt.members.keys()].sort()) === JSON.stringify(truth);
      }, 10_000, `rebuilt list equals the server's (seed ${seed})`).catch(async (error) => {
        const truth = (await servers[0].handle.members(room)).map((m) => m.uid).sort();
        assert.deepEqual([...rebuilt.members.keys()].sort(), truth, `seed ${seed}: ${String(error)}`);
      });
      const truth = await servers[0].handle.members(room);
      for (const m of truth) assert.equal(rebuilt.members.get(m.uid)?.uname, m.uname, 'names come with the diffs');
      assert.ok(rebuilt.diffBytes.length > 0, 'diffs were received');
      assert.ok(Math.max(...rebuilt.diffBytes) < 200, `each diff is small (O(1)): at most ${Math.max(...rebuilt.diffBytes)} bytes`);
      await watcher.disconnect();
    } finally {
      await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
      for (const s of servers) await s.close();
      await backing.release();
    }
  });
}
