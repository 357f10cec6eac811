// attachFayeOnline's options, as one table (OPTIONS). Each row holds the
// option's default and description (docs/options.md is rendered from them; a
// test keeps the file equal), its check and resolved value (resolveOptions),
// and its `faye-online serve` flag and environment variable, or why it has
// none. FayeOnlineOptions and ResolvedOptions are derived from the rows, so a
// new option is one new row (docs/development.md says how).
import type { Sequelize } from 'sequelize';
import { FayeOnlineError } from './errors';
import type { Auth } from './core/auth';
import { systemClock, type Clock } from './core/clock';
import { createLogger, debugFromEnv, type Logger } from './log';
import type { ReportsOptions, MetricsOptions } from './reports/http-options';
import { defaultTimeZone, isTimeZone } from './records/legacy-format';
import { checkRedisUrl, type RedisOption } from './stores/redis-connection';
import { resolveWebhooks, type ResolvedWebhooks, type WebhooksOptions } from './webhooks/options';

/** What authorizeSubscription is asked about: one channel of one /meta/subscribe. */
export interface SubscriptionRequest {
  clientId: string;
  channel: string;
  /** The message's auth, validated (and its signature checked when `secret` is set); null without one. */
  auth: Auth | null;
  message: Record<string, unknown>;
}

/** How a `faye-online serve` flag's text becomes its value (lib/cli/serve.ts parses it). */
export type FlagKind = 'text' | 'path' | 'seconds' | 'secondsOrZero' | 'integer' | 'switch' | 'secrets';

/** An option's `faye-online serve` flag and the environment variable read when the flag is absent. */
export interface ServeFlag {
  flag: string;
  env: string;
  placeholder: string;
  kind: FlagKind;
  help: string;
  /** The default as `serve --help` says it; without it, the docs' default. */
  fallback?: string;
  /** The flag's value as the option takes it (e.g. --metrics PATH is `{ path }`). */
  toOption?: (value: unknown) => unknown;
}

/** One row of the options table. `In` is what users give, `Out` what resolveOptions makes of it. */
export interface OptionSpec<In, Out> {
  /** The docs table's default column (Markdown). */
  default: string;
  /** The docs table's description (Markdown). */
  doc: string;
  /** Checks the value given (undefined: not given) and returns the resolved one; `earlier` holds the rows above, resolved. */
  resolve(value: unknown, earlier: Readonly<Record<string, unknown>>): Out;
  /** Its `faye-online serve` flag, or why it cannot be one. */
  serve: ServeFlag | { notAFlag: string };
  /** Type only: what the option takes. */
  readonly input?: In;
}

function option<In, Out = In>(spec: Omit<OptionSpec<In, Out>, 'input'>): OptionSpec<In, Out> {
  return spec;
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
  presencePageSize: 500,
  maxClientIdsPerUser: 32,
  clientPath: '/faye-online.js',
  reconcileInterval: 300,
  leaveGrace: 5,
  reportsPrefix: '/faye-online/api',
  metricsPath: '/metrics',
  maxMessageBytes: 64 * 1024,
  maxMessagesPerRequest: 50,
  maxUnsentBytes: 4 * 1024 * 1024,
  eventsDrainInterval: 1,
  eventsOutboxLimit: 100_000,
} as const;

/** maxUnsentBytes below this would close readers of a crowded room on a few of its user_list messages (70 KB each at 10,000 members). */
export const MIN_UNSENT_BYTES = 256 * 1024;

/** maxMessageBytes below this could not carry a full auth (4 KiB) with a message around it. */
export const MIN_MESSAGE_BYTES = 8 * 1024;

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

/** A positive number, or 0 that turns the feature off. */
function positiveOrZero(option: string, value: unknown, fallback: number): number {
  return value === 0 ? 0 : positive(option, value, fallback);
}

function urlPath(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9_\-/.]*$/.test(value) || value.length < 2) {
    fail(option, `must be a URL path like "${fallback}", got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/$/, '');
}

function flag(option: string, value: unknown, fallback: boolean): boolean {
  if (value !== undefined && typeof value !== 'boolean') fail(option, 'must be true or false');
  return (value as boolean | undefined) ?? fallback;
}

function fn<F>(option: string, value: unknown, shape: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') fail(option, `must be a function ${shape}`);
  return value as F | undefined;
}

/**
 * The Redis key namespace rule (the gem's `/<ns>/...` keys, faye-redis'
 * `<ns>/...`): every user of the presence keys checks it here.
 */
export function checkNamespace(value: unknown, option = 'namespace'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    fail(option, `must be 1-64 letters, digits, "_", "-" or ".", got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The `events` option's settings (docs/events.md). */
export interface EventsOptions {
  /** Seconds between two drains of the events outbox into the table. Default 1. */
  drainInterval?: number;
  /** Most events the outbox holds while the database does not take them; past it new events are dropped, logged and counted. Default 100000. */
  outboxLimit?: number;
  /** Delete events older than this many days (in batches, by one process at a time). Default: keep them. */
  retentionDays?: number;
}

interface ResolvedEvents { drainIntervalMs: number; outboxLimit: number; retentionDays: number | undefined }

type Authorize = ReportsOptions['authorize'];
type Register = MetricsOptions['register'];
interface ResolvedReports { prefix: string; authorize: Authorize }
interface ResolvedMetrics { path: string; register: Register }
type ValidateMessage = (message: Record<string, unknown>) => boolean;
type AuthorizeSubscription = (request: SubscriptionRequest) => boolean | Promise<boolean>;

/** Every option of attachFayeOnline, in the order of docs/options.md and `serve --help`. */
export const OPTIONS = {
  mount: option<string>({
    default: "`'/faye'`",
    doc: 'where Faye is mounted',
    resolve: (value) => urlPath('mount', value, DEFAULTS.mount),
    serve: { flag: 'mount', env: 'FAYE_ONLINE_MOUNT', placeholder: 'PATH', kind: 'path', help: 'where Faye is mounted (its own browser client is at <mount>/client.js)' },
  }),
  database: option<string | Sequelize>({
    default: "`'sqlite:faye-online.sqlite'`",
    doc: '`mysql://user:pass@host:3306/db`, `sqlite:path`, or a Sequelize instance (then you close it)',
    resolve: (value) => {
      const database = value ?? DEFAULTS.database;
      if (typeof database !== 'string' && (typeof database !== 'object' || database === null || typeof (database as Sequelize).query !== 'function')) {
        fail('database', 'must be a database URL (mysql://user:pass@host/db or sqlite:path) or a Sequelize instance');
      }
      return database as string | Sequelize;
    },
    serve: {
      flag: 'url', env: 'DATABASE_URL', placeholder: 'URL', kind: 'text', fallback: `${DEFAULTS.database} (not shared with Rails)`,
      help: 'the database the Rails app uses: mysql://user:pass@host:3306/db; create the tables first with `npx faye-online migrate up`',
    },
  }),
  redis: option<RedisOption, RedisOption | undefined>({
    default: 'none',
    doc: 'URL, ioredis options or instance: presence state and the Faye engine in Redis, shared by every process (a cluster); none: in this process only. URLs: `redis://host:port/db`, `rediss://...`, `redis+sentinel://host:port,host:port/master?db=N`',
    resolve: (value) => {
      if (typeof value === 'string') checkRedisUrl(value);
      return value as RedisOption | undefined;
    },
    serve: {
      flag: 'redis', env: 'REDIS_URL', placeholder: 'URL', kind: 'text', fallback: 'none: state in this process, so run one process only',
      help: 'Redis for presence state and the Faye engine, e.g. redis://127.0.0.1:6379/1 (the gem\'s database 1), or through Sentinel: redis+sentinel://host:26379,host:26379/mymaster?db=1',
    },
  }),
  namespace: option<string>({
    default: "`'faye'`",
    doc: 'Redis key namespace: the gem\'s keys `/<ns>/...`, faye-redis\' `<ns>/...`',
    resolve: (value) => checkNamespace(value ?? DEFAULTS.namespace),
    serve: { flag: 'namespace', env: 'FAYE_ONLINE_NAMESPACE', placeholder: 'NAME', kind: 'text', help: 'Redis key namespace; the gem\'s FayeOnline.get_server(:namespace => ...)' },
  }),
  timeout: option<number>({
    default: '`10`',
    doc: 'Faye long-poll timeout, seconds (the gem\'s); a silent client is dropped after 2 × timeout',
    resolve: (value) => positive('timeout', value, DEFAULTS.timeout),
    serve: { flag: 'timeout', env: 'FAYE_ONLINE_TIMEOUT', placeholder: 'SECONDS', kind: 'seconds', help: 'Faye long-poll timeout' },
  }),
  ping: option<number>({
    default: '`30`',
    doc: 'WebSocket ping, seconds',
    resolve: (value) => positive('ping', value, DEFAULTS.ping),
    serve: { flag: 'ping', env: 'FAYE_ONLINE_PING', placeholder: 'SECONDS', kind: 'seconds', help: 'WebSocket ping interval' },
  }),
  gc: option<number>({
    default: '`60`',
    doc: 'seconds between the Redis engine\'s sweeps of dead clients',
    resolve: (value) => positive('gc', value, DEFAULTS.gc),
    serve: { flag: 'gc', env: 'FAYE_ONLINE_GC', placeholder: 'SECONDS', kind: 'seconds', help: 'how often the Redis engine looks for dead clients; the gem\'s :gc' },
  }),
  leaveGrace: option<number>({
    default: '`5`',
    doc: 'seconds a user\'s leave waits after their last page disconnected or timed out; coming back meanwhile (a reload, a re-handshake) is no leave ([protocol.md](protocol.md#no-false-leaves-leavegrace)); `0`: at once, as the gem',
    resolve: (value) => positiveOrZero('leaveGrace', value, DEFAULTS.leaveGrace),
    serve: { flag: 'leave-grace', env: 'FAYE_ONLINE_LEAVE_GRACE', placeholder: 'SECONDS', kind: 'secondsOrZero', help: 'how long a user\'s leave waits after their last page went (a reload is no leave); 0 leaves at once, as the gem did' },
  }),
  beforeLeaveDelay: option<number>({
    default: '`3`',
    doc: 'seconds from `/faye_online/before_leave` to the check that the sender is gone (the gem\'s 3)',
    resolve: (value) => positive('beforeLeaveDelay', value, DEFAULTS.beforeLeaveDelay),
    serve: { flag: 'before-leave-delay', env: 'FAYE_ONLINE_BEFORE_LEAVE_DELAY', placeholder: 'SECONDS', kind: 'seconds', help: 'wait after a page announces it is closing before checking it is gone' },
  }),
  reconcileInterval: option<number>({
    default: '`300`',
    doc: 'seconds between reconciliation passes (one process of the cluster at a time; also once at startup); `0`: only at startup',
    resolve: (value) => positiveOrZero('reconcileInterval', value, DEFAULTS.reconcileInterval),
    serve: { flag: 'reconcile-interval', env: 'FAYE_ONLINE_RECONCILE_INTERVAL', placeholder: 'SECONDS', kind: 'secondsOrZero', help: 'how often one process of the cluster repairs the records (it also does at startup); 0: only at startup' },
  }),
  engagement: option<boolean>({
    default: '`true`',
    doc: 'record engaged time from the pages\' reports (visible and in use) in faye_online_engaged_times, our own table ([protocol.md](protocol.md#engaged-time-engagement)); `false` ignores them and does not need that table\'s migration',
    resolve: (value) => flag('engagement', value, true),
    serve: { flag: 'engagement', env: 'FAYE_ONLINE_ENGAGEMENT', placeholder: 'on|off', kind: 'switch', fallback: 'on when its table is migrated', help: 'record engaged time (pages visible and in use) in faye_online_engaged_times, our own table' },
  }),
  events: option<boolean | EventsOptions, ResolvedEvents | undefined>({
    default: '`false`',
    doc: '`true` or `{ drainInterval: 1, outboxLimit: 100000, retentionDays }`: record joins, leaves, sessions, engaged time and occupied/vacated rooms in faye_online_events, our own table, for history, last seen and Rails ([events.md](events.md)); needs that table\'s migration. `drainInterval`: seconds between drains of the outbox; `outboxLimit`: events kept while the database does not take them (past it new ones are dropped, logged and counted); `retentionDays`: delete older events (default: keep)',
    resolve: (value) => resolveEvents(value),
    serve: {
      flag: 'events', env: 'FAYE_ONLINE_EVENTS', placeholder: 'on|off', kind: 'switch', fallback: 'off',
      help: 'record presence events (joins, leaves, sessions, engaged time) in faye_online_events, our own table, for history, last seen and Rails (docs/events.md); needs `faye-online migrate up`',
    },
  }),
  presenceDiffs: option<boolean>({
    default: '`true`',
    doc: 'publish joins and leaves on `<room>/presence` with the state in subscribe replies ([protocol.md](protocol.md#presence-diffs)); `false`: only the gem\'s `<room>/user_list`',
    resolve: (value) => flag('presenceDiffs', value, true),
    serve: { flag: 'presence-diffs', env: 'FAYE_ONLINE_PRESENCE_DIFFS', placeholder: 'on|off', kind: 'switch', fallback: 'on', help: 'publish joins and leaves on <room>/presence; off publishes only the gem\'s <room>/user_list' },
  }),
  presencePageSize: option<number>({
    default: '`500`',
    doc: 'members in one page of a room\'s state on `<room>/presence`: a subscribe reply carries the first page, the browser client asks for the others ([protocol.md](protocol.md#pages-of-a-crowded-room)); a room that fits one page is sent whole, as before paging existed',
    resolve: (value) => positive('presencePageSize', value, DEFAULTS.presencePageSize, { integer: true }),
    serve: { flag: 'presence-page-size', env: 'FAYE_ONLINE_PRESENCE_PAGE_SIZE', placeholder: 'N', kind: 'integer', help: 'members in one page of a room\'s state in <room>/presence subscribe replies' },
  }),
  userListWindow: option<number>({
    default: '`100`',
    doc: 'ms; coalescing window of `<room>/user_list` messages: a busy room\'s merged message goes out once the room is quiet, at least one window and at most 2 s (or one window, if longer) after the last (the window is longer past 1,000 members: 0.1 ms per member; the 2 s grows, up to 10 s, while the rooms waiting for one hold more than 2,000 members in all: 1 ms per member)',
    resolve: (value) => positive('userListWindow', value, DEFAULTS.userListWindow),
    serve: { flag: 'user-list-window', env: 'FAYE_ONLINE_USER_LIST_WINDOW', placeholder: 'MS', kind: 'integer', help: 'milliseconds over which <room>/user_list messages are coalesced' },
  }),
  maxClientIdsPerUser: option<number>({
    default: '`32`',
    doc: 'clientIds one user may have in one room; past it the oldest is dropped (and logged out)',
    resolve: (value) => positive('maxClientIdsPerUser', value, DEFAULTS.maxClientIdsPerUser, { integer: true }),
    serve: { flag: 'max-client-ids', env: 'FAYE_ONLINE_MAX_CLIENT_IDS', placeholder: 'N', kind: 'integer', help: 'clientIds (tabs) one user may have in one room; past it the oldest is dropped' },
  }),
  maxMessageBytes: option<number>({
    default: '`65536`',
    doc: `largest incoming Bayeux message, bytes of its JSON (at least ${MIN_MESSAGE_BYTES}); larger ones are refused ([security.md](security.md))`,
    resolve: (value) => {
      const bytes = positive('maxMessageBytes', value, DEFAULTS.maxMessageBytes, { integer: true });
      if (bytes < MIN_MESSAGE_BYTES) fail('maxMessageBytes', `must be at least ${MIN_MESSAGE_BYTES} bytes (an auth alone may take 4096), got ${bytes}`);
      return bytes;
    },
    serve: { flag: 'max-message-bytes', env: 'FAYE_ONLINE_MAX_MESSAGE_BYTES', placeholder: 'N', kind: 'integer', help: 'largest Bayeux message accepted, bytes of its JSON' },
  }),
  maxMessagesPerRequest: option<number>({
    default: '`50`',
    doc: 'most Bayeux messages in one HTTP request or WebSocket frame; a larger batch is refused whole (Faye\'s clients flush a batch at 2 KiB)',
    resolve: (value) => positive('maxMessagesPerRequest', value, DEFAULTS.maxMessagesPerRequest, { integer: true }),
    serve: { flag: 'max-messages-per-request', env: 'FAYE_ONLINE_MAX_MESSAGES_PER_REQUEST', placeholder: 'N', kind: 'integer', help: 'Bayeux messages one HTTP request or WebSocket frame may carry; a larger batch is refused whole' },
  }),
  maxUnsentBytes: option<number>({
    default: '`4194304`',
    doc: `bytes sent to a WebSocket client that it has not taken yet, past which it is closed (a client that stops reading); at least ${MIN_UNSENT_BYTES} ([security-hostile.md](security-hostile.md))`,
    resolve: (value) => {
      const bytes = positive('maxUnsentBytes', value, DEFAULTS.maxUnsentBytes, { integer: true });
      if (bytes < MIN_UNSENT_BYTES) fail('maxUnsentBytes', `must be at least ${MIN_UNSENT_BYTES} bytes (a few of a crowded room's user_list messages), got ${bytes}`);
      return bytes;
    },
    serve: { flag: 'max-unsent-bytes', env: 'FAYE_ONLINE_MAX_UNSENT_BYTES', placeholder: 'N', kind: 'integer', help: 'bytes sent to a WebSocket client and not yet taken by it, past which it is closed' },
  }),
  secret: option<string | string[], string[] | undefined>({
    default: 'none',
    doc: 'string (or list, newest first) of at least 16 bytes that `auth` must be signed with ([security.md](security.md))',
    resolve: (value) => {
      if (value === undefined) return undefined;
      const list: unknown[] = Array.isArray(value) ? value : [value];
      if (list.length === 0 || list.some((s) => typeof s !== 'string' || Buffer.byteLength(s) < 16)) {
        fail('secret', 'must be a string (or a list of strings) of at least 16 bytes; generate one with `openssl rand -hex 32`');
      }
      // Sixteen spaces are sixteen bytes, and no secret at all.
      if ((list as string[]).some((s) => s.trim() === '')) fail('secret', 'is blank (only white space); generate one with `openssl rand -hex 32`');
      return list as string[];
    },
    serve: {
      flag: 'secret', env: 'FAYE_ONLINE_SECRET', placeholder: 'SECRET', kind: 'secrets', fallback: 'none: auth is not signed (the gem\'s behaviour)',
      help: 'secret that auth must be signed with (at least 16 bytes). To rotate, repeat the flag or separate secrets by spaces, newest first. Prefer the variable: flags are visible to every user in `ps`',
    },
  }),
  timeZone: option<string>({
    default: 'the process\'s',
    doc: 'IANA zone of the `*_started_at` strings (Rails reads them as local time)',
    resolve: (value) => {
      const timeZone = value ?? defaultTimeZone();
      if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) fail('timeZone', `must be an IANA time zone like "Asia/Shanghai", got ${JSON.stringify(timeZone)}`);
      return timeZone;
    },
    serve: { flag: 'time-zone', env: 'FAYE_ONLINE_TIME_ZONE', placeholder: 'ZONE', kind: 'text', fallback: 'this process\'s zone (TZ)', help: 'IANA zone of the *_started_at strings; must match the TZ of the Rails servers' },
  }),
  clientPath: option<string>({
    default: "`'/faye-online.js'`",
    doc: 'URL path of the browser client',
    resolve: (value) => urlPath('clientPath', value, DEFAULTS.clientPath),
    serve: { flag: 'client-path', env: 'FAYE_ONLINE_CLIENT_PATH', placeholder: 'PATH', kind: 'path', help: 'URL path of faye-online\'s browser client' },
  }),
  reports: option<ReportsOptions, ResolvedReports>({
    default: "`{ prefix: '/faye-online/api' }`",
    doc: 'REST report endpoints; every request gets 403 until you give `authorize(req)` ([operations.md](operations.md))',
    resolve: (value) => resolveReports(value),
    serve: { flag: 'reports-prefix', env: 'FAYE_ONLINE_REPORTS_PREFIX', placeholder: 'PATH', kind: 'path', fallback: DEFAULTS.reportsPrefix, help: 'where the JSON report endpoints are', toOption: (prefix) => ({ prefix }) },
  }),
  metrics: option<MetricsOptions | boolean, ResolvedMetrics | undefined>({
    default: 'off',
    doc: '`true` or `{ path: \'/metrics\', register }`: Prometheus metrics ([operations.md](operations.md))',
    resolve: (value) => resolveMetrics(value),
    serve: { flag: 'metrics', env: 'FAYE_ONLINE_METRICS', placeholder: 'PATH', kind: 'path', help: `serve Prometheus metrics at this path, e.g. ${DEFAULTS.metricsPath}`, toOption: (path) => ({ path }) },
  }),
  trace: option<boolean>({
    default: '`DEBUG`/`DEBUG_FAYE`',
    doc: 'one debug line per tracked message that changed presence, as the gem\'s verbose mode',
    resolve: (value) => flag('trace', value, debugFromEnv()),
    serve: { flag: 'trace', env: 'FAYE_ONLINE_TRACE', placeholder: 'on|off', kind: 'switch', fallback: 'on when DEBUG is set', help: 'one debug line per message that changed presence (the gem\'s verbose log)' },
  }),
  webhooks: option<WebhooksOptions, ResolvedWebhooks | undefined>({
    default: 'off',
    doc: '`{ url, secret, events?, batchSize?, timeoutMs?, retryFor?, ... }`: POST the presence events (faye_online_events) to your URL, signed, in order, retried for 24 h, by one process of the cluster ([webhooks.md](webhooks.md)); needs `faye-online migrate up`',
    resolve: (value) => resolveWebhooks(value),
    serve: {
      flag: 'webhook-url', env: 'FAYE_ONLINE_WEBHOOK_URL', placeholder: 'URL', kind: 'text', fallback: 'none: no webhooks',
      help: 'POST the presence events to this URL, signed with --webhook-secret (docs/webhooks.md); needs the events and webhook tables (migrate up)',
      toOption: (url) => ({ url }),
    },
  }),
  logger: option<Logger>({
    default: 'pino',
    doc: 'any pino-compatible logger; `DEBUG=faye-online` or `DEBUG_FAYE=1` for debug logs',
    resolve: (value, earlier) => {
      const logger = (value ?? createLogger(earlier.trace ? { level: 'debug' } : {})) as Logger;
      for (const method of ['debug', 'info', 'warn', 'error'] as const) {
        if (typeof logger[method] !== 'function') fail('logger', `must have a ${method}(fields, message) method (pino-compatible)`);
      }
      return logger;
    },
    serve: { notAFlag: 'an object; serve logs with pino (FAYE_ONLINE_LOG_LEVEL, DEBUG)' },
  }),
  validateMessage: option<ValidateMessage, ValidateMessage | undefined>({
    default: 'none',
    doc: 'the gem\'s `valid_message_proc`: `(message) => boolean`, false leaves it untracked',
    resolve: (value) => fn<ValidateMessage>('validateMessage', value, '(message) => boolean'),
    serve: { notAFlag: 'a function' },
  }),
  authorizeSubscription: option<AuthorizeSubscription, AuthorizeSubscription | undefined>({
    default: 'none',
    doc: '`({ clientId, channel, auth, message }) => boolean \\| Promise<boolean>`: false, a rejection or a throw refuses the subscription with a 403 ([security.md](security.md)); none: every subscription is allowed (the gem\'s)',
    resolve: (value) => fn<AuthorizeSubscription>('authorizeSubscription', value, '({ clientId, channel, auth, message }) => boolean | Promise<boolean>'),
    serve: { notAFlag: 'a function' },
  }),
  autoMigrate: option<boolean, boolean | undefined>({
    default: '`true` for SQLite, `false` for MySQL',
    doc: 'run the migrations at startup; with `false`, `ready` rejects until `npx faye-online migrate up` has run',
    resolve: (value) => {
      if (value !== undefined && typeof value !== 'boolean') fail('autoMigrate', 'must be true or false');
      return value as boolean | undefined;
    },
    serve: { notAFlag: 'serve migrates SQLite itself and checks MySQL (faye-online migrate up)' },
  }),
  clock: option<Clock>({
    default: 'the system clock',
    doc: 'where every time decision gets the time (grace, before_leave, user_list window, reconciliation, engine liveness, departures); for tests and simulations (a `ManualClock` runs them in simulated time)',
    resolve: (value) => {
      const clock = (value ?? systemClock) as Clock;
      if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.after !== 'function') {
        fail('clock', 'must be an object with now() and after(ms, callback) (see lib/core/clock.ts)');
      }
      return clock;
    },
    serve: { notAFlag: 'for tests and simulations: a process serves on the system clock' },
  }),
};

type Options = typeof OPTIONS;
type InputOf<T> = T extends OptionSpec<infer In, unknown> ? In : never;
export type OptionName = keyof Options;

/** The options of attachFayeOnline; every one is optional (see OPTIONS and docs/options.md). */
export type FayeOnlineOptions = { [K in OptionName]?: InputOf<Options[K]> };

/** The options with their defaults applied, checked. */
export type ResolvedOptions = { [K in OptionName]: ReturnType<Options[K]['resolve']> };

export function resolveOptions(input: FayeOnlineOptions = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null) fail('options', 'must be an object');
  const names = Object.keys(OPTIONS);
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(OPTIONS, key)) fail(key, `is not an option (known: ${names.join(', ')})`);
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown, unknown>][]) {
    resolved[name] = spec.resolve(input[name], resolved);
  }
  // Webhooks send the rows of faye_online_events, so they turn recording on.
  if (resolved.webhooks !== undefined) {
    if (input.events === false) fail('webhooks', 'sends the rows of faye_online_events: leave `events` on (or unset) to use webhooks');
    resolved.events ??= resolveEvents(true);
  }
  return resolved as ResolvedOptions;
}

function resolveEvents(input: unknown): ResolvedEvents | undefined {
  if (input === undefined || input === false) return undefined;
  const settings = input === true ? {} : input;
  if (typeof settings !== 'object' || settings === null) fail('events', `must be true, false or { drainInterval, outboxLimit, retentionDays }, got ${JSON.stringify(input)}`);
  for (const key of Object.keys(settings)) {
    if (!['drainInterval', 'outboxLimit', 'retentionDays'].includes(key)) fail('events', `unknown setting "${key}" (expected drainInterval, outboxLimit, retentionDays)`);
  }
  const { drainInterval, outboxLimit, retentionDays } = settings as EventsOptions;
  return {
    drainIntervalMs: positive('events.drainInterval', drainInterval, DEFAULTS.eventsDrainInterval) * 1000,
    outboxLimit: positive('events.outboxLimit', outboxLimit, DEFAULTS.eventsOutboxLimit, { integer: true }),
    retentionDays: retentionDays === undefined ? undefined : positive('events.retentionDays', retentionDays, 1),
  };
}

function resolveReports(input: unknown): ResolvedReports {
  if (input === undefined) return { prefix: DEFAULTS.reportsPrefix, authorize: undefined };
  if (typeof input !== 'object' || input === null) fail('reports', 'must be an object { prefix?, authorize }');
  for (const key of Object.keys(input)) if (key !== 'prefix' && key !== 'authorize') fail(`reports.${key}`, 'is not an option (known: prefix, authorize)');
  const { prefix, authorize } = input as ReportsOptions;
  return { prefix: urlPath('reports.prefix', prefix, DEFAULTS.reportsPrefix), authorize: fn<Authorize>('reports.authorize', authorize, '(req) => boolean | Promise<boolean>') };
}

function resolveMetrics(input: unknown): ResolvedMetrics | undefined {
  if (input === undefined || input === false) return undefined;
  if (input === true) return { path: DEFAULTS.metricsPath, register: undefined };
  if (typeof input !== 'object' || input === null) fail('metrics', 'must be true or an object { path?, register? }');
  for (const key of Object.keys(input)) if (key !== 'path' && key !== 'register') fail(`metrics.${key}`, 'is not an option (known: path, register)');
  const { path, register } = input as MetricsOptions;
  if (register !== undefined && (typeof register !== 'object' || register === null || typeof register.metrics !== 'function')) {
    fail('metrics.register', 'must be a prom-client Registry');
  }
  return { path: urlPath('metrics.path', path, DEFAULTS.metricsPath), register };
}

/** The options table of docs/options.md, rendered from OPTIONS (test/docs/options-table.test.ts keeps the file equal). */
export function optionsMarkdownTable(): string {
  const rows = (Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown, unknown>][]).map(([name, spec]) => {
    const serve = 'flag' in spec.serve ? `\`--${spec.serve.flag}\` (\`${spec.serve.env}\`)` : '';
    return `| \`${name}\` | ${spec.default} | ${spec.doc} | ${serve} |`;
  });
  return ['| Option | Default | | `faye-online serve` flag (variable) |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
