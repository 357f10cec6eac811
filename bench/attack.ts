// bench:attack: the hostile traffic of issue 14, replayed against a real
// server process (MariaDB + Redis), reporting for each attack the longest
// event-loop block of the server (perf_hooks monitorEventLoopDelay), its RSS
// before and at peak, and what the attack produced (rows, messages, keys).
// The target: no request or frame blocks the loop for more than 50 ms, RSS
// stays bounded. Results: bench/results/attack-*.json and BENCHMARKS.md.
//   npm run bench:attack -- --members 1000 --frame 60000
import faye from 'faye';
import WebSocket from 'faye-websocket';
import { DEFAULTS } from '../lib/options';
import { openDatabase } from '../lib/records';
import { signAuth } from '../lib/security';
import { parseFlags } from './support/args';
import { createBacking } from './support/backing';
import { runBenchmark, startServer, type BenchServer, type ServerStats } from './support/processes';
import { commit, progress, saveResult, sleep, table } from './support/report';
import { PresenceKeys } from '../lib/stores/keys';
import { clientFrame, handWebSocket } from '../test/support/hand-websocket';

const flags = parseFlags({ members: 1000, frame: 60000, repeats: 2300, tabs: 40, hops: 200, clientIds: 2000, seconds: 5 });
const SECRET = 'bench-attack-secret-0123456789abcdef';
const ROOM = '/attack/rooms/1';
const LESSON = '/attack/lessons/1';
/** The default maxMessagesPerRequest: legitimate batches of the bench stay at it. */
const BATCH = DEFAULTS.maxMessagesPerRequest;

interface Row {
  attack: string;
  loopMaxMs: number;
  loopP99Ms: number;
  /** The longest garbage collection in the attack, ms: a loop block this long may be V8's, not the request's. */
  gcLongestMs: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  outcome: string;
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
let ids = 0;

async function post(server: BenchServer, body: string): Promise<{ status: number; replies: Array<Record<string, unknown>> }> {
  const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await response.text();
  try {
    return { status: response.status, replies: JSON.parse(text) };
  } catch {
    return { status: response.status, replies: [] };
  }
}

async function handshakes(server: BenchServer, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const batch = Math.min(BATCH, n - out.length);
    const { replies } = await post(server, JSON.stringify(Array.from({ length: batch }, () => ({ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'], id: `h${++ids}` }))));
    out.push(...replies.map((reply) => String(reply.clientId)));
  }
  return out;
}

const wire = (uid: number, room = ROOM, secret?: string) => {
  const plain = { room_channel: room, time_channel: LESSON, current_user: { uid, uname: `user${uid}` } };
  return secret ? signAuth(plain, { secret }) : plain;
};

async function connects(server: BenchServer, pairs: Array<[string, unknown]>): Promise<void> {
  for (let i = 0; i < pairs.length; i += BATCH) {
    const batch = pairs.slice(i, i + BATCH).map(([clientId, auth]) => ({ channel: '/meta/connect', clientId, connectionType: 'long-polling', advice: { timeout: 0 }, id: `c${++ids}`, auth }));
    await post(server, JSON.stringify(batch));
  }
}

async function measure(server: BenchServer, attack: string, run: () => Promise<string>): Promise<Row> {
  await server.settled();
  // Whatever the previous attack left queued (engine round trips) ends first.
  await sleep(2000);
  server.reset();
  const before = await server.stats();
  progress(`attack: ${attack}`);
  const outcome = await run();
  await server.settled();
  const after: ServerStats = await server.stats();
  return { attack, loopMaxMs: Math.round(after.loopMaxMs * 10) / 10, loopP99Ms: Math.round(after.loopP99Ms * 10) / 10, gcLongestMs: Math.round(after.gcLongestMs * 10) / 10, rssBeforeMb: mb(before.rss), rssPeakMb: mb(after.rssPeak), outcome };
}

function wsSend(server: BenchServer, frames: string[]): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket.Client(server.url.replace(/^http/, 'ws'));
    let replies = 0;
    ws.on('open', () => frames.forEach((frame) => ws.send(frame)));
    ws.on('message', (event: { data: string }) => {
      replies += (JSON.parse(event.data) as unknown[]).length;
    });
    const done = (how: string) => resolve(`${how}, ${replies} replies`);
    ws.on('close', () => done('closed by the server'));
    setTimeout(() => {
      ws.close();
      done('still open after 5 s');
    }, 5000);
  });
}

async function main(): Promise<void> {
  const backing = await createBacking({ database: true });
  const sequelize = openDatabase(backing.db!.url);
  const servers: BenchServer[] = [];
  const rows: Row[] = [];
  try {
    const config = { kind: 'presence' as const, redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db!.url, timeout: 60 };
    const server = await startServer(config);
    servers.push(server);
    const handshake = (n: number) => Array.from({ length: n }, (_, i) => ({ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], id: `f${i}` }));

    // What this machine does to an idle server (other processes share its cores).
    rows.push(await measure(server, `baseline: no attack, ${flags.seconds} s`, async () => {
      await sleep(flags.seconds * 1000);
      return 'idle';
    }));

    // 1. One WebSocket frame carrying N messages, and the same spread over frames at the limit.
    const big = JSON.stringify(handshake(flags.frame));
    rows.push(await measure(server, `1 WebSocket frame of ${flags.frame} handshakes (${mb(big.length)} MB)`, () => wsSend(server, [big])));
    rows.push(await measure(server, `1 WebSocket frame of ${BATCH + 1} handshakes`, () => wsSend(server, [JSON.stringify(handshake(BATCH + 1))])));
    rows.push(await measure(server, `200 WebSocket frames of ${BATCH} handshakes`, () => wsSend(server, Array(200).fill(JSON.stringify(handshake(BATCH))))));
    // Frames holding /meta/connect, which Faye holds open, so each keeps its frame-queue slot for one turn
    // only: 200 of them, each of 50 connects with an auth, for clientIds the engine knows (handshaken over HTTP first).
    const held = await handshakes(server, 200);
    const connectFrames = Array.from({ length: 200 }, (_, f) => JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({
      channel: '/meta/connect', clientId: held[f], connectionType: 'websocket', id: `k${f}-${i}`, auth: wire(5000 + f),
    }))));
    rows.push(await measure(server, `200 WebSocket frames of ${BATCH} connects (known clientIds, with auth)`, () => wsSend(server, connectFrames)));
    // 2. Clients that do not read what they are sent: one flooding frames, one subscribed to a busy channel.
    rows.push(await measure(server, `WebSocket frames of one handshake for ${flags.seconds} s, answers never read`, async () => {
      const flooder = await handWebSocket(server.url);
      flooder.reading(false);
      const frame = clientFrame(JSON.stringify(handshake(1)));
      const write = Buffer.concat(Array(600).fill(frame));
      let written = 0;
      const until = Date.now() + flags.seconds * 1000;
      while (Date.now() < until) {
        if (flooder.socket.writableLength < 1024 * 1024) {
          flooder.socket.write(write);
          written += write.length;
        }
        await sleep(10);
      }
      const heldBack = flooder.socket.writableLength;
      flooder.socket.destroy();
      return `${mb(written)} MB written (${Math.round(written / frame.length)} frames), then held back (${mb(heldBack)} MB the client could not send)`;
    }));
    rows.push(await measure(server, `a subscriber that stops reading, 32 KB messages published for ${flags.seconds} s`, async () => {
      const slow = await handWebSocket(server.url);
      slow.send(handshake(1));
      while (slow.replies.length === 0) await sleep(10);
      const clientId = slow.replies[0]!.clientId as string;
      slow.send([{ channel: '/meta/subscribe', clientId, subscription: '/attack/busy/chat', id: 's' }]);
      while (slow.replies.length < 2) await sleep(10);
      slow.send([{ channel: '/meta/connect', clientId, connectionType: 'websocket', id: 'c' }]);
      slow.reading(false);
      const publisher = new faye.Client(server.url, { timeout: 60 });
      const text = 'x'.repeat(32 * 1024);
      let published = 0;
      const until = Date.now() + flags.seconds * 1000;
      while (Date.now() < until) {
        await publisher.publish('/attack/busy/chat', { text });
        published += 1;
      }
      await publisher.disconnect();
      // A socket not read does not see its end: read what was sent, then the end (or not, within 2 s).
      slow.reading(true);
      const closed = await Promise.race([slow.closed.then(() => true), sleep(2000).then(() => false)]);
      slow.socket.destroy();
      const received = slow.replies.filter((reply) => reply.channel === '/attack/busy/chat').length;
      return `${published} published (${mb(published * text.length)} MB); ${closed ? 'closed by the server' : 'still open'}, ${received} received`;
    }));
    rows.push(await measure(server, `HTTP POST of ${flags.frame} handshakes`, async () => {
      // The server answers 413 from the headers and closes without reading the body.
      const outcome = await post(server, big).then((r) => `HTTP ${r.status}`, (error: Error & { cause?: { code?: string } }) => `closed unread (${error.cause?.code ?? error.message})`);
      return outcome;
    }));
    rows.push(await measure(server, `HTTP POST of ${BATCH + 1} handshakes`, async () => {
      const { replies } = await post(server, JSON.stringify(handshake(BATCH + 1)));
      return `${replies.length} reply: ${String(replies[0]?.error)}`;
    }));

    // 3. Subscribe amplification in a crowded room.
    progress(`populating ${ROOM} with ${flags.members} members`);
    const members = await handshakes(server, flags.members);
    await connects(server, members.map((clientId, i) => [clientId, wire(1000 + i)]));
    await server.settled();
    const [attacker] = await handshakes(server, 1);
    const presence = `${ROOM}/presence`;
    const repeated = JSON.stringify([{ channel: '/meta/subscribe', clientId: attacker, subscription: Array(flags.repeats).fill(presence), id: 's' }]);
    rows.push(await measure(server, `subscribe repeating ${ROOM}/presence ${flags.repeats} times (${Math.round(repeated.length / 1024)} KiB)`, async () => {
      const { replies } = await post(server, repeated);
      // A room larger than one page answers with its first page (`page`: the members' JSON, `count`: all of them).
      const state = (replies[0]?.ext as { faye_online_presence?: Record<string, { members?: unknown[]; page?: string; count?: number }> } | undefined)?.faye_online_presence;
      const room = state?.[presence];
      const members = room?.members ?? (room?.page ? (JSON.parse(room.page) as unknown[]) : []);
      return `one reply, ${Object.keys(state ?? {}).length} room state: ${members.length} of ${room?.count ?? members.length} members`;
    }));
    const hundred = JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ channel: '/meta/subscribe', clientId: attacker, subscription: presence, id: `s${i}` })));
    rows.push(await measure(server, `${BATCH} subscribes to ${ROOM}/presence in one request`, async () => {
      const { replies } = await post(server, hundred);
      return `${replies.length} reply: ${String(replies[0]?.error)}`;
    }));
    const eight = JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ channel: '/meta/subscribe', clientId: attacker, subscription: presence, id: `e${i}` })));
    rows.push(await measure(server, `8 subscribes to ${ROOM}/presence in one request, 20 requests at once`, async () => {
      const all = await Promise.all(Array.from({ length: 20 }, () => post(server, eight)));
      return `${all.reduce((n, r) => n + r.replies.length, 0)} replies, each with the first page of the state of ${flags.members} members`;
    }));

    // 4. One identity floods (unsigned server: anyone may claim a uid).
    const loginRows = async () => Number(((await sequelize.query('SELECT COUNT(*) AS n FROM faye_user_login_logs'))[0] as Array<{ n: number }>)[0].n);
    const tabs = await handshakes(server, flags.tabs);
    rows.push(await measure(server, `one user, ${flags.tabs} tabs polling for ${flags.seconds} s`, async () => {
      const start = await loginRows();
      const until = Date.now() + flags.seconds * 1000;
      let polls = 0;
      while (Date.now() < until) {
        await connects(server, tabs.map((clientId) => [clientId, wire(7)]));
        polls += 1;
      }
      await server.settled();
      return `${(await loginRows()) - start} login rows in ${flags.seconds} s (${polls} polls of every tab)`;
    }));

    const watcher = new faye.Client(server.url, { timeout: 60 });
    let presenceMessages = 0;
    await watcher.subscribe(`${'/attack/rooms/hop'}/presence`, () => {
      presenceMessages += 1;
    });
    const [hopper] = await handshakes(server, 1);
    rows.push(await measure(server, `room hopping: ${flags.hops} connects alternating two rooms`, async () => {
      const start = await loginRows();
      const started = Date.now();
      for (let i = 0; i < flags.hops; i++) await connects(server, [[hopper, wire(8, i % 2 ? '/attack/rooms/hop' : '/attack/rooms/away')]]);
      await sleep(2500); // the last damped move applies at the end of its interval
      await server.settled();
      const seconds = (Date.now() - started) / 1000;
      return `${(await loginRows()) - start} login rows, ${presenceMessages} presence messages to a member in ${seconds.toFixed(1)} s`;
    }));
    await watcher.disconnect();

    rows.push(await measure(server, `${flags.clientIds} short-lived clientIds of one user, padded auth`, async () => {
      const padded = { ...wire(9), pad: 'x'.repeat(1800), current_user: { uid: 9, uname: 'user9', extra: 'y'.repeat(1800) } };
      const clientIds = await handshakes(server, flags.clientIds);
      await connects(server, clientIds.map((clientId) => [clientId, padded]));
      await server.settled();
      const keys = await backing.redis.redis.keys(new PresenceKeys(backing.redis.namespace).auth('*'));
      const values = keys.length ? await backing.redis.redis.mget(...keys) : [];
      const bytes = values.reduce((sum, value) => sum + (value?.length ?? 0), 0);
      const ours = values.filter((value) => value?.includes('"uid":9')).length;
      return `${ours} auth keys of uid 9 (${keys.length} in all, ${Math.round(bytes / Math.max(1, keys.length))} bytes each on average)`;
    }));
    await server.close();

    // Signed mode: 40 tabs of one signed user.
    const signedServer = await startServer({ ...config, secret: SECRET });
    servers.push(signedServer);
    const signedTabs = await handshakes(signedServer, flags.tabs);
    const signedAuth = wire(10, ROOM, SECRET);
    rows.push(await measure(signedServer, `signed: one user, ${flags.tabs} tabs polling for ${flags.seconds} s`, async () => {
      const start = await loginRows();
      const until = Date.now() + flags.seconds * 1000;
      let polls = 0;
      while (Date.now() < until) {
        await connects(signedServer, signedTabs.map((clientId) => [clientId, signedAuth]));
        polls += 1;
      }
      await signedServer.settled();
      return `${(await loginRows()) - start} login rows in ${flags.seconds} s (${polls} polls of every tab)`;
    }));
  } finally {
    for (const server of servers) await server.close();
    await sequelize.close();
    await backing.release();
  }

  const report = table(['attack', 'loop max (ms)', 'loop p99 (ms)', 'longest GC (ms)', 'RSS before (MB)', 'RSS peak (MB)', 'outcome'], rows.map((r) => [r.attack, r.loopMaxMs, r.loopP99Ms, r.gcLongestMs, r.rssBeforeMb, r.rssPeakMb, r.outcome]));
  console.log(`\nbench:attack (commit ${commit()}, target: loop max <= 50 ms)\n\n${report}`);
  console.log(`saved ${saveResult('attack', { commit: commit(), flags, rows })}`);
}

runBenchmark(main);
