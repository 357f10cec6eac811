// Structured logging. Any pino-compatible logger can be passed in; by default we
// create a pino logger. Calls always take (fields, message).
import pino from 'pino';

export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child?(bindings: object): Logger;
}

/** The gem's DEBUG / DEBUG_FAYE environment variables turn on verbose logs. */
export function debugFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.DEBUG_FAYE || env.DEBUG === 'true' || env.DEBUG === '1' || (env.DEBUG ?? '').includes('faye-online'));
}

export function createLogger(options: { level?: string } = {}): Logger {
  const level = options.level ?? process.env.FAYE_ONLINE_LOG_LEVEL ?? (debugFromEnv() ? 'debug' : 'info');
  return pino({ name: 'faye-online', level });
}

/** A URL (database or Redis) with its passwords replaced by ***, for logs and errors: the one redaction. */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
    .replace(/([?&]sentinelPassword=)[^&#]*/, '$1***');
}

/** A logger that drops everything: for tests and for quiet embedding. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
