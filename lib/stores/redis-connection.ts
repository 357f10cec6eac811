// Turns the `redis` option (URL, ioredis options or an ioredis instance) into a
// connection, and remembers whether we own it (and so must close it).
//
// URLs (the option, REDIS_URL, the engine's own `redis` option):
//   redis://[user:password@]host:port[/db]      one Redis (rediss:// for TLS)
//   redis+sentinel://[user:password@]host:port[,host:port...]/master[?db=N&sentinelPassword=...&sentinelUsername=...]
//     a primary found through Redis Sentinel: the hosts are sentinels (port
//     26379 if omitted), `master` is the name they monitor; user and password
//     are those of the Redis nodes. ioredis then asks the sentinels for the
//     primary on every reconnect, so a failover needs no restart.
import Redis, { type RedisOptions } from 'ioredis';
import { FayeOnlineError } from '../errors';
import { redactUrl } from '../log';

export type RedisOption = string | RedisOptions | Redis;

export interface OwnedRedis {
  redis: Redis;
  owned: boolean;
}

/** The URL forms the `redis` option accepts, for error messages. */
export const REDIS_URL_FORMS = 'redis://host:port/db, rediss://... or redis+sentinel://host:port,host:port/master?db=N';

const SENTINEL_URL = /^redis\+sentinel:\/\//;

export function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//.test(url) || SENTINEL_URL.test(url);
}

function invalidUrl(url: string, why: string): FayeOnlineError {
  return new FayeOnlineError('INVALID_OPTION', `redis: "${redactUrl(url)}" ${why} (accepted: ${REDIS_URL_FORMS})`);
}

/** The one check of a Redis URL's form (a sentinel URL's parts included); throws INVALID_OPTION. */
export function checkRedisUrl(url: string): void {
  if (!isRedisUrl(url)) {
    throw new FayeOnlineError('INVALID_OPTION', `redis: must be a redis:// URL like redis://127.0.0.1:6379/1 (or redis+sentinel://host:port,host:port/master?db=1), got "${redactUrl(url)}"`);
  }
  if (SENTINEL_URL.test(url)) sentinelOptions(url);
}

/**
 * ioredis' keyPrefix would move every key away from where the gem and
 * faye-redis look for them. `option` names the option in the error.
 */
export function refuseKeyPrefix(options: RedisOptions, option = 'redis:'): void {
  if (options.keyPrefix) throw new FayeOnlineError('INVALID_OPTION', `${option} an ioredis keyPrefix would change the shared key layout; use the \`namespace\` option instead`);
}

/** ioredis options for a redis+sentinel:// URL. */
export function sentinelOptions(url: string): RedisOptions {
  const match = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)\/?(?:\?([^#]*))?$/.exec(url);
  if (!match) throw invalidUrl(url, 'is not a redis+sentinel:// URL with sentinels and a master name');
  const [, userInfo, hosts, master, query] = match;
  const sentinels = hosts!.split(',').map((hostPort) => {
    const hostMatch = /^([^:]+)(?::(\d+))?$/.exec(hostPort.trim());
    if (!hostMatch) throw invalidUrl(url, `has a sentinel "${hostPort}" that is not host or host:port`);
    return { host: hostMatch[1]!, port: hostMatch[2] ? Number(hostMatch[2]) : 26379 };
  });
  const options: RedisOptions = { sentinels, name: decodeURIComponent(master!) };
  if (userInfo) {
    const colon = userInfo.indexOf(':');
    const username = decodeURIComponent(colon < 0 ? userInfo : userInfo.slice(0, colon));
    if (username) options.username = username;
    if (colon >= 0) options.password = decodeURIComponent(userInfo.slice(colon + 1));
  }
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (!['db', 'sentinelPassword', 'sentinelUsername'].includes(key)) throw invalidUrl(url, `has an unknown parameter "${key}"`);
  }
  const db = params.get('db');
  if (db !== null) {
    if (!/^\d+$/.test(db)) throw invalidUrl(url, 'has a db that is not a non-negative integer');
    options.db = Number(db);
  }
  const sentinelPassword = params.get('sentinelPassword');
  if (sentinelPassword !== null) options.sentinelPassword = sentinelPassword;
  const sentinelUsername = params.get('sentinelUsername');
  if (sentinelUsername !== null) options.sentinelUsername = sentinelUsername;
  return options;
}

/** A connection for a redis://, rediss:// or redis+sentinel:// URL; `extra` (ioredis options) wins over the URL. */
export function redisFromUrl(url: string, extra: RedisOptions = {}): Redis {
  checkRedisUrl(url);
  if (SENTINEL_URL.test(url)) return new Redis({ ...sentinelOptions(url), ...extra });
  return new Redis(url, extra);
}

/**
 * What the connections we open get unless the app's options say otherwise.
 * Auto-pipelining writes the commands of one tick in one socket write: in a
 * storm, a write per command (a system call each) was the largest single cost
 * in the server's profile. Order per connection is unchanged.
 */
export const OPENED_CONNECTION_DEFAULTS: RedisOptions = { enableAutoPipelining: true };

export function openRedis(option: RedisOption, extra: RedisOptions = {}): OwnedRedis {
  if (option instanceof Redis) {
    refuseKeyPrefix(option.options);
    return { redis: option, owned: false };
  }
  if (typeof option === 'string') {
    return { redis: redisFromUrl(option, { ...OPENED_CONNECTION_DEFAULTS, ...extra }), owned: true };
  }
  if (typeof option === 'object' && option !== null) {
    refuseKeyPrefix(option);
    return { redis: new Redis({ ...OPENED_CONNECTION_DEFAULTS, ...option, ...extra }), owned: true };
  }
  throw new FayeOnlineError('INVALID_OPTION', `redis must be a URL (${REDIS_URL_FORMS}), ioredis options or an ioredis instance`);
}

/** Calls `listener` each time the connection is ready again after it was lost (a restart, a failover). */
export function onReconnected(redis: Redis, listener: () => void): void {
  let lost = false;
  redis.on('close', () => {
    lost = true;
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    listener();
  });
}
