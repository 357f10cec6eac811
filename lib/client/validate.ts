// Checks what a page passes in before anything is sent, so that a mistake shows
// up in the console at once, naming the field as the caller spelled it, instead
// of as a user who silently never appears online.
// The channel and uid rules are the server's own (lib/core/auth.ts), so that
// what passes here is what the server tracks.
import { isCanonicalChannelName, isValidChannelName, MAX_CHANNEL_LENGTH, NOT_CANONICAL, MAX_UID, MAX_UNAME_LENGTH } from '../core/auth';
import { FayeOnlineError } from '../errors';
import type { EngagementTarget, FayeClientOptions, OnlineIdentity, OnlineUser } from './types';

export type FieldNames = Record<keyof OnlineIdentity, string>;

export const MODERN_FIELD_NAMES: FieldNames = {
  room: 'room',
  timeChannel: 'timeChannel',
  user: 'user',
  expiresAt: 'expiresAt',
  signature: 'signature',
};

/** The Ruby gem's client defaults (seconds). */
export const DEFAULT_CLIENT_OPTIONS = { timeout: 10, interval: 5, retry: 5 } as const;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

function invalid(message: string): FayeOnlineError {
  return new FayeOnlineError('INVALID_AUTH', `faye-online: ${message}`);
}

function readChannel(value: unknown, name: string, example: string): string {
  if (value === undefined || value === null || value === '') throw invalid(`${name} is missing; pass a channel name like "${example}"`);
  if (!isValidChannelName(value)) {
    throw invalid(`${name} must be a channel name of letters, digits and "/" starting with "/", at most ${MAX_CHANNEL_LENGTH} characters, like "${example}" (got ${describe(value)})`);
  }
  if (!isCanonicalChannelName(value)) throw invalid(`${name} ${NOT_CANONICAL}: use ${describe(value.toLowerCase())} (got ${describe(value)})`);
  return value;
}

function readUid(value: unknown, name: string): number {
  // Views often render ids as strings; a plain decimal string is accepted and sent as a number.
  const uid = typeof value === 'string' && /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : value;
  if (typeof uid !== 'number' || !Number.isInteger(uid) || uid <= 0 || uid > MAX_UID) {
    throw invalid(`${name} must be a positive integer up to ${MAX_UID} (got ${describe(value)})`);
  }
  return uid;
}

function readUser(value: unknown, name: string): OnlineUser {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${name} must be an object like {uid: 470700, uname: "mvj3"} (got ${describe(value)})`);
  }
  const user = value as Record<string, unknown>;
  if (user.uid === undefined || user.uid === null) throw invalid(`${name}.uid is missing`);
  const uid = readUid(user.uid, `${name}.uid`);
  if (user.uname === undefined || user.uname === null) throw invalid(`${name}.uname is missing`);
  const uname = user.uname;
  if (typeof uname !== 'string' || uname.trim() === '' || uname.length > MAX_UNAME_LENGTH) {
    throw invalid(`${name}.uname must be a non-empty string of at most ${MAX_UNAME_LENGTH} characters (got ${describe(uname)})`);
  }
  return { ...user, uid, uname };
}

/** Validates an identity; the result keeps extra user keys and the signature fields as given. */
export function readIdentity(input: Partial<Record<keyof OnlineIdentity, unknown>>, names: FieldNames): OnlineIdentity {
  const identity: OnlineIdentity = {
    room: readChannel(input.room, names.room, '/classes/4'),
    timeChannel: readChannel(input.timeChannel, names.timeChannel, '/courses/5/lessons/1'),
    user: readUser(input.user, names.user),
  };
  if (input.expiresAt !== undefined) identity.expiresAt = input.expiresAt as number;
  if (input.signature !== undefined) identity.signature = input.signature as string;
  return identity;
}

export function readFayeUrl(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: ${name} is missing; pass the Faye endpoint, e.g. "/faye" or "https://rt.example.com/faye" (got ${describe(value)})`);
  }
  return value;
}

export function readClientOptions(value: unknown, name: string): FayeClientOptions {
  if (value === undefined || value === null) return { ...DEFAULT_CLIENT_OPTIONS };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: ${name} must be an object of Faye client options (got ${describe(value)})`);
  }
  return { ...DEFAULT_CLIENT_OPTIONS, ...(value as FayeClientOptions) };
}

/** Engagement reporting as validated: where to watch, and the idle time (0: not watched). */
export interface EngagementSetup {
  target: EngagementTarget;
  idleAfterMs: number;
}

export function defaultEngagementTarget(): EngagementTarget | null {
  return typeof document === 'undefined' ? null : (document as unknown as EngagementTarget);
}

/**
 * `false` turns reporting off; otherwise `{ idleAfter?, target? }` (names as the
 * caller spells them). Without a target (no document, as in Node) nothing is reported.
 */
export function readEngagement(value: unknown, names: { option: string; idleAfter: string }): EngagementSetup | null {
  if (value === false) return null;
  if (value === undefined || value === null || value === true) {
    const target = defaultEngagementTarget();
    return target ? { target, idleAfterMs: 0 } : null;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: ${names.option} must be false or an object like { ${names.idleAfter}: 60000 } (got ${describe(value)})`);
  }
  const options = value as Record<string, unknown>;
  const idle = options[names.idleAfter] ?? 0;
  if (typeof idle !== 'number' || !Number.isFinite(idle) || idle < 0 || idle > 2 ** 31 - 1) {
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: ${names.option}.${names.idleAfter} must be milliseconds >= 0, e.g. 60000 (got ${describe(idle)})`);
  }
  const target = (options.target as EngagementTarget | undefined) ?? defaultEngagementTarget();
  if (target === null || typeof target !== 'object' || typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') {
    if (options.target === undefined) return null;
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: ${names.option}.target must be an event target with visibilityState, like document`);
  }
  return { target, idleAfterMs: idle };
}
