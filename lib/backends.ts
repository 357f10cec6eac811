// What a server, the `serve` command and the offline reports connect to: the
// SQL database (Sequelize and the Records on it), Redis (the presence store's
// connection) and the Faye engine settings. Each is opened here only, so that a
// connection's options (time outs, retries, ownership) are decided once.
import type Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { Sequelize } from 'sequelize';
import type { Clock } from './core/clock';
import { RedisEngine } from './engine';
import { FayeOnlineError } from './errors';
import type { Logger } from './log';
import { openDatabase, Records } from './records';
import { MemoryOutbox, RedisOutbox, type EventOutbox } from './events';
import { MemoryStore } from './stores/memory-store';
import { openRedis, type RedisOption } from './stores/redis-connection';
import { redactUrl } from './log';
import { RedisStore } from './stores/redis-store';
import type { PresenceStore } from './stores/store';

/**
 * How a Redis connection behaves when Redis is away:
 * - `server`: ioredis' defaults, it reconnects for ever (a running server);
 * - `oneShot`: connects when asked, one try per command (a CLI report);
 * - `probe`: one try, a short connect time out, nothing queued (a startup check).
 */
export type RedisProfile = 'server' | 'oneShot' | 'probe';

const PROBE_TIMEOUT_MS = 3000;

const PROFILES: Record<RedisProfile, RedisOptions> = {
  server: {},
  oneShot: { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null },
  probe: {
    lazyConnect: true, connectTimeout: PROBE_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false,
    sentinelRetryStrategy: () => null, // a redis+sentinel:// URL whose sentinels do not answer
  },
};

export interface SqlBackend {
  sequelize: Sequelize;
  /** Opened here from a URL (closed by close()), not the app's own Sequelize. */
  owned: boolean;
  records: Records;
  close(): Promise<void>;
}

export interface SqlSettings {
  logger?: Logger;
  timeZone?: string;
  /** MySQL/MariaDB: how long to wait for the server to answer, ms. Default: the driver's. */
  connectTimeoutMs?: number;
  /** An update lost an optimistic-lock race (metrics). */
  onLockConflict?: () => void;
  /** Write session and engaged-time events with their rows (the `events` option). */
  recordEvents?: boolean;
}

export function openSql(database: string | Sequelize, settings: SqlSettings = {}): SqlBackend {
  const sequelize = openDatabase(database, { logger: settings.logger, connectTimeoutMs: settings.connectTimeoutMs });
  const owned = typeof database === 'string';
  const onConflict = settings.onLockConflict;
  const records = new Records({ sequelize, timeZone: settings.timeZone, logger: settings.logger, events: settings.recordEvents, observer: onConflict ? { onConflict } : undefined });
  return {
    sequelize,
    owned,
    records,
    close: async () => {
      if (owned) await sequelize.close();
    },
  };
}

export interface StoreSettings {
  namespace: string;
  maxClientIdsPerUser: number;
  leaveGraceMs?: number;
  /** How long a clientId's auth and status keys live until its first /meta/connect succeeds, s (see firstRecordTtlSeconds in stores/store.ts). */
  firstRecordTtlSeconds?: number;
  /** The stores append presence events to an outbox of at most this many (the `events` option); absent: events are off. */
  outboxLimit?: number;
}

export interface RedisBackend {
  redis: Redis;
  /** Opened here (closed by store.close()), not the app's own connection. */
  owned: boolean;
  store: RedisStore;
}

export function openRedisStore(option: RedisOption, profile: RedisProfile, settings: StoreSettings): RedisBackend {
  const { redis, owned } = openRedis(option, PROFILES[profile]);
  const store = new RedisStore({ redis, ownsConnection: owned, ...settings });
  return { redis, owned, store };
}

/** One attempt, no retries: at startup a Redis that does not answer is a configuration error. */
export async function probeRedis(url: string, fix: string): Promise<void> {
  const { redis } = openRedis(url, PROFILES.probe);
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => { lastError = error; });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const cause = lastError ?? (error as Error);
    throw new FayeOnlineError('REDIS_UNREACHABLE', `Redis at ${redactUrl(url)} does not answer (${cause.message}); start Redis or fix ${fix}`, { cause });
  } finally {
    redis.disconnect();
  }
}

export interface ServerBackendOptions extends StoreSettings, SqlSettings {
  database: string | Sequelize;
  /** Absent: embedded (state in this process, Faye's memory engine). */
  redis?: RedisOption;
  logger: Logger;
  clock: Clock;
  /** The Redis engine's GC interval, seconds. */
  gc: number;
}

export interface ServerBackendEvents {
  /** The presence store's Redis connection failed (it reconnects by itself). */
  onRedisError?(error: Error): void;
  onRedisReconnecting?(): void;
}

/** Everything a running server (attachFayeOnline) keeps state in. */
export interface ServerBackends {
  sql: SqlBackend;
  store: PresenceStore;
  /** The presence store's connection; undefined when embedded. */
  redis?: Redis;
  /** Where the store appends presence events, when events are on (lib/events drains it). */
  outbox?: EventOutbox;
  embedded: boolean;
  /** The `engine` option of Faye's NodeAdapter. */
  engine: Record<string, unknown>;
  /** Resolves when Redis answers (at once when embedded). */
  ping(): Promise<void>;
  /** Closes the store's connection and the database, each only if opened here. */
  close(): Promise<void>;
}

export function openServerBackends(options: ServerBackendOptions, events: ServerBackendEvents = {}): ServerBackends {
  const { logger } = options;
  const sql = openSql(options.database, options);
  const leaveGraceMs = options.leaveGraceMs ?? 0;
  const storeSettings = { namespace: options.namespace, maxClientIdsPerUser: options.maxClientIdsPerUser, leaveGraceMs, firstRecordTtlSeconds: options.firstRecordTtlSeconds, outboxLimit: options.outboxLimit };
  const close = async (store: PresenceStore) => {
    await store.close();
    await sql.close();
  };
  if (options.redis === undefined) {
    const outbox = options.outboxLimit ? new MemoryOutbox(options.outboxLimit) : undefined;
    const store = new MemoryStore(options.maxClientIdsPerUser, leaveGraceMs, outbox);
    if (sql.owned && sql.sequelize.getDialect() !== 'sqlite') {
      logger.warn({}, 'no `redis` option: presence state lives in this process only; run one process, or give `redis` to form a cluster');
    }
    return { sql, store, outbox, embedded: true, engine: {}, ping: async () => undefined, close: () => close(store) };
  }
  const { redis, owned, store } = openRedisStore(options.redis, 'server', storeSettings);
  // ioredis reconnects by itself; without a listener it would also print every
  // connection error to stderr as "Unhandled error event".
  if (owned) redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection error (presence store); reconnecting'));
  if (events.onRedisError) redis.on('error', events.onRedisError);
  if (events.onRedisReconnecting) redis.on('reconnecting', events.onRedisReconnecting);
  const engine = { type: RedisEngine, redis: options.redis, namespace: options.namespace, gc: options.gc, logger, clock: options.clock };
  const ping = () =>
    store.ping().catch((error) => {
      throw new FayeOnlineError('REDIS_UNREACHABLE', `Redis does not answer (${(error as Error).message}); start it or fix the \`redis\` option`, { cause: error });
    });
  const outbox = options.outboxLimit ? new RedisOutbox(redis, options.namespace) : undefined;
  return { sql, store, redis, outbox, embedded: false, engine, ping, close: () => close(store) };
}
