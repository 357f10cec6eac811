// bench:capacity: how many clients one server process holds, presence vs
// plain Faye on the same engine, with raw Bayeux clients (bench/bayeux-worker.ts)
// in worker threads so that the generator is not what runs out first.
//   npm run bench:capacity -- --clients 10000 --engine redis
// For each server: CPU per connect (server CPU from the first handshake until
// every client is connected and presence is written, over the clients), RSS
// and heap per client (after a GC, against the idle server), p50/p99 publish
// latency and CPU while steady (each client re-sending /meta/connect every
// Faye timeout).
import { numberList, parseFlags } from './support/args';
import { createBacking } from './support/backing';
import { roomClients, startBayeuxLoad } from './support/bayeux-load';
import { startLatencyProbe, type LatencyResult } from './support/latency';
import { runBenchmark, startServer, type BenchServer, type ServerStats } from './support/processes';
import path from 'node:path';
import { redisRate } from './support/redis-rate';
import { processCpu } from './support/process-cpu';
import { callCountDifference } from './support/call-counts';
import { censusDifference, heapCensus } from './support/heap-census';
import { RESULTS_DIR, commit, machineLoad, progress, saveResult, sleep, table } from './support/report';
import type { RawClientSpec } from './bayeux-worker';

const flags = parseFlags({
  clients: '10000',
  rooms: 100,
  'long-polling': 0.25,
  engine: 'redis',
  threads: 4,
  /** Handshakes in flight per thread while opening. */
  concurrency: 50,
  /**
   * Clients opened per second, all threads together; 0: as fast as the server answers. Unpaced, the opening is
   * a reconnect storm that keeps the server's CPU saturated, and its RSS afterwards is that storm's high-water mark.
   * It also sets the clients' phases: a faster server's clients keep coming back in a shorter burst every timeout,
   * which makes its steady state cheaper (bench/together.ts, "Phases"); compare steady CPU at the same pace.
   */
  pace: 0,
  seconds: 20,
  rate: 20,
  timeout: 10,
  /**
   * The servers to compare, in this order: presence, plain (Faye alone, the clients only connect and subscribe)
   * and announcing (Faye alone, each client publishes its own arrival on <room>/user_list once subscribed:
   * the one message per join to every member an app without presence would send itself) and listing (Faye
   * alone, each client publishes its room's whole list on <room>/user_list once subscribed: what the gem's
   * server sends on every join, uncoalesced).
   */
  order: 'presence,plain',
  repeat: 1,
  /** Also write a heap snapshot of each server while steady and print what presence keeps per client, class by class. */
  heap: false,
  /** What each client subscribes to, besides connecting: chat and the legacy user_list (the gem's pages), or chat only. */
  subscribe: 'chat,user_list',
  /** Writes a sampling allocation profile of each server's opening (objects that died in old space included) to bench/results/capacity-<kind>.heapprofile. */
  'allocation-profile': false,
  /** Writes a sampling allocation profile of each server's steady window, every allocation, to bench/results/capacity-<kind>-steady.heapprofile. */
  'steady-allocation-profile': false,
  /**
   * Writes a sampling allocation profile of each server's steady window that keeps only the objects which survived
   * young-generation collections and died later in old space (the garbage that grows the old generation between
   * major collections) to bench/results/capacity-<kind>-steady-promoted.heapprofile.
   */
  'steady-promoted-profile': false,
  /** Writes a CPU profile of each server's steady window to bench/results/capacity-<kind>-steady.cpuprofile. */
  'steady-cpu-profile': false,
  /**
   * Counts the calls of every function of each server in its steady window (V8's precise coverage, exact
   * counts; the counting itself slows the server, so the window's CPU figures are not comparable) and
   * prints the functions presence calls most often beyond the first baseline, per /meta/connect.
   */
  'steady-call-counts': false,
  /** Writes --cpu-prof profiles of the servers to bench/results/profiles/. */
  profile: false,
  /** The presence server's userListWindow, ms (0: its default); how often a crowded opening re-reads each room's list. */
  'user-list-window': 0,
  /** The presence server's reconcileInterval, seconds (-1: its default, 300; 0: a pass at start only). */
  'reconcile-interval': -1,
  /** Node/V8 flags for both servers, space-separated (e.g. "--max-semi-space-size=32"): how memory settings change RSS. */
  'server-flags': '',
  /**
   * Seconds between memory readings through the steady window (0: none): RSS per client and old space, without a
   * GC, so that it shows whether what the opening left in the old generation stays or goes (use a long --seconds).
   */
  'memory-every': 0,
});
const serverFlags = String(flags['server-flags']).split(' ').filter(Boolean);

const snapshotFile = (kind: string) => path.join(RESULTS_DIR, `capacity-${kind}.heapsnapshot`);
const callCountsFile = (kind: string) => path.join(RESULTS_DIR, `capacity-${kind}-steady.calls.json`);

type Kind = 'presence' | 'plain' | 'announcing' | 'listing';
const KINDS: Kind[] = ['presence', 'plain', 'announcing', 'listing'];
const ANNOUNCES = { announcing: 'arrival', listing: 'list' } as const;

interface CapacityResult {
  kind: Kind;
  clients: number;
  connected: number;
  failed: number;
  openSeconds: number;
  cpuPerConnectMs: number;
  idleRssMB: number;
  rssMB: number;
  heapMB: number;
  idleHeapMB: number;
  rssPerClientKB: number;
  heapPerClientKB: number;
  /** After a GC: V8 heap reserved but unused, memory outside the heap (Buffers), and the rest of RSS (code, malloc), MB. */
  heapFreeMB: number;
  externalMB: number;
  otherMB: number;
  steadyCpu: number;
  /** Of the steady window, garbage collection per second, ms: scavenges and the rest. */
  steadyGc: { minor: number; major: number };
  connectsPerSecond: number;
  /** /meta/connect messages in the steady window. */
  steadyConnects: number;
  delivered: number;
  latency: LatencyResult;
  load: string;
  /** --memory-every readings: seconds into the steady window, RSS per client (against the idle server, no GC), old space MB. */
  memoryOverTime: MemoryReading[];
}

interface MemoryReading {
  seconds: number;
  rssPerClientKB: number;
  oldCommittedMB: number;
  oldUsedMB: number;
  /** Since the previous reading: the longest event-loop delay and single GC, ms, and what Redis ran. */
  loopMaxMs: number;
  gcLongestMs: number;
  redis: string;
  /** Since the previous reading: the CPU of the benchmark's own process (its client threads) and of MariaDB and Redis. */
  others: string;
}

function specs(clients: number, url: string, kind: Kind): RawClientSpec[] {
  return roomClients({ clients, url, rooms: flags.rooms, longPolling: flags['long-polling'], subscribe: String(flags.subscribe), announce: kind === 'presence' || kind === 'plain' ? undefined : ANNOUNCES[kind] });
}

async function measure(kind: Kind, clients: number): Promise<CapacityResult> {
  const label = `${kind} (${flags.engine} engine), ${clients} clients`;
  const backing = await createBacking({ database: kind === 'presence' });
  let server: BenchServer | undefined;
  const load = startBayeuxLoad(flags.threads);
  try {
    server = await startServer({
      kind: kind === 'presence' ? 'presence' : 'plain', engine: flags.engine as 'redis' | 'memory', redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db?.url, timeout: flags.timeout,
      ...(flags['user-list-window'] > 0 ? { userListWindow: flags['user-list-window'] } : {}),
      ...(flags['reconcile-interval'] >= 0 ? { reconcileInterval: flags['reconcile-interval'] } : {}),
    }, { exposeGc: true, profileDir: flags.profile ? path.join(RESULTS_DIR, 'profiles') : undefined, nodeFlags: serverFlags });
    await server.settled();
    await sleep(1000);
    const idle = await server.stats({ gc: true });
    const before = await server.stats();
    if (flags['allocation-profile']) await server.allocationProfile('start');
    const opened = await load.open(specs(clients, server.url, kind), flags.concurrency, label, flags.pace);
    await server.settled();
    if (flags['allocation-profile']) await server.allocationProfile('stop', path.join(RESULTS_DIR, `capacity-${kind}.heapprofile`));
    const connectedStats = await server.stats();
    const cpuPerConnectMs = (connectedStats.cpuMicros - before.cpuMicros) / 1000 / Math.max(1, opened.connected);
    progress(`${label}: ${opened.connected} connected, ${opened.failed} failed in ${opened.seconds.toFixed(1)} s (${cpuPerConnectMs.toFixed(2)} ms server CPU per connect, ${connectedStats.userLists - before.userLists} user_list messages)${opened.lastError ? `; last error: ${opened.lastError}` : ''}`);
    // One full timeout, so that every client's /meta/connect cycle is in the steady window.
    await sleep(flags.timeout * 1000 + 2000);

    const probe = await startLatencyProbe(server.url, server.url, '/rooms/r1/chat');
    server.reset({ sampleRss: false });
    if (flags['steady-allocation-profile']) await server.allocationProfile('start', undefined, true);
    else if (flags['steady-promoted-profile']) await server.allocationProfile('start');
    if (flags['steady-cpu-profile']) await server.cpuProfile('start');
    if (flags['steady-call-counts']) await server.callCounts('start');
    const steadyBefore = await server.stats();
    const startedAt = Date.now();
    const rssPerClientKB = (rss: number) => (rss - idle.rss) / 1024 / Math.max(1, opened.connected);
    // Readings one after the other on the stats channel, never beside another request (a reply answers the oldest).
    const memoryOverTime: MemoryReading[] = [];
    const redisCommands = await redisRate(backing.redis.redis);
    const otherCpu = processCpu();
    let reading = Promise.resolve();
    const sampler = flags['memory-every'] > 0 ? setInterval(() => {
      reading = reading.then(async () => {
        const now = await server!.stats();
        const old = now.spaces.old_space;
        const sample = {
          seconds: Math.round((Date.now() - startedAt) / 1000), rssPerClientKB: rssPerClientKB(now.rss), oldCommittedMB: old.committed / 2 ** 20, oldUsedMB: old.used / 2 ** 20,
          loopMaxMs: now.sinceRead.loopMaxMs, gcLongestMs: now.sinceRead.gcLongestMs, redis: await redisCommands.sinceLast(), others: otherCpu.sinceLast(),
        };
        memoryOverTime.push(sample);
        progress(`${label}: ${sample.seconds} s steady: RSS ${sample.rssPerClientKB.toFixed(1)} KB per client, old space ${sample.oldCommittedMB.toFixed(0)}/${sample.oldUsedMB.toFixed(0)} MB; ` +
          `since the last reading: event loop held at most ${sample.loopMaxMs.toFixed(0)} ms, longest GC ${sample.gcLongestMs.toFixed(0)} ms; Redis ${sample.redis}; ${sample.others}`);
      });
    }, flags['memory-every'] * 1000) : undefined;
    const latency = await probe.run(flags.seconds, flags.rate);
    clearInterval(sampler);
    await reading;
    const steadyAfter = await server.stats();
    if (flags['steady-allocation-profile']) await server.allocationProfile('stop', path.join(RESULTS_DIR, `capacity-${kind}-steady.heapprofile`));
    else if (flags['steady-promoted-profile']) await server.allocationProfile('stop', path.join(RESULTS_DIR, `capacity-${kind}-steady-promoted.heapprofile`));
    if (flags['steady-cpu-profile']) await server.cpuProfile('stop', path.join(RESULTS_DIR, `capacity-${kind}-steady.cpuprofile`));
    if (flags['steady-call-counts']) await server.callCounts('stop', callCountsFile(kind));
    const wall = (Date.now() - startedAt) / 1000;
    await probe.close();
    const after: ServerStats = await server.stats({ gc: true });
    if (flags.heap) {
      progress(`${label}: writing a heap snapshot`);
      await server.heapSnapshot(snapshotFile(kind));
    }
    const spaces = Object.entries(after.spaces).filter(([, space]) => space.committed > 2 ** 20)
      .map(([name, space]) => `${name} ${(space.committed / 2 ** 20).toFixed(0)}/${(space.used / 2 ** 20).toFixed(0)}`);
    progress(`${label}: after a GC, heap spaces committed/used MB: ${spaces.join(', ')}; RSS peak while opening ${(connectedStats.rssPeak / 2 ** 20).toFixed(0)} MB; lazily freed ${(after.lazyFree / 2 ** 20).toFixed(0)} MB`);
    const clientStats = await load.stats();
    const result: CapacityResult = {
      kind,
      clients,
      connected: opened.connected,
      failed: opened.failed,
      openSeconds: opened.seconds,
      cpuPerConnectMs,
      idleRssMB: idle.rss / 2 ** 20,
      idleHeapMB: idle.heapUsed / 2 ** 20,
      rssMB: after.rss / 2 ** 20,
      heapMB: after.heapUsed / 2 ** 20,
      rssPerClientKB: rssPerClientKB(after.rss),
      heapPerClientKB: (after.heapUsed - idle.heapUsed) / 1024 / Math.max(1, opened.connected),
      heapFreeMB: (after.heapTotal - after.heapUsed) / 2 ** 20,
      externalMB: after.external / 2 ** 20,
      otherMB: (after.rss - after.heapTotal - after.external) / 2 ** 20,
      steadyCpu: (steadyAfter.cpuMicros - steadyBefore.cpuMicros) / 1e6 / wall,
      steadyGc: { minor: (steadyAfter.gcMinorMs - steadyBefore.gcMinorMs) / wall, major: (steadyAfter.gcMajorMs - steadyBefore.gcMajorMs) / wall },
      connectsPerSecond: steadyAfter.connects / wall,
      steadyConnects: steadyAfter.connects,
      delivered: clientStats.delivered,
      latency,
      load: machineLoad(),
      memoryOverTime,
    };
    progress(`${label}: steady CPU ${result.steadyCpu.toFixed(3)} s/s (GC ${result.steadyGc.minor.toFixed(1)} ms/s scavenging, ${result.steadyGc.major.toFixed(1)} ms/s the rest), p99 ${latency.p99?.toFixed(1)} ms ` +
      `(the slowest 1% sent in the 10 s from second ${latency.slowest.slice(0, 4).map(([at, n]) => `${at}: ${n}`).join(', ')}; ` +
      `the longest of each 10 s: ${latency.longestByBucket.map(([at, ms]) => `${at}: ${ms.toFixed(0)}`).join(', ')}), RSS ${result.rssMB.toFixed(0)} MB ` +
      `(${result.rssPerClientKB.toFixed(1)} KB per client), load ${result.load}; disconnecting`);
    await load.close();
    await server.settled();
    return result;
  } finally {
    await load.end();
    await server?.close().catch(() => undefined);
    await backing.release();
  }
}

async function main(): Promise<void> {
  const order = String(flags.order).split(',') as Kind[];
  const baselines = order.filter((kind) => kind !== 'presence');
  if (!order.includes('presence') || baselines.length === 0 || new Set(order).size !== order.length || order.some((kind) => !KINDS.includes(kind))) {
    throw new Error(`--order must name presence and at least one of plain, announcing and listing, each once (the tables compare them), got ${flags.order}`);
  }
  const rows: Array<{ clients: number; results: CapacityResult[] }> = [];
  for (const clients of numberList(flags.clients)) {
    const runs = new Map<Kind, CapacityResult[]>(order.map((kind) => [kind, []]));
    for (let r = 0; r < flags.repeat; r += 1) {
      for (const kind of order) runs.get(kind)!.push(await measure(kind, clients));
    }
    // Of several runs, the one with the least steady CPU (the others were disturbed more).
    const best = (list: CapacityResult[]) => list.reduce((a, b) => (b.steadyCpu < a.steadyCpu ? b : a));
    rows.push({ clients, results: order.map((kind) => best(runs.get(kind)!)) });
  }
  console.log(`\nCapacity of one server process, raw Bayeux clients (${flags['long-polling'] * 100}% long-polling, subscribed to ${flags.subscribe}) in ${flags.threads} threads, ${flags.rooms} rooms, ` +
    `${flags.engine} engine, Faye timeout ${flags.timeout} s, ${flags.seconds} s steady, ${flags.pace > 0 ? `opened at ${flags.pace} clients/s` : 'opened as fast as the server answers'}, best of ${flags.repeat}; commit ${commit()}` +
    `${serverFlags.length ? `; server flags ${serverFlags.join(' ')}` : ''}\n`);
  console.log(table(
    ['clients', 'server', 'connected', 'open s', 'CPU ms/connect', 'steady CPU s/s', 'connects/s', 'p50 ms', 'p99 ms', 'RSS MB', 'RSS KB/client', 'heap KB/client',
      'heap free MB', 'external MB', 'rest of RSS MB', 'load (1, 5, 15 min)'],
    rows.flatMap(({ results }) => results.map((r) => [
      r.clients, r.kind, `${r.connected}${r.failed ? ` (${r.failed} failed)` : ''}`, r.openSeconds, r.cpuPerConnectMs, r.steadyCpu, r.connectsPerSecond,
      r.latency.p50, r.latency.p99, r.rssMB, r.rssPerClientKB, r.heapPerClientKB, r.heapFreeMB, r.externalMB, r.otherMB, r.load,
    ])),
  ));
  console.log('\nPresence / Faye alone (targets: steady CPU <= 1.05, RSS per client <= 1.3)\n');
  console.log(table(
    ['clients', 'against', 'CPU per connect', 'steady CPU', 'RSS per client', 'heap per client', 'p99', 'targets'],
    rows.flatMap(({ clients, results }) => {
      const p = results.find((r) => r.kind === 'presence')!;
      return results.filter((q) => q.kind !== 'presence').map((q) => {
        const cpu = p.steadyCpu / q.steadyCpu;
        const rss = p.rssPerClientKB / q.rssPerClientKB;
        return [clients, q.kind, p.cpuPerConnectMs / q.cpuPerConnectMs, cpu, rss, p.heapPerClientKB / q.heapPerClientKB,
          p.latency.p99 !== null && q.latency.p99 ? p.latency.p99 / q.latency.p99 : null, cpu <= 1.05 && rss <= 1.3 ? 'met' : 'missed'];
      });
    }),
  ));
  for (const { clients, results } of rows) {
    const p = results.find((r) => r.kind === 'presence')!;
    if (p.memoryOverTime.length === 0) continue;
    console.log(`\nRSS per client through the steady window at ${clients} clients, KB without a GC (presence's ratio in brackets)\n`);
    console.log(table(['steady s', ...results.map((r) => r.kind)], p.memoryOverTime.map((sample, i) => [sample.seconds, ...results.map((r) => {
      const kb = r.memoryOverTime[i]?.rssPerClientKB;
      return kb === undefined ? null : r === p ? kb.toFixed(1) : `${kb.toFixed(1)} (${(sample.rssPerClientKB / kb).toFixed(2)})`;
    })])));
  }
  if (flags['steady-call-counts']) {
    const last = rows.at(-1)!;
    const per = (kind: string) => last.results.find((r) => r.kind === kind)!.steadyConnects;
    const difference = callCountDifference(callCountsFile('presence'), per('presence'), callCountsFile(baselines[0]), per(baselines[0]), 30);
    console.log(`\nCalls per /meta/connect in the steady window at ${last.clients} clients: the functions presence calls most often beyond Faye alone (${baselines[0]})\n`);
    console.log(table(['function', 'presence', baselines[0], 'difference'], difference.map((d) => [d.name, d.presence.toFixed(2), d.baseline.toFixed(2), d.difference.toFixed(2)])));
  }
  if (flags.heap) {
    const last = rows.at(-1)!;
    const connected = last.results.find((r) => r.kind === 'presence')!.connected;
    const difference = censusDifference(heapCensus(snapshotFile('presence')), heapCensus(snapshotFile(baselines[0])), 20);
    console.log(`\nHeap of presence minus heap of Faye alone (${baselines[0]}) at ${last.clients} clients, by class (self sizes), per client\n`);
    console.log(table(['what', 'objects per client', 'bytes per client'], difference.map((d) => [d.what, d.count / connected, d.bytes / connected])));
  }
  progress(`results: ${saveResult(`capacity-${flags.engine}`, { flags, rows })}`);
}

runBenchmark(main);
