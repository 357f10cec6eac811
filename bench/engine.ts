// bench:engine: publish throughput of Faye engines alone, in this process,
// without HTTP: Faye's engine proxy with S subscribers that each hold a
// connection (as a long-poll would) and reconnect after every delivery.
// Compared: Faye's memory engine, our RedisEngine, the original faye-redis.
//   npm run bench:engine -- --messages 5000 --subscribers 10
import { performance } from 'node:perf_hooks';
import faye from 'faye';
// Our engine as users get it, compiled (see bench/server.ts); loaded once built.
import type { RedisEngine as RedisEngineType } from '../dist/lib/engine';
import type { silentLogger as SilentLogger } from '../dist/lib/log';
import { ensureBuilt } from './support/processes';
import { parseFlags } from './support/args';
import { createTestRedis } from '../test/support/redis';
import { commit, progress, saveResult, sleep, table } from './support/report';

const flags = parseFlags({ messages: 5000, subscribers: 10, inflight: 200, repeat: 1 });
const CHANNEL = '/bench/engine';
const LIMIT_MS = 120_000;

type EngineName = 'memory' | 'faye-online RedisEngine' | 'faye-redis 0.2 (redis@3)';

interface EngineResult {
  engine: EngineName;
  messages: number;
  subscribers: number;
  seconds: number;
  publishesPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
}

async function measure(engine: EngineName): Promise<EngineResult> {
  const redis = engine === 'memory' ? undefined : await createTestRedis();
  const { hostname, port } = new URL(redis?.url ?? 'redis://127.0.0.1:6379/9');
  const engineOptions: Record<string, unknown> =
    engine === 'memory' ? {}
    : engine === 'faye-online RedisEngine' ? { type: RedisEngine, redis: redis!.url, namespace: redis!.namespace, logger: silentLogger }
    : { type: require('faye-redis'), host: hostname, port: Number(port || 6379), database: 9, namespace: redis!.namespace };
  const adapter = new faye.NodeAdapter({ mount: '/faye', timeout: 30, engine: engineOptions });
  const proxy = (adapter as unknown as { _server: { _engine: any } })._server._engine;
  try {
    if (engine === 'faye-online RedisEngine') await RedisEngine.fromAdapter(adapter)!.ready();
    else await sleep(300); // faye-redis subscribes without telling when it is done
    const call = <T>(verb: string, ...args: unknown[]) => new Promise<T>((resolve) => proxy[verb](...args, resolve));

    let delivered = 0;
    const clientIds: string[] = [];
    for (let i = 0; i < flags.subscribers; i += 1) {
      const clientId = await call<string>('createClient');
      await call('subscribe', clientId, CHANNEL);
      clientIds.push(clientId);
    }
    // Each subscriber holds a connection; a delivery flushes it and it connects again.
    let running = true;
    const hold = (clientId: string) => {
      proxy.connect(clientId, {}, (events: unknown[]) => {
        delivered += events.length;
        if (running) setImmediate(() => hold(clientId));
      });
    };
    for (const clientId of clientIds) hold(clientId);
    await sleep(200);

    const expected = flags.messages * flags.subscribers;
    const started = performance.now();
    const until = Date.now() + LIMIT_MS;
    let lastReport = Date.now();
    for (let i = 0; i < flags.messages && Date.now() < until; i += 1) {
      proxy.publish({ channel: CHANNEL, data: { i }, id: String(i) });
      // Keep at most `inflight` messages ahead of the deliveries, so a queue in the engine is not what is measured.
      while ((i + 1) * flags.subscribers - delivered > flags.inflight * flags.subscribers && Date.now() < until) await sleep(1);
      if (Date.now() - lastReport > 3000) {
        lastReport = Date.now();
        progress(`${engine}: ${i + 1}/${flags.messages} published, ${delivered}/${expected} delivered`);
      }
    }
    while (delivered < expected && Date.now() < until) await sleep(1);
    const seconds = (performance.now() - started) / 1000;
    running = false;
    for (const clientId of clientIds) proxy.flushConnection(clientId);
    progress(`${engine}: ${delivered}/${expected} delivered in ${seconds.toFixed(2)} s`);
    return { engine, messages: flags.messages, subscribers: flags.subscribers, seconds, publishesPerSecond: flags.messages / seconds, deliveriesPerSecond: delivered / seconds, delivered };
  } finally {
    await Promise.resolve(adapter.close()).catch(() => undefined);
    await sleep(200);
    await redis?.cleanup();
  }
}

let RedisEngine: typeof RedisEngineType;
let silentLogger: typeof SilentLogger;

async function main(): Promise<void> {
  ensureBuilt();
  ({ RedisEngine } = await import('../dist/lib/engine/index.js'));
  ({ silentLogger } = await import('../dist/lib/log.js'));
  const results: EngineResult[] = [];
  for (const engine of ['memory', 'faye-online RedisEngine', 'faye-redis 0.2 (redis@3)'] as EngineName[]) {
    const runs: EngineResult[] = [];
    for (let r = 0; r < flags.repeat; r += 1) runs.push(await measure(engine));
    results.push(runs.reduce((a, b) => (b.seconds < a.seconds ? b : a)));
  }
  console.log(`\nEngine alone: ${flags.messages} publishes to ${flags.subscribers} subscribers, at most ${flags.inflight} in flight, best of ${flags.repeat}; commit ${commit()}\n`);
  console.log(table(
    ['engine', 'seconds', 'publishes/s', 'deliveries/s', 'delivered', 'vs memory'],
    results.map((r) => [r.engine, r.seconds, r.publishesPerSecond, r.deliveriesPerSecond, `${r.delivered}/${r.messages * r.subscribers}`, r.publishesPerSecond / results[0]!.publishesPerSecond]),
  ));
  progress(`results: ${saveResult('engine', { flags, results })}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
