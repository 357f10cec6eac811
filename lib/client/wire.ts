// The browser client's only contact with wire names: the `auth` object the
// server reads (snake_case, as the Ruby gem's client sent it) and the payloads
// the server publishes to `<room>/user_list` and `<room>/presence`.
// The channels and payload shapes themselves are lib/protocol.ts', shared with the server.
import { PRESENCE_STATE_EXT } from '../protocol';
import type { PresenceState } from './member-list';
import type { OnlineIdentity, OnlineUser, PresenceChange, Refusal, UserList } from './types';

/** `auth` as the server reads it (docs/protocol.md). */
export interface WireAuth {
  room_channel: string;
  time_channel: string;
  current_user: OnlineUser;
  expires_at?: unknown;
  signature?: unknown;
  [key: string]: unknown;
}

/** The gem's `auth_opts`, before validation: the fields the legacy entry reads by their wire names. */
export interface LegacyAuthOptions {
  room_channel?: unknown;
  time_channel?: unknown;
  current_user?: unknown;
  expires_at?: unknown;
  signature?: unknown;
  [key: string]: unknown;
}

/** The caller-facing names of each auth field, for error messages (the legacy entry's are the wire names). */
export const LEGACY_FIELD_NAMES = {
  room: 'auth_opts.room_channel',
  timeChannel: 'auth_opts.time_channel',
  user: 'auth_opts.current_user',
  expiresAt: 'auth_opts.expires_at',
  signature: 'auth_opts.signature',
} as const;

/** Unvalidated: the legacy entry validates the result with the legacy field names. */
export function identityFromLegacyAuth(auth: LegacyAuthOptions): Record<keyof OnlineIdentity, unknown> {
  return {
    room: auth.room_channel,
    timeChannel: auth.time_channel,
    user: auth.current_user,
    expiresAt: auth.expires_at,
    signature: auth.signature,
  };
}

export function toWireAuth(identity: OnlineIdentity): WireAuth {
  const wire: WireAuth = {
    room_channel: identity.room,
    time_channel: identity.timeChannel,
    current_user: { ...identity.user },
  };
  // The signature covers these exact values, so they travel untouched.
  if (identity.expiresAt !== undefined) wire.expires_at = identity.expiresAt;
  if (identity.signature !== undefined) wire.signature = identity.signature;
  return wire;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** A failed reply's Bayeux error, `"<code>:<args>:<message>"`; null when the reply succeeded or carries none. */
export function readRefusal(reply: { channel: string; successful?: boolean; error?: unknown }): Refusal | null {
  if (reply.successful !== false || typeof reply.error !== 'string') return null;
  const match = /^(\d+):[^:]*:(.*)$/s.exec(reply.error);
  return match ? { channel: reply.channel, code: Number(match[1]), message: match[2] } : { channel: reply.channel, code: 0, message: reply.error };
}

/** `{"count": N, "user_list": [uid, ...]}`; null for anything else (ignored, never thrown at a subscriber). */
export function readUserList(data: unknown): UserList | null {
  if (!isRecord(data) || !Array.isArray(data.user_list)) return null;
  const uids = data.user_list.filter(isUid);
  const count = typeof data.count === 'number' ? data.count : uids.length;
  return { count, uids };
}

/** `{"event": "join"|"leave", "uid": 1, "user": {"uid": 1, "uname": "ann"}}`; null for anything else. */
export function readPresenceChange(data: unknown): PresenceChange | null {
  if (!isRecord(data) || (data.event !== 'join' && data.event !== 'leave') || !isUid(data.uid)) return null;
  const user = isRecord(data.user) ? data.user : {};
  return {
    event: data.event,
    uid: data.uid,
    user: { ...user, uid: data.uid, uname: typeof user.uname === 'string' ? user.uname : String(data.uid) },
    ...(typeof data.seq === 'number' && Number.isSafeInteger(data.seq) ? { seq: data.seq } : {}),
  };
}

/** The page text of a crowded room's state (a JSON array of members), or null. */
function parsePage(text: string): unknown[] | null {
  try {
    const members: unknown = JSON.parse(text);
    return Array.isArray(members) ? members : null;
  } catch {
    return null;
  }
}

const isIndex = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * The state of a <room>/presence channel in a subscribe reply
 * (ext.faye_online_presence): a whole state, or one page of a crowded room's; null for anything else.
 */
export function readPresenceState(message: { channel?: unknown; ext?: unknown }, channel: string): PresenceState | null {
  if (message.channel !== '/meta/subscribe' || !isRecord(message.ext)) return null;
  const all = message.ext[PRESENCE_STATE_EXT];
  const state = isRecord(all) ? all[channel] : undefined;
  if (!isRecord(state) || typeof state.seq !== 'number') return null;
  let paging: PresenceState['paging'];
  let listed: unknown[] | null = Array.isArray(state.members) ? state.members : null;
  if (typeof state.page === 'string') {
    listed = parsePage(state.page);
    if (!isIndex(state.count) || !isIndex(state.offset) || (state.next !== undefined && !(isIndex(state.next) && state.next > state.offset))) return null;
    paging = { count: state.count, offset: state.offset, ...(state.next !== undefined ? { next: state.next as number } : {}) };
  }
  if (!listed) return null;
  const members: PresenceState['members'] = [];
  for (const member of listed) {
    const change = readPresenceChange({ event: 'join', ...(isRecord(member) ? member : {}) });
    if (change) members.push({ uid: change.uid, user: change.user });
  }
  return { seq: state.seq, members, ...(paging ? { paging } : {}) };
}
