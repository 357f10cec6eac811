// A presence event as faye_online_events holds it (migrations/20261130090000_create_faye_online_events.ts),
// its key, and the outbox entry the stores append in the same step as the change.
//
// The outbox entry is JSON written by the Lua scripts (cjson) or by the memory
// store, with short names: {"k": kind, "u": uid, "c": channel, "t": ms, "s": seq,
// "r": reason, "i": clientId}. The event's key is derived from the event
// itself, never from where it was read, so that the same event drained twice
// (two processes racing, a process killed between the insert and the removal)
// is one row.
import { createHash } from 'node:crypto';

export const EVENTS_TABLE = 'faye_online_events';

export const EVENT_KINDS = ['join', 'leave', 'session_start', 'session_end', 'engaged_start', 'engaged_end', 'occupied', 'vacated'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface PresenceRecordEvent {
  kind: EventKind;
  /** null for a room's occupied/vacated. */
  uid: number | null;
  /** The room (join, leave, occupied, vacated) or the time channel (sessions, engaged time). */
  channel: string;
  /** When it happened, ms since the epoch. */
  occurredMs: number;
  reason: string | null;
  /** The room's sequence number of the change; null outside rooms. */
  seq: number | null;
  clientId: string | null;
}

/** The unique event_key: 40 hex digits of SHA-1 over every field (fits varchar(64)). */
export function eventKey(event: PresenceRecordEvent): string {
  const fields = [event.kind, event.channel, event.uid, event.occurredMs, event.seq, event.reason, event.clientId];
  return createHash('sha1').update(JSON.stringify(fields)).digest('hex');
}

/** The outbox entry of an event (the memory store's; the Lua scripts write the same shape). */
export function encodeOutboxEntry(event: PresenceRecordEvent): string {
  return JSON.stringify({ k: event.kind, u: event.uid, c: event.channel, t: event.occurredMs, s: event.seq, r: event.reason, i: event.clientId });
}

const isKind = (value: unknown): value is EventKind => (EVENT_KINDS as readonly unknown[]).includes(value);
const orNull = <T>(value: unknown, check: (v: unknown) => v is T): T | null => (check(value) ? value : null);
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/** An outbox entry read back; null when it is not one (it is then reported and removed, never inserted). */
export function decodeOutboxEntry(raw: string): PresenceRecordEvent | null {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || !isKind(value.k) || !isString(value.c) || !isWhole(value.t)) return null;
  return {
    kind: value.k,
    uid: orNull(value.u, isWhole),
    channel: value.c,
    occurredMs: value.t,
    reason: orNull(value.r, isString),
    seq: orNull(value.s, isWhole),
    clientId: orNull(value.i, isString),
  };
}
