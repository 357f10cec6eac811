// Signed identities. The Ruby gem trusted `current_user` as the browser sent it,
// so anyone could appear online as anyone. The page that renders `auth` now
// adds `expires_at` and an HMAC-SHA256 `signature` computed with a secret that
// only the servers know, and the Faye server checks it.
//
// The canonical string is built so that Rails can produce it with Array#join
// (see docs/security.md); change it only together with the version tag.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { MAX_UID, MAX_UNAME_LENGTH, readUid, textProblem } from '../core/auth';
import { FayeOnlineError } from '../errors';

/** Domain separation: a signature made with the same secret for anything else never verifies here. */
export const AUTH_SIGNATURE_VERSION = 'faye-online-auth-v1';

/** Secrets shorter than this are refused: they can be brute-forced offline from one signed page. */
export const MIN_SECRET_BYTES = 16;

export const DEFAULT_EXPIRES_IN_SECONDS = 12 * 3600;
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

// 10^11 s is the year 5138. Anything larger is almost certainly milliseconds
// (Date.now() where Time.now.to_i was meant), which would make a signature
// valid for millennia; refuse it rather than accept it silently.
const MAX_EXPIRES_AT = 1e11 - 1;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

/** The `auth` object the browser sends, as the page renders it before signing. */
export interface SignableAuth {
  room_channel: string;
  time_channel: string;
  current_user: { uid: number; uname: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** `auth` as rendered by a page that signs it. */
export interface SignedAuth extends SignableAuth {
  /** Unix seconds after which the signature is refused (plus the clock skew allowance). */
  expires_at: number;
  /** Lowercase hex HMAC-SHA256 of {@link canonicalAuthPayload}. */
  signature: string;
}

/**
 * One secret, or several for rotation: the first signs, any of them verifies.
 * A string is used as its UTF-8 bytes, as Ruby's OpenSSL::HMAC does.
 */
export type AuthSecret = string | Buffer | ReadonlyArray<string | Buffer>;

export interface SignAuthOptions {
  secret: AuthSecret;
  /** Lifetime of the signature in whole seconds; default 12 hours. */
  expiresIn?: number;
  /** Clock used for `expires_at`; default the current time. */
  now?: Date;
}

export interface VerifyAuthOptions {
  secret: AuthSecret;
  /** Clock used for the expiry check; default the current time. */
  now?: Date;
  /** Seconds a signature is still accepted after `expires_at`, for clocks that disagree; default 60. */
  clockSkew?: number;
}

export type VerifyAuthFailureReason = 'unsigned' | 'tampered' | 'expired' | 'malformed';

export type VerifyAuthResult =
  | { ok: true }
  | { ok: false; reason: VerifyAuthFailureReason; message: string };

/** The fields the signature binds, read from `auth` and checked for type. */
interface SignedFields {
  uid: number;
  uname: string;
  room: string;
  timeChannel: string;
}

/**
 * The exact string that is signed, one field per line, no trailing newline:
 *
 *     faye-online-auth-v1\n<uid>\n<uname>\n<room_channel>\n<time_channel>\n<expires_at>
 *
 * uid and expires_at in decimal (a uid given as the decimal string "470700"
 * signs as the number 470700 does), strings as their UTF-8 bytes. No field may
 * contain "\n", so the string can be split back into exactly one tuple.
 */
export function canonicalAuthPayload(auth: SignableAuth, expiresAt: number): string {
  const fields = readSignedFields(auth);
  if (typeof fields === 'string') throw new FayeOnlineError('INVALID_AUTH', fields);
  const expiresProblem = checkExpiresAt(expiresAt);
  if (expiresProblem) throw new FayeOnlineError('INVALID_AUTH', expiresProblem);
  return payloadOf(fields, expiresAt);
}

/** Returns a copy of `auth` with `expires_at` and `signature` set. */
export function signAuth(auth: SignableAuth, options: SignAuthOptions): SignedAuth {
  const secrets = readSecrets(options.secret);
  const expiresIn = options.expiresIn ?? DEFAULT_EXPIRES_IN_SECONDS;
  if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
    throw new FayeOnlineError('INVALID_OPTION', `signAuth: expiresIn must be a positive whole number of seconds, got ${describe(expiresIn)}`);
  }
  const now = readNow(options.now, 'signAuth');
  const expiresAt = Math.floor(now.getTime() / 1000) + expiresIn;
  const payload = canonicalAuthPayload(auth, expiresAt);
  return {
    ...auth,
    current_user: { ...auth.current_user },
    expires_at: expiresAt,
    signature: hmacHex(secrets[0], payload),
  };
}

/**
 * Checks the signature of an `auth` received from the wire. Configuration
 * mistakes (bad secret, clockSkew or now) throw; anything wrong with `auth`
 * itself is reported in the result, never thrown.
 */
export function verifyAuth(auth: unknown, options: VerifyAuthOptions): VerifyAuthResult {
  const secrets = readSecrets(options.secret);
  const clockSkew = options.clockSkew ?? DEFAULT_CLOCK_SKEW_SECONDS;
  if (typeof clockSkew !== 'number' || !Number.isFinite(clockSkew) || clockSkew < 0) {
    throw new FayeOnlineError('INVALID_OPTION', `verifyAuth: clockSkew must be a non-negative number of seconds, got ${describe(clockSkew)}`);
  }
  const now = readNow(options.now, 'verifyAuth');

  if (!isRecord(auth)) return malformed(`auth must be an object, got ${describe(auth)}`);
  if (auth.signature === undefined && auth.expires_at === undefined) {
    return {
      ok: false,
      reason: 'unsigned',
      message: 'auth has no signature and no expires_at; the page must render it with signAuth (or the equivalent Ruby, see docs/security.md of faye-online)',
    };
  }
  const { signature, expires_at: expiresAt } = auth;
  if (typeof signature !== 'string' || !SIGNATURE_PATTERN.test(signature)) {
    return malformed(`auth.signature must be 64 lowercase hex characters (HMAC-SHA256), got ${describe(signature)}`);
  }
  const expiresProblem = checkExpiresAt(expiresAt);
  if (expiresProblem) return malformed(expiresProblem);
  const fields = readSignedFields(auth);
  if (typeof fields === 'string') return malformed(fields);

  const payload = payloadOf(fields, expiresAt as number);
  const given = Buffer.from(signature, 'hex');
  // Every secret is tried, so the time taken does not depend on which one matched.
  let matched = false;
  for (const secret of secrets) {
    if (timingSafeEqual(given, createHmac('sha256', secret).update(payload, 'utf8').digest())) matched = true;
  }
  if (!matched) {
    return {
      ok: false,
      reason: 'tampered',
      message: 'auth.signature does not match its uid, uname, room_channel, time_channel and expires_at: it was changed, signed for another user or channel, or signed with another secret',
    };
  }

  const overdue = now.getTime() / 1000 - (expiresAt as number);
  if (overdue > clockSkew) {
    return {
      ok: false,
      reason: 'expired',
      message: `auth expired at ${new Date((expiresAt as number) * 1000).toISOString()} (${Math.floor(overdue)} s ago, ${clockSkew} s of clock skew allowed); the page must be rendered again for a fresh signature`,
    };
  }
  return { ok: true };
}

function payloadOf(fields: SignedFields, expiresAt: number): string {
  return [AUTH_SIGNATURE_VERSION, String(fields.uid), fields.uname, fields.room, fields.timeChannel, String(expiresAt)].join('\n');
}

function hmacHex(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload, 'utf8').digest('hex');
}

/** The signed fields of `auth`, or a message saying what is wrong with them. */
function readSignedFields(auth: unknown): SignedFields | string {
  if (!isRecord(auth)) return `auth must be an object, got ${describe(auth)}`;
  const user = auth.current_user;
  if (!isRecord(user)) return `auth.current_user must be an object, got ${describe(user)}`;
  const { uname } = user;
  // The same rule as the server's reading of auth, so that what one accepts the other does too.
  const uid = readUid(user.uid);
  if (uid === null) {
    return `auth.current_user.uid must be a positive integer up to ${MAX_UID} (a number, or a decimal string without leading zeros), got ${describe(user.uid)}`;
  }
  // The uname is signed as the server will store it: the one text rule of
  // readAuth (well-formed UTF-16, no control characters or line separators), so
  // that no uname verifies whose UTF-8 bytes differ from the string kept.
  const unameProblem = textProblem(uname, MAX_UNAME_LENGTH);
  if (unameProblem) return `auth.current_user.uname ${unameProblem}, got ${describe(uname)}`;
  const strings: Array<[string, unknown]> = [
    ['auth.room_channel', auth.room_channel],
    ['auth.time_channel', auth.time_channel],
  ];
  for (const [name, value] of strings) {
    if (typeof value !== 'string' || value === '') return `${name} must be a non-empty string, got ${describe(value)}`;
    // The canonical string separates fields by "\n"; one inside a field would make it ambiguous.
    if (value.includes('\n')) return `${name} must not contain a line break`;
  }
  return { uid, uname: uname as string, room: auth.room_channel as string, timeChannel: auth.time_channel as string };
}

function checkExpiresAt(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    return `auth.expires_at must be a whole number of unix seconds, got ${describe(value)}`;
  }
  if (value > MAX_EXPIRES_AT) {
    return `auth.expires_at ${value} is too large for unix seconds (was it rendered in milliseconds?)`;
  }
  return undefined;
}

function readSecrets(secret: unknown): Buffer[] {
  const list: unknown[] = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) throw new FayeOnlineError('INVALID_OPTION', 'secret: the list of secrets is empty');
  return list.map((item, index) => {
    const name = Array.isArray(secret) ? `secret[${index}]` : 'secret';
    let bytes: Buffer;
    if (typeof item === 'string') bytes = Buffer.from(item, 'utf8');
    else if (Buffer.isBuffer(item)) bytes = item;
    else throw new FayeOnlineError('INVALID_OPTION', `${name} must be a string or a Buffer, got ${describe(item)}`);
    if (typeof item === 'string' && item.trim() === '') throw new FayeOnlineError('INVALID_OPTION', `${name} is blank (only white space); use e.g. \`openssl rand -hex 32\``);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new FayeOnlineError('INVALID_OPTION', `${name} must be at least ${MIN_SECRET_BYTES} bytes long, got ${bytes.length}; use e.g. \`openssl rand -hex 32\``);
    }
    return bytes;
  });
}

function readNow(now: unknown, caller: string): Date {
  if (now === undefined) return new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new FayeOnlineError('INVALID_OPTION', `${caller}: now must be a valid Date, got ${describe(now)}`);
  }
  return now;
}

function malformed(message: string): VerifyAuthResult {
  return { ok: false, reason: 'malformed', message };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a received value for messages: its type, and its value when small and harmless. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : `${value}`;
  if (typeof value === 'string') return value.length <= 20 && !/[\n\r]/.test(value) ? `the string ${JSON.stringify(value)}` : `a string of ${value.length} characters`;
  return typeof value === 'undefined' ? 'nothing' : `a ${typeof value}`;
}
