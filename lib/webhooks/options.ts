// The `webhooks` option: where presence events are POSTed, how they are signed,
// batched and retried. Defaults in one place (WEBHOOK_DEFAULTS), validated once
// with errors that name the option (`webhooks.url`...).
import { FayeOnlineError } from '../errors';
import { EVENT_KINDS, type EventKind } from '../events/event';

export { EVENT_KINDS, type EventKind };

export interface WebhooksOptions {
  /** Where batches are POSTed: an http:// or https:// URL. */
  url: string;
  /** Secret (or secrets, newest first, while rotating) the signature is made with; at least 16 bytes. */
  secret: string | string[];
  /** Kinds of events to send. Default: every kind. */
  events?: EventKind[];
  /** Most events in one POST. Default 100. */
  batchSize?: number;
  /** How long one POST may take before it counts as failed, ms. Default 10000. */
  timeoutMs?: number;
  /** How long an event is retried before it is dead-lettered, ms. Default 24 h. */
  retryFor?: number;
  /** First retry delay, ms; it doubles at every failure (with jitter). Default 1000. */
  minBackoffMs?: number;
  /** Longest retry delay, ms. Default 10 minutes. */
  maxBackoffMs?: number;
  /** How often an idle sender looks for new events, ms. Default 1000. */
  pollMs?: number;
  /** How long the sender's lease lasts unless renewed (it is renewed every third of it), ms. Default 30000. */
  leaseMs?: number;
  /**
   * How long a gap in the event ids may stay open before the sender passes it,
   * ms: an insert still committing on another connection, or an id MySQL
   * burnt on a duplicate event_key. Default 2000.
   */
  gapWaitMs?: number;
}

export interface ResolvedWebhooks {
  url: string;
  secrets: string[];
  events: EventKind[];
  batchSize: number;
  timeoutMs: number;
  retryFor: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  pollMs: number;
  leaseMs: number;
  gapWaitMs: number;
}

export const WEBHOOK_DEFAULTS = {
  batchSize: 100,
  timeoutMs: 10_000,
  retryFor: 24 * 3600 * 1000,
  minBackoffMs: 1000,
  maxBackoffMs: 10 * 60 * 1000,
  pollMs: 1000,
  leaseMs: 30_000,
  gapWaitMs: 2000,
} as const;

const KNOWN = ['url', 'secret', 'events', 'batchSize', 'timeoutMs', 'retryFor', 'minBackoffMs', 'maxBackoffMs', 'pollMs', 'leaseMs', 'gapWaitMs'];

function fail(option: string, message: string): never {
  throw new FayeOnlineError('INVALID_OPTION', `faye-online option \`webhooks.${option}\`: ${message}`);
}

function whole(option: keyof typeof WEBHOOK_DEFAULTS, value: unknown, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (value === undefined) return WEBHOOK_DEFAULTS[option];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(option, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The option as the sender uses it; undefined when webhooks are off. Throws INVALID_OPTION naming the field. */
export function resolveWebhooks(input: unknown): ResolvedWebhooks | undefined {
  if (input === undefined || input === false) return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FayeOnlineError('INVALID_OPTION', 'faye-online option `webhooks`: must be an object { url, secret, events?, ... }');
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) if (!KNOWN.includes(key)) fail(key, `is not an option (known: ${KNOWN.join(', ')})`);

  const url = given.url;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    fail('url', `must be an http:// or https:// URL like https://app.example.com/hooks/presence, got ${JSON.stringify(url)}`);
  }

  const secretList = Array.isArray(given.secret) ? given.secret : [given.secret];
  if (secretList.length === 0 || secretList.some((s) => typeof s !== 'string' || Buffer.byteLength(s) < 16 || s.trim() === '')) {
    fail('secret', 'must be a string (or a list of strings, newest first) of at least 16 bytes; generate one with `openssl rand -hex 32`');
  }

  let events: EventKind[] = [...EVENT_KINDS];
  if (given.events !== undefined) {
    const list = given.events;
    const unknown = Array.isArray(list) ? list.filter((k) => !(EVENT_KINDS as readonly unknown[]).includes(k)) : [];
    if (!Array.isArray(list) || list.length === 0 || unknown.length > 0) {
      fail('events', `must be a non-empty list of kinds among ${EVENT_KINDS.join(', ')}${unknown.length ? `; unknown: ${unknown.map((k) => JSON.stringify(k)).join(', ')}` : ''}`);
    }
    events = EVENT_KINDS.filter((k) => list.includes(k));
  }

  const timeoutMs = whole('timeoutMs', given.timeoutMs, { max: 10 * 60 * 1000 });
  const minBackoffMs = whole('minBackoffMs', given.minBackoffMs);
  const maxBackoffMs = whole('maxBackoffMs', given.maxBackoffMs);
  if (maxBackoffMs < minBackoffMs) fail('maxBackoffMs', `must be at least minBackoffMs (${minBackoffMs}), got ${maxBackoffMs}`);
  const leaseMs = whole('leaseMs', given.leaseMs, { min: 1000 });
  // A POST must end well inside the lease, or another process could take the
  // stream over while this one still waits for an answer.
  if (leaseMs < 2 * timeoutMs) fail('leaseMs', `must be at least twice timeoutMs (${timeoutMs}), got ${leaseMs}`);
  return {
    url: parsed.toString(),
    secrets: secretList as string[],
    events,
    batchSize: whole('batchSize', given.batchSize, { max: 10_000 }),
    timeoutMs,
    retryFor: whole('retryFor', given.retryFor),
    minBackoffMs,
    maxBackoffMs,
    pollMs: whole('pollMs', given.pollMs),
    leaseMs,
    gapWaitMs: whole('gapWaitMs', given.gapWaitMs, { min: 0 }),
  };
}
