// bench:instructions: the steady state of bench:capacity counted in CPU
// instructions instead of seconds. Each server runs under valgrind's callgrind,
// counting nothing while its clients open and warm up, then every instruction
// of every thread of the process (JavaScript, V8's compiler and garbage
// collector, libuv) during the steady window. Instructions are not time (a
// cache miss costs more than an add), but a difference in instructions is work
// one server does and the other does not, and it does not depend on what else
// the machine runs.
//
//   npm run bench:instructions -- --clients 300 --seconds 30
//
// The instructions are split by what ran them, from the names of the native
// functions: JavaScript compiled by V8 (no symbols here: "JIT code"), V8's
// compilers, its garbage collector, its builtins, and the rest (V8's runtime,
// libuv, the C library). Compiling and the old generation's collections come in
// bursts that one window holds and the next does not; the rest, "steady work",
// is what compares: the ratio of two runs of the same code differed by 0.2 and
// by 2.8 points, where CPU seconds scatter by 5-10 points from pair to pair.
// Then the native functions whose instructions differ most between the two.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseFlags } from './support/args';
import { createBacking } from './support/backing';
import { roomClients, startBayeuxLoad } from './support/bayeux-load';
import { startLatencyProbe } from './support/latency';
import { runBenchmark, startServer, type BenchServer } from './support/processes';
import { RESULTS_DIR, commit, progress, saveResult, sleep, table } from './support/report';

const flags = parseFlags({
  clients: 300,
  rooms: 10,
  'long-polling': 0.25,
  engine: 'redis',
  threads: 2,
  seconds: 30,
  rate: 20,
  timeout: 10,
  /**
   * Seconds of steady traffic before the window, after one full timeout: V8 compiles the hot code of
   * the steady state over the first minute or so, and that compiling would otherwise be counted.
   */
  warmup: 60,
  subscribe: 'chat',
  order: 'presence,plain',
  /** Native functions listed per server. */
  top: 15,
});

type Kind = 'presence' | 'plain';

interface Count {
  kind: Kind;
  instructions: number;
  seconds: number;
  connects: number;
  delivered: number;
  /** Instructions by native function, each its own (self), not those of what it called. */
  functions: Map<string, number>;
}

const DIR = path.join(RESULTS_DIR, 'callgrind');

/** Native functions by what they do, by name (V8's C++ namespaces and builtins); the first that matches. */
const CATEGORIES: Array<[string, RegExp]> = [
  ['JIT code', /^JIT code$/],
  ['compiling', /compiler::|maglev|Compile|Turbofan|Parser|Scanner|BytecodeGenerator|interpreter::/],
  ['garbage collection', /Heap|heap::|Mark|Scaveng|Sweep|Evacuat|GC|Remembered|SlotSet|MemoryChunk|Pretenuring|MemoryAllocator|Page::/],
  ['V8 builtins (property access, calls, JSON...)', /^Builtins_/],
  ['V8 runtime, libuv, C library', /./],
];
const categoryOf = (name: string) => CATEGORIES.find(([, test]) => test.test(name))![0];

function callgrindControl(pid: number, ...args: string[]): void {
  const run = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} ${pid} failed: ${run.stderr || run.stdout}`);
}

/** Self instructions by function of a callgrind dump, as callgrind_annotate lists them. */
function functionsOf(file: string): { total: number; functions: Map<string, number> } {
  const run = spawnSync('callgrind_annotate', ['--threshold=100', '--auto=no', file], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (run.status !== 0) throw new Error(`callgrind_annotate ${file} failed: ${run.stderr}`);
  const functions = new Map<string, number>();
  let total = 0;
  for (const line of run.stdout.split('\n')) {
    const totalMatch = /^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(line.trim());
    if (totalMatch) total = Number(totalMatch[1]!.replaceAll(',', ''));
    const match = /^\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*)$/.exec(line);
    if (!match || match[2]!.includes('PROGRAM TOTALS')) continue;
    // "file:function [object]": named by the function; code without symbols is JIT-compiled JavaScript.
    const where = match[2]!.replace(/ \[[^\]]*\]$/, '');
    const name = where.startsWith('???:') ? where.slice(4) : where.replace(/^[^:]*:/, '');
    // (A "'2" after a name marks a recursive call's own row.)
    const key = /^0x[0-9a-f]+('\d+)?$/.test(name) ? 'JIT code' : name;
    functions.set(key, (functions.get(key) ?? 0) + Number(match[1]!.replaceAll(',', '')));
  }
  return { total, functions };
}

async function measure(kind: Kind): Promise<Count> {
  const label = `${kind} (${flags.engine} engine) under callgrind, ${flags.clients} clients`;
  fs.mkdirSync(DIR, { recursive: true });
  const out = path.join(DIR, `${kind}.out`);
  for (const old of fs.readdirSync(DIR).filter((name) => name.startsWith(`${kind}.out`))) fs.rmSync(path.join(DIR, old));
  const backing = await createBacking({ database: kind === 'presence' });
  const load = startBayeuxLoad(flags.threads);
  let server: BenchServer | undefined;
  try {
    progress(`${label}: starting (valgrind runs Node some 50 times slower; nothing is counted yet)`);
    server = await startServer(
      { kind, engine: flags.engine as 'redis' | 'memory', redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db?.url, timeout: flags.timeout },
      { wrap: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`], readyMs: 600_000 },
    );
    await server.settled();
    const url = server.url;
    const opened = await load.open(roomClients({ clients: flags.clients, url, rooms: flags.rooms, longPolling: flags['long-polling'], subscribe: String(flags.subscribe) }), 10, label);
    if (opened.connected !== flags.clients) throw new Error(`${label}: ${opened.failed} clients failed to open (${opened.lastError}); the counts would compare different work`);
    await server.settled();
    // One full timeout, so that every client's /meta/connect cycle is in the steady window.
    await sleep(flags.timeout * 1000 + 2000);
    const probe = await startLatencyProbe(url, url, '/rooms/r1/chat');
    if (flags.warmup > 0) {
      progress(`${label}: ${flags.warmup} s of the same traffic before counting`);
      await probe.run(flags.warmup, flags.rate);
    }
    server.reset({ sampleRss: false });
    const before = await server.stats();
    const delivered = (await load.stats()).delivered;
    callgrindControl(server.pid, '--instr=on');
    const started = Date.now();
    await probe.run(flags.seconds, flags.rate);
    callgrindControl(server.pid, '--instr=off');
    const seconds = (Date.now() - started) / 1000;
    callgrindControl(server.pid, '--dump');
    const after = await server.stats();
    await probe.close();
    const dump = fs.readdirSync(DIR).filter((name) => name.startsWith(`${kind}.out.`)).sort().at(-1);
    if (!dump) throw new Error(`${label}: callgrind wrote no dump in ${DIR}`);
    const { total, functions } = functionsOf(path.join(DIR, dump));
    const count: Count = { kind, instructions: total, seconds, connects: after.connects - before.connects, delivered: (await load.stats()).delivered - delivered, functions };
    progress(`${label}: ${(total / 1e9).toFixed(3)} G instructions in ${seconds.toFixed(1)} s, ${count.connects} connects, ${count.delivered} messages delivered to the clients`);
    await load.close();
    return count;
  } finally {
    await load.end();
    await server?.close().catch(() => undefined);
    await backing.release();
  }
}

async function main(): Promise<void> {
  const found = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error('bench:instructions needs valgrind (apt-get install valgrind)');
  const order = String(flags.order).split(',') as Kind[];
  if (order.length !== 2 || !order.includes('presence') || !order.includes('plain')) throw new Error(`--order must name presence and plain, got ${flags.order}`);
  const counts: Count[] = [];
  for (const kind of order) counts.push(await measure(kind));
  const [presence, plain] = ['presence', 'plain'].map((kind) => counts.find((c) => c.kind === kind)!) as [Count, Count];
  const perSecond = (c: Count) => c.instructions / c.seconds;

  console.log(`\nInstructions of the steady window under callgrind: ${flags.clients} raw Bayeux clients (${Number(flags['long-polling']) * 100}% long-polling, subscribed to ${flags.subscribe}) ` +
    `in ${flags.rooms} rooms, ${flags.engine} engine, Faye timeout ${flags.timeout} s, ${flags.seconds} s with ${flags.rate} publishes a second; commit ${commit()}\n`);
  console.log(table(
    ['server', 'G instructions', 'seconds', 'M instructions/s', 'connects', 'delivered', 'k instructions per connect'],
    counts.map((c) => [c.kind, c.instructions / 1e9, c.seconds, perSecond(c) / 1e6, c.connects, c.delivered, c.instructions / Math.max(1, c.connects) / 1e3]),
  ));
  console.log(`\nPresence / Faye alone: ${(perSecond(presence) / perSecond(plain)).toFixed(3)} in instructions per second (the steady CPU target is 1.05 in seconds)\n`);

  const byCategory = (c: Count) => {
    const sums = new Map<string, number>(CATEGORIES.map(([name]) => [name, 0]));
    for (const [name, n] of c.functions) sums.set(categoryOf(name), sums.get(categoryOf(name))! + n);
    return sums;
  };
  const [pc, qc] = [byCategory(presence), byCategory(plain)];
  console.log(`What the instructions went to, M instructions a second\n`);
  console.log(table(['what', 'presence', 'plain', 'difference', 'presence / plain'], [...CATEGORIES.map(([name]) => name), 'all'].map((name) => {
    const p = (name === 'all' ? presence.instructions : pc.get(name)!) / presence.seconds;
    const q = (name === 'all' ? plain.instructions : qc.get(name)!) / plain.seconds;
    return [name, p / 1e6, q / 1e6, (p - q) / 1e6, q > 0 ? p / q : null];
  })));
  const steadyWork = (sums: Map<string, number>, c: Count) => [...sums].filter(([name]) => name !== 'compiling' && name !== 'garbage collection').reduce((a, [, n]) => a + n, 0) / c.seconds;
  console.log(`\nWithout compiling and garbage collection (which come in bursts a window may or may not hold): ${(steadyWork(pc, presence) / steadyWork(qc, plain)).toFixed(3)}\n`);

  const names = new Set([...presence.functions.keys(), ...plain.functions.keys()]);
  const rows = [...names].map((name) => {
    const p = (presence.functions.get(name) ?? 0) / presence.seconds;
    const q = (plain.functions.get(name) ?? 0) / plain.seconds;
    return { name, p, q };
  });
  console.log(`Native functions with the largest difference, M instructions a second (self)\n`);
  console.log(table(['function', 'presence', 'plain', 'difference'], rows.sort((a, b) => Math.abs(b.p - b.q) - Math.abs(a.p - a.q)).slice(0, Number(flags.top)).map((r) => [r.name.slice(0, 90), r.p / 1e6, r.q / 1e6, (r.p - r.q) / 1e6])));
  const save = counts.map(({ functions, ...rest }) => ({ ...rest, top: [...functions].sort((a, b) => b[1] - a[1]).slice(0, 50) }));
  progress(`results: ${saveResult('instructions', { flags, counts: save })}`);
}

runBenchmark(main);
