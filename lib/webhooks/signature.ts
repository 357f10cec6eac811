// Signing of webhook requests: HMAC-SHA256 over `<timestamp>.<body>`, the
// timestamp (unix seconds) in its own header. Signing the timestamp with the
// body lets a receiver refuse a request replayed later (outside its tolerance)
// without keeping state; the event keys in the body let it drop duplicates.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { FayeOnlineError } from '../errors';

export const WEBHOOK_HEADERS = {
  timestamp: 'x-faye-online-timestamp',
  signature: 'x-faye-online-signature',
  batch: 'x-faye-online-batch',
} as const;

/** Default tolerance of a verifier: requests signed more than this long ago (or ahead) are refused, seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>`, one per secret (comma-separated) while a secret is rotated. */
export function webhookSignature(body: string, timestamp: number, secrets: string | readonly string[]): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return list.map((secret) => `sha256=${hmac(secret, timestamp, body)}`).join(',');
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

export interface VerifyWebhookInput {
  /** The raw request body, exactly as received (not re-serialized JSON). */
  body: string | Buffer;
  /** The X-Faye-Online-Timestamp header. */
  timestamp: string | undefined;
  /** The X-Faye-Online-Signature header. */
  signature: string | undefined;
  /** The secret (or secrets, while rotating). */
  secret: string | readonly string[];
  /** Seconds a request may be old (or ahead, for clock skew). Default 300. */
  toleranceSeconds?: number;
  now?: Date;
}

export type VerifyWebhookResult = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'tampered'; message: string };

/** Checks a received webhook request; never throws on what the request carries. */
export function verifyWebhook(input: VerifyWebhookInput): VerifyWebhookResult {
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new FayeOnlineError('INVALID_OPTION', `verifyWebhook: toleranceSeconds must be 0 or more, got ${tolerance}`);
  if (!input.timestamp || !/^\d{1,12}$/.test(input.timestamp)) return { ok: false, reason: 'malformed', message: 'missing or malformed timestamp header' };
  if (!input.signature) return { ok: false, reason: 'malformed', message: 'missing signature header' };
  const timestamp = Number(input.timestamp);
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > tolerance) {
    return { ok: false, reason: 'stale', message: `signed at ${new Date(timestamp * 1000).toISOString()}, more than ${tolerance} s from now: a replay, or a clock out of sync` };
  }
  const body = typeof input.body === 'string' ? input.body : input.body.toString('utf8');
  const given = input.signature.split(',').map((part) => part.trim().replace(/^sha256=/, '')).filter((hex) => /^[0-9a-f]{64}$/.test(hex));
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  for (const secret of secrets) {
    const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
    if (given.some((hex) => timingSafeEqual(Buffer.from(hex, 'hex'), expected))) return { ok: true };
  }
  return { ok: false, reason: 'tampered', message: 'no signature matches the body and timestamp with the secret' };
}
