// Hostile traffic, finding 3: wildcards around the rules. With the README's
// authorizeSubscription example word for word, patterns (/**, /r/**, <room>/*)
// once received other rooms' user_list and presence, and /** received the
// pages' reports on /faye_online/*. Run on both backends by the files beside it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import type { Auth } from '../../lib/core/auth';
import { signAuth } from '../../lib/security';
import { auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient } from '../support/presence-server';

const SECRET = 'wildcard-suite-secret-0123456789abcdef';

/** The README's example, verbatim apart from the secret. */
const readmeRule = ({ channel, auth }: { channel: string; auth: Auth | null }) => {
  const room = channel.replace(/\/(user_list|presence)$/, '');
  if (room === channel) return true; // not a presence channel
  return auth !== null && auth.room === room; // only pages signed for that room
};

export function wildcardScenarios(backend: Backend): void {
  describe(`the README's authorizeSubscription against wildcards (${backend})`, () => {
    let server: PresenceServer;
    const pages: TestClient[] = [];
    const subscribers: faye.Client[] = [];
    const base = `/wild${process.pid}${backend === 'mysql+redis' ? 'm' : 'e'}`;
    const roomA = `${base}/r/a`;
    const roomB = `${base}/r/b`;
    const signed = (uid: number, room: string) =>
      signAuth(auth(uid, `u${uid}`, room, `${base}/lesson`) as Parameters<typeof signAuth>[0], { secret: SECRET });

    before(async () => {
      server = await startPresenceServer(backend, { secret: SECRET, authorizeSubscription: readmeRule });
    });
    after(async () => {
      await Promise.all(pages.map((page) => page.disconnect()));
      await Promise.all(subscribers.map((client) => Promise.resolve(client.disconnect()).catch(() => undefined)));
      await server.close();
    });

    /** A page signed for `room` following `patterns`; records every channel it receives. */
    async function follower(uid: number, room: string, patterns: string[]): Promise<string[]> {
      const client = new faye.Client(server.url, { timeout: 10, retry: 1 });
      client.disable('autodisconnect');
      const wire = signed(uid, room);
      client.addExtension({
        outgoing(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
          message.auth = wire;
          callback(message);
        },
      });
      subscribers.push(client);
      const received: string[] = [];
      for (const pattern of patterns) {
        const subscription = client.subscribe(pattern, (data: unknown) => received.push(`${pattern} ${JSON.stringify(data)}`));
        await subscription;
      }
      // Messages arrive per channel, so each record names the pattern it came by;
      // the channel itself is carried by the marker messages below.
      return received;
    }

    test('patterns receive no room list they could not subscribe to by name, and no page reports', async () => {
      // A page signed for room A follows everything it can with patterns.
      const everything = await follower(1, roomA, ['/**', `${base}/r/**`, `${roomB}/*`, `${base}/**`]);
      // A page signed for room B subscribes to B's lists by name: allowed.
      const member = await follower(2, roomB, [`${roomB}/user_list`, `${roomB}/presence`]);
      // The same page of room A may not subscribe to B's list by name.
      const nosy = new faye.Client(server.url, { timeout: 10, retry: 1 });
      subscribers.push(nosy);
      const wireA = signed(3, roomA);
      nosy.addExtension({ outgoing: (m: faye.BayeuxMessage, cb: (m: faye.BayeuxMessage) => void) => cb({ ...m, auth: wireA }) });
      await assert.rejects(Promise.resolve(nosy.subscribe(`${roomB}/user_list`, () => undefined)), /Subscription to .* refused/);

      // Someone joins room B, and reports engagement and before_leave.
      const page = onlineClient(server.url, signed(9, roomB));
      pages.push(page);
      await page.connected();
      await page.faye.publish('/faye_online/engagement', { engaged: true, seq: 1 });
      await page.faye.publish('/faye_online/before_leave', {});
      await eventually(() => member.some((line) => line.includes('user_list')) && member.some((line) => line.includes('"join"')), 10_000, 'the member saw the join');

      // A marker on an app channel, published after all of it: once the
      // pattern follower has it, whatever came before has arrived too.
      const marker = `${roomB}/chat`;
      await page.faye.publish(marker, { marker: true });
      await eventually(() => everything.filter((line) => line.includes('"marker":true')).length === 4, 10_000, 'the marker reached all four patterns');
      assert.deepEqual(everything.filter((line) => !line.includes('"marker":true')), [], 'nothing but the marker');
    });
  });

  describe(`an app rule for its own channels, blind to patterns, holds for pattern subscribers too (${backend})`, () => {
    let server: PresenceServer;
    const clients: faye.Client[] = [];
    const base = `/own${process.pid}${backend === 'mysql+redis' ? 'm' : 'e'}`;
    const roomOf = (name: string) => `${base}/r/${name}`;
    const asked: string[] = [];
    // "/<base>/secret/<name>" is for pages signed for room <name>; anything
    // else, patterns included (the rule never thought of them), is allowed.
    const appRule = ({ channel, auth }: { channel: string; auth: Auth | null }) => {
      asked.push(channel);
      const secret = new RegExp(`^${base}/secret/([a-z0-9]+)$`).exec(channel);
      if (!secret) return true;
      return auth !== null && auth.room === roomOf(secret[1]);
    };
    const signed = (uid: number, room: string) =>
      signAuth(auth(uid, `u${uid}`, room, `${base}/lesson`) as Parameters<typeof signAuth>[0], { secret: SECRET });

    before(async () => {
      server = await startPresenceServer(backend, { secret: SECRET, authorizeSubscription: appRule });
    });
    after(async () => {
      await Promise.all(clients.map((client) => Promise.resolve(client.disconnect()).catch(() => undefined)));
      await server.close();
    });

    async function follower(uid: number, room: string, patterns: string[], transport: 'websocket' | 'long-polling'): Promise<string[]> {
      const client = new faye.Client(server.url, { timeout: 10, retry: 1 });
      client.disable('autodisconnect');
      if (transport === 'long-polling') client.disable('websocket');
      const wire = signed(uid, room);
      client.addExtension({ outgoing: (m: faye.BayeuxMessage, cb: (m: faye.BayeuxMessage) => void) => cb({ ...m, auth: wire }) });
      clients.push(client);
      const received: string[] = [];
      for (const pattern of patterns) await client.subscribe(pattern, (data: unknown) => received.push(`${pattern} ${JSON.stringify(data)}`));
      return received;
    }

    for (const transport of ['websocket', 'long-polling'] as const) {
      test(`a page of room a gets room b's secret channel by no pattern, its own by every one (${transport})`, async () => {
        const patterns = ['/**', `${base}/**`, `${base}/secret/*`];
        const nosy = await follower(transport === 'websocket' ? 1 : 2, roomOf('a'), patterns, transport);
        const member = await follower(3, roomOf('b'), [`${base}/secret/b`], transport);
        const publisher = server.handle.adapter.getClient();
        await publisher.publish(`${base}/secret/b`, { secret: 'b' });
        await publisher.publish(`${base}/secret/a`, { marker: 'a' });
        await eventually(() => nosy.filter((line) => line.includes('"marker"')).length === patterns.length, 10_000, 'the marker reached every pattern');
        await eventually(() => member.length === 1, 10_000, 'the member got its secret');
        assert.deepEqual(nosy.filter((line) => !line.includes('"marker"')), [], 'nothing of room b');
        assert.deepEqual(member, [`${base}/secret/b {"secret":"b"}`]);
        // Each page's rule decision is kept: the rule was asked about the delivered channels, not once per message.
        assert.ok(asked.includes(`${base}/secret/b`) && asked.includes(`${base}/secret/a`));
      });
    }
  });
}
