// Bayeux round-trip latency of a published message: one plain Faye client
// publishes timestamped messages at a fixed rate, another (possibly on another
// server of the cluster) receives them; both live in this process, so the
// timestamps share one clock.
import { performance } from 'node:perf_hooks';
import faye from 'faye';
import { percentile, sleep } from './report';

export interface LatencyResult {
  sent: number;
  received: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Where the slowest 1% were sent: [second of the run the 10 s bucket starts at, how many], busiest first. */
  slowest: Array<[number, number]>;
  /** Each 10 s bucket of the run, by when its messages were sent: [second it starts at, the longest latency, ms]. */
  longestByBucket: Array<[number, number]>;
}

export interface LatencyProbe {
  /** Publishes `rate` messages a second for `seconds`, then waits up to 5 s for stragglers. */
  run(seconds: number, rate: number): Promise<LatencyResult>;
  close(): Promise<void>;
}

export async function startLatencyProbe(publishUrl: string, receiveUrl: string, channel: string, transport?: 'long-polling' | 'websocket'): Promise<LatencyProbe> {
  const publisher = new faye.Client(publishUrl, { timeout: 10, retry: 1 });
  const subscriber = new faye.Client(receiveUrl, { timeout: 10, retry: 1 });
  if (transport === 'long-polling') for (const client of [publisher, subscriber]) client.disable('websocket');
  let sink: ((sentAt: number) => void) | undefined;
  await subscriber.subscribe(channel, (data: { sentAt: number; warmup?: boolean }) => {
    if (!data.warmup) sink?.(data.sentAt);
  });
  // One message through first, so the handshakes are not part of the numbers.
  await publisher.publish(channel, { sentAt: performance.now(), warmup: true });
  return {
    async run(seconds, rate) {
      const latencies: number[] = [];
      const sentAts: number[] = [];
      const started = performance.now();
      sink = (sentAt) => {
        latencies.push(performance.now() - sentAt);
        sentAts.push(sentAt - started);
      };
      const total = Math.max(1, Math.round(seconds * rate));
      for (let i = 0; i < total; i += 1) {
        void publisher.publish(channel, { sentAt: performance.now(), seq: i });
        const due = started + ((i + 1) * 1000) / rate;
        await sleep(Math.max(0, due - performance.now()));
      }
      const until = Date.now() + 5000;
      while (latencies.length < total && Date.now() < until) await sleep(50);
      sink = undefined;
      const sorted = [...latencies].sort((a, b) => a - b);
      const buckets = new Map<number, number>();
      const slowIndexes = latencies.map((_, i) => i).sort((a, b) => latencies[b]! - latencies[a]!).slice(0, Math.ceil(latencies.length / 100));
      for (const i of slowIndexes) {
        const bucket = Math.floor(sentAts[i]! / 10_000) * 10;
        buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
      }
      const slowest = [...buckets].sort((a, b) => b[1] - a[1]);
      const longest = new Map<number, number>();
      latencies.forEach((latency, i) => {
        const bucket = Math.floor(sentAts[i]! / 10_000) * 10;
        longest.set(bucket, Math.max(longest.get(bucket) ?? 0, latency));
      });
      const longestByBucket = [...longest].sort((a, b) => a[0] - b[0]);
      return { sent: total, received: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? null, slowest, longestByBucket };
    },
    async close() {
      await Promise.all([publisher.disconnect(), subscriber.disconnect()].map((p) => Promise.resolve(p).catch(() => undefined)));
    },
  };
}
