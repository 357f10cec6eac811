// bench:together: presence and plain Faye running at the same time, each with
// its own clients and the same traffic, their CPU compared window by window.
//
//   npm run bench:together -- --clients 3000 --windows 10 --seconds 60
//
// Pairs run one after the other (bench:capacity --repeat) compare two moments
// of the machine: on these shared virtual machines a server's CPU seconds for
// the same work move by 10-40% from one minute to the next, so a few percent
// between presence and plain Faye hides in that noise. Here both servers work
// through the same minutes: whatever slows the machine slows both, and each
// window gives one ratio of CPU seconds. The servers do share the two cores
// (with their clients, Redis and MariaDB), so the load is kept below them: at
// 3,000 clients each, the machine's load average stayed near 1 of its 2 cores.
//
// Phases. A client sends its next /meta/connect when Faye answers the last one,
// a timeout after it came, so each client keeps the phase of its first connect.
// Opened as fast as the server answers, the faster server's clients arrive in a
// shorter burst and keep arriving in that burst every timeout: more of their
// frames come in one read of the event loop, their engine commands share one
// write to Redis, and the same work costs fewer system calls (plain Faye opened
// 3,000 clients in 2-3 s here and presence in 8 s; plain Faye then wrote to
// Redis half as often). Real pages arrive at random moments, so both servers'
// clients are opened at clients / timeout a second: spread evenly over the
// timeout, the same for both.
//
// Each server is the bench server of bench:capacity (bench/server.ts, the
// compiled package); clients subscribe to <room>/chat only by default, so the
// steady traffic is Faye's own: a /meta/connect per client per timeout and
// the probe's publishes delivered to a room.
import path from 'node:path';
import { parseFlags } from './support/args';
import { createBacking, type Backing } from './support/backing';
import { roomClients, startBayeuxLoad, type BayeuxLoad } from './support/bayeux-load';
import { startLatencyProbe, type LatencyProbe } from './support/latency';
import { runBenchmark, startServer, type BenchServer, type ServerStats } from './support/processes';
import { RESULTS_DIR, commit, machineLoad, progress, saveResult, sleep, table } from './support/report';

const flags = parseFlags({
  clients: 3000,
  rooms: 100,
  'long-polling': 0.25,
  engine: 'redis',
  /** Client threads per server. */
  threads: 2,
  /** Handshakes in flight per thread while opening. */
  concurrency: 20,
  /**
   * Clients opened per second; 0: clients / timeout, so that each server's clients are spread evenly over
   * the timeout (see "phases" above). -1: as fast as the server answers.
   */
  pace: 0,
  timeout: 10,
  subscribe: 'chat',
  /** Probe publishes a second on each server (to `/rooms/r1/chat`). */
  rate: 20,
  /** Seconds of steady traffic before the first window: V8 compiles the steady state's hot code meanwhile. */
  warmup: 60,
  /** Measured windows, and the seconds of each (a multiple of the timeout: every client connects the same number of times in each). */
  windows: 10,
  seconds: 60,
  /**
   * The two servers, the first started and opened first: presence,plain (or plain,presence); plain,plain or
   * presence,presence checks the method itself, since two copies of one server should come out at 1.
   */
  sides: 'presence,plain',
  /** Writes a CPU profile of each server's last window to bench/results/together-<name>.cpuprofile. */
  'cpu-profile': false,
});

type Kind = 'presence' | 'plain';

interface Side {
  kind: Kind;
  /** The kind, numbered when both sides run the same server. */
  name: string;
  backing: Backing;
  server: BenchServer;
  load: BayeuxLoad;
  probe?: LatencyProbe;
}

/** Each figure of a window, first side then second. */
interface Window {
  seconds: number;
  cpu: [number, number];
  gc: [number, number];
  connects: [number, number];
  p99: [number | null, number | null];
  load: string;
}

async function startSide(kind: Kind, name: string): Promise<Side> {
  const backing = await createBacking({ database: kind === 'presence' });
  const load = startBayeuxLoad(flags.threads);
  let server: BenchServer | undefined;
  try {
    server = await startServer({
      kind, engine: flags.engine as 'redis' | 'memory', redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db?.url, timeout: flags.timeout,
    });
    await server.settled();
    const label = `${name} (${flags.engine} engine), ${flags.clients} clients`;
    const pace = flags.pace === 0 ? flags.clients / flags.timeout : Math.max(0, flags.pace);
    const opened = await load.open(roomClients({ clients: flags.clients, url: server.url, rooms: flags.rooms, longPolling: flags['long-polling'], subscribe: String(flags.subscribe) }), flags.concurrency, label, pace);
    if (opened.connected !== flags.clients) throw new Error(`${label}: ${opened.failed} clients failed to open (${opened.lastError}); the two servers would do different work`);
    await server.settled();
    return { kind, name, backing, server, load };
  } catch (error) {
    await load.end();
    await server?.close().catch(() => undefined);
    await backing.release();
    throw error;
  }
}

async function stopSide(side: Side): Promise<void> {
  await side.probe?.close().catch(() => undefined);
  await side.load.close().catch(() => undefined);
  await side.load.end();
  await side.server.close().catch(() => undefined);
  await side.backing.release();
}

const both = <T>(sides: Side[], f: (side: Side) => Promise<T>) => Promise.all(sides.map(f));

function summary(ratios: number[], presence: number[], plain: number[]) {
  const n = ratios.length;
  const mean = ratios.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(ratios.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1)) : 0;
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
  // A 95% interval of the ratio of the sums, by resampling the windows (a fixed seed: the same input prints the same interval).
  let seed = 1;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const resampled: number[] = [];
  for (let i = 0; i < 10_000; i += 1) {
    let p = 0;
    let q = 0;
    for (let j = 0; j < n; j += 1) {
      const k = Math.floor(random() * n);
      p += presence[k]!;
      q += plain[k]!;
    }
    resampled.push(p / q);
  }
  resampled.sort((a, b) => a - b);
  return { ratioOfSums: sum(presence) / sum(plain), mean, sd, low: resampled[249]!, high: resampled[9749]! };
}

async function main(): Promise<void> {
  const kinds = String(flags.sides).split(',') as Kind[];
  if (kinds.length !== 2 || kinds.some((kind) => kind !== 'presence' && kind !== 'plain')) throw new Error(`--sides must name two of presence and plain, got ${flags.sides}`);
  const names = kinds[0] === kinds[1] ? kinds.map((kind, i) => `${kind} ${i + 1}`) : kinds;
  const sides: Side[] = [];
  try {
    for (const [i, kind] of kinds.entries()) sides.push(await startSide(kind, names[i]!));
    // One full timeout, so that every client's /meta/connect cycle is under way.
    await sleep(flags.timeout * 1000 + 2000);
    for (const side of sides) side.probe = await startLatencyProbe(side.server.url, side.server.url, '/rooms/r1/chat');
    if (flags.warmup > 0) {
      progress(`both servers: ${flags.warmup} s of the same traffic before the first window`);
      await both(sides, (side) => side.probe!.run(flags.warmup, flags.rate));
    }
    const windows: Window[] = [];
    for (let w = 0; w < flags.windows; w += 1) {
      for (const side of sides) side.server.reset({ sampleRss: false });
      const profiled = flags['cpu-profile'] && w === flags.windows - 1;
      if (profiled) await both(sides, (side) => side.server.cpuProfile('start'));
      const before = await both(sides, (side) => side.server.stats());
      const started = Date.now();
      const latency = await both(sides, (side) => side.probe!.run(flags.seconds, flags.rate));
      const after = await both(sides, (side) => side.server.stats());
      if (profiled) await both(sides, (side) => side.server.cpuProfile('stop', path.join(RESULTS_DIR, `together-${side.name.replace(' ', '-')}.cpuprofile`)));
      const seconds = (Date.now() - started) / 1000;
      const per = <T>(f: (a: ServerStats, b: ServerStats, i: number) => T): [T, T] => [f(before[0]!, after[0]!, 0), f(before[1]!, after[1]!, 1)];
      const window: Window = {
        seconds,
        cpu: per((a, b) => (b.cpuMicros - a.cpuMicros) / 1e6 / seconds),
        gc: per((a, b) => (b.gcMinorMs + b.gcMajorMs - a.gcMinorMs - a.gcMajorMs) / seconds),
        connects: per((a, b) => (b.connects - a.connects) / seconds),
        p99: per((_a, _b, i) => latency[i]!.p99),
        load: machineLoad(),
      };
      windows.push(window);
      progress(`window ${w + 1}/${flags.windows}: ${names[0]} ${window.cpu[0].toFixed(3)} s/s, ${names[1]} ${window.cpu[1].toFixed(3)} s/s, ` +
        `${names[0]} / ${names[1]} ${(window.cpu[0] / window.cpu[1]).toFixed(3)}; connects/s ${window.connects[0].toFixed(0)} and ${window.connects[1].toFixed(0)}; load ${window.load}`);
    }

    console.log(`\n${names.join(' and ')} at the same time: ${flags.clients} raw Bayeux clients each (${Number(flags['long-polling']) * 100}% long-polling, subscribed to ${flags.subscribe}) ` +
      `in ${flags.rooms} rooms, ${flags.engine} engine, Faye timeout ${flags.timeout} s, ${flags.rate} publishes a second each, ${flags.warmup} s warm-up, ${names[0]} opened first; commit ${commit()}\n`);
    console.log(table(
      ['window', 'seconds', `${names[0]} CPU s/s`, `${names[1]} CPU s/s`, `${names[0]} / ${names[1]}`, `${names[0]} GC ms/s`, `${names[1]} GC ms/s`,
        `${names[0]} connects/s`, `${names[1]} connects/s`, `${names[0]} p99 ms`, `${names[1]} p99 ms`, 'load (1, 5, 15 min)'],
      windows.map((w, i) => [i + 1, w.seconds, w.cpu[0], w.cpu[1], w.cpu[0] / w.cpu[1], w.gc[0], w.gc[1], w.connects[0], w.connects[1], w.p99[0], w.p99[1], w.load]),
    ));
    // Always presence over plain Faye, whichever was opened first (the table above reads first over second).
    const [a, b] = kinds[0] === 'plain' && kinds[1] === 'presence' ? [1, 0] : [0, 1];
    const s = summary(windows.map((w) => w.cpu[a]! / w.cpu[b]!), windows.map((w) => w.cpu[a]!), windows.map((w) => w.cpu[b]!));
    console.log(`\n${names[a]} / ${names[b]} over ${windows.length} windows (${names[0]} opened first): ${s.ratioOfSums.toFixed(3)} (sum of CPU seconds), windows' mean ${s.mean.toFixed(3)}, ` +
      `standard deviation ${s.sd.toFixed(3)}; 95% interval ${s.low.toFixed(3)}-${s.high.toFixed(3)} (windows resampled)${kinds[0] === kinds[1] ? '; two copies of one server, so this is how far the method itself is off' : '; the steady CPU target is 1.05 for presence / plain'}.\n` +
      (kinds[0] === kinds[1] ? '' : 'The server opened first tends to come out a few percent higher: run both orders (--sides plain,presence) and take the geometric mean of the two figures.\n'));
    progress(`results: ${saveResult(`together-${flags.engine}`, { flags, names, windows, summary: s })}`);
  } finally {
    for (const side of sides.reverse()) await stopSide(side);
  }
}

runBenchmark(main);
