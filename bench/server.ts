// One bench server, run as its own child process so that its CPU and memory
// are measured apart from the clients. Two kinds, built the same way:
//   presence: Express + attachFayeOnline (Faye NodeAdapter, RedisEngine, presence extension)
//   plain:    Express + a Faye NodeAdapter with the same RedisEngine and no extension
// Configuration comes as JSON in argv[2]; the parent talks to it over IPC:
//   -> { type: 'stats', gc? } <- { type: 'stats', cpuMicros, rss, heapUsed, sqlStatements, connects, userLists } (after a GC when asked and --expose-gc)
//   -> { type: 'reset', sampleRss } zeroes the SQL statement and /meta/connect counters, the loop delay and the RSS peak; sampleRss false stops the 20 ms RSS sampler
//   -> { type: 'heapSnapshot', file } <- { type: 'heapSnapshot', file } once written
//   -> { type: 'allocationProfile', action: 'start' | 'stop', file, everything? } <- { type: 'allocationProfile' } (stop: written to file)
//   -> { type: 'cpuProfile', action: 'start' | 'stop', file } <- { type: 'cpuProfile' } (stop: written to file)
//   -> { type: 'callCounts', action: 'start' | 'stop', file } <- { type: 'callCounts' } (stop: the calls of each function, written to file)
//   -> { type: 'settled' }   <- { type: 'settled' } once presence work in flight is written
//   -> { type: 'close' }     closes everything and exits
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as perfConstants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import fs from 'node:fs';
import path from 'node:path';
import inspector from 'node:inspector';
import express from 'express';
import faye from 'faye';
// The package as users get it, compiled by tsc (startServer builds it when lib/
// is newer): run through tsx, every function of lib/ would carry the helpers of
// its on-the-fly transform, which the published code does not.
import { attachFayeOnline, DEFAULTS, type FayeOnlineHandle } from '../dist/lib';
import { RedisEngine } from '../dist/lib/engine';
import { silentLogger } from '../dist/lib/log';
import { countStatements, openDatabase, type StatementCounter } from '../dist/lib/records';

export interface ServerConfig {
  kind: 'presence' | 'plain';
  redisUrl: string;
  namespace: string;
  databaseUrl?: string;
  /** Faye long-poll timeout, seconds. */
  timeout: number;
  userListWindow?: number;
  /** Seconds between reconciliation passes (faye-online's default 300; 0: only at start); undefined: the default. */
  reconcileInterval?: number;
  /** Seconds a leave after a disconnect waits for the user to come back (faye-online's default 5); undefined: the default. */
  leaveGrace?: number;
  /** Signed mode (bench:attack). */
  secret?: string;
  /** Faye's engine: our RedisEngine (default), or Faye's memory engine (presence then keeps its state in memory too). */
  engine?: 'redis' | 'memory';
}

/** Pages the process gave back with MADV_FREE: still counted in RSS until the kernel needs them (Linux; 0 elsewhere). */
function lazilyFreedBytes(): number {
  try {
    const match = /^LazyFree:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]!) as ServerConfig;
  const app = express();
  const server = http.createServer(app);
  let handle: FayeOnlineHandle | undefined;
  let sql: StatementCounter | undefined;
  let adapter: faye.NodeAdapter;
  let connects = 0;
  let userLists = 0;

  if (config.kind === 'presence') {
    const sequelize = openDatabase(config.databaseUrl!);
    sql = countStatements(sequelize);
    handle = attachFayeOnline(app, server, {
      logger: silentLogger,
      database: sequelize,
      autoMigrate: true,
      ...(config.engine === 'memory' ? {} : { redis: config.redisUrl, namespace: config.namespace }),
      timeout: config.timeout,
      ...(config.userListWindow ? { userListWindow: config.userListWindow } : {}),
      ...(config.leaveGrace !== undefined ? { leaveGrace: config.leaveGrace } : {}),
      ...(config.reconcileInterval !== undefined ? { reconcileInterval: config.reconcileInterval } : {}),
      ...(config.secret ? { secret: config.secret } : {}),
    });
    adapter = handle.adapter;
    await handle.ready;
  } else {
    adapter = new faye.NodeAdapter({
      mount: '/faye',
      timeout: config.timeout,
      // The same WebSocket ping as the presence server's (the gem's server settings): without it plain Faye
      // writes a quarter fewer frames to a WebSocket client while steady (one ping per 30 s beside a
      // /meta/connect answer per 10 s), and the comparison measures the ping, not presence.
      ping: DEFAULTS.ping,
      ...(config.engine === 'memory' ? {} : { engine: { type: RedisEngine, redis: config.redisUrl, namespace: config.namespace, logger: silentLogger } }),
    });
    adapter.attach(server);
    await RedisEngine.fromAdapter(adapter)?.ready();
  }
  // <room>/user_list messages handed to the engine (presence's go to it directly, not through the extensions).
  const proxy = (adapter as unknown as { _server: { _engine: { publish(message: { channel: string }): void } } })._server._engine;
  const publish = proxy.publish.bind(proxy);
  proxy.publish = (message) => {
    if (message.channel.endsWith('/user_list')) userLists += 1;
    publish(message);
  };
  adapter.addExtension({
    incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
      if (message.channel === '/meta/connect') connects += 1;
      callback(message);
    },
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const close = async () => {
    if (handle) await handle.close();
    else await Promise.resolve(adapter.close());
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    process.exit(0);
  };

  // How long the event loop was held (the longest single block shows as the
  // max delay) and the largest RSS, since the last reset.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  // The same since the previous stats reading, for readings taken through a window (bench:capacity --memory-every).
  const loopSinceRead = monitorEventLoopDelay({ resolution: 5 });
  loopSinceRead.enable();
  let rssPeak = 0;
  // Reading RSS costs about 12 us, 600 a second in the profiles at 50 reads a second: the sampler
  // stops for a window that measures CPU (a reset with sampleRss false), whose RSS is read after it.
  let rssSampler: NodeJS.Timeout | undefined;
  const sampleRss = (on: boolean) => {
    clearInterval(rssSampler);
    rssSampler = on ? setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 20).unref() : undefined;
  };
  sampleRss(true);

  // Time spent collecting garbage, young generation (scavenges) and the rest.
  const gcMs = { minor: 0, major: 0, longest: 0, longestSinceRead: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcMs.minor += entry.duration;
      else gcMs.major += entry.duration;
      gcMs.longest = Math.max(gcMs.longest, entry.duration);
      gcMs.longestSinceRead = Math.max(gcMs.longestSinceRead, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });

  const inspectorSession = new inspector.Session();
  const post = (method: string, params: object = {}) => new Promise<unknown>((resolve, reject) => {
    inspectorSession.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
  });

  // A profile of a window of the run, through the inspector: `start` begins it, `stop` writes it to the file.
  // The reply names the message's type. Both kinds can run at once, on the one session.
  let profiling = 0;
  const profileWindow = async (message: { type: string; action?: 'start' | 'stop'; file?: string }, begin: () => Promise<unknown>, end: () => Promise<unknown>) => {
    if (message.action === 'start') {
      if (profiling++ === 0) inspectorSession.connect();
      await begin();
    } else {
      const { profile } = await end() as { profile: unknown };
      fs.mkdirSync(path.dirname(message.file!), { recursive: true });
      fs.writeFileSync(message.file!, JSON.stringify(profile));
      if (--profiling === 0) inspectorSession.disconnect();
    }
    process.send!({ type: message.type });
  };

  process.on('message', (message: { type: string; gc?: boolean; file?: string; action?: 'start' | 'stop'; everything?: boolean; sampleRss?: boolean }) => {
    switch (message.type) {
      case 'stats': {
        if (message.gc) (globalThis as { gc?: () => void }).gc?.();
        const cpu = process.cpuUsage();
        const memory = process.memoryUsage();
        rssPeak = Math.max(rssPeak, memory.rss);
        process.send!({
          type: 'stats', cpuMicros: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external,
          sqlStatements: sql?.count ?? 0, connects, userLists,
          loopMaxMs: loop.max / 1e6, loopP99Ms: loop.percentile(99) / 1e6, rssPeak,
          lazyFree: lazilyFreedBytes(),
          gcMinorMs: gcMs.minor, gcMajorMs: gcMs.major, gcLongestMs: gcMs.longest,
          sinceRead: { loopMaxMs: loopSinceRead.max / 1e6, loopP99Ms: loopSinceRead.percentile(99) / 1e6, gcLongestMs: gcMs.longestSinceRead },
          spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, { committed: space.physical_space_size, used: space.space_used_size }])),
        });
        loopSinceRead.reset();
        gcMs.longestSinceRead = 0;
        break;
      }
      case 'reset':
        sql?.reset();
        connects = 0;
        loop.reset();
        gcMs.longest = 0;
        rssPeak = process.memoryUsage.rss();
        sampleRss(message.sampleRss !== false);
        break;
      case 'heapSnapshot':
        fs.mkdirSync(path.dirname(message.file!), { recursive: true });
        process.send!({ type: 'heapSnapshot', file: v8.writeHeapSnapshot(message.file) });
        break;
      case 'allocationProfile':
        void profileWindow(message, () => post('HeapProfiler.enable').then(() => post('HeapProfiler.startSampling', {
          samplingInterval: 65536, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: message.everything === true,
        })), () => post('HeapProfiler.stopSampling'));
        break;
      case 'cpuProfile':
        void profileWindow(message, () => post('Profiler.enable').then(() => post('Profiler.start')), () => post('Profiler.stop'));
        break;
      case 'callCounts':
        // V8's precise coverage with call counts: how many times each function ran in the window, exactly.
        void profileWindow(
          message,
          () => post('Profiler.enable').then(() => post('Profiler.startPreciseCoverage', { callCount: true, detailed: false })).then(() => post('Profiler.takePreciseCoverage')),
          async () => {
            const { result } = await post('Profiler.takePreciseCoverage') as { result: unknown };
            await post('Profiler.stopPreciseCoverage');
            return { profile: result };
          },
        );
        break;
      case 'settled':
        void (handle ? handle.settled() : Promise.resolve()).then(() => process.send!({ type: 'settled' }));
        break;
      case 'close':
        void close();
        break;
    }
  });
  // The parent is gone: nothing will ever ask this server anything again.
  process.on('disconnect', () => void close());
  process.send!({ type: 'ready', port });
}

main().catch((error) => {
  console.error('bench server failed:', error);
  process.exit(1);
});
