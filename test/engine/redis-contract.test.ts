// needs: redis
// The Redis engine passes the same contract as Faye's memory engine, and holds
// across two servers sharing one Redis namespace.
import { RedisEngine } from '../../lib/engine';
import { silentLogger } from '../../lib/log';
import { createTestRedis } from '../support/redis';
import { engineContract } from './contract';

engineContract({
  distributed: true,
  async setup() {
    const testRedis = await createTestRedis();
    return {
      engineOptions: { type: RedisEngine, redis: testRedis.url, namespace: testRedis.namespace, logger: silentLogger },
      teardown: () => testRedis.cleanup(),
    };
  },
});
