// Child processes of a bench run: servers (bench/server.ts) and client
// workers (bench/client-worker.ts), started with tsx, talked to over IPC,
// and always ended by the run that started them.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../server';
import type { ClientSpec } from '../client-worker';
import { progress } from './report';

const BENCH = path.resolve(__dirname, '..');
const ROOT = path.resolve(BENCH, '..');
const children = new Set<ChildProcess>();

function newestChange(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestChange(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

let built = false;
/** Servers run the compiled package (dist/): builds it when it is missing or older than lib/. */
export function ensureBuilt(): void {
  if (built) return;
  const compiled = path.join(ROOT, 'dist', 'lib', 'index.js');
  if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < newestChange(path.join(ROOT, 'lib'))) {
    progress('building the package (dist/ is missing or older than lib/)');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('bench: `npm run build` failed (see above); the servers run the compiled package');
  }
  built = true;
}

/** `wrap`: a command that runs Node (e.g. valgrind and its options), the child then being that command. */
function start(script: string, args: string[], execArgv: string[] = [], wrap: string[] = []): ChildProcess {
  const nodeArgv = ['--import', 'tsx', ...execArgv];
  const [command, ...commandArgs] = wrap;
  const child = fork(path.join(BENCH, script), args, {
    ...(command ? { execPath: command, execArgv: [...commandArgs, process.execPath, ...nodeArgv] } : { execArgv: nodeArgv }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Waits for the next IPC message of `type` from `child`, at most `limitMs`. */
function next<T>(child: ChildProcess, type: string, limitMs: number, onOther?: (message: any) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`child ${child.pid} sent no '${type}' within ${limitMs} ms`)), limitMs);
    const onMessage = (message: any) => {
      if (message?.type === type) finish(null, message);
      else onOther?.(message);
    };
    const onExit = (code: number | null) => finish(new Error(`child ${child.pid} exited (${code}) before '${type}'`));
    function finish(error: Error | null, message?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export interface ServerStats {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  /** V8 heap reserved (used or not): what the heap's peak left in RSS. */
  heapTotal: number;
  /** Memory of Buffers and other objects outside the V8 heap. */
  external: number;
  sqlStatements: number;
  connects: number;
  /** <room>/user_list messages published since the server started. */
  userLists: number;
  /** Longest event-loop delay since the last reset, ms. */
  loopMaxMs: number;
  loopP99Ms: number;
  /** Largest RSS since the last reset, bytes. */
  rssPeak: number;
  /** Of RSS, pages freed lazily (MADV_FREE) that the kernel takes back only when it needs memory, bytes. */
  lazyFree: number;
  /** Time spent in garbage collection since the server started, ms: scavenges of the young generation, and the rest. */
  gcMinorMs: number;
  gcMajorMs: number;
  /** The longest single garbage collection since the last reset, ms (the main thread's pause or less). */
  gcLongestMs: number;
  /** Since the previous stats reading: the longest event-loop delay, its 99th percentile and the longest single GC, ms. */
  sinceRead: { loopMaxMs: number; loopP99Ms: number; gcLongestMs: number };
  /** Each V8 heap space's committed and used bytes (new_space, old_space, large_object_space, code_space...). */
  spaces: Record<string, { committed: number; used: number }>;
}

export interface BenchServer {
  pid: number;
  url: string;
  /** `gc`: collect garbage first (servers started with `exposeGc`), so that heap and RSS show what is held. */
  stats(options?: { gc?: boolean }): Promise<ServerStats>;
  /** Starts the next window: counts, the event-loop delay and the RSS peak start again; `sampleRss` false stops the RSS sampler (it costs CPU) for a window that measures CPU. */
  reset(options?: { sampleRss?: boolean }): void;
  /** Writes a V8 heap snapshot of the server to `file`. */
  heapSnapshot(file: string): Promise<void>;
  /**
   * Starts or ends a sampling allocation profile (one sample per 64 KB allocated); `stop` writes it to
   * `file` (Chrome DevTools .heapprofile). It keeps objects that survived a scavenge and died later, in
   * old space: the garbage that grows the old generation, which a profile of live objects would not show.
   * `everything`: also the objects that died young, i.e. every allocation (what the scavenges cost).
   */
  allocationProfile(action: 'start' | 'stop', file?: string, everything?: boolean): Promise<void>;
  /** Starts or ends a CPU profile of a window (`stop` writes it to `file`, a .cpuprofile), e.g. of the steady state only. */
  cpuProfile(action: 'start' | 'stop', file?: string): Promise<void>;
  /** Starts or ends counting the calls of every function (V8's precise coverage); `stop` writes the counts to `file`. */
  callCounts(action: 'start' | 'stop', file?: string): Promise<void>;
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `nodeFlags`: more Node/V8 flags for the server process (e.g. --max-semi-space-size=32). `wrap`: a
 * command the server's Node runs under (bench:instructions: valgrind), whose slower start `readyMs` allows.
 */
export async function startServer(
  config: ServerConfig,
  options: { profileDir?: string; exposeGc?: boolean; nodeFlags?: string[]; wrap?: string[]; readyMs?: number } = {},
): Promise<BenchServer> {
  const execArgv = [
    ...(options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : []), ...(options.exposeGc ? ['--expose-gc'] : []), ...(options.nodeFlags ?? []),
  ];
  ensureBuilt();
  const child = start('server.ts', [JSON.stringify(config)], execArgv, options.wrap);
  const { port } = await next<{ port: number }>(child, 'ready', options.readyMs ?? 60_000);
  // Starts or ends a profile in the server; the reply names the same type.
  const profile = async (message: { type: string; action: 'start' | 'stop'; file?: string; everything?: boolean }) => {
    const reply = next(child, message.type, 300_000);
    child.send(message);
    await reply;
  };
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}/faye`,
    stats(statsOptions = {}) {
      const reply = next<ServerStats>(child, 'stats', 10_000);
      child.send({ type: 'stats', gc: statsOptions.gc === true });
      return reply;
    },
    reset: (resetOptions = {}) => child.send({ type: 'reset', sampleRss: resetOptions.sampleRss !== false }),
    async heapSnapshot(file) {
      const reply = next(child, 'heapSnapshot', 300_000);
      child.send({ type: 'heapSnapshot', file });
      await reply;
    },
    allocationProfile: (action, file, everything = false) => profile({ type: 'allocationProfile', action, file, everything }),
    cpuProfile: (action, file) => profile({ type: 'cpuProfile', action, file }),
    callCounts: (action, file) => profile({ type: 'callCounts', action, file }),
    async settled() {
      const reply = next(child, 'settled', 120_000);
      child.send({ type: 'settled' });
      await reply;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ClientWorker {
  open(clients: ClientSpec[], label: string): Promise<{ connected: number; failed: number; ms: number }>;
  close(): Promise<{ ms: number }>;
  end(): void;
}

export async function startClientWorker(): Promise<ClientWorker> {
  const child = start('client-worker.ts', []);
  await next(child, 'ready', 60_000);
  return {
    async open(clients, label) {
      const opened = next<{ connected: number; failed: number; ms: number }>(child, 'opened', 300_000, (message) => {
        if (message.type === 'progress') progress(`${label}: ${message.connected}/${clients.length} connected${message.failed ? `, ${message.failed} failed` : ''}`);
      });
      child.send({ type: 'open', clients, concurrency: 50 });
      return opened;
    },
    async close() {
      const closed = next<{ ms: number }>(child, 'closed', 300_000);
      child.send({ type: 'close', concurrency: 100 });
      return closed;
    },
    end() {
      child.disconnect();
    },
  };
}

/** Ends every child still running (on error or interrupt), so that nothing outlives the run. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}
/** Runs a benchmark's main: exits 0 when it is done, or prints the error, ends every child and exits 1. */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      killChildren();
      process.exit(1);
    },
  );
}

process.once('SIGINT', () => {
  killChildren();
  process.exit(130);
});
