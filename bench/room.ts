// bench:room: one crowded room. M members join /rooms/big (raw Bayeux
// clients, bench/bayeux-worker.ts); then, with the room full:
//   - J more users join one by one: what one existing member receives per join
//     on <room>/presence (one diff) and on the legacy <room>/user_list (the
//     whole list, coalesced per window);
//   - K newcomers subscribe to <room>/presence at once: the size of the state
//     in a subscribe reply (the first page of a crowded room), the server CPU
//     per newcomer, and how many times the server read the room's state for
//     them (counted as the MGETs of the members' auths that a snapshot costs,
//     with MONITOR);
//   - one newcomer on the browser client fetches the whole state, page by
//     page: how long until its member list is complete, its requests and bytes.
//   npm run bench:room -- --members 10000 --joins 100 --newcomers 200
// --profile writes a CPU profile of the server while the room fills to bench/results/room-fill.cpuprofile.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import faye from 'faye';
import { createOnlineClient } from '../lib/client';
import { PRESENCE_STATE_EXT } from '../lib/protocol';
import type { RawClientSpec } from './bayeux-worker';
import { parseFlags } from './support/args';
import { createBacking } from './support/backing';
import { startBayeuxLoad } from './support/bayeux-load';
import { countRedis } from './support/monitor';
import { runBenchmark, startServer } from './support/processes';
import { RESULTS_DIR, commit, machineLoad, progress, saveResult, sleep, table, waitFor } from './support/report';
import { PresenceKeys } from '../lib/stores/keys';

const flags = parseFlags({ members: 10_000, joins: 100, newcomers: 200, threads: 4, concurrency: 50, timeout: 10, 'long-polling': 0.25, profile: false });
const ROOM = '/rooms/big';

function spec(url: string, uid: number, subscribe: string[]): RawClientSpec {
  const lpEvery = flags['long-polling'] > 0 ? Math.round(1 / flags['long-polling']) : Infinity;
  return {
    url,
    transport: uid % lpEvery === 0 ? 'long-polling' : 'websocket',
    auth: { room_channel: ROOM, time_channel: '/lessons/big', current_user: { uid, uname: `user${uid}` } },
    subscribe,
  };
}

/** The members in a subscribe reply's state: the whole state, or the page of a crowded room's. */
function membersIn(message: { ext?: Record<string, unknown> }, channel: string): unknown[] {
  const state = (message.ext?.[PRESENCE_STATE_EXT] as Record<string, { members?: unknown[]; page?: string }> | undefined)?.[channel];
  if (typeof state?.page === 'string') return JSON.parse(state.page) as unknown[];
  return state?.members ?? [];
}

/**
 * One newcomer on the browser client (in this process): the time until its
 * member list holds the whole room, and the subscribe replies it took.
 */
async function fullStateFetch(url: string, uid: number, expected: number) {
  const online = createOnlineClient({
    Faye: faye as never, url, room: ROOM, timeChannel: '/lessons/big', user: { uid, uname: `user${uid}` }, pageLifecycle: null, clientOptions: { timeout: flags.timeout },
  });
  const seen = { replies: 0, bytes: 0 };
  online.client.addExtension({
    incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
      if (message.channel === '/meta/subscribe' && message.subscription === `${ROOM}/presence`) {
        seen.replies += 1;
        seen.bytes += Buffer.byteLength(JSON.stringify(message));
      }
      callback(message);
    },
  } as never);
  const started = performance.now();
  const members = await new Promise<number>((resolve) => {
    online.onMembers((list) => {
      if (list.length >= expected) resolve(list.length);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await online.leave();
  return { seconds, members, ...seen };
}

/** A Faye client in this process that counts what it receives on one channel, and the size of its subscribe reply. */
async function observer(url: string, channel: string) {
  const client = new faye.Client(url, { timeout: flags.timeout, retry: 1 });
  const seen = { messages: 0, bytes: 0, replyBytes: 0, members: 0 };
  client.addExtension({
    incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
      if (message.channel === '/meta/subscribe' && message.subscription === channel) {
        seen.replyBytes = Buffer.byteLength(JSON.stringify(message));
        seen.members = membersIn(message, channel).length;
      }
      callback(message);
    },
  });
  await client.subscribe(channel, (data: unknown) => {
    seen.messages += 1;
    seen.bytes += Buffer.byteLength(JSON.stringify(data));
  });
  return { seen, close: () => Promise.resolve(client.disconnect()).catch(() => undefined) };
}

async function main(): Promise<void> {
  const backing = await createBacking({ database: true });
  const server = await startServer({ kind: 'presence', redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db!.url, timeout: flags.timeout });
  const members = startBayeuxLoad(flags.threads);
  const joiners = startBayeuxLoad(1);
  const newcomers = startBayeuxLoad(flags.threads);
  await backing.redis.redis.ping();
  const counter = await countRedis(backing.redis.url, backing.redis.namespace, [backing.redis.redis]);
  const observers: Array<{ close(): Promise<unknown> }> = [];
  try {
    const online = () => backing.redis.redis.hlen(new PresenceKeys(backing.redis.namespace).channel(ROOM));
    progress(`filling ${ROOM} with ${flags.members} members`);
    if (flags.profile) await server.cpuProfile('start');
    const cpu0 = (await server.stats()).cpuMicros;
    const fill = await members.open(Array.from({ length: flags.members }, (_, i) => spec(server.url, i + 1, [])), flags.concurrency, `fill ${ROOM}`);
    // On a loaded machine a few raw clients time out while the room fills: 99% of them is a full room.
    await waitFor('every member in the room', async () => (await online()) >= fill.connected * 0.99, 300_000, 200);
    await server.settled();
    const fillCpu = ((await server.stats()).cpuMicros - cpu0) / 1e6;
    if (flags.profile) await server.cpuProfile('stop', path.join(RESULTS_DIR, 'room-fill.cpuprofile'));
    progress(`${fill.connected} members in ${fill.seconds.toFixed(1)} s (${fill.failed} failed), server CPU ${fillCpu.toFixed(1)} s`);

    const diffs = await observer(server.url, `${ROOM}/presence`);
    const lists = await observer(server.url, `${ROOM}/user_list`);
    observers.push(diffs, lists);
    const snapshotReply = { bytes: diffs.seen.replyBytes, members: diffs.seen.members };
    await sleep(1000);

    // J joins, one every 150 ms: each alone in its user_list window (100 ms), as joins into a full room usually are.
    diffs.seen.messages = diffs.seen.bytes = lists.seen.messages = lists.seen.bytes = 0;
    const base = flags.members + 1;
    for (let j = 0; j < flags.joins; j += 1) {
      await joiners.open([spec(server.url, base + j, [])], 1, 'joins');
      await sleep(150);
    }
    await server.settled();
    await sleep(500);
    const perJoin = {
      diffMessages: diffs.seen.messages / flags.joins, diffBytes: diffs.seen.bytes / flags.joins,
      listMessages: lists.seen.messages / flags.joins, listBytes: lists.seen.bytes / flags.joins,
    };
    progress(`per join, to one member: ${perJoin.diffMessages.toFixed(2)} diffs (${perJoin.diffBytes.toFixed(0)} B), ${perJoin.listMessages.toFixed(2)} user_lists (${perJoin.listBytes.toFixed(0)} B)`);

    // K newcomers subscribe to <room>/presence at once.
    counter.reset();
    const started = performance.now();
    const cpu1 = (await server.stats()).cpuMicros;
    const subscribed = await newcomers.open(Array.from({ length: flags.newcomers }, (_, i) => spec(server.url, base + flags.joins + i, [`${ROOM}/presence`])), flags.newcomers, 'newcomers');
    const subscribeSeconds = (performance.now() - started) / 1000;
    await server.settled();
    const newcomerCpu = ((await server.stats()).cpuMicros - cpu1) / 1e6;
    const reads = counter.counts().presenceByName.mget ?? 0;
    progress(`${subscribed.connected} newcomers subscribed in ${subscribeSeconds.toFixed(2)} s: ${reads} snapshot reads, server CPU ${newcomerCpu.toFixed(2)} s`);

    // One more newcomer fetches the whole state on the browser client.
    const cpu2 = (await server.stats()).cpuMicros;
    const expected = (await online()) + 1;
    const fetch = await fullStateFetch(server.url, base + flags.joins + flags.newcomers + 1, expected);
    const fetchCpu = ((await server.stats()).cpuMicros - cpu2) / 1e6;
    progress(`one newcomer had all ${fetch.members} members in ${fetch.seconds.toFixed(2)} s: ${fetch.replies} subscribe replies, ${fetch.bytes} bytes, server CPU ${fetchCpu.toFixed(2)} s`);

    const load = machineLoad();
    console.log(`\nA room of ${flags.members} members, Faye timeout ${flags.timeout} s, user_list window 100 ms; commit ${commit()}; load ${load}\n`);
    console.log(table(['what', 'value'], [
      ['members connected (failed)', `${fill.connected} (${fill.failed})`],
      ['fill: seconds, server CPU s', `${fill.seconds.toFixed(1)}, ${fillCpu.toFixed(1)}`],
      ['per join, to one member on <room>/presence: messages, bytes', `${perJoin.diffMessages.toFixed(2)}, ${perJoin.diffBytes.toFixed(0)}`],
      ['per join, to one member on <room>/user_list: messages, bytes', `${perJoin.listMessages.toFixed(2)}, ${perJoin.listBytes.toFixed(0)}`],
      ['subscribe reply with the state (first page): members, bytes', `${snapshotReply.members}, ${snapshotReply.bytes}`],
      [`${flags.newcomers} newcomers subscribing at once: seconds, snapshot reads, server CPU s`, `${subscribeSeconds.toFixed(2)}, ${reads}, ${newcomerCpu.toFixed(2)}`],
      ['server CPU per newcomer (subscribe reply), ms', (newcomerCpu * 1000 / flags.newcomers).toFixed(1)],
      ['one newcomer\'s whole state on the browser client: seconds, replies, bytes, server CPU ms', `${fetch.seconds.toFixed(2)}, ${fetch.replies}, ${fetch.bytes}, ${(fetchCpu * 1000).toFixed(0)}`],
    ]));
    progress(`results: ${saveResult('room', { flags, fill, fillCpu, perJoin, snapshotReply, newcomers: { subscribed, subscribeSeconds, reads, newcomerCpu }, fetch: { ...fetch, fetchCpu }, load })}`);
  } finally {
    counter.stop();
    await Promise.all(observers.map((o) => o.close()));
    for (const load of [members, joiners, newcomers]) await load.end().catch(() => undefined);
    await server.close().catch(() => undefined);
    await backing.release();
  }
}

runBenchmark(main);
