// A Redis key namespace of the test's own, on a test database number, removed after.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { EngineKeys, PresenceKeys } from '../../lib/stores/keys';

export const REDIS_URL = process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379/9';

export interface TestRedis {
  /** Unique namespace, e.g. "fotest_ab12cd" (no leading slash). */
  namespace: string;
  url: string;
  redis: Redis;
  /** Every key of this namespace: the presence keys ("/ns/...") and the engine keys ("ns/..."). */
  keys(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function createTestRedis(url = REDIS_URL): Promise<TestRedis> {
  const namespace = `fotest_${randomBytes(4).toString('hex')}`;
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  const keys = async () => [
    ...(await redis.keys(new EngineKeys(namespace).all)),
    ...(await redis.keys(new PresenceKeys(namespace).all)),
  ].sort();
  return {
    namespace,
    url,
    redis,
    keys,
    async cleanup() {
      const all = await keys();
      if (all.length) await redis.del(...all);
      redis.disconnect();
    },
  };
}
