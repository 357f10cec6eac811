// The wire formats of the Ruby gem's tables, read and written here and nowhere
// else. A Rails app reads and writes the same columns, so every byte we write
// must be what ActiveRecord would have written, and whatever Rails may have
// written (older gem versions, hand edits) must be read without failing.
//
//   faye_channel_online_lists.user_info_list  `[470700,1]`, `[]` when empty
//   faye_user_online_times.online_times       `{"/lesson/1_spended":125,"/lesson/2_started_at":"20261128150102"}`
//   datetime columns                           `YYYY-MM-DD HH:MM:SS`, UTC, whole seconds
import { FayeOnlineError } from '../errors';

// ---------------------------------------------------------------------------
// user_info_list

/** Reads a room's uid list; anything unreadable counts as empty, as in the gem. */
export function parseUserInfoList(text: string | null | undefined): number[] {
  const parsed = parseJson(text);
  if (!Array.isArray(parsed)) return [];
  // A Set keeps the first occurrence's place and makes the parse linear (a
  // crowded room's list is read on every batch of its joins and leaves).
  const uids = new Set<number>();
  for (const item of parsed) {
    const uid = typeof item === 'string' ? Number(item) : item;
    if (isUid(uid)) uids.add(uid);
  }
  return [...uids];
}

/** Ruby's `Set#to_json`: integers in insertion order, no spaces. */
export function formatUserInfoList(uids: readonly number[]): string {
  return `[${uids.join(',')}]`;
}

export function isUid(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

// ---------------------------------------------------------------------------
// online_times

/**
 * The parsed `online_times` object. A Map rather than a plain object so that the
 * gem's key order survives a round trip whatever the keys look like; values we
 * do not own are kept as they were read.
 */
export type OnlineTimes = Map<string, unknown>;

export interface TimerState {
  /** Sum of finished sessions (`<tc>_spended`), 0 when missing or unreadable. */
  spentSeconds: number;
  /** Raw `<tc>_started_at` when it holds a readable time, else null. */
  startedAt: string | null;
}

const startedKey = (timeChannel: string) => `${timeChannel}_started_at`;
const spentKey = (timeChannel: string) => `${timeChannel}_spended`;

export function parseOnlineTimes(text: string | null | undefined): OnlineTimes {
  const parsed = parseJson(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return new Map();
  return new Map(Object.entries(parsed as Record<string, unknown>));
}

/** `JSON.stringify` of the Map in its own order, no spaces (Ruby's `Hash#to_json`). */
export function formatOnlineTimes(times: OnlineTimes): string {
  const members = [...times].map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  return `{${members.join(',')}}`;
}

/** The time channels whose timer runs in these online times. */
export function runningTimeChannels(times: OnlineTimes): string[] {
  const suffix = '_started_at';
  return [...times.keys()].filter((key) => key.endsWith(suffix)).map((key) => key.slice(0, -suffix.length));
}

export function timerState(times: OnlineTimes, timeChannel: string): TimerState {
  const started = times.get(startedKey(timeChannel));
  return {
    spentSeconds: readSeconds(times.get(spentKey(timeChannel))),
    // Rails may have left a blank or garbled start; the gem could not use it
    // either, so it counts as "not running" and a new start replaces it.
    startedAt: typeof started === 'string' && STARTED_AT.test(started) ? started : null,
  };
}

/** Marks the timer as running; a new key goes last, as in a Ruby Hash. */
export function withTimerStarted(times: OnlineTimes, timeChannel: string, startedAt: string): OnlineTimes {
  const next = new Map(times);
  next.set(startedKey(timeChannel), startedAt);
  return next;
}

/** Adds a finished session and removes the running mark, in the gem's key order. */
export function withTimerStopped(times: OnlineTimes, timeChannel: string, addedSeconds: number): OnlineTimes {
  const next = new Map(times);
  next.set(spentKey(timeChannel), readSeconds(times.get(spentKey(timeChannel))) + addedSeconds);
  next.delete(startedKey(timeChannel));
  return next;
}

function readSeconds(value: unknown): number {
  const seconds = typeof value === 'string' ? Number.parseInt(value, 10) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
}

// ---------------------------------------------------------------------------
// `_started_at`: strftime("%Y%m%d%H%M%S") in the server's time zone. The gem
// used Ruby's local time, so the zone is configurable to match the Rails
// servers' TZ (default: this process's zone).

const STARTED_AT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;

export function defaultTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Whether `zone` is an IANA time zone this Node knows: the one time zone check. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Throws INVALID_OPTION unless `timeZone` is an IANA zone this Node knows. */
export function checkTimeZone(timeZone: string): string {
  if (!isTimeZone(timeZone)) throw new FayeOnlineError('INVALID_OPTION', `timeZone: "${timeZone}" is not an IANA time zone (e.g. "Asia/Shanghai", "UTC")`);
  return timeZone;
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/** The zone's wall clock at `ms` read by Intl (a few microseconds per call). */
function readWallClock(ms: number, timeZone: string): number[] {
  let format = wallClockFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    wallClockFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(ms).map((p) => [p.type, p.value]));
  return [parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second].map(Number);
}

/** Wall clock minus UTC at the whole second `second` (ms), as Intl reads it. */
function readOffsetMs(second: number, timeZone: string): number {
  const [y, mo, d, h, mi, s] = readWallClock(second, timeZone);
  return Date.UTC(y, mo - 1, d, h, mi, s) - second;
}

// A zone's offset is read once per quarter hour and zone: a storm of leaves
// stops thousands of timers started within a few minutes, and Intl's reads
// were 2.7% of a 5,000-user leave storm's server CPU. A quarter whose offset
// reads the same at its first and last second keeps that offset throughout
// (no zone has changed its offset twice within 15 minutes); one that does not
// (a DST change falls in it, or a historical change off the minute) is read
// second by second.
const QUARTER_MS = 15 * 60_000;
const MAX_QUARTERS = 4096;
const quarterOffsets = new Map<string, Map<number, number | null>>();

function offsetMs(second: number, timeZone: string): number {
  let quarters = quarterOffsets.get(timeZone);
  if (!quarters) quarterOffsets.set(timeZone, (quarters = new Map()));
  const quarter = Math.floor(second / QUARTER_MS);
  let offset = quarters.get(quarter);
  if (offset === undefined) {
    const first = readOffsetMs(quarter * QUARTER_MS, timeZone);
    offset = first === readOffsetMs((quarter + 1) * QUARTER_MS - 1000, timeZone) ? first : null;
    if (quarters.size >= MAX_QUARTERS) quarters.clear();
    quarters.set(quarter, offset);
  }
  return offset ?? readOffsetMs(second, timeZone);
}

/** [year, month, day, hour, minute, second] of the zone's wall clock at `date` (to the whole second). */
function wallClock(date: Date, timeZone: string): number[] {
  const second = Math.floor(date.getTime() / 1000) * 1000;
  const wall = new Date(second + offsetMs(second, timeZone));
  return [wall.getUTCFullYear(), wall.getUTCMonth() + 1, wall.getUTCDate(), wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds()];
}

export function formatStartedAt(date: Date, timeZone: string): string {
  const [y, mo, d, h, mi, s] = wallClock(date, timeZone);
  return `${String(y).padStart(4, '0')}${pad(mo)}${pad(d)}${pad(h)}${pad(mi)}${pad(s)}`;
}

/** The instant a `_started_at` string names in `timeZone`, or null if unreadable. */
export function parseStartedAt(text: string, timeZone: string): Date | null {
  const match = STARTED_AT.exec(text);
  if (!match) return null;
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number);
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  if (Number.isNaN(asUtc)) return null;
  // Find the zone offset at that wall-clock time; twice, so that a guess on the
  // other side of a DST change corrects itself. Every guess is a whole second.
  let guess = asUtc;
  for (let i = 0; i < 2; i++) guess = asUtc - offsetMs(guess, timeZone);
  return new Date(guess);
}

/** Whole seconds between two instants, as the gem's `(stop - start).to_i`; never negative. */
export function elapsedSeconds(from: Date, to: Date): number {
  return Math.max(0, Math.floor((to.getTime() - from.getTime()) / 1000));
}

// ---------------------------------------------------------------------------
// datetime columns

/** ActiveRecord's datetime value: UTC, whole seconds, `YYYY-MM-DD HH:MM:SS`. */
export function formatDateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function parseJson(text: string | null | undefined): unknown {
  if (typeof text !== 'string' || text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
