// bench:storm: U users join one room at once, stay for a while, then leave.
// For faye-online: time until Redis, MySQL and the last <room>/user_list are
// final; SQL statements and Redis round trips per join, per repeated connect
// and per leave; user_list bytes delivered to one subscriber. For plain Faye
// (same engine, no presence): each client announces its own join and leave on
// a channel, and the time until one subscriber has them all.
//   npm run bench:storm -- --users 250,1000
// --profile writes --cpu-prof profiles of the servers to bench/results/profiles/.
// --server-flags "<node flags>" runs both servers with them (e.g. "--trace-gc", "--max-semi-space-size=32").
// --leave-allocation-profile writes a sampling allocation profile of each server's leave storm (every
// allocation, collected or not) to bench/results/storm-<kind>-<users>-leave.heapprofile: the garbage a leave makes.
// --leave-promoted-profile keeps only what survived young collections (what each scavenge copies and promotes,
// the in-flight state of the departures) in bench/results/storm-<kind>-<users>-leave-promoted.heapprofile.
import { performance } from 'node:perf_hooks';
import faye from 'faye';
import type { ClientSpec } from './client-worker';
import { numberList, parseFlags } from './support/args';
import { createBacking, type Backing } from './support/backing';
import { countRedis, type Counts } from './support/monitor';
import { runBenchmark, startClientWorker, startServer, type BenchServer, type ClientWorker } from './support/processes';
import path from 'node:path';
import { RESULTS_DIR, commit, machineLoad, progress, saveResult, sleep, table, waitFor } from './support/report';
import { PresenceKeys } from '../lib/stores/keys';

// --leave-grace 0: leaves are final at once, so the storm measures the work; faye-online's
// default (5 s) delays every leave after a disconnect by design, to absorb reloads.
const flags = parseFlags({ 'leave-grace': 0, users: '1000', hold: 12, timeout: 10, window: 100, 'long-polling': 0.25, workers: 2, repeat: 1, profile: false, 'leave-allocation-profile': false, 'leave-promoted-profile': false, 'server-flags': '' });
const ROOM = '/rooms/storm';
const LIMIT_MS = 180_000;

interface Phase {
  seconds: number;
  /** Server CPU seconds (user + system) spent in the phase, until settled. */
  cpuSeconds: number;
  /** Load averages when the phase ended. */
  load: string;
  sql: number;
  redis: Counts;
  connects: number;
  messages: number;
  bytes: number;
  maxMessageBytes: number;
}

interface StormResult {
  kind: 'presence' | 'plain';
  users: number;
  join: Phase;
  hold: Phase;
  leave: Phase;
}

function specs(users: number, url: string, kind: 'presence' | 'plain'): ClientSpec[] {
  const lpEvery = flags['long-polling'] > 0 ? Math.round(1 / flags['long-polling']) : Infinity;
  return Array.from({ length: users }, (_, i) => ({
    url, uid: i + 1, uname: `user${i + 1}`, room: ROOM, timeChannel: '/lessons/storm',
    transport: i % lpEvery === lpEvery - 1 ? 'long-polling' : 'websocket',
    subscribe: [],
    ...(kind === 'plain' ? { announce: `${ROOM}/announce` } : {}),
  }));
}

async function storm(kind: 'presence' | 'plain', users: number): Promise<StormResult> {
  const label = `${kind}, ${users} users`;
  const backing: Backing = await createBacking({ database: kind === 'presence' });
  const ns = backing.redis.namespace;
  let server: BenchServer | undefined;
  const workers: ClientWorker[] = [];
  await backing.redis.redis.ping(); // connected, so its address is known to the counter
  const counter = await countRedis(backing.redis.url, ns, [backing.redis.redis]);
  try {
    server = await startServer(
      { kind, redisUrl: backing.redis.url, namespace: ns, databaseUrl: backing.db?.url, timeout: flags.timeout, userListWindow: flags.window, leaveGrace: flags['leave-grace'] },
      { profileDir: flags.profile ? path.join(RESULTS_DIR, 'profiles') : undefined, nodeFlags: String(flags['server-flags']).split(' ').filter(Boolean) },
    );
    for (let i = 0; i < flags.workers; i += 1) workers.push(await startClientWorker());
    const all = specs(users, server.url, kind);

    // One subscriber: of <room>/user_list (presence) or of the clients' own announcements (plain).
    const listener = new faye.Client(server.url, { timeout: 10, retry: 1 });
    let messages = 0;
    let bytes = 0;
    let maxBytes = 0;
    let lastCount = -1;
    let lastAt = 0;
    let joins = 0;
    let leaves = 0;
    const channel = kind === 'presence' ? `${ROOM}/user_list` : `${ROOM}/announce`;
    await listener.subscribe(channel, (data: { count?: number; event?: string }) => {
      const size = Buffer.byteLength(JSON.stringify(data));
      messages += 1;
      bytes += size;
      maxBytes = Math.max(maxBytes, size);
      if (typeof data.count === 'number') lastCount = data.count;
      if (data.event === 'join') joins += 1;
      if (data.event === 'leave') leaves += 1;
      lastAt = performance.now();
    });

    const onlineInRedis = async () => backing.redis.redis.hlen(new PresenceKeys(ns).channel(ROOM));
    const onlineInSql = async () => {
      const [rows] = await backing.db!.raw.query(
        'SELECT l.user_info_list AS list FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = ?', [ROOM]);
      const list = (rows as Array<{ list: string }>)[0]?.list;
      return list ? (JSON.parse(list) as number[]).length : 0;
    };
    const isFinal = async (target: number, announced: () => number) => {
      if (kind === 'plain') return announced() >= users;
      return lastCount === target && (await onlineInRedis()) === target && (await onlineInSql()) === target;
    };

    const phase = async (name: string, action: () => Promise<unknown>, final: () => Promise<boolean>): Promise<Phase> => {
      await server!.settled();
      await sleep(300); // MONITOR lines arrive asynchronously
      server!.reset();
      counter.reset();
      const cpuBefore = (await server!.stats()).cpuMicros;
      messages = 0;
      bytes = 0;
      maxBytes = 0;
      const started = performance.now();
      const ticker = setInterval(() => progress(`${label}: ${name} running ${((performance.now() - started) / 1000).toFixed(0)} s, ${messages} messages to the subscriber`), 3000);
      try {
        await action();
        let doneAt = 0;
        await waitFor(`${name} to be final`, async () => {
          if (!(await final())) return false;
          doneAt = performance.now();
          return true;
        }, LIMIT_MS, 20);
        // Plain: when the last announcement arrived. Presence: when the poll (every 20 ms) saw all three final.
        const seconds = ((kind === 'plain' ? lastAt : doneAt) - started) / 1000;
        await server!.settled();
        await sleep(500);
        const stats = await server!.stats();
        return { seconds, cpuSeconds: (stats.cpuMicros - cpuBefore) / 1e6, load: machineLoad(), sql: stats.sqlStatements, redis: counter.counts(), connects: stats.connects, messages, bytes, maxMessageBytes: maxBytes };
      } finally {
        clearInterval(ticker);
      }
    };

    const split = (w: number) => all.filter((_, i) => i % workers.length === w);
    progress(`${label}: join storm`);
    const join = await phase('join', () => Promise.all(workers.map((worker, w) => worker.open(split(w), `${label} join [worker ${w + 1}]`))), () => isFinal(users, () => joins));
    progress(`${label}: all joined in ${join.seconds.toFixed(2)} s; holding ${flags.hold} s (repeated connects)`);
    const hold = await phase('hold', () => sleep(flags.hold * 1000), async () => true);
    progress(`${label}: leave storm`);
    const everything = flags['leave-allocation-profile'];
    const profileLeave = everything || flags['leave-promoted-profile'];
    if (profileLeave) await server.allocationProfile('start', undefined, everything);
    const leave = await phase('leave', () => Promise.all(workers.map((worker) => worker.close())), () => isFinal(0, () => leaves));
    if (profileLeave) await server.allocationProfile('stop', path.join(RESULTS_DIR, `storm-${kind}-${users}-leave${everything ? '' : '-promoted'}.heapprofile`));
    progress(`${label}: all left in ${leave.seconds.toFixed(2)} s`);
    await Promise.resolve(listener.disconnect()).catch(() => undefined);
    return { kind, users, join, hold, leave };
  } finally {
    counter.stop();
    for (const worker of workers) worker.end();
    await server?.close().catch(() => undefined);
    await backing.release();
  }
}

async function main(): Promise<void> {
  const results: StormResult[] = [];
  const every: StormResult[] = [];
  for (const users of numberList(flags.users)) {
    for (const kind of ['presence', 'plain'] as const) {
      const runs: StormResult[] = [];
      for (let r = 0; r < flags.repeat; r += 1) runs.push(await storm(kind, users));
      every.push(...runs);
      results.push(runs.reduce((a, b) => (b.join.seconds + b.leave.seconds < a.join.seconds + a.leave.seconds ? b : a)));
    }
  }
  const per = (n: number, d: number) => (d > 0 ? n / d : null);
  console.log(`\nJoin storm into one room, Faye timeout ${flags.timeout} s, user_list window ${flags.window} ms, leave grace ${flags['leave-grace']} s; ${flags.repeat > 1 ? `of ${flags.repeat} runs each, the one with the shortest join + leave` : 'one run each'}; commit ${commit()}\n`);
  console.log(table(
    ['users', 'server', 'join s', 'leave s', 'server CPU ms/join', 'server CPU ms/leave', 'load (1, 5, 15 min)', 'SQL/join', 'SQL/leave', 'presence RT/join', 'presence RT/leave', 'engine RT/join', 'engine RT/leave', 'msgs to subscriber (join+leave)', 'bytes (join+leave)', 'largest msg B'],
    results.map((r) => [
      r.users, r.kind, r.join.seconds, r.leave.seconds, per(1000 * r.join.cpuSeconds, r.users), per(1000 * r.leave.cpuSeconds, r.users), r.leave.load,
      per(r.join.sql, r.users), per(r.leave.sql, r.users),
      per(r.join.redis.presenceRoundTrips, r.users), per(r.leave.redis.presenceRoundTrips, r.users),
      per(r.join.redis.engineRoundTrips, r.users), per(r.leave.redis.engineRoundTrips, r.users),
      r.join.messages + r.leave.messages, r.join.bytes + r.leave.bytes, Math.max(r.join.maxMessageBytes, r.leave.maxMessageBytes),
    ]),
  ));
  console.log('\nRT: Redis requests seen by MONITOR (a command outside MULTI, or a whole MULTI...EXEC block); requests sent in the same tick share one round trip, so RT is an upper bound.');
  const byName = (counts: Record<string, number>, n: number) => Object.entries(counts).map(([k, v]) => `${k} ${(v / Math.max(1, n)).toFixed(2)}`).join(', ');
  console.log('\nRedis commands per join and per leave, by name (presence keys / engine keys)\n');
  console.log(table(
    ['users', 'server', 'presence per join', 'presence per leave', 'engine per join', 'engine per leave'],
    results.map((r) => [r.users, r.kind, byName(r.join.redis.presenceByName, r.users), byName(r.leave.redis.presenceByName, r.users), byName(r.join.redis.engineByName, r.users), byName(r.leave.redis.engineByName, r.users)]),
  ));
  console.log(`\nRepeated /meta/connect while holding ${flags.hold} s (no joins or leaves)\n`);
  console.log(table(
    ['users', 'server', 'connects', 'SQL/connect', 'presence RT/connect', 'engine cmds/connect', 'engine RT/connect', 'engine commands by name'],
    results.map((r) => [
      r.users, r.kind, r.hold.connects, per(r.hold.sql, r.hold.connects), per(r.hold.redis.presenceRoundTrips, r.hold.connects),
      per(r.hold.redis.engineCommands, r.hold.connects), per(r.hold.redis.engineRoundTrips, r.hold.connects),
      byName(r.hold.redis.engineByName, r.hold.connects),
    ]),
  ));
  const sizes = [...new Set(results.map((r) => r.users))];
  // Each storm is timed on its own: a phase's figure is the median of its runs,
  // so that one slow join (this machine's neighbours) does not pick the leave
  // the ratio is judged on, as picking whole runs by their sum did.
  const seconds = (users: number, kind: StormResult['kind'], phase: 'join' | 'leave') =>
    every.filter((r) => r.users === users && r.kind === kind).map((r) => r[phase].seconds);
  if (flags.repeat > 1) {
    console.log('\nEvery run, seconds (the ratios below are of the medians)\n');
    console.log(table(
      ['users', 'server', 'join s', 'leave s', 'median join s', 'median leave s'],
      sizes.flatMap((users) => (['presence', 'plain'] as const).map((kind) => [
        users, kind, seconds(users, kind, 'join').map((x) => x.toFixed(2)).join(', '), seconds(users, kind, 'leave').map((x) => x.toFixed(2)).join(', '),
        median(seconds(users, kind, 'join')), median(seconds(users, kind, 'leave')),
      ])),
    ));
  }
  console.log('\nfaye-online vs plain Faye delivering the same joins and leaves (target: settles within 1.5x, at most 2 SQL statements per join and per leave)\n');
  console.log(table(
    ['users', 'join ratio', 'leave ratio', 'CPU ratio (join+leave)', 'target', 'user_list B per message per user', 'user_list msgs per window-of-storm'],
    sizes.map((users) => {
      const p = results.find((r) => r.users === users && r.kind === 'presence')!;
      const q = results.find((r) => r.users === users && r.kind === 'plain')!;
      const jr = median(seconds(users, 'presence', 'join')) / median(seconds(users, 'plain', 'join'));
      const lr = median(seconds(users, 'presence', 'leave')) / median(seconds(users, 'plain', 'leave'));
      const windows = ((p.join.seconds + p.leave.seconds) * 1000) / flags.window;
      const cpu = (p.join.cpuSeconds + p.leave.cpuSeconds) / (q.join.cpuSeconds + q.leave.cpuSeconds);
      const sqlMet = p.join.sql <= 2 * users && p.leave.sql <= 2 * users;
      return [users, jr, lr, cpu, jr <= 1.5 && lr <= 1.5 && sqlMet ? 'met' : 'missed', per(p.join.bytes + p.leave.bytes, (p.join.messages + p.leave.messages) * users), per(p.join.messages + p.leave.messages, windows)];
    }),
  ));
  progress(`results: ${saveResult('storm', { flags, results, runs: every })}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

runBenchmark(main);
