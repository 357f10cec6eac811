// History and last seen, answered from faye_online_events alone:
//
//   presentAt(room, at)          who was in the room at that moment
//   attendance(room, from, to)   who was there in between, for how long
//   lastSeen(uid)                when the user was last seen, or that they are online now
//
// A room's joins and leaves are folded in order (time, then the room's seq,
// then the row id): a join makes a user present, a leave absent. Repeated
// events change nothing (a reconciliation's 'reconciled' leave after the
// user's own leave, a join of a user already present), so the answers hold
// whatever the repairs wrote.
import { QueryTypes, type Sequelize } from 'sequelize';
import { EVENTS_TABLE } from './event';

export interface Attendance {
  uid: number;
  /** Time present within [from, to], whole seconds (a user still present counts until `to`, or now if earlier). */
  seconds: number;
  /** Stays within the range (a user present at `from` counts one; a join and leave at the same moment none). */
  visits: number;
  /** When the user was first present within the range. */
  firstSeen: Date;
  /** When the user was last present within the range. */
  lastSeen: Date;
}

export interface LastSeen {
  uid: number;
  /** Present in a room now (a join without its leave). */
  online: boolean;
  /** The time of the user's latest event (now when online), null when there is none. */
  at: Date | null;
  /** Where: a room the user is in now, else the channel of the latest event. */
  channel: string | null;
}

interface Row {
  id: number | string;
  kind: string;
  user_id: number | string | null;
  channel: string;
  occurred_ms: number | string;
  seq: number | string | null;
}

interface Step {
  uid: number;
  join: boolean;
  at: number;
}

/** A room's joins and leaves up to `until`, in the order they happened. */
async function roomSteps(sequelize: Sequelize, room: string, until: number): Promise<Step[]> {
  const rows = await sequelize.query<Row>(
    `SELECT id, kind, user_id, channel, occurred_ms, seq FROM ${EVENTS_TABLE} WHERE channel = ? AND occurred_ms <= ? AND kind IN ('join', 'leave') AND user_id IS NOT NULL`,
    { replacements: [room, until], type: QueryTypes.SELECT },
  );
  // MySQL's collation compares names regardless of case; Bayeux channels are case-sensitive.
  return inOrder(rows.filter((row) => row.channel === room)).map((row) => ({ uid: Number(row.user_id), join: row.kind === 'join', at: Number(row.occurred_ms) }));
}

function inOrder(rows: Row[]): Row[] {
  return [...rows].sort((a, b) =>
    Number(a.occurred_ms) - Number(b.occurred_ms)
    || (a.seq !== null && b.seq !== null ? Number(a.seq) - Number(b.seq) : 0)
    || Number(a.id) - Number(b.id));
}

/** uids present in `room` at `at`, in the order they came. */
export async function presentAt(sequelize: Sequelize, room: string, at: Date): Promise<number[]> {
  const present = new Map<number, number>();
  for (const step of await roomSteps(sequelize, room, at.getTime())) {
    if (step.join && !present.has(step.uid)) present.set(step.uid, step.at);
    if (!step.join) present.delete(step.uid);
  }
  return [...present.keys()];
}

/** Who was in `room` between `from` and `to`, with their time there; longest first. */
export async function attendance(sequelize: Sequelize, room: string, from: Date, to: Date, now: Date = new Date()): Promise<Attendance[]> {
  const start = from.getTime();
  const end = Math.min(to.getTime(), now.getTime());
  const since = new Map<number, number>();
  const totals = new Map<number, { ms: number; visits: number; first: number; last: number }>();
  const add = (uid: number, a: number, b: number) => {
    const lo = Math.max(a, start);
    const hi = Math.min(b, end);
    // A join and a leave at the same moment (a page moved on at once) is no attendance.
    if (hi <= lo) return;
    const total = totals.get(uid) ?? { ms: 0, visits: 0, first: lo, last: hi };
    total.ms += hi - lo;
    total.visits += 1;
    total.first = Math.min(total.first, lo);
    total.last = Math.max(total.last, hi);
    totals.set(uid, total);
  };
  for (const step of await roomSteps(sequelize, room, end)) {
    if (step.join && !since.has(step.uid)) since.set(step.uid, step.at);
    if (!step.join && since.has(step.uid)) {
      add(step.uid, since.get(step.uid)!, step.at);
      since.delete(step.uid);
    }
  }
  for (const [uid, at] of since) add(uid, at, end);
  return [...totals]
    .map(([uid, t]) => ({ uid, seconds: Math.floor(t.ms / 1000), visits: t.visits, firstSeen: new Date(t.first), lastSeen: new Date(t.last) }))
    .sort((a, b) => b.seconds - a.seconds || a.uid - b.uid);
}

/** When `uid` was last seen: online now (in a room, as its events say), or the time of their latest event. */
export async function lastSeen(sequelize: Sequelize, uid: number, now: Date = new Date()): Promise<LastSeen> {
  // Each room's latest join or leave of the user decides whether they are
  // there. Rooms are told apart by their exact name (MySQL's collation would
  // merge names that differ in case only; SQLite compares exactly).
  const exact = (column: string) => (sequelize.getDialect() === 'sqlite' ? column : `BINARY ${column}`);
  const rows = await sequelize.query<Row>(
    `SELECT e.id, e.kind, e.user_id, e.channel, e.occurred_ms, e.seq FROM ${EVENTS_TABLE} e
     JOIN (SELECT ${exact('channel')} AS room, MAX(occurred_ms) AS latest FROM ${EVENTS_TABLE}
           WHERE user_id = ? AND kind IN ('join', 'leave') GROUP BY ${exact('channel')}) l
       ON l.room = ${exact('e.channel')} AND l.latest = e.occurred_ms
     WHERE e.user_id = ? AND e.kind IN ('join', 'leave')`,
    { replacements: [uid, uid], type: QueryTypes.SELECT },
  );
  const latestByRoom = new Map<string, Row>();
  for (const row of inOrder(rows)) latestByRoom.set(row.channel, row);
  const inRoom = [...latestByRoom.values()].find((row) => row.kind === 'join');
  if (inRoom) return { uid, online: true, at: now, channel: inRoom.channel };
  const [latest] = await sequelize.query<Row>(
    `SELECT id, kind, user_id, channel, occurred_ms, seq FROM ${EVENTS_TABLE} WHERE user_id = ? ORDER BY occurred_ms DESC, id DESC LIMIT 1`,
    { replacements: [uid], type: QueryTypes.SELECT },
  );
  return latest ? { uid, online: false, at: new Date(Number(latest.occurred_ms)), channel: latest.channel } : { uid, online: false, at: null, channel: null };
}
