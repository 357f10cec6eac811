// The steady-state load shared by bench:steady and bench:cluster: N real
// clients in R rooms (some users with two tabs, some clients on long-polling),
// held connected while server CPU, memory and publish latency are measured.
import type { ClientSpec } from '../client-worker';
import { createBacking } from './backing';
import { startLatencyProbe, type LatencyResult } from './latency';
import { startClientWorker, startServer, type BenchServer, type ServerStats } from './processes';
import { progress, sleep } from './report';

export interface LoadOptions {
  kind: 'presence' | 'plain';
  clients: number;
  rooms: number;
  /** Share of users who have two tabs (two clients in the same room). */
  twoTabs: number;
  /** Share of clients on long-polling; the rest use WebSocket. */
  longPolling: number;
  servers: number;
  workers: number;
  /** Seconds measured once every client is connected and presence is settled. */
  seconds: number;
  /** Published messages a second for the latency probe. */
  rate: number;
  /** Faye timeout, seconds: each client sends one /meta/connect per timeout. */
  timeout: number;
  profileDir?: string;
  /** Puts a load balancer in front of the servers: clients and the probe then go through it. */
  balancer?: (servers: Array<{ name: string; port: number }>) => Promise<{ url: string; stop(): Promise<void> }>;
  /** Called when the measured window starts; what the returned function resolves to when it ends lands in `observed`. */
  observe?: (namespace: string) => Promise<() => Promise<unknown>>;
  /** Transport of the latency probe's two clients (default: Faye's choice, WebSocket). */
  probeTransport?: 'long-polling' | 'websocket';
}

export interface LoadResult {
  kind: string;
  servers: number;
  clients: number;
  users: number;
  connected: number;
  failed: number;
  openSeconds: number;
  /** Server CPU seconds per second of wall time, summed over the servers. */
  cpu: number;
  rssMB: number;
  heapMB: number;
  connectsPerSecond: number;
  sqlDuringSteady: number;
  latency: LatencyResult;
  observed?: unknown;
}

/** Users 0..n-1 in rooms round-robin; every 1/twoTabs-th user opens a second tab. */
export function clientSpecs(options: LoadOptions, urls: string[]): { specs: ClientSpec[]; users: number } {
  const specs: ClientSpec[] = [];
  const everyNth = options.twoTabs > 0 ? Math.round(1 / options.twoTabs) : Infinity;
  const lpEvery = options.longPolling > 0 ? Math.round(1 / options.longPolling) : Infinity;
  let uid = 0;
  while (specs.length < options.clients) {
    uid += 1;
    const room = `/rooms/r${uid % options.rooms}`;
    const tabs = uid % everyNth === 0 ? 2 : 1;
    for (let tab = 0; tab < tabs && specs.length < options.clients; tab += 1) {
      const index = specs.length;
      specs.push({
        url: urls[index % urls.length]!,
        uid,
        uname: `user${uid}`,
        room,
        timeChannel: `/lessons/l${uid % options.rooms}`,
        transport: index % lpEvery === lpEvery - 1 ? 'long-polling' : 'websocket',
        subscribe: [`${room}/chat`, `${room}/user_list`],
      });
    }
  }
  return { specs, users: uid };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

async function statsOf(servers: BenchServer[]): Promise<ServerStats[]> {
  return Promise.all(servers.map((server) => server.stats()));
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const label = `${options.kind} x${options.servers}, ${options.clients} clients`;
  const backing = await createBacking({ database: options.kind === 'presence' });
  const servers: BenchServer[] = [];
  const workers = [] as Awaited<ReturnType<typeof startClientWorker>>[];
  let balancer: { url: string; stop(): Promise<void> } | undefined;
  try {
    // One after the other: the first one migrates the fresh database.
    for (let i = 0; i < options.servers; i += 1) {
      servers.push(await startServer({
        kind: options.kind, redisUrl: backing.redis.url, namespace: backing.redis.namespace, databaseUrl: backing.db?.url, timeout: options.timeout,
      }, { profileDir: options.profileDir }));
    }
    if (options.balancer) balancer = await options.balancer(servers.map((s, i) => ({ name: `s${i}`, port: Number(new URL(s.url).port) })));
    const urls = balancer ? [balancer.url] : servers.map((s) => s.url);
    for (let i = 0; i < options.workers; i += 1) workers.push(await startClientWorker());
    const { specs, users } = clientSpecs(options, urls);
    progress(`${label}: connecting ${specs.length} clients of ${users} users in ${options.rooms} rooms over ${servers.length} server(s), ${workers.length} client process(es)`);

    const opened = await Promise.all(workers.map((worker, w) => worker.open(specs.filter((_, i) => i % workers.length === w), `${label} [worker ${w + 1}]`)));
    const connected = sum(opened.map((o) => o.connected));
    const failed = sum(opened.map((o) => o.failed));
    const openSeconds = Math.max(...opened.map((o) => o.ms)) / 1000;
    progress(`${label}: ${connected} connected, ${failed} failed in ${openSeconds.toFixed(1)} s; settling`);
    await Promise.all(servers.map((s) => s.settled()));
    await sleep(3000);

    const probe = await startLatencyProbe(urls[0]!, urls[urls.length - 1]!, '/rooms/r1/chat', options.probeTransport);
    for (const s of servers) s.reset();
    const before = await statsOf(servers);
    const startedAt = Date.now();
    const ticker = setInterval(() => {
      void statsOf(servers).then((now) => {
        const seconds = (Date.now() - startedAt) / 1000;
        const cpu = sum(now.map((s, i) => s.cpuMicros - before[i]!.cpuMicros)) / 1e6 / seconds;
        progress(`${label}: measuring ${seconds.toFixed(0)}/${options.seconds} s, server CPU ${cpu.toFixed(2)} s/s, RSS ${(sum(now.map((s) => s.rss)) / 2 ** 20).toFixed(0)} MB`);
      }, () => undefined);
    }, 5000);
    const endObserving = await options.observe?.(backing.redis.namespace);
    const latency = await probe.run(options.seconds, options.rate);
    const observed = await endObserving?.();
    clearInterval(ticker);
    const after = await statsOf(servers);
    const wall = (Date.now() - startedAt) / 1000;
    await probe.close();

    const result: LoadResult = {
      kind: options.kind,
      servers: options.servers,
      clients: options.clients,
      users,
      connected,
      failed,
      openSeconds,
      cpu: sum(after.map((s, i) => s.cpuMicros - before[i]!.cpuMicros)) / 1e6 / wall,
      rssMB: sum(after.map((s) => s.rss)) / 2 ** 20,
      heapMB: sum(after.map((s) => s.heapUsed)) / 2 ** 20,
      connectsPerSecond: sum(after.map((s) => s.connects)) / wall,
      sqlDuringSteady: sum(after.map((s) => s.sqlStatements)),
      latency,
      observed,
    };
    progress(`${label}: CPU ${result.cpu.toFixed(3)} s/s, p50 ${latency.p50?.toFixed(1)} ms, p99 ${latency.p99?.toFixed(1)} ms, RSS ${result.rssMB.toFixed(0)} MB; disconnecting`);
    await Promise.all(workers.map((worker) => worker.close()));
    await Promise.all(servers.map((s) => s.settled()));
    return result;
  } finally {
    for (const worker of workers) worker.end();
    await balancer?.stop().catch(() => undefined);
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
    await backing.release();
  }
}
