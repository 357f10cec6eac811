// `faye-online serve`: a standalone presence server for apps that have no Node
// code of their own, e.g. a Rails app replacing the gem's `rackup faye.ru`.
// It is Express + attachFayeOnline on one port, configured by flags or by the
// environment variable beside each flag. Before listening it checks that the
// database is migrated and that Redis answers, so a misconfigured server fails
// at once with one line instead of accepting clients it cannot track.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import faye from 'faye';
import type { Sequelize } from 'sequelize';
import { attachFayeOnline, type FayeOnlineHandle } from '../edge/attach';
import { FayeOnlineError, isFayeOnlineError } from '../errors';
import { createLogger, debugFromEnv, silentLogger, type Logger } from '../log';
import { DEFAULTS, resolveOptions, type FayeOnlineOptions } from '../options';
import { describeDatabase, openDatabase } from '../records/database';
import { ensureMigrated } from '../schema';
import { openRedis } from '../stores/redis-connection';
import { EXIT_OK, EXIT_USAGE, type CliIo, type Command } from './command';

const DEFAULT_PORT = 9292; // the gem's `rackup faye.ru -p 9292`
const HEALTH_PATH = '/healthz';
const REDIS_CHECK_TIMEOUT_MS = 3000;

/** One setting: its flag, the environment variable read when the flag is absent, and its help. */
interface Setting {
  flag: string;
  env: string;
  placeholder: string;
  fallback: string;
  help: string;
  /** The attachFayeOnline option it sets, so that option errors can name the flag. */
  option?: keyof FayeOnlineOptions;
}

const SETTINGS: readonly Setting[] = [
  { flag: 'port', env: 'PORT', placeholder: 'N', fallback: String(DEFAULT_PORT), help: 'HTTP port; 0 picks a free one (the ready line says which)' },
  { flag: 'host', env: 'HOST', placeholder: 'ADDR', fallback: 'every interface', help: 'address to listen on, e.g. 127.0.0.1 behind a proxy on the same machine' },
  { flag: 'mount', env: 'FAYE_ONLINE_MOUNT', placeholder: 'PATH', fallback: DEFAULTS.mount, help: 'where Faye is mounted (its own browser client is at <mount>/client.js)', option: 'mount' },
  { flag: 'url', env: 'DATABASE_URL', placeholder: 'URL', fallback: `${DEFAULTS.database} (not shared with Rails)`, help: 'the database the Rails app uses: mysql://user:pass@host:3306/db; create the tables first with `npx faye-online migrate up`', option: 'database' },
  { flag: 'redis', env: 'REDIS_URL', placeholder: 'URL', fallback: 'none: state in this process, so run one process only', help: 'Redis for presence state and the Faye engine, e.g. redis://127.0.0.1:6379/1 (the gem\'s database 1)', option: 'redis' },
  { flag: 'namespace', env: 'FAYE_ONLINE_NAMESPACE', placeholder: 'NAME', fallback: DEFAULTS.namespace, help: 'Redis key namespace; the gem\'s FayeOnline.get_server(:namespace => ...)', option: 'namespace' },
  { flag: 'timeout', env: 'FAYE_ONLINE_TIMEOUT', placeholder: 'SECONDS', fallback: String(DEFAULTS.timeout), help: 'Faye long-poll timeout', option: 'timeout' },
  { flag: 'ping', env: 'FAYE_ONLINE_PING', placeholder: 'SECONDS', fallback: String(DEFAULTS.ping), help: 'WebSocket ping interval', option: 'ping' },
  { flag: 'gc', env: 'FAYE_ONLINE_GC', placeholder: 'SECONDS', fallback: String(DEFAULTS.gc), help: 'how often the Redis engine looks for dead clients; the gem\'s :gc', option: 'gc' },
  { flag: 'before-leave-delay', env: 'FAYE_ONLINE_BEFORE_LEAVE_DELAY', placeholder: 'SECONDS', fallback: String(DEFAULTS.beforeLeaveDelay), help: 'wait after a page announces it is closing before checking it is gone', option: 'beforeLeaveDelay' },
  { flag: 'secret', env: 'FAYE_ONLINE_SECRET', placeholder: 'SECRET', fallback: 'none: auth is not signed (the gem\'s behaviour)', help: 'secret that auth must be signed with (at least 16 bytes). To rotate, repeat the flag or separate secrets by spaces, newest first. Prefer the variable: flags are visible to every user in `ps`', option: 'secret' },
  { flag: 'time-zone', env: 'FAYE_ONLINE_TIME_ZONE', placeholder: 'ZONE', fallback: 'this process\'s zone (TZ)', help: 'IANA zone of the *_started_at strings; must match the TZ of the Rails servers', option: 'timeZone' },
];

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
    `  ${HEALTH_PATH.padEnd(22)}  200 JSON while serving, 503 while stopping`,
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
  redisUrl: string | undefined;
  secretFromFlag: boolean;
  options: FayeOnlineOptions;
}

type Values = Record<string, string | string[] | boolean | undefined>;

/** The flag's value, else the environment variable's (an empty variable counts as unset). */
function pick(values: Values, env: NodeJS.ProcessEnv, flag: string): string | undefined {
  const setting = SETTINGS.find((s) => s.flag === flag)!;
  const fromFlag = values[flag];
  if (typeof fromFlag === 'string') return fromFlag;
  if (Array.isArray(fromFlag)) return fromFlag.join(' ');
  const fromEnv = env[setting.env];
  return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv.trim();
}

function source(flag: string): string {
  const setting = SETTINGS.find((s) => s.flag === flag)!;
  return `--${flag} (${setting.env})`;
}

function seconds(values: Values, env: NodeJS.ProcessEnv, flag: string): number | undefined {
  const text = pick(values, env, flag);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${source(flag)} must be a positive number of seconds, got "${text}"`);
  return value;
}

function readConfig(values: Values, env: NodeJS.ProcessEnv): ServeConfig {
  const portText = pick(values, env, 'port');
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${source('port')} must be a port number from 0 to 65535, got "${portText}"`);

  // A secret given but blank (FAYE_ONLINE_SECRET="  ") is a mistake, not a
  // request for unsigned mode: refuse to start rather than trust every page.
  // (Other settings treat a blank variable as unset.)
  const secretText = values.secret === undefined ? env.FAYE_ONLINE_SECRET : pick(values, env, 'secret');
  const secrets = secretText?.split(/\s+/).filter(Boolean);
  if (secrets !== undefined && secrets.length === 0) throw new UsageError(`${source('secret')} is blank; give a secret of at least 16 bytes, or leave it unset for unsigned auth`);
  const redisUrl = pick(values, env, 'redis');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new UsageError(`${source('redis')} must be a redis:// URL like redis://127.0.0.1:6379/1, got "${redactUrl(redisUrl)}"`);
  return {
    port,
    mount: DEFAULTS.mount,
    host: pick(values, env, 'host'),
    databaseUrl: pick(values, env, 'url') ?? DEFAULTS.database,
    databaseFromFlag: typeof values.url === 'string',
    redisUrl,
    secretFromFlag: values.secret !== undefined,
    options: {
      mount: pick(values, env, 'mount'),
      redis: redisUrl,
      namespace: pick(values, env, 'namespace'),
      timeout: seconds(values, env, 'timeout'),
      ping: seconds(values, env, 'ping'),
      gc: seconds(values, env, 'gc'),
      beforeLeaveDelay: seconds(values, env, 'before-leave-delay'),
      secret: secrets && secrets.length > 1 ? secrets : secrets?.[0],
      timeZone: pick(values, env, 'time-zone'),
    },
  };
}

/** resolveOptions names the option (`timeZone`); on the command line, name the flag and its variable. */
function optionErrorAsUsage(error: FayeOnlineError): UsageError {
  const match = /^faye-online option `(\w+)`: (.*)$/s.exec(error.message);
  const setting = match && SETTINGS.find((s) => s.option === match[1]);
  return new UsageError(setting ? `${source(setting.flag)} ${match[2]}` : error.message);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
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

async function checkDatabase(sequelize: Sequelize, config: ServeConfig): Promise<void> {
  try {
    await ensureMigrated(sequelize);
  } catch (error) {
    if (!isFayeOnlineError(error, 'SCHEMA_NOT_MIGRATED')) throw error;
    // The generic hint says "with --url or DATABASE_URL"; here we know which.
    const command = config.databaseFromFlag ? `npx faye-online migrate up --url ${redactUrl(config.databaseUrl)}` : 'npx faye-online migrate up';
    throw new FayeOnlineError('SCHEMA_NOT_MIGRATED', `the faye-online tables are not migrated in ${describeDatabase(sequelize)}; create them with \`${command}\`, then start again`, { cause: error });
  }
}

/** One attempt, no retries: at startup a Redis that does not answer is a configuration error. */
async function checkRedis(url: string): Promise<void> {
  const { redis } = openRedis(url, { lazyConnect: true, connectTimeout: REDIS_CHECK_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => { lastError = error; });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const cause = lastError ?? (error as Error);
    throw new FayeOnlineError('REDIS_UNREACHABLE', `Redis at ${redactUrl(url)} does not answer (${cause.message}); start Redis or fix --redis (REDIS_URL)`, { cause });
  } finally {
    redis.disconnect();
  }
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

  const sequelize = openDatabase(config.databaseUrl, { logger });
  const sqlite = sequelize.getDialect() === 'sqlite';
  let handle: FayeOnlineHandle | undefined;
  const sockets = new Set<Socket>();
  const app = express();
  const server = http.createServer(app);
  const signals = untilStopSignal();
  try {
    if (sqlite) {
      io.out(`  database  ${describeDatabase(sequelize)} (embedded, migrated at startup; NOT shared with a Rails app: give --url or DATABASE_URL for that)`);
    } else {
      await checkDatabase(sequelize, config);
      io.out(`  database  ${describeDatabase(sequelize)}: migrated`);
    }
    if (config.redisUrl) {
      await checkRedis(config.redisUrl);
      io.out(`  redis     ${redactUrl(config.redisUrl)}: answers (namespace ${config.options.namespace ?? DEFAULTS.namespace})`);
    } else {
      io.out('  redis     none: presence state lives in this process, so run only one (give --redis or REDIS_URL for a cluster)');
    }

    let serving = false;
    app.disable('x-powered-by');
    app.get(HEALTH_PATH, (_req, res) => {
      res.status(serving ? 200 : 503).set('Cache-Control', 'no-store').json({ status: serving ? 'ok' : 'stopping', mount, redis: Boolean(config.redisUrl), uptimeSeconds: Math.round(process.uptime()) });
    });
    handle = attachFayeOnline(app, server, { ...config.options, database: sequelize, logger });
    await handle.ready;

    // Upgraded (WebSocket) sockets are not closed by server.close(): track every socket.
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await listen(server, config.port, config.host);
    serving = true;
    io.out(`faye-online serve: ready at ${publicUrl(server, config.host, mount)} (browser client ${DEFAULTS.clientPath}, health ${HEALTH_PATH})`);

    const signal = await signals.stopped;
    serving = false;
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
    let values: Values;
    try {
      values = parseArgs({
        args,
        allowPositionals: false,
        options: {
          ...Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const, multiple: s.flag === 'secret' }])),
          help: { type: 'boolean', short: 'h' },
        },
      }).values as Values;
    } catch (error) {
      io.err(`faye-online serve: ${(error as Error).message.split('\n')[0]} (see faye-online serve --help)`);
      return EXIT_USAGE;
    }
    if (values.help) {
      io.out(this.help);
      return EXIT_OK;
    }
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
