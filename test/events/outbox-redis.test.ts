// needs: redis
import { RedisOutbox } from '../../lib/events/redis-outbox';
import { RedisStore } from '../../lib/stores/redis-store';
import { createTestRedis } from '../support/redis';
import { GRACE_MS, outboxContract } from './outbox-contract';

outboxContract('redis', async (limit) => {
  const redis = await createTestRedis();
  const store = new RedisStore({ redis: redis.redis, ownsConnection: false, namespace: redis.namespace, maxClientIdsPerUser: 32, leaveGraceMs: GRACE_MS, outboxLimit: limit });
  return { store, outbox: new RedisOutbox(redis.redis, redis.namespace), cleanup: () => redis.cleanup() };
});
