// The login report: what the gem's FayeOnline.log showed, computed from rows of
// faye_user_login_logs. Each clientId (one tab) logs in (status 1) and out
// (status 0); its rows pair up into sessions, and a user's time in a channel is
// the union of the sessions of all their tabs there.
//
// Rows are never guessed at. A logout with no login before it is reported as an
// `orphanLogout` anomaly and counts no time. A second login while the clientId
// is already logged in is reported as a `repeatedLogin` anomaly and does not
// start a new session: the clientId has been online since the first login (the
// duplicate row comes from a race writing the log, not from a new tab, which
// would have a new clientId). A login with no logout yet is an open session
// that counts up to `now`.
//
// Rows of one clientId with the same `t` (whole seconds) have no order of their
// own, so they are taken in the order that pairs them: a logout first while a
// session is open (it ends that session), a login first otherwise (a logout
// cannot precede its own login). A tab that moves to another room of the same
// lesson writes a logout and a login in one second, and its session goes on.
import { FayeOnlineError } from '../errors';
import { lengthOfUnion, unionIntervals } from './intervals';

/** One row of faye_user_login_logs. */
export interface LoginLogRow {
  /** 1: the clientId came online; 0: it left. */
  status: 0 | 1;
  uid: number;
  /** UTC, whole seconds in the table. */
  t: Date;
  /** faye_channels.id of the time channel. */
  channelId: number;
  clientId: string;
}

export interface LoginReportOptions {
  /** Open sessions count up to this time. */
  now: Date;
  /**
   * Count only time inside [from, to). A session crossing a bound counts only
   * its part inside. The rows must still include the logins of sessions that
   * were open at `from`, i.e. rows from before `from`: a logout whose login was
   * not loaded is reported as an orphan, not guessed.
   */
  from?: Date;
  to?: Date;
}

export interface LoginSession {
  login: Date;
  /** null while the session is open. */
  logout: Date | null;
  /** Whole seconds of the session inside the report's range (up to `now` if open). */
  seconds: number;
}

export type LoginAnomaly =
  | { kind: 'orphanLogout'; at: Date }
  | { kind: 'repeatedLogin'; at: Date; loggedInSince: Date };

export interface ClientLoginHistory {
  clientId: string;
  /** In time order; they never overlap. */
  sessions: LoginSession[];
  /** In time order. */
  anomalies: LoginAnomaly[];
}

/** One user in one time channel. */
export interface ChannelLoginReport {
  channelId: number;
  uid: number;
  /** Ordered by their first session or anomaly. */
  clients: ClientLoginHistory[];
  /** When the user was online in the channel through any tab: the union of all sessions, clipped to the range. */
  online: Array<{ start: Date; end: Date }>;
  /** Whole seconds of `online`: overlapping tabs count once. */
  totalSeconds: number;
}

export interface LoginReport {
  now: Date;
  from: Date | null;
  to: Date | null;
  /** Ordered by channelId, then uid. Channels with nothing inside the range are left out. */
  channels: ChannelLoginReport[];
}

interface Range {
  now: number;
  from: number;
  to: number;
}

export function buildLoginReport(rows: ReadonlyArray<LoginLogRow>, options: LoginReportOptions): LoginReport {
  const range = readRange(options);
  const groups = new Map<string, { channelId: number; uid: number; clients: Map<string, LoginLogRow[]> }>();
  rows.forEach((row, index) => {
    checkRow(row, index);
    const key = `${row.channelId}:${row.uid}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { channelId: row.channelId, uid: row.uid, clients: new Map() }));
    const clientRows = group.clients.get(row.clientId);
    if (clientRows) clientRows.push(row);
    else group.clients.set(row.clientId, [row]);
  });

  const channels: ChannelLoginReport[] = [];
  for (const group of groups.values()) {
    const clients: Array<{ history: ClientLoginHistory; intervals: Array<{ start: number; end: number }>; firstAt: number }> = [];
    for (const [clientId, clientRows] of group.clients) {
      const client = clientHistory(clientId, clientRows, range);
      if (client.history.sessions.length || client.history.anomalies.length) clients.push(client);
    }
    if (!clients.length) continue;
    clients.sort((a, b) => a.firstAt - b.firstAt || compareStrings(a.history.clientId, b.history.clientId));
    const online = unionIntervals(clients.flatMap((client) => client.intervals), range.now);
    channels.push({
      channelId: group.channelId,
      uid: group.uid,
      clients: clients.map((client) => client.history),
      online: online.map(({ start, end }) => ({ start: new Date(start), end: new Date(end) })),
      totalSeconds: wholeSeconds(lengthOfUnion(online)),
    });
  }
  channels.sort((a, b) => a.channelId - b.channelId || a.uid - b.uid);
  return { now: new Date(range.now), from: options.from ?? null, to: options.to ?? null, channels };
}

/** One clientId's rows → its sessions and anomalies inside the range, and the intervals it was online there. */
function clientHistory(clientId: string, rows: LoginLogRow[], range: Range) {
  const ordered = [...rows].sort((a, b) => a.t.getTime() - b.t.getTime());
  const history: ClientLoginHistory = { clientId, sessions: [], anomalies: [] };
  const intervals: Array<{ start: number; end: number }> = [];
  let firstAt = Infinity;

  const addSession = (login: Date, logout: Date | null) => {
    const start = login.getTime();
    const end = logout ? logout.getTime() : Math.max(range.now, start);
    // A zero-length session is inside the range when its instant is; a longer one when it overlaps it.
    if (start >= range.to || (end <= range.from && start < range.from)) return;
    const clipped = { start: Math.max(start, range.from), end: Math.min(end, range.to) };
    history.sessions.push({ login, logout, seconds: wholeSeconds(clipped.end - clipped.start) });
    intervals.push(clipped);
    firstAt = Math.min(firstAt, start);
  };
  const addAnomaly = (anomaly: LoginAnomaly) => {
    const at = anomaly.at.getTime();
    if (at < range.from || at >= range.to) return;
    history.anomalies.push(anomaly);
    firstAt = Math.min(firstAt, at);
  };

  let openSince: Date | null = null;
  for (const row of pairedOrder(ordered, () => openSince !== null)) {
    if (row.status === 1) {
      if (openSince) addAnomaly({ kind: 'repeatedLogin', at: row.t, loggedInSince: openSince });
      else openSince = row.t;
    } else if (openSince) {
      addSession(openSince, row.t);
      openSince = null;
    } else {
      addAnomaly({ kind: 'orphanLogout', at: row.t });
    }
  }
  if (openSince) addSession(openSince, null);
  return { history, intervals, firstAt };
}

/**
 * Rows in time order, each second's rows in the order that pairs them (see the
 * top of this file). `isOpen` tells whether a session is open at the row about
 * to be taken; the caller's loop keeps it current.
 */
function* pairedOrder(rows: LoginLogRow[], isOpen: () => boolean): Generator<LoginLogRow> {
  for (let i = 0; i < rows.length; ) {
    let end = i;
    while (end < rows.length && rows[end].t.getTime() === rows[i].t.getTime()) end++;
    const logins = rows.slice(i, end).filter((row) => row.status === 1);
    const logouts = rows.slice(i, end).filter((row) => row.status === 0);
    while (logins.length || logouts.length) {
      yield (isOpen() ? logouts.shift() ?? logins.shift() : logins.shift() ?? logouts.shift())!;
    }
    i = end;
  }
}

function readRange(options: LoginReportOptions): Range {
  const now = timeOf(options.now, 'now');
  const from = options.from === undefined ? -Infinity : timeOf(options.from, 'from');
  const to = options.to === undefined ? Infinity : timeOf(options.to, 'to');
  if (from > to) {
    throw new FayeOnlineError('INVALID_OPTION', `buildLoginReport: from (${options.from?.toISOString()}) is after to (${options.to?.toISOString()})`);
  }
  return { now, from, to };
}

function timeOf(value: unknown, name: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new FayeOnlineError('INVALID_OPTION', `buildLoginReport: ${name} must be a valid Date`);
  }
  return value.getTime();
}

function checkRow(row: LoginLogRow, index: number): void {
  const problem =
    row.status !== 0 && row.status !== 1 ? `status must be 0 or 1, got ${String(row.status)}`
    : !(row.t instanceof Date) || Number.isNaN(row.t.getTime()) ? 't must be a valid Date'
    : !Number.isSafeInteger(row.uid) ? `uid must be an integer, got ${String(row.uid)}`
    : !Number.isSafeInteger(row.channelId) ? `channelId must be an integer, got ${String(row.channelId)}`
    : typeof row.clientId !== 'string' || row.clientId === '' ? 'clientId must be a non-empty string'
    : null;
  if (problem) throw new FayeOnlineError('INVALID_OPTION', `buildLoginReport: rows[${index}]: ${problem}`);
}

function wholeSeconds(milliseconds: number): number {
  return Math.floor(milliseconds / 1000);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
