// Turns the `redis` option (URL, ioredis options or an ioredis instance) into a
// connection, and remembers whether we own it (and so must close it).
import Redis, { type RedisOptions } from 'ioredis';
import { FayeOnlineError } from '../errors';

export type RedisOption = string | RedisOptions | Redis;

export interface OwnedRedis {
  redis: Redis;
  owned: boolean;
}

export function openRedis(option: RedisOption, extra: RedisOptions = {}): OwnedRedis {
  if (option instanceof Redis) {
    if (option.options.keyPrefix) {
      throw new FayeOnlineError('INVALID_OPTION', 'redis: an ioredis keyPrefix would change the shared key layout; use the `namespace` option instead');
    }
    return { redis: option, owned: false };
  }
  if (typeof option === 'string') {
    if (!/^rediss?:\/\//.test(option)) {
      throw new FayeOnlineError('INVALID_OPTION', `redis: "${option}" is not a redis:// URL (e.g. redis://127.0.0.1:6379/1)`);
    }
    return { redis: new Redis(option, extra), owned: true };
  }
  if (typeof option === 'object' && option !== null) {
    if (option.keyPrefix) {
      throw new FayeOnlineError('INVALID_OPTION', 'redis: an ioredis keyPrefix would change the shared key layout; use the `namespace` option instead');
    }
    return { redis: new Redis({ ...option, ...extra }), owned: true };
  }
  throw new FayeOnlineError('INVALID_OPTION', 'redis must be a redis:// URL, ioredis options or an ioredis instance');
}
