// Which commands a Redis server ran, and how many a second, between two readings
// (INFO commandstats: counts for the whole server, so only meaningful while the
// benchmark is the server's one user).
import type Redis from 'ioredis';

export interface RedisRate {
  /** "N commands/s (top: cmd n/s, ...)" since the previous call (the first call starts the count). */
  sinceLast(): Promise<string>;
}

async function counts(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const line of info.split('\n')) {
    const match = line.match(/^cmdstat_([^:]+):calls=(\d+)/);
    if (match) out.set(match[1]!, Number(match[2]));
  }
  return out;
}

export async function redisRate(redis: Redis): Promise<RedisRate> {
  let last = await counts(redis);
  let lastAt = Date.now();
  return {
    async sinceLast() {
      const now = await counts(redis);
      const seconds = Math.max(0.001, (Date.now() - lastAt) / 1000);
      const rates = [...now].map(([name, calls]) => [name, (calls - (last.get(name) ?? 0)) / seconds] as const).filter(([, rate]) => rate > 0).sort((a, b) => b[1] - a[1]);
      last = now;
      lastAt = Date.now();
      const total = rates.reduce((sum, [, rate]) => sum + rate, 0);
      return `${total.toFixed(0)} commands/s (top: ${rates.slice(0, 4).map(([name, rate]) => `${name} ${rate.toFixed(0)}/s`).join(', ')})`;
    },
  };
}
