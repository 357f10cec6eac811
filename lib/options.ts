// attachFayeOnline's options: every default in one place, validated once, with
// errors that name the option.
import type { Sequelize } from 'sequelize';
import { FayeOnlineError } from './errors';
import type { Auth } from './core/auth';
import { systemClock, type Clock } from './core/clock';
import { createLogger, debugFromEnv, type Logger } from './log';
import type { ReportsOptions, MetricsOptions } from './reports/http-options';
import type { RedisOption } from './stores/redis-connection';

export interface FayeOnlineOptions {
  /** Where Faye is mounted. Default '/faye'. */
  mount?: string;
  /** Faye's long-poll timeout, seconds. Default 10 (the gem's). */
  timeout?: number;
  /** WebSocket ping interval, seconds. Default 30. */
  ping?: number;
  /** Redis URL (redis://, or redis+sentinel://host:port,host:port/master?db=N through Sentinel), ioredis options (`sentinels` + `name` for Sentinel) or instance. Omitted: in-process state (one process only). */
  redis?: RedisOption;
  /** Database URL (mysql://, sqlite:) or a Sequelize instance. Default: SQLite file ./faye-online.sqlite. */
  database?: string | Sequelize;
  /** Key namespace in Redis. Default 'faye'. */
  namespace?: string;
  /** Engine GC interval, seconds. Default 60. */
  gc?: number;
  /** The gem's valid_message_proc: return false to leave a message untracked. */
  validateMessage?: (message: Record<string, unknown>) => boolean;
  /** Secret (or secrets, newest first) that auth must be signed with. */
  secret?: string | string[];
  /** IANA time zone of the *_started_at strings. Default: the process's. */
  timeZone?: string;
  /** A pino-compatible logger. Default: pino, level from DEBUG/DEBUG_FAYE. */
  logger?: Logger;
  /** One debug line per tracked message that changed presence (the gem's verbose mode). Default: on when DEBUG / DEBUG_FAYE say so. */
  trace?: boolean;
  /** JSON report endpoints under `prefix` (default '/faye-online/api'); every request is refused (403) until `authorize` allows it. */
  reports?: ReportsOptions;
  /** Prometheus metrics at `path` (default '/metrics'); off unless given (`true`: the defaults). */
  metrics?: MetricsOptions | boolean;
  /** Seconds after /faye_online/before_leave before the sender is checked. Default 3 (the gem's). */
  beforeLeaveDelay?: number;
  /** Coalescing window of <room>/user_list messages, ms. Default 100. */
  userListWindow?: number;
  /** clientIds one user may have in one room; past it the oldest is dropped. Default 32. */
  maxClientIdsPerUser?: number;
  /** Run the migrations at startup. Default: true for SQLite, false for MySQL. */
  autoMigrate?: boolean;
  /** URL path of the browser client. Default '/faye-online.js'. */
  clientPath?: string;
  /** Seconds between reconciliation passes (one process of the cluster at a time); 0 turns them off. Default 300. */
  reconcileInterval?: number;
  /**
   * Seconds a user's leave waits after their last page disconnected or timed
   * out; coming back within it (a reload, a re-handshake) is no leave at all.
   * 0 leaves at once, as the gem did. Default 5.
   */
  leaveGrace?: number;
  /**
   * Decides whether a client may subscribe to a channel (e.g. only members of a
   * room to its user_list). False, a rejection or a throw refuses it with a 403
   * error to that client. Default: every subscription is allowed (the gem's).
   */
  authorizeSubscription?: (request: SubscriptionRequest) => boolean | Promise<boolean>;
  /** Largest incoming Bayeux message, bytes of its JSON; larger ones are refused. Default 65536. */
  maxMessageBytes?: number;
  /** Most Bayeux messages in one HTTP request or WebSocket frame; a larger batch is refused whole. Default 50 (Faye's clients flush a batch at 2 KiB). */
  maxMessagesPerRequest?: number;
  /**
   * Record engaged time (pages report whether they are visible and in use) in
   * faye_online_engaged_times, our own table. false ignores the reports and
   * does not require that table's migration. Default true.
   */
  engagement?: boolean;
  /**
   * Record presence events (joins, leaves, sessions, engaged time, occupied
   * and vacated rooms) in faye_online_events, our own table, for history,
   * last seen and Rails (docs/events.md). true takes the defaults; needs that
   * table's migration. Default false.
   */
  events?: boolean | EventsOptions;
  /**
   * Publish joins and leaves on <room>/presence and put the room's state in
   * its subscribe replies. false publishes only the gem's <room>/user_list.
   * Default true.
   */
  presenceDiffs?: boolean;
  /**
   * Where every time decision gets the time (grace, before_leave, user_list
   * window, reconciliation, engine liveness, departures). For tests and
   * simulations (a ManualClock runs the defaults in simulated time). Default:
   * the system clock.
   */
  clock?: Clock;
}

export interface EventsOptions {
  /** Seconds between two drains of the events outbox into the table. Default 1. */
  drainInterval?: number;
  /** Most events the outbox holds while the database does not take them; past it new events are dropped, logged and counted. Default 100000. */
  outboxLimit?: number;
  /** Delete events older than this many days (in batches, by one process at a time). Default: keep them. */
  retentionDays?: number;
}

/** What authorizeSubscription is asked about: one channel of one /meta/subscribe. */
export interface SubscriptionRequest {
  clientId: string;
  channel: string;
  /** The message's auth, validated (and its signature checked when `secret` is set); null without one. */
  auth: Auth | null;
  message: Record<string, unknown>;
}

export interface ResolvedOptions {
  mount: string;
  timeout: number;
  ping: number;
  redis: RedisOption | undefined;
  database: string | Sequelize;
  namespace: string;
  gc: number;
  validateMessage: ((message: Record<string, unknown>) => boolean) | undefined;
  secret: string[] | undefined;
  timeZone: string;
  logger: Logger;
  trace: boolean;
  reports: { prefix: string; authorize: ReportsOptions['authorize'] };
  metrics: { path: string; register: MetricsOptions['register'] } | undefined;
  beforeLeaveDelay: number;
  userListWindow: number;
  maxClientIdsPerUser: number;
  autoMigrate: boolean | undefined;
  clientPath: string;
  reconcileInterval: number;
  leaveGrace: number;
  authorizeSubscription: ((request: SubscriptionRequest) => boolean | Promise<boolean>) | undefined;
  maxMessageBytes: number;
  maxMessagesPerRequest: number;
  engagement: boolean;
  events: { drainIntervalMs: number; outboxLimit: number; retentionDays: number | undefined } | undefined;
  presenceDiffs: boolean;
  clock: Clock;
}

export const DEFAULTS = {
  mount: '/faye',
  timeout: 10,
  ping: 30,
  database: 'sqlite:faye-online.sqlite',
  namespace: 'faye',
  gc: 60,
  beforeLeaveDelay: 3,
  userListWindow: 100,
  maxClientIdsPerUser: 32,
  clientPath: '/faye-online.js',
  reconcileInterval: 300,
  leaveGrace: 5,
  reportsPrefix: '/faye-online/api',
  metricsPath: '/metrics',
  maxMessageBytes: 64 * 1024,
  maxMessagesPerRequest: 50,
  eventsDrainInterval: 1,
  eventsOutboxLimit: 100_000,
} as const;

/** maxMessageBytes below this could not carry a full auth (4 KiB) with a message around it. */
export const MIN_MESSAGE_BYTES = 8 * 1024;

const KNOWN = new Set<string>([
  'mount', 'timeout', 'ping', 'redis', 'database', 'namespace', 'gc', 'validateMessage', 'secret', 'timeZone', 'trace', 'reports', 'metrics',
  'logger', 'beforeLeaveDelay', 'userListWindow', 'maxClientIdsPerUser', 'autoMigrate', 'clientPath', 'reconcileInterval', 'leaveGrace',
  'authorizeSubscription', 'maxMessageBytes', 'maxMessagesPerRequest', 'engagement', 'presenceDiffs', 'clock', 'events',
]);

function fail(option: string, message: string): never {
  throw new FayeOnlineError('INVALID_OPTION', `faye-online option \`${option}\`: ${message}`);
}

function positive(option: string, value: unknown, fallback: number, { integer = false } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    fail(option, `must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function path(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9_\-/.]*$/.test(value) || value.length < 2) {
    fail(option, `must be a URL path like "${fallback}", got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/$/, '');
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function resolveOptions(input: FayeOnlineOptions = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null) fail('options', 'must be an object');
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) fail(key, `is not an option (known: ${[...KNOWN].join(', ')})`);
  }

  const namespace = input.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(namespace)) {
    fail('namespace', `must be 1-64 letters, digits, "_", "-" or ".", got ${JSON.stringify(namespace)}`);
  }

  let secret: string[] | undefined;
  if (input.secret !== undefined) {
    const list = Array.isArray(input.secret) ? input.secret : [input.secret];
    if (list.length === 0 || list.some((s) => typeof s !== 'string' || Buffer.byteLength(s) < 16)) {
      fail('secret', 'must be a string (or a list of strings) of at least 16 bytes; generate one with `openssl rand -hex 32`');
    }
    // Sixteen spaces are sixteen bytes, and no secret at all.
    if (list.some((s) => s.trim() === '')) fail('secret', 'is blank (only white space); generate one with `openssl rand -hex 32`');
    secret = list;
  }

  const timeZone = input.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (typeof timeZone !== 'string' || !isValidTimeZone(timeZone)) fail('timeZone', `must be an IANA time zone like "Asia/Shanghai", got ${JSON.stringify(timeZone)}`);

  if (input.validateMessage !== undefined && typeof input.validateMessage !== 'function') fail('validateMessage', 'must be a function (message) => boolean');
  if (input.authorizeSubscription !== undefined && typeof input.authorizeSubscription !== 'function') {
    fail('authorizeSubscription', 'must be a function ({ clientId, channel, auth, message }) => boolean | Promise<boolean>');
  }
  const maxMessageBytes = positive('maxMessageBytes', input.maxMessageBytes, DEFAULTS.maxMessageBytes, { integer: true });
  if (maxMessageBytes < MIN_MESSAGE_BYTES) fail('maxMessageBytes', `must be at least ${MIN_MESSAGE_BYTES} bytes (an auth alone may take 4096), got ${maxMessageBytes}`);
  if (input.autoMigrate !== undefined && typeof input.autoMigrate !== 'boolean') fail('autoMigrate', 'must be true or false');
  const database = input.database ?? DEFAULTS.database;
  if (typeof database !== 'string' && (typeof database !== 'object' || database === null || typeof (database as Sequelize).query !== 'function')) {
    fail('database', 'must be a database URL (mysql://user:pass@host/db or sqlite:path) or a Sequelize instance');
  }
  if (input.trace !== undefined && typeof input.trace !== 'boolean') fail('trace', 'must be true or false');
  if (input.engagement !== undefined && typeof input.engagement !== 'boolean') fail('engagement', 'must be true or false');
  if (input.presenceDiffs !== undefined && typeof input.presenceDiffs !== 'boolean') fail('presenceDiffs', 'must be true or false');
  const clock = input.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.after !== 'function') {
    fail('clock', 'must be an object with now() and after(ms, callback) (see lib/core/clock.ts)');
  }
  const trace = input.trace ?? debugFromEnv();
  const logger = input.logger ?? createLogger(trace ? { level: 'debug' } : {});
  for (const method of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[method] !== 'function') fail('logger', `must have a ${method}(fields, message) method (pino-compatible)`);
  }

  return {
    mount: path('mount', input.mount, DEFAULTS.mount),
    timeout: positive('timeout', input.timeout, DEFAULTS.timeout),
    ping: positive('ping', input.ping, DEFAULTS.ping),
    redis: input.redis,
    database,
    namespace,
    gc: positive('gc', input.gc, DEFAULTS.gc),
    validateMessage: input.validateMessage,
    secret,
    timeZone,
    logger,
    trace,
    reports: resolveReports(input.reports),
    metrics: resolveMetrics(input.metrics),
    beforeLeaveDelay: positive('beforeLeaveDelay', input.beforeLeaveDelay, DEFAULTS.beforeLeaveDelay),
    userListWindow: positive('userListWindow', input.userListWindow, DEFAULTS.userListWindow),
    maxClientIdsPerUser: positive('maxClientIdsPerUser', input.maxClientIdsPerUser, DEFAULTS.maxClientIdsPerUser, { integer: true }),
    autoMigrate: input.autoMigrate,
    clientPath: path('clientPath', input.clientPath, DEFAULTS.clientPath),
    reconcileInterval: input.reconcileInterval === 0 ? 0 : positive('reconcileInterval', input.reconcileInterval, DEFAULTS.reconcileInterval),
    leaveGrace: input.leaveGrace === 0 ? 0 : positive('leaveGrace', input.leaveGrace, DEFAULTS.leaveGrace),
    authorizeSubscription: input.authorizeSubscription,
    maxMessageBytes,
    maxMessagesPerRequest: positive('maxMessagesPerRequest', input.maxMessagesPerRequest, DEFAULTS.maxMessagesPerRequest, { integer: true }),
    engagement: input.engagement ?? true,
    events: resolveEvents(input.events),
    presenceDiffs: input.presenceDiffs ?? true,
    clock,
  };
}

function resolveEvents(input: boolean | EventsOptions | undefined): ResolvedOptions['events'] {
  if (input === undefined || input === false) return undefined;
  if (input === true) input = {};
  if (typeof input !== 'object' || input === null) fail('events', `must be true, false or { drainInterval, outboxLimit, retentionDays }, got ${JSON.stringify(input)}`);
  for (const key of Object.keys(input)) {
    if (!['drainInterval', 'outboxLimit', 'retentionDays'].includes(key)) fail('events', `unknown setting "${key}" (expected drainInterval, outboxLimit, retentionDays)`);
  }
  return {
    drainIntervalMs: positive('events.drainInterval', input.drainInterval, DEFAULTS.eventsDrainInterval) * 1000,
    outboxLimit: positive('events.outboxLimit', input.outboxLimit, DEFAULTS.eventsOutboxLimit, { integer: true }),
    retentionDays: input.retentionDays === undefined ? undefined : positive('events.retentionDays', input.retentionDays, 1),
  };
}

function resolveReports(input: ReportsOptions | undefined): ResolvedOptions['reports'] {
  if (input === undefined) return { prefix: DEFAULTS.reportsPrefix, authorize: undefined };
  if (typeof input !== 'object' || input === null) fail('reports', 'must be an object { prefix?, authorize }');
  for (const key of Object.keys(input)) if (key !== 'prefix' && key !== 'authorize') fail(`reports.${key}`, 'is not an option (known: prefix, authorize)');
  if (input.authorize !== undefined && typeof input.authorize !== 'function') fail('reports.authorize', 'must be a function (req) => boolean | Promise<boolean>');
  return { prefix: path('reports.prefix', input.prefix, DEFAULTS.reportsPrefix), authorize: input.authorize };
}

function resolveMetrics(input: MetricsOptions | boolean | undefined): ResolvedOptions['metrics'] {
  if (input === undefined || input === false) return undefined;
  if (input === true) return { path: DEFAULTS.metricsPath, register: undefined };
  if (typeof input !== 'object' || input === null) fail('metrics', 'must be true or an object { path?, register? }');
  for (const key of Object.keys(input)) if (key !== 'path' && key !== 'register') fail(`metrics.${key}`, 'is not an option (known: path, register)');
  const register = input.register;
  if (register !== undefined && (typeof register !== 'object' || register === null || typeof register.metrics !== 'function')) {
    fail('metrics.register', 'must be a prom-client Registry');
  }
  return { path: path('metrics.path', input.path, DEFAULTS.metricsPath), register };
}
