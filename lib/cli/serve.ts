// `faye-online serve`: a standalone presence server for apps that have no Node
// code of their own, e.g. a Rails app replacing the gem's `rackup faye.ru`.
// It is Express + attachFayeOnline on one port, configured by flags or by the
// environment variable beside each flag. Before listening it checks that the
// database is migrated and that Redis answers, so a misconfigured server fails
// at once with one line instead of accepting clients it cannot track.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request } from 'express';
import faye from 'faye';
import type { Sequelize } from 'sequelize';
import { attachFayeOnline, type FayeOnlineHandle } from '../edge/attach';
import { FayeOnlineError, isFayeOnlineError } from '../errors';
import { createLogger, debugFromEnv, redactUrl, silentLogger, type Logger } from '../log';
import { DEFAULTS, OPTIONS, resolveOptions, type FayeOnlineOptions, type OptionName, type OptionSpec, type ServeFlag } from '../options';
import { describeDatabase } from '../records/database';
import { openSql, probeRedis } from '../backends';
import { ensureMigrated, migrationStatus } from '../schema';
import { basicAuth, MIN_PASSWORD_LENGTH } from '../dashboard/basic-auth';
import { DB_TIMEOUT_SECONDS, EXIT_OK, EXIT_USAGE, readFlags, withProgress, type CliIo, type Command } from './command';

const DEFAULT_PORT = 9292; // the gem's `rackup faye.ru -p 9292`
const HEALTH_PATH = '/healthz';
const DASHBOARD_PATH = '/faye-online';

/** One setting: its flag, the environment variable read when the flag is absent, and its help. */
export interface Setting extends Omit<ServeFlag, 'fallback'> {
  fallback: string;
  /** The attachFayeOnline option it sets (the others are the server's own), so that option errors can name the flag. */
  option?: OptionName;
  /** For an object option that more flags fill (webhooks): the field this one sets. */
  field?: string;
}

/** The default of an option as the help shows it: the docs' without Markdown. */
const plain = (markdown: string) => markdown.replace(/[`']/g, '');

/** Options of attachFayeOnline that are settings of `serve`: the table's rows that have a flag. */
const OPTION_SETTINGS: Setting[] = (Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown, unknown>][]).flatMap(([option, spec]) =>
  'flag' in spec.serve ? [{ ...spec.serve, fallback: spec.serve.fallback ?? plain(spec.default), option }] : []);

/**
 * Options of attachFayeOnline that are not settings of `serve`, and why (the
 * table's rows without a flag).
 */
export const NOT_SETTINGS: Readonly<Partial<Record<OptionName, string>>> = Object.fromEntries(
  (Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown, unknown>][]).flatMap(([option, spec]) => ('notAFlag' in spec.serve ? [[option, spec.serve.notAFlag]] : [])),
);

const BEFORE_OPTIONS: readonly Setting[] = [
  { flag: 'port', env: 'PORT', placeholder: 'N', fallback: String(DEFAULT_PORT), kind: 'integer', help: 'HTTP port; 0 picks a free one (the ready line says which)' },
  { flag: 'host', env: 'HOST', placeholder: 'ADDR', fallback: 'every interface', kind: 'text', help: 'address to listen on, e.g. 127.0.0.1 behind a proxy on the same machine' },
  { flag: 'db-timeout', env: 'FAYE_ONLINE_DB_TIMEOUT', placeholder: 'SECONDS', fallback: String(DB_TIMEOUT_SECONDS), kind: 'seconds', help: 'how long to wait for the database to answer at startup' },
];

const AFTER_OPTIONS: readonly Setting[] = [
  { flag: 'webhook-secret', env: 'FAYE_ONLINE_WEBHOOK_SECRET', placeholder: 'SECRET', fallback: 'none', kind: 'text', option: 'webhooks', field: 'secret', help: 'secret the webhook requests are signed with (at least 16 bytes); prefer the variable: flags are visible in `ps`' },
  { flag: 'webhook-events', env: 'FAYE_ONLINE_WEBHOOK_EVENTS', placeholder: 'KINDS', fallback: 'every kind', kind: 'text', option: 'webhooks', field: 'events', help: 'comma-separated kinds of events to send: join, leave, session_start, session_end, engaged_start, engaged_end, occupied, vacated', toOption: (kinds) => String(kinds).split(',').map((kind) => kind.trim()).filter(Boolean) },
  { flag: 'events-retention', env: 'FAYE_ONLINE_EVENTS_RETENTION', placeholder: 'DAYS', fallback: 'keep every event', kind: 'seconds', help: 'with --events on: delete events older than this many days (hourly, in batches, by one process at a time)' },
  { flag: 'reports-token', env: 'FAYE_ONLINE_REPORTS_TOKEN', placeholder: 'TOKEN', fallback: 'none: every report request is refused (403)', kind: 'text', help: 'requests with the header `Authorization: Bearer TOKEN` may read the reports (at least 16 bytes; prefer the variable)' },
  { flag: 'dashboard-password', env: 'FAYE_ONLINE_DASHBOARD_PASSWORD', placeholder: 'PASSWORD', fallback: 'none: no dashboard', kind: 'text', help: `serve the dashboard at ${DASHBOARD_PATH}/ and open the JSON reports to whoever gives this password (HTTP Basic, any user name; put HTTPS in front); at least ${MIN_PASSWORD_LENGTH} characters` },
];

/** Every setting of `serve`: the server's own around the options that a command line can carry. */
export const SETTINGS: readonly Setting[] = [...BEFORE_OPTIONS, ...OPTION_SETTINGS, ...AFTER_OPTIONS];

/** Words of `text` in lines of at most `max` characters, each after `indent` spaces. */
function wrap(text: string, indent: number, max = 80): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > max) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => `${' '.repeat(indent)}${l}`);
}

function helpText(): string {
  const options = SETTINGS.flatMap((s) => [
    `  --${s.flag} ${s.placeholder}`,
    ...wrap(s.help, 6),
    ...wrap(`env ${s.env}; default: ${s.fallback}`, 6),
  ]);
  return [
    'Usage: faye-online serve [options]',
    '',
    'A standalone Faye server with faye-online presence, for apps that have no Node',
    'code of their own (a Rails app replacing the gem\'s `rackup faye.ru`). Each',
    'option can also be set by the environment variable below it; a flag wins.',
    '',
    'Options:',
    ...options,
    '  -h, --help',
    '      show this help',
    '',
    'Environment only:',
    '  DEBUG=true              verbose faye-online logs (debug level), like the gem',
    '  DEBUG_FAYE=true         also Faye\'s own protocol log (every message)',
    '  FAYE_ONLINE_LOG_LEVEL   trace, debug, info (default), warn or error',
    '',
    'Served:',
    '  <mount>                 Faye: long-polling and WebSocket',
    '  <mount>/client.js       Faye\'s browser client',
    `  ${DEFAULTS.clientPath.padEnd(22)}  faye-online's client, for the gem's faye-online.js`,
    `  ${HEALTH_PATH.padEnd(22)}  200 JSON while serving, 503 while starting/stopping`,
    `  ${`${DASHBOARD_PATH}/`.padEnd(22)}  the dashboard, with --dashboard-password`,
    '',
    'Faye answers cross-origin requests (CORS preflights included) for any page by',
    'itself, and WebSockets are not subject to CORS: pages on the Rails host can',
    'connect to this server directly, no CORS setting is needed.',
    '',
    'Before listening it checks that the database is migrated and that Redis answers.',
    'SIGTERM or SIGINT stops it gracefully (exit 0); a second signal exits at once.',
  ].join('\n');
}

/** A mistake on the command line or in the environment: exit 2. */
class UsageError extends Error {}

interface ServeConfig {
  port: number;
  /** The mount path as attachFayeOnline will use it (validated, no trailing slash). */
  mount: string;
  host: string | undefined;
  databaseUrl: string;
  databaseFromFlag: boolean;
  dbTimeoutSeconds: number;
  redisUrl: string | undefined;
  secretFromFlag: boolean;
  /** Set (true or false) only when given: unset, it follows whether its table is migrated. */
  engagement: boolean | undefined;
  dashboardPassword: string | undefined;
  options: FayeOnlineOptions;
}

type Values = Record<string, string | string[] | boolean | undefined>;

/** The flag's value, else the environment variable's (an empty variable counts as unset). */
function pick(values: Values, env: NodeJS.ProcessEnv, setting: Setting): string | undefined {
  const fromFlag = values[setting.flag];
  if (typeof fromFlag === 'string') return fromFlag;
  if (Array.isArray(fromFlag)) return fromFlag.join(' ');
  const fromEnv = env[setting.env];
  return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv.trim();
}

function source(setting: Setting): string {
  return `--${setting.flag} (${setting.env})`;
}

const SWITCH_WORDS: Record<string, boolean> = { on: true, true: true, yes: true, 1: true, off: false, false: false, no: false, 0: false };

/** A setting's text as its value; the option's own checks (ranges, formats) stay with resolveOptions. */
function parseSetting(setting: Setting, text: string): unknown {
  const fail = (what: string) => { throw new UsageError(`${source(setting)} must be ${what}, got "${text}"`); };
  switch (setting.kind) {
    case 'text':
    case 'path':
      return text;
    case 'seconds':
    case 'secondsOrZero': {
      const value = Number(text);
      const zero = setting.kind === 'secondsOrZero';
      if (!Number.isFinite(value) || value < 0 || (value === 0 && !zero)) fail(zero ? 'a number of seconds (0 or more)' : 'a positive number of seconds');
      return value;
    }
    case 'integer': {
      const value = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value)) fail('a whole number');
      return value;
    }
    case 'switch': {
      const value = SWITCH_WORDS[text.toLowerCase()];
      if (value === undefined) fail('on or off');
      return value;
    }
    case 'secrets': {
      const secrets = text.split(/\s+/).filter(Boolean);
      return secrets.length > 1 ? secrets : secrets[0];
    }
  }
}


function readConfig(values: Values, env: NodeJS.ProcessEnv): ServeConfig {
  // A secret given but blank (FAYE_ONLINE_SECRET="  ") is a mistake, not a
  // request for unsigned mode: refuse to start rather than trust every page.
  // (Other settings treat a blank variable as unset.)
  const secretText = values.secret === undefined ? env.FAYE_ONLINE_SECRET : pick(values, env, setting('secret'));
  if (secretText !== undefined && secretText.trim() === '') {
    throw new UsageError(`${source(setting('secret'))} is blank; give a secret of at least 16 bytes, or leave it unset for unsigned auth`);
  }
  const read = new Map<string, unknown>();
  for (const setting of SETTINGS) {
    const text = pick(values, env, setting);
    if (text !== undefined) read.set(setting.flag, parseSetting(setting, text));
  }
  const port = (read.get('port') as number | undefined) ?? DEFAULT_PORT;
  if (port > 65535) throw new UsageError(`${source(setting('port'))} must be a port number from 0 to 65535, got "${port}"`);
  const options: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    if (!s.option || !read.has(s.flag)) continue;
    const value = s.toOption ? s.toOption(read.get(s.flag)) : read.get(s.flag);
    options[s.option] = s.field ? { ...(options[s.option] as object | undefined), [s.field]: value } : value;
  }
  const token = read.get('reports-token') as string | undefined;
  if (token !== undefined) {
    if (Buffer.byteLength(token) < 16) throw new UsageError(`${source(setting('reports-token'))} must be at least 16 bytes; generate one with \`openssl rand -hex 32\``);
    options.reports = { ...(options.reports as object | undefined), authorize: bearerToken(token) };
  }
  const dashboardPassword = read.get('dashboard-password') as string | undefined;
  if (dashboardPassword !== undefined && dashboardPassword.length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`${source(setting('dashboard-password'))} must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const retention = read.get('events-retention') as number | undefined;
  if (retention !== undefined) {
    if (options.events !== true) throw new UsageError(`${source(setting('events-retention'))} needs events on (--events on or FAYE_ONLINE_EVENTS=on)`);
    options.events = { retentionDays: retention };
  }
  delete options.database;
  delete options.engagement;
  return {
    port,
    mount: DEFAULTS.mount,
    host: read.get('host') as string | undefined,
    databaseUrl: (read.get('url') as string | undefined) ?? DEFAULTS.database,
    databaseFromFlag: typeof values.url === 'string',
    dbTimeoutSeconds: (read.get('db-timeout') as number | undefined) ?? DB_TIMEOUT_SECONDS,
    redisUrl: read.get('redis') as string | undefined,
    secretFromFlag: values.secret !== undefined,
    engagement: read.get('engagement') as boolean | undefined,
    dashboardPassword,
    options: options as FayeOnlineOptions,
  };
}

type AuthorizeHook = (req: Request) => boolean | Promise<boolean>;

/** A request is authorized when either hook says exactly true. */
function eitherAuthorized(first: AuthorizeHook | undefined, second: AuthorizeHook): AuthorizeHook {
  if (!first) return second;
  return async (req) => (await first(req)) === true || (await second(req)) === true;
}

function setting(flag: string): Setting {
  return SETTINGS.find((s) => s.flag === flag)!;
}

/** Reports may be read by requests that carry `Authorization: Bearer <token>` (compared in constant time). */
function bearerToken(token: string): (req: Request) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const match = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    return match !== null && timingSafeEqual(createHash('sha256').update(match[1]).digest(), expected);
  };
}

/** resolveOptions names the option (`timeZone`); on the command line, name the flag and its variable. */
function optionErrorAsUsage(error: FayeOnlineError): UsageError {
  const match = /^(?:faye-online option `([\w.]+)`|(redis)): (.*)$/s.exec(error.message);
  const [option, field] = (match?.[1] ?? match?.[2])?.split('.') ?? [];
  const named = match && (SETTINGS.find((s) => s.option === option && s.field === field) ?? SETTINGS.find((s) => s.option === option));
  return new UsageError(named ? `${source(named)} ${match[3]}` : error.message);
}

/** pino at info; the gem's DEBUG / DEBUG_FAYE turn on debug logs, DEBUG_FAYE also Faye's own log. */
function serverLogger(env: NodeJS.ProcessEnv): Logger {
  const logger = createLogger({ level: env.FAYE_ONLINE_LOG_LEVEL || (debugFromEnv(env) ? 'debug' : 'info') });
  if (env.DEBUG_FAYE) {
    const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) => logger[level]({ component: 'faye' }, message);
    faye.logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error'), fatal: line('error') };
  }
  return logger;
}

/**
 * Checks the schema and decides whether engaged time is recorded: unless the
 * command line said, it is on exactly when its own table is migrated, so that
 * a database where Rails ran only the gem's migrations serves as it is.
 */
async function checkDatabase(sequelize: Sequelize, config: ServeConfig, io: CliIo): Promise<{ engagement: boolean; note?: string }> {
  const migrateUp = config.databaseFromFlag ? `npx faye-online migrate up --url ${redactUrl(config.databaseUrl)}` : 'npx faye-online migrate up';
  const waiting = `  database  waiting for ${describeDatabase(sequelize)} to answer (up to ${config.dbTimeoutSeconds} s, --db-timeout) ...`;
  const states = await withProgress(io.out, waiting, migrationStatus(sequelize));
  const engagementMigrated = states.every((m) => m.applied || m.feature !== 'engagement');
  const engagement = config.engagement ?? engagementMigrated;
  try {
    await ensureMigrated(sequelize, { engagement, events: (config.options.events !== undefined && config.options.events !== false) || Boolean(config.options.webhooks), webhooks: Boolean(config.options.webhooks) });
  } catch (error) {
    if (!isFayeOnlineError(error, 'SCHEMA_NOT_MIGRATED')) throw error;
    // The generic hint says "with --url or DATABASE_URL"; here we know which.
    throw new FayeOnlineError('SCHEMA_NOT_MIGRATED', `the faye-online tables are not migrated in ${describeDatabase(sequelize)}; create them with \`${migrateUp}\`, then start again`, { cause: error });
  }
  if (engagement || config.engagement !== undefined) return { engagement };
  return { engagement, note: `  engaged   off: its table (faye_online_engaged_times, ours) is not migrated; to record engaged time run \`${migrateUp}\` and restart` };
}

function listen(server: http.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`port ${port} is already in use${host ? ` on ${host}` : ''}; stop the other program or choose another with --port (PORT)`));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') reject(new Error(`cannot listen on ${host}: not an address of this machine; fix --host (HOST)`));
      else reject(error);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

function publicUrl(server: http.Server, host: string | undefined, mount: string): string {
  const { port } = server.address() as AddressInfo;
  const everywhere = host === undefined || host === '0.0.0.0' || host === '::';
  const name = everywhere ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}${mount}`;
}

/** Resolves with the name of the first SIGTERM/SIGINT; a second one exits at once. */
function untilStopSignal(): { stopped: Promise<NodeJS.Signals>; dispose(): void } {
  let received = false;
  let resolveStop!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => { resolveStop = resolve; });
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(130);
    received = true;
    resolveStop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    stopped,
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

async function serve(config: ServeConfig, io: CliIo): Promise<number> {
  const logger = serverLogger(io.env);
  const { mount } = config;
  io.out(`faye-online serve: starting (pid ${process.pid})`);
  if (config.secretFromFlag) io.err('faye-online serve: warning: --secret is visible to every user of this machine in `ps`; prefer the FAYE_ONLINE_SECRET variable');

  // The server gets this Sequelize (as `database`), so serve closes it, after the server.
  const { sequelize } = openSql(config.databaseUrl, { logger, connectTimeoutMs: config.dbTimeoutSeconds * 1000 });
  const sqlite = sequelize.getDialect() === 'sqlite';
  let engagement = config.engagement;
  let handle: FayeOnlineHandle | undefined;
  const sockets = new Set<Socket>();
  const app = express();
  const server = http.createServer(app);
  const signals = untilStopSignal();
  try {
    if (sqlite) {
      io.out(`  database  ${describeDatabase(sequelize)} (embedded, migrated at startup; NOT shared with a Rails app: give --url or DATABASE_URL for that)`);
    } else {
      const checked = await checkDatabase(sequelize, config, io);
      engagement = checked.engagement;
      io.out(`  database  ${describeDatabase(sequelize)}: migrated`);
      if (checked.note) io.out(checked.note);
    }
    if (config.options.webhooks) io.out(`  webhooks  ${redactUrl(config.options.webhooks.url)} (kinds: ${config.options.webhooks.events?.join(', ') ?? 'all'})`);
    if (config.redisUrl) {
      await probeRedis(config.redisUrl, '--redis (REDIS_URL)');
      io.out(`  redis     ${redactUrl(config.redisUrl)}: answers (namespace ${config.options.namespace ?? DEFAULTS.namespace})`);
    } else {
      io.out('  redis     none: presence state lives in this process, so run only one (give --redis or REDIS_URL for a cluster)');
    }

    let state: 'starting' | 'ok' | 'stopping' = 'starting';
    app.disable('x-powered-by');
    app.get(HEALTH_PATH, (_req, res) => {
      res.status(state === 'ok' ? 200 : 503).set('Cache-Control', 'no-store').json({ status: state, mount, redis: Boolean(config.redisUrl), uptimeSeconds: Math.round(process.uptime()) });
    });
    // Upgraded (WebSocket) sockets are not closed by server.close(): track every socket.
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // The port first: nothing may say "ready" before it is ours. Faye attaches
    // to the server after; until then requests get 503 from /healthz or a 404.
    await listen(server, config.port, config.host);
    // The dashboard asks the browser for its password; the reports then open to
    // that password as well as to the bearer token.
    const dashboard = config.dashboardPassword === undefined ? undefined : basicAuth(config.dashboardPassword);
    if (dashboard) app.use(DASHBOARD_PATH, dashboard.challenge);
    const reports = dashboard ? { ...config.options.reports, authorize: eitherAuthorized(config.options.reports?.authorize, dashboard.authorize) } : config.options.reports;
    handle = attachFayeOnline(app, server, { ...config.options, reports, ...(engagement === undefined ? {} : { engagement }), database: sequelize, logger });
    if (dashboard) app.use(DASHBOARD_PATH, handle.dashboard());
    await handle.ready;
    state = 'ok';
    io.out(`faye-online serve: ready at ${publicUrl(server, config.host, mount)} (browser client ${config.options.clientPath ?? DEFAULTS.clientPath}, health ${HEALTH_PATH})`);

    const signal = await signals.stopped;
    state = 'stopping';
    io.out(`faye-online serve: ${signal}, stopping (finishing presence writes, closing connections) ...`);
    await handle.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    await sequelize.close();
    io.out('faye-online serve: stopped');
    return EXIT_OK;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    if (server.listening) server.close();
    await sequelize.close().catch(() => undefined);
    throw error;
  } finally {
    signals.dispose();
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run a standalone Faye server with presence (like the gem\'s `rackup faye.ru`)',
  help: helpText(),
  async run(args, io) {
    const flags = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const, multiple: s.flag === 'secret' }]));
    const values = readFlags<Values>({ name: 'serve', help: this.help }, args, flags, io);
    if (typeof values === 'number') return values;
    let config: ServeConfig;
    try {
      config = readConfig(values, io.env);
      // Validate every option before connecting to anything.
      config.mount = resolveOptions({ ...config.options, database: config.databaseUrl, logger: silentLogger }).mount;
    } catch (error) {
      const usage = isFayeOnlineError(error, 'INVALID_OPTION') ? optionErrorAsUsage(error) : error;
      if (!(usage instanceof UsageError)) throw usage;
      io.err(`faye-online serve: ${usage.message} (see faye-online serve --help)`);
      return EXIT_USAGE;
    }
    return serve(config, io);
  },
};
