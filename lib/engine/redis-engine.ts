// A Faye engine on ioredis that shares its Redis layout with faye-redis (the
// Node engine and the Ruby gem), so that servers running any of the three can
// serve one cluster together while an app migrates (layout: docs/rails.md).
//
// Usage:
//   new faye.NodeAdapter({ mount: '/faye', timeout: 10,
//     engine: { type: RedisEngine, redis: 'redis://127.0.0.1:6379', namespace: 'faye', gc: 60 } })
//
// Its keys and topics (faye-redis' layout: <ns>/clients, <ns>/channels<channel>,
// <ns>/notifications/...) are built in lib/stores/keys.ts.
// A client exists while its last ping is newer than 1.6 x timeout; GC destroys
// clients whose last ping is older than 2 x timeout.
//
// What this engine adds to Faye's engine verbs, for the presence layer:
//   - while its 'disconnect' event runs (Faye's own: `disconnect(clientId)`, nothing
//     more, as Faye's engine specification requires), disconnectInfo(clientId) tells
//     why and when the client was last seen: { reason: 'timeout', lastSeen } (destroyed
//     by GC) or { reason: 'disconnect', lastSeen } (explicit destroy); lastSeen = ms of
//     the client's last ping (absent if unknown). Exactly one process of the cluster
//     reports a client's destruction, because destruction is one Lua script.
//   - lastSeen(clientId): Promise<number | null>
//   - liveClients(): the clients' key and the liveness cutoff now, for a script of the
//     presence store that checks and pings a client in the same step as its arrival.
//   - nudge(clientId): Promise<void>: the process holding the client's /meta/connect returns it now.
//   - ready(): Promise<void>: resolves once the notifications are subscribed.
//   - gc(): Promise<number>: one sweep of all expired clients, in batches, under the lock;
//     resolves to how many were destroyed (0 if another process holds the lock).
//   - RedisEngine.fromAdapter(adapter): the engine behind a faye NodeAdapter, if it is ours.
//
// Redis round trips (each is one request/response; several sent together count once):
//   createClient (handshake)  1   ZADD NX (faye-redis needs 2)
//   clientExists              1   ZSCORE
//   ping                      1   ZADD XX, not awaited
//   /meta/connect             clientExists (1), then ping + emptyQueue sent together (1)
//   subscribe / unsubscribe   1   Lua script / MULTI
//   publish                   1   Lua script: SUNION, RPUSH + PUBLISH per live subscriber;
//                                 then 1 (emptyQueue) on each process holding recipients
//   emptyQueue                1   Lua script: LRANGE + DEL, for every client asked for in the same
//                                 tick (up to 500 per round trip)
//   destroyClient             1   Lua script
//   gc                        1 lock + 2 per batch of 100 clients (ZRANGEBYSCORE, pipelined scripts) + 1 release
// After a Redis restart the script cache is empty; ioredis then falls back from
// EVALSHA to EVAL once per script (one extra round trip).
//
// Errors: no verb that Faye calls ever throws or rejects. Redis failures are
// logged; clientExists answers false when Redis cannot be asked; a handshake
// whose client cannot be stored gets no reply (the Faye client retries).
// The Lua scripts build some keys from others, so this engine needs a single
// Redis (or a primary with replicas), not Redis Cluster, like faye-redis.
import Redis, { type RedisOptions } from 'ioredis';
import { FayeOnlineError } from '../errors';
import { createLogger, type Logger } from '../log';
import { systemClock, type Clock, type ClockTimer } from '../core/clock';
import { EngineKeys } from '../stores/keys';
import { OPENED_CONNECTION_DEFAULTS, redisFromUrl, refuseKeyPrefix } from '../stores/redis-connection';
import { decodeReply, loadScripts, luaScript, runScript, scriptArguments, type ScriptValue } from '../stores/lua';
import { newClientId } from './client-id';

/** Options of the engine, given beside `type: RedisEngine` in Faye's `engine` option. */
export interface RedisEngineOptions {
  /**
   * A URL (`redis://host:port/db`, or `redis+sentinel://host:port,host:port/master?db=N`
   * for a primary found through Sentinel), ioredis options (`sentinels` and `name` for
   * Sentinel), or an ioredis instance (which the engine never closes). Default `redis://127.0.0.1:6379`.
   */
  redis?: string | RedisOptions | Redis;
  /** Key prefix shared by every server of the cluster, without a leading slash. Default `faye`. */
  namespace?: string;
  /** Redis database number; overrides the URL's. Not allowed with an ioredis instance (select it there). */
  database?: number;
  /** Seconds between GC sweeps. Default 60. */
  gc?: number;
  /** Pino-compatible logger. Default: a pino logger. */
  logger?: Logger;
  /** Ping times, liveness cutoffs and the GC interval (tests run them in simulated time). Default: the system clock. */
  clock?: Clock;
}

export type DisconnectReason = 'timeout' | 'disconnect';

/** What RedisEngine#disconnectInfo tells during the engine's 'disconnect' event. */
export interface DisconnectInfo {
  reason: DisconnectReason;
  /** Time (ms since the epoch) of the client's last ping, when known. */
  lastSeen?: number;
}

/** The part of Faye's engine proxy (src/engines/proxy.js) that an engine talks to. */
export interface FayeEngineServer {
  timeout: number;
  hasConnection(clientId: string): boolean;
  deliver(clientId: string, messages: object[]): boolean;
  flushConnection(clientId: string, close?: boolean): void;
  trigger(event: string, ...args: unknown[]): void;
  bind(event: string, listener: (...args: any[]) => void, context?: unknown): void;
  unbind(event: string, listener: (...args: any[]) => void, context?: unknown): void;
}

/** A Bayeux message as Faye hands it to `publish`. */
export interface EngineMessage {
  channel: string;
  clientId?: string;
  data?: unknown;
  [key: string]: unknown;
}

type Callback<A extends unknown[]> = (this: unknown, ...args: A) => void;

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_NAMESPACE = 'faye';
const DEFAULT_GC_SECONDS = 60;
/** faye-redis' LOCK_TIMEOUT: a GC lock older than this may be taken over. */
const LOCK_TIMEOUT_MS = 120_000;
/** Clients destroyed per GC round trip. */
const GC_BATCH = 100;
/** How long disconnect() lets pending commands finish before closing the sockets. */
const QUIT_GRACE_MS = 1000;

// ---------------------------------------------------------------------------
// Lua scripts: one file each beside this module, declared once here and
// loaded by lib/stores/lua.ts. The build copies them to dist/lib/engine
// (scripts/copy-assets.js); if a build skipped that step, the source folder
// lib/engine/ (shipped in the package's files) is the fallback.

const DESTROY_CLIENT = luaScript({
  command: 'fayeEngineDestroyClient', file: 'engine/destroy-client.lua',
  keys: ['clients', 'clientChannels', 'clientMessages'], args: ['clientId', 'channelsPrefix', 'closeTopic'], results: ['lastSeen', 'channels'],
});
const SUBSCRIBE = luaScript({
  command: 'fayeEngineSubscribe', file: 'engine/subscribe.lua',
  keys: ['clients', 'clientChannels', 'channel'], args: ['clientId', 'channel'], results: ['outcome'],
});
/** Its KEYS are the expanded channels' subscriber sets, as many as there are: the caller passes their number first. */
const PUBLISH = luaScript({
  command: 'fayeEnginePublish', file: 'engine/publish.lua',
  args: ['clients', 'clientsPrefix', 'json', 'cutoff', 'messagesTopic'], results: ['queued'],
});
const REQUEUE = luaScript({
  command: 'fayeEngineRequeue', file: 'engine/requeue.lua',
  // then the JSON messages, oldest first
  keys: ['clients', 'clientMessages'], args: ['clientId'], results: ['requeued'],
});
/** Its KEYS are the queues of the clients to empty, as many as there are: the caller passes their number first. */
const TAKE_QUEUES = luaScript({
  // the reply: the distinct messages, then for each queue the positions (from 1) of its messages among them, oldest first
  command: 'fayeEngineTakeQueues', file: 'engine/take-queue.lua', args: [], results: [],
});
/** Queues taken in one call at most (a notification storm still goes out in several round trips, none huge). */
const TAKE_BATCH = 500;
const ACQUIRE_LOCK = luaScript({
  command: 'fayeEngineAcquireLock', file: 'engine/acquire-lock.lua', keys: ['lock'], args: ['now', 'expiry', 'ttlMs'], results: ['acquired'],
});
const RELEASE_LOCK = luaScript({
  command: 'fayeEngineReleaseLock', file: 'engine/release-lock.lua', keys: ['lock'], args: ['expiry'], results: ['released'],
});

const SCRIPTS = [DESTROY_CLIENT, SUBSCRIBE, PUBLISH, REQUEUE, TAKE_QUEUES, ACQUIRE_LOCK, RELEASE_LOCK];

/** The scripts called inside a pipeline or with a variable number of keys: by scriptArguments, decoded by decodeReply. */
interface EngineCommands {
  fayeEngineDestroyClient(...args: ScriptValue[]): Promise<unknown>;
  fayeEnginePublish(numberOfKeys: number, ...args: ScriptValue[]): Promise<unknown>;
  fayeEngineTakeQueues(numberOfKeys: number, ...keys: string[]): Promise<[string[], number[][]]>;
}

type EngineRedis = Redis & EngineCommands;

function defineScripts(redis: Redis): EngineRedis {
  loadScripts(redis, SCRIPTS);
  return redis as EngineRedis;
}

// ---------------------------------------------------------------------------
// Options

interface ResolvedEngineOptions {
  namespace: string;
  gcSeconds: number;
  logger: Logger;
  clock: Clock;
  redis: Redis;
  ownsRedis: boolean;
}

function invalid(option: string, message: string): FayeOnlineError {
  return new FayeOnlineError('INVALID_OPTION', `engine option \`${option}\` ${message}`);
}

function isRedisInstance(value: unknown): value is Redis {
  return typeof value === 'object' && value !== null
    && typeof (value as Redis).duplicate === 'function'
    && typeof (value as Redis).defineCommand === 'function';
}

function sentinelUrl(url: string): boolean {
  return url.startsWith('redis+sentinel://');
}

function urlWithDatabase(url: string, database: number | undefined): string {
  if (database === undefined) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('redis', `is not a valid URL: ${url}`);
  }
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function resolveEngineOptions(options: RedisEngineOptions): ResolvedEngineOptions {
  if (options.namespace !== undefined && typeof options.namespace !== 'string') throw invalid('namespace', 'must be a string');
  const namespace = (options.namespace ?? DEFAULT_NAMESPACE).replace(/^\/+/, '');
  if (!namespace || /\s/.test(namespace)) throw invalid('namespace', 'must be a non-empty string without spaces');

  const gcSeconds = options.gc ?? DEFAULT_GC_SECONDS;
  if (typeof gcSeconds !== 'number' || !(gcSeconds > 0) || !Number.isFinite(gcSeconds)) throw invalid('gc', 'must be a positive number of seconds');

  const { database } = options;
  if (database !== undefined && !(Number.isInteger(database) && database >= 0)) throw invalid('database', 'must be a non-negative integer');

  const logger = options.logger ?? createLogger();
  const clock = options.clock ?? systemClock;
  const source = options.redis ?? DEFAULT_URL;

  if (isRedisInstance(source)) {
    if (database !== undefined && (source.options.db ?? 0) !== database) {
      throw invalid('database', 'cannot change the database of a given ioredis instance; select it when creating the instance');
    }
    refuseKeyPrefix(source.options, 'engine option `redis`:');
    return { namespace, gcSeconds, logger, clock, redis: source, ownsRedis: false };
  }
  if (typeof source === 'string') {
    const redis = sentinelUrl(source)
      ? redisFromUrl(source, { ...OPENED_CONNECTION_DEFAULTS, ...(database === undefined ? {} : { db: database }) })
      : new Redis(urlWithDatabase(source, database), OPENED_CONNECTION_DEFAULTS);
    return { namespace, gcSeconds, logger, clock, redis, ownsRedis: true };
  }
  if (typeof source === 'object' && source !== null) {
    refuseKeyPrefix(source, 'engine option `redis`:');
    const redisOptions = { ...OPENED_CONNECTION_DEFAULTS, ...source, ...(database === undefined ? {} : { db: database }) };
    return { namespace, gcSeconds, logger, clock, redis: new Redis(redisOptions), ownsRedis: true };
  }
  throw invalid('redis', 'must be a URL string, ioredis options or an ioredis instance');
}

// ---------------------------------------------------------------------------

/** The engine behind each Faye engine proxy, so the presence layer can find it. */
const enginesByServer = new WeakMap<object, RedisEngine>();

export class RedisEngine {
  /** Faye's engine factory: called by Faye's engine proxy with the `engine` options (plus `timeout`). */
  static create(server: FayeEngineServer, options: RedisEngineOptions = {}): RedisEngine {
    return new RedisEngine(server, options);
  }

  /** The RedisEngine behind a faye NodeAdapter (or its engine proxy), or undefined if it uses another engine. */
  static fromAdapter(adapter: unknown): RedisEngine | undefined {
    const host = adapter as { _server?: { _engine?: object } } | null | undefined;
    const proxy = host?._server?._engine ?? (adapter as object | null | undefined);
    return proxy ? enginesByServer.get(proxy) : undefined;
  }

  readonly namespace: string;
  private readonly server: FayeEngineServer;
  private readonly logger: Logger;
  private readonly redis: EngineRedis;
  private readonly subscriber: Redis;
  private readonly ownsRedis: boolean;
  private readonly clock: Clock;
  private gcTimer: ClockTimer | undefined;
  /** clientIds whose connection this process holds (from the proxy's connection:open/close). */
  private readonly localClients = new Set<string>();
  /** Clients whose queues are taken at the end of this tick (emptyQueue). */
  private readonly toEmpty = new Set<string>();
  /** The clients whose 'disconnect' event is running, with why and when they were last seen. */
  private readonly disconnecting = new Map<string, DisconnectInfo>();
  private readonly subscribed: Promise<void>;
  private readonly keys: EngineKeys;
  private sweeping = false;
  private closing: Promise<void> | null = null;

  constructor(server: FayeEngineServer, options: RedisEngineOptions = {}) {
    const resolved = resolveEngineOptions(options);
    this.server = server;
    this.namespace = resolved.namespace;
    this.clock = resolved.clock;
    this.logger = resolved.logger.child?.({ component: 'redis-engine', namespace: resolved.namespace }) ?? resolved.logger;
    this.ownsRedis = resolved.ownsRedis;
    this.redis = defineScripts(resolved.redis);
    // Pub/Sub needs a connection of its own; it is always ours to close.
    this.subscriber = resolved.redis.duplicate({ autoResubscribe: true });

    if (this.ownsRedis) this.redis.on('error', (error: Error) => this.logger.warn({ err: error }, 'redis connection error'));
    this.subscriber.on('error', (error: Error) => this.logger.warn({ err: error }, 'redis subscriber connection error'));

    this.keys = new EngineKeys(resolved.namespace);
    this.subscriber.on('message', (topic: string, payload: string) => this.onNotification(topic, payload));
    this.subscribed = this.subscribeTopics();
    this.subscribed.catch(() => {}); // logged in subscribeTopics; ready() reports it
    this.watchReconnects();

    server.bind('connection:open', this.onConnectionOpen, this);
    server.bind('connection:close', this.onConnectionClose, this);

    this.scheduleGc(resolved.gcSeconds * 1000);
    enginesByServer.set(server, this);
  }

  private scheduleGc(intervalMs: number): void {
    this.gcTimer = this.clock.after(intervalMs, () => {
      if (this.closing) return;
      this.scheduleGc(intervalMs);
      void this.gc();
    });
  }

  /** A client exists while its last ping is after this (ms): 1.6 x timeout ago. */
  private aliveAfter(): number {
    return this.clock.now() - 1000 * 1.6 * this.server.timeout;
  }

  // --- Faye's engine verbs ---------------------------------------------------

  createClient(callback: Callback<[string]>, context?: unknown): void {
    this.addClient().then(
      (clientId) => {
        this.logger.debug({ clientId }, 'created client');
        this.trigger('handshake', clientId);
        this.callBack('createClient', callback, context, clientId);
      },
      (error) => this.logger.error({ err: error }, 'could not create a client; the handshake gets no reply'),
    );
  }

  clientExists(clientId: string, callback: Callback<[boolean]>, context?: unknown): void {
    const cutoff = this.aliveAfter();
    this.redis.zscore(this.keys.clients, clientId).then(
      (score) => this.callBack('clientExists', callback, context, score !== null && Number(score) > cutoff),
      (error) => {
        this.logger.error({ err: error, clientId }, 'could not check whether a client exists; answering no');
        this.callBack('clientExists', callback, context, false);
      },
    );
  }

  destroyClient(clientId: string, callback?: Callback<[]>, context?: unknown): void {
    this.destroy(clientId, 'disconnect').then(
      () => this.callBack('destroyClient', callback, context),
      (error) => {
        this.logger.error({ err: error, clientId }, 'could not destroy a client');
        this.callBack('destroyClient', callback, context);
      },
    );
  }

  ping(clientId: string): void {
    if (typeof this.server.timeout !== 'number') return;
    // XX: a ping racing with the client's destruction must not bring it back.
    this.redis.zadd(this.keys.clients, 'XX', this.clock.now(), clientId).catch((error) => {
      this.logger.error({ err: error, clientId }, 'could not record a ping');
    });
  }

  subscribe(clientId: string, channel: string, callback?: Callback<[boolean]>, context?: unknown): void {
    runScript(this.redis, SUBSCRIBE, { clients: this.keys.clients, clientChannels: this.keys.clientChannels(clientId), channel: this.keys.channel(channel) }, { clientId, channel }).then(
      ({ outcome: result }) => {
        if (result === 1) this.trigger('subscribe', clientId, channel);
        if (result === -1) this.logger.debug({ clientId, channel }, 'subscribe for a client that does not exist ignored');
        this.callBack('subscribe', callback, context, result !== -1);
      },
      (error) => {
        this.logger.error({ err: error, clientId, channel }, 'could not subscribe');
        this.callBack('subscribe', callback, context, false);
      },
    );
  }

  unsubscribe(clientId: string, channel: string, callback?: Callback<[boolean]>, context?: unknown): void {
    this.redis.multi()
      .srem(this.keys.clientChannels(clientId), channel)
      .srem(this.keys.channel(channel), clientId)
      .exec()
      .then(
        (results) => {
          if (results?.[0]?.[1] === 1) this.trigger('unsubscribe', clientId, channel);
          this.callBack('unsubscribe', callback, context, true);
        },
        (error) => {
          this.logger.error({ err: error, clientId, channel }, 'could not unsubscribe');
          this.callBack('unsubscribe', callback, context, false);
        },
      );
  }

  /** `channels`: the message's channel and its wildcard expansions (Faye's proxy computes them). */
  publish(message: EngineMessage, channels: string[]): void {
    let json: string | undefined;
    try {
      json = JSON.stringify(message);
    } catch (error) {
      this.logger.error({ err: error, channel: message.channel }, 'dropped a message that cannot be written as JSON');
    }
    if (json !== undefined && channels.length > 0) {
      const cutoff = this.aliveAfter();
      const keys = channels.map((channel) => this.keys.channel(channel));
      this.redis
        .fayeEnginePublish(keys.length, ...keys, ...scriptArguments(PUBLISH, {}, {
          clients: this.keys.clients, clientsPrefix: this.keys.clientsPrefix, json, cutoff, messagesTopic: this.keys.topics.messages,
        }))
        .catch((error) => this.logger.error({ err: error, channel: message.channel }, 'could not publish a message'));
    }
    this.trigger('publish', message.clientId, message.channel, message.data);
  }

  /**
   * Takes the client's queued messages and delivers them. The clients asked
   * for in one tick (the notifications of one publish to a room arrive
   * together) are taken in one round trip.
   */
  emptyQueue(clientId: string): void {
    if (!this.server.hasConnection(clientId)) return;
    this.toEmpty.add(clientId);
    if (this.toEmpty.size === 1) queueMicrotask(() => this.takeQueues());
  }

  /** One GC sweep; Faye does not call it, the engine's timer does (every `gc` seconds). */
  gc(): Promise<number> {
    return this.sweep().catch((error) => {
      this.logger.error({ err: error }, 'GC sweep failed');
      return 0;
    });
  }

  disconnect(): Promise<void> {
    if (this.closing) return this.closing;
    this.gcTimer?.cancel();
    this.server.unbind('connection:open', this.onConnectionOpen, this);
    this.server.unbind('connection:close', this.onConnectionClose, this);
    enginesByServer.delete(this.server);
    const connections = this.ownsRedis ? [this.subscriber, this.redis] : [this.subscriber];
    this.closing = Promise.all(connections.map((connection) => closeConnection(connection))).then(() => undefined);
    return this.closing;
  }

  // --- extras for the presence layer ------------------------------------------

  /**
   * What clientExists answers, but rejecting when Redis fails where Faye's
   * callback can only answer no: reconciliation departs the clients it is
   * told are gone, and a failed read must not depart a live one.
   */
  async alive(clientId: string): Promise<boolean> {
    const cutoff = this.aliveAfter();
    const seen = await this.lastSeen(clientId);
    return seen !== null && seen > cutoff;
  }

  /** Time (ms) of the client's last ping, or null if the engine does not know it. Rejects if Redis fails. */
  async lastSeen(clientId: string): Promise<number | null> {
    const score = await this.redis.zscore(this.keys.clients, clientId);
    return score === null ? null : Number(score);
  }

  /**
   * Where the engine keeps its clients and the cutoff it applies now (a client
   * whose last ping is not after it is gone, as clientExists answers), so that
   * the presence store can check and ping a client in its own script.
   */
  liveClients(): { key: string; aliveAfter: number } {
    return { key: this.keys.clients, aliveAfter: this.aliveAfter() };
  }

  /**
   * Makes whichever process of the cluster holds the client's /meta/connect
   * return it now, so a live client reconnects at once. Rejects if Redis fails.
   */
  async nudge(clientId: string): Promise<void> {
    await this.redis.publish(this.keys.topics.flush, clientId);
  }

  /** During the engine's 'disconnect' event for clientId (its listeners run synchronously): why, and when it was last seen. */
  disconnectInfo(clientId: string): DisconnectInfo | undefined {
    return this.disconnecting.get(clientId);
  }

  /** Resolves once this process listens to the cluster's notifications. */
  ready(): Promise<void> {
    return this.subscribed;
  }

  // --- internals -------------------------------------------------------------

  private async addClient(): Promise<string> {
    // NX: a freshly generated id that already exists is drawn again.
    for (;;) {
      const clientId = newClientId();
      if ((await this.redis.zadd(this.keys.clients, 'NX', this.clock.now(), clientId)) === 1) return clientId;
    }
  }

  private destroyArgs(clientId: string): ScriptValue[] {
    return scriptArguments(DESTROY_CLIENT, {
      clients: this.keys.clients, clientChannels: this.keys.clientChannels(clientId), clientMessages: this.keys.clientMessages(clientId),
    }, { clientId, channelsPrefix: this.keys.channelsPrefix, closeTopic: this.keys.topics.close });
  }

  private async destroy(clientId: string, reason: DisconnectReason): Promise<boolean> {
    const { lastSeen, channels } = decodeReply(DESTROY_CLIENT, await this.redis.fayeEngineDestroyClient(...this.destroyArgs(clientId)));
    return this.reportDestroyed(clientId, lastSeen as string | null, channels as string[], reason);
  }

  /** Faye's events for a destroyed client, once, by the process whose script removed it. */
  private reportDestroyed(clientId: string, score: string | null, channels: string[], reason: DisconnectReason): boolean {
    if (score === null) return false;
    for (const channel of channels) this.trigger('unsubscribe', clientId, channel);
    const lastSeen = Number(score);
    // A score of 0 is a client that faye-redis was still creating or destroying: no ping time.
    const info: DisconnectInfo = lastSeen > 0 ? { reason, lastSeen } : { reason };
    this.logger.debug({ clientId, ...info }, 'destroyed client');
    this.disconnecting.set(clientId, info);
    try {
      this.trigger('disconnect', clientId);
    } finally {
      this.disconnecting.delete(clientId);
    }
    return true;
  }

  private async sweep(): Promise<number> {
    const timeout = this.server.timeout;
    if (typeof timeout !== 'number' || this.sweeping || this.closing) return 0;
    this.sweeping = true;
    try {
      const startedAt = this.clock.now();
      const expiry = String(startedAt + LOCK_TIMEOUT_MS);
      const lockKey = this.keys.gcLock;
      if ((await runScript(this.redis, ACQUIRE_LOCK, { lock: lockKey }, { now: startedAt, expiry, ttlMs: LOCK_TIMEOUT_MS })).acquired !== 1) return 0;
      try {
        return await this.sweepExpired(this.clock.now() - 1000 * 2 * timeout, startedAt + LOCK_TIMEOUT_MS);
      } finally {
        // Left in place, the lock only delays the next sweep until it expires.
        await runScript(this.redis, RELEASE_LOCK, { lock: lockKey }, { expiry }).catch((error) => {
          this.logger.warn({ err: error }, 'could not release the GC lock');
        });
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** Destroys every client whose last ping is at or before `cutoff`, batch by batch, while the lock is ours. */
  private async sweepExpired(cutoff: number, lockExpiry: number): Promise<number> {
    let destroyed = 0;
    while (!this.closing && this.clock.now() < lockExpiry) {
      const clientIds = await this.redis.zrangebyscore(this.keys.clients, '-inf', cutoff, 'LIMIT', 0, GC_BATCH);
      if (clientIds.length === 0) break;

      const pipeline = this.redis.pipeline() as unknown as EngineCommands & { exec(): Promise<[Error | null, unknown][] | null> };
      for (const clientId of clientIds) void pipeline.fayeEngineDestroyClient(...this.destroyArgs(clientId));
      const results = (await pipeline.exec()) ?? [];

      let removedAny = false;
      results.forEach(([error, result], i) => {
        const clientId = clientIds[i]!;
        if (error) {
          this.logger.error({ err: error, clientId }, 'GC could not destroy a client');
          return;
        }
        removedAny = true;
        const { lastSeen, channels } = decodeReply(DESTROY_CLIENT, result);
        if (this.reportDestroyed(clientId, lastSeen as string | null, channels as string[], 'timeout')) destroyed += 1;
      });
      // A batch that failed entirely would be fetched again forever; the next sweep retries.
      if (!removedAny || clientIds.length < GC_BATCH) break;
    }
    if (destroyed > 0) this.logger.info({ destroyed }, 'GC destroyed expired clients');
    return destroyed;
  }

  private takeQueues(): void {
    const clientIds = [...this.toEmpty];
    this.toEmpty.clear();
    for (let i = 0; i < clientIds.length; i += TAKE_BATCH) {
      const batch = clientIds.slice(i, i + TAKE_BATCH);
      this.redis.fayeEngineTakeQueues(batch.length, ...batch.map((clientId) => this.keys.clientMessages(clientId))).then(
        // Each distinct message comes once, however many of these clients it was queued for.
        ([texts, positions]) => batch.forEach((clientId, j) => this.deliver(clientId, (positions[j] ?? []).map((position) => texts[position - 1]!))),
        (error) => this.logger.error({ err: error, clients: batch.length }, 'could not take the queued messages of clients'),
      );
    }
  }

  private deliver(clientId: string, queued: string[]): void {
    if (queued.length === 0) return;
    // The connection may have closed while the queue was being read: put the messages back.
    if (!this.server.hasConnection(clientId)) {
      runScript(this.redis, REQUEUE, { clients: this.keys.clients, clientMessages: this.keys.clientMessages(clientId) }, { clientId }, queued)
        .catch((error) => this.logger.error({ err: error, clientId, lost: queued.length }, 'could not put undelivered messages back'));
      return;
    }
    const messages: object[] = [];
    for (const json of queued) {
      try {
        messages.push(JSON.parse(json));
      } catch (error) {
        this.logger.warn({ err: error, clientId }, 'dropped a queued message that is not JSON');
      }
    }
    try {
      this.server.deliver(clientId, messages);
    } catch (error) {
      this.logger.error({ err: error, clientId }, 'Faye failed to deliver messages');
    }
  }

  private async subscribeTopics(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.keys.topics.messages, this.keys.topics.close, this.keys.topics.flush);
    } catch (error) {
      this.logger.error({ err: error }, 'could not subscribe to the cluster notifications');
      throw error;
    }
  }

  /**
   * ioredis reconnects by itself and re-subscribes, but notifications published
   * while this process was away are lost: once listening again, empty the queues
   * of the clients this process holds.
   */
  private watchReconnects(): void {
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      this.logger.info({}, 'reconnected to redis; resuming notifications');
      // Queued behind ioredis' own re-subscription on the same connection.
      this.subscribeTopics().then(
        () => {
          for (const clientId of this.localClients) this.emptyQueue(clientId);
        },
        () => {},
      );
    });
  }

  private onNotification(topic: string, clientId: string): void {
    try {
      if (topic === this.keys.topics.messages) this.emptyQueue(clientId);
      else if (topic === this.keys.topics.close) this.server.trigger('close', clientId);
      else if (topic === this.keys.topics.flush && this.server.hasConnection(clientId)) this.server.flushConnection(clientId, false);
    } catch (error) {
      this.logger.error({ err: error, topic, clientId }, 'handling a cluster notification failed');
    }
  }

  private onConnectionOpen(clientId: string): void {
    this.localClients.add(clientId);
  }

  private onConnectionClose(clientId: string): void {
    this.localClients.delete(clientId);
  }

  /** Emits a Faye event; a throwing listener is logged, never thrown into the engine. */
  private trigger(event: string, ...args: unknown[]): void {
    try {
      this.server.trigger(event, ...args);
    } catch (error) {
      this.logger.error({ err: error, event }, 'a Faye event listener threw');
    }
  }

  private callBack<A extends unknown[]>(verb: string, callback: Callback<A> | undefined, context: unknown, ...args: A): void {
    if (!callback) return;
    try {
      callback.apply(context, args);
    } catch (error) {
      this.logger.error({ err: error, verb }, 'a Faye callback threw');
    }
  }
}

async function closeConnection(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_GRACE_MS);
  });
  await Promise.race([connection.quit().then(() => undefined, () => undefined), grace]);
  clearTimeout(timer);
  if ((connection.status as Redis['status']) !== 'end') connection.disconnect();
}
