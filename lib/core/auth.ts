// The `auth` object the browser client attaches to every Bayeux message is read
// here and nowhere else: wire names (room_channel, time_channel, current_user)
// become the domain's (room, timeChannel, user).

/** MySQL INT upper bound: uids are stored in int(11) columns. */
export const MAX_UID = 2147483647;
/** faye_channels.name is varchar(255). */
export const MAX_CHANNEL_LENGTH = 255;
export const MAX_UNAME_LENGTH = 255;
/** The whole auth object, serialized, must fit this many bytes. */
export const MAX_AUTH_BYTES = 4096;

export interface User {
  uid: number;
  uname: string;
  /** Extra keys of current_user are kept as the app sent them. */
  [key: string]: unknown;
}

export interface Auth {
  room: string;
  timeChannel: string;
  user: User;
  /** Present when the auth was signed by the app (see lib/security). */
  expiresAt?: number;
  signature?: string;
}

export type AuthReading =
  | { kind: 'absent' }
  | { kind: 'incomplete'; reason: string }
  | { kind: 'invalid'; reason: string }
  | { kind: 'valid'; auth: Auth };

// Letters, digits and '/', as in the gem; segments must be non-empty and the name
// must start with '/', so that "<room>/user_list" is a valid Bayeux channel too.
const CHANNEL = /^(\/[A-Za-z0-9]+)+$/;

export function isValidChannelName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_CHANNEL_LENGTH && CHANNEL.test(name);
}

/**
 * Channel names have one spelling: lower case. MySQL's default collation finds
 * faye_channels rows regardless of case, while Redis keys and Faye channels
 * keep it, so /rooms/aBx and /rooms/abx would be one room in MySQL and two
 * everywhere else. Names in another case are refused rather than rewritten, so
 * that every key written for a name is the one the gem wrote for it.
 */
export function isCanonicalChannelName(name: string): boolean {
  return name === name.toLowerCase();
}

export const NOT_CANONICAL = 'must be lower case (MySQL matches channel names regardless of case but Redis and Faye do not)';

/**
 * What is wrong with a room or time channel name given to a read (a handle
 * method, a report, the dashboard), or null: the same rule as in auth, so that
 * a read never finds another spelling's faye_channels row through MySQL's
 * case-insensitive collation.
 */
export function channelNameProblem(value: unknown): string | null {
  if (!isValidChannelName(value)) return `must be a channel name like "/classes/4" ('/'-separated letters and digits, at most ${MAX_CHANNEL_LENGTH} characters)`;
  if (!isCanonicalChannelName(value)) return NOT_CANONICAL;
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The one rule for a uid on the wire, used by readAuth and by the signature
 * check alike: a positive integer up to MAX_UID, as a JSON number or as its
 * canonical decimal string (Rails views often render ids as strings). No
 * leading zeros, signs, spaces or exponents, so that the string and the number
 * are one value and sign the same.
 */
export function readUid(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value <= MAX_UID ? value : null;
  if (typeof value === 'string' && /^[1-9][0-9]{0,9}$/.test(value)) {
    const n = Number(value);
    return n <= MAX_UID ? n : null;
  }
  return null;
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators: a
// uname is shown in pages and logs (U+0085, U+2028 and U+2029 break lines
// there, U+009B starts a terminal escape), and a line break would make the
// signed payload (one field per line) ambiguous.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The one text rule for what users name (unames; channel names are stricter
 * still): a non-empty string of at most `maxLength` UTF-16 units, well formed
 * (a lone surrogate would be signed as U+FFFD but stored as itself), without
 * control characters or line separators. Returns what is wrong, or undefined.
 */
export function textProblem(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be a non-empty string';
  if (value.length > maxLength) return `must be at most ${maxLength} characters`;
  if (LONE_SURROGATE.test(value)) return 'must be well-formed Unicode (no lone surrogate)';
  if (CONTROL_CHARACTER.test(value)) return 'must not contain control characters, line breaks or line separators';
  return undefined;
}

/** A uname: see textProblem. */
export function isValidUname(value: unknown): value is string {
  return textProblem(value, MAX_UNAME_LENGTH) === undefined;
}

function safeJson(value: unknown): string | null {
  try {
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

/**
 * Reads a message's `auth`. Rules (docs/protocol.md): no auth → not ours (plain
 * pub/sub); auth without a room, time channel or user → not tracked; a user
 * without uid or uname, or any malformed value → invalid (an error to the client).
 */
export function readAuth(wire: unknown, { mostBytes = Infinity }: { mostBytes?: number } = {}): AuthReading {
  if (wire === undefined || wire === null) return { kind: 'absent' };
  if (!isPlainObject(wire)) return { kind: 'invalid', reason: 'auth must be an object' };

  // `mostBytes`: what the message around it can take as JSON, when known (a
  // short text); within the limit, it need not be written to be measured.
  if (mostBytes > MAX_AUTH_BYTES) {
    const json = safeJson(wire);
    if (json === null) return { kind: 'invalid', reason: 'auth is not serializable' };
    if (Buffer.byteLength(json) > MAX_AUTH_BYTES) return { kind: 'invalid', reason: `auth is larger than ${MAX_AUTH_BYTES} bytes` };
  }

  const room = wire.room_channel;
  const timeChannel = wire.time_channel;
  const currentUser = wire.current_user;
  if (room === undefined || room === null || room === '') return { kind: 'incomplete', reason: 'auth has no room_channel' };
  if (timeChannel === undefined || timeChannel === null || timeChannel === '') return { kind: 'incomplete', reason: 'auth has no time_channel' };
  if (currentUser === undefined || currentUser === null) return { kind: 'incomplete', reason: 'auth has no current_user' };

  if (!isValidChannelName(room)) {
    return { kind: 'invalid', reason: `room_channel must be '/'-separated letters and digits, at most ${MAX_CHANNEL_LENGTH} characters` };
  }
  if (!isValidChannelName(timeChannel)) {
    return { kind: 'invalid', reason: `time_channel must be '/'-separated letters and digits, at most ${MAX_CHANNEL_LENGTH} characters` };
  }
  if (!isCanonicalChannelName(room)) return { kind: 'invalid', reason: `room_channel ${NOT_CANONICAL}` };
  if (!isCanonicalChannelName(timeChannel)) return { kind: 'invalid', reason: `time_channel ${NOT_CANONICAL}` };
  if (!isPlainObject(currentUser)) return { kind: 'invalid', reason: 'current_user must be an object like {"uid": 470700, "uname": "mvj3"}' };
  if (currentUser.uid === undefined || currentUser.uname === undefined) {
    return { kind: 'invalid', reason: 'current_user needs uid and uname, e.g. {"uid": 470700, "uname": "mvj3"}' };
  }
  const uid = readUid(currentUser.uid);
  if (uid === null) return { kind: 'invalid', reason: `current_user.uid must be a positive integer up to ${MAX_UID} (a number, or a decimal string without leading zeros)` };
  const uname = currentUser.uname;
  if (!isValidUname(uname)) {
    return { kind: 'invalid', reason: `current_user.uname ${textProblem(uname, MAX_UNAME_LENGTH)}` };
  }

  const user: User = { ...currentUser, uid, uname };
  // What is remembered per clientId (2 weeks in Redis): only the fields read
  // back later, not whatever else the page put around them.
  const auth: Auth = { room, timeChannel, user };
  // Their format is checked by verifyAuth when a secret is set; unsigned mode ignores them.
  if (typeof wire.expires_at === 'number') auth.expiresAt = wire.expires_at;
  if (typeof wire.signature === 'string') auth.signature = wire.signature;
  return { kind: 'valid', auth };
}

/** How many room and time channel names sharedName keeps before it starts over. */
const SHARED_NAMES_MAX = 10_000;
const sharedNames = new Map<string, string>();

/**
 * One string for each room or time channel name, however many pages name it.
 * Each message's JSON brings its own copy, and the auth of every tracked
 * clientId is kept: at 10,000 clients in 100 rooms, 20,000 copies of about 50
 * bytes would otherwise stay. The table is bounded: past SHARED_NAMES_MAX names
 * it starts over (a copy then costs only its own bytes again).
 */
function sharedName(name: string): string {
  const shared = sharedNames.get(name);
  if (shared !== undefined) return shared;
  if (sharedNames.size >= SHARED_NAMES_MAX) sharedNames.clear();
  sharedNames.set(name, name);
  return name;
}

/** The auth to keep for a tracked clientId, its room and time channel names shared (sharedName); for arrivals, not for every message. */
export function keptAuth(auth: Auth): Auth {
  return { ...auth, room: sharedName(auth.room), timeChannel: sharedName(auth.timeChannel) };
}

/**
 * The same text, flattened. V8 keeps a string built from pieces (JSON.stringify's
 * result among them) as a tree of those pieces until a character of it is read,
 * and then replaces the tree with one flat string: 100,000 auth JSONs of 103
 * characters take 233 bytes each as trees and 140 flat. For strings kept long
 * (the memory store keeps the remembered auth of every clientId).
 */
function flattened(text: string): string {
  text.charCodeAt(0);
  return text;
}

/**
 * room_channel, time_channel and current_user as JSON: what is stored for
 * dead-client cleanup. Written when an arrival stores it, not for every
 * message that carries the auth.
 */
export function rememberedAuthJson(auth: Auth): string {
  return flattened(JSON.stringify({ room_channel: auth.room, time_channel: auth.timeChannel, current_user: auth.user }));
}

/**
 * The auth as far as its signature vouches for it: the user is its uid and
 * uname only. Other keys of current_user are not signed, so in signed mode
 * they are neither stored nor shown to other pages (anyone could pad or
 * forge them).
 */
export function signedPart(auth: Auth): Auth {
  const user: User = { uid: auth.user.uid, uname: auth.user.uname };
  return { ...auth, user };
}

/** A key naming an auth's presence (its user, room and time channel), for maps and queues. */
export function presenceKey(auth: Auth): string {
  return `${auth.user.uid} ${auth.room} ${auth.timeChannel}`;
}

/** Two auths describe the same presence (same user, room and time channel); builds no key. */
export function samePresence(a: Auth, b: Auth): boolean {
  return a.user.uid === b.user.uid && a.room === b.room && a.timeChannel === b.timeChannel;
}
