// What the dashboard pages show, as Tables plus a little around them. Every
// number comes from the same reads as the REST reports (lib/reports): the time
// page calls channelReport, the user page userLoginReport, so the dashboard
// and the JSON endpoints cannot disagree.
import type { Sequelize } from 'sequelize';
import { readAuth, type Auth } from '../core/auth';
import { inArrivalOrder } from '../edge/presence-diffs';
import type { Clock } from '../core/clock';
import type { ReportsApi } from '../reports/http';
import { findChannelId, loginLogRowsForReport, runningSinceOf } from '../reports/queries';
import { buildLoginReport } from '../reports/sessions';
import type { PresenceStore } from '../stores/store';
import { BadRequest, type Range } from './input';
import { column, type Row, type Table } from './table';

export interface DataSources {
  reports: Pick<ReportsApi, 'channelReport' | 'userLoginReport'>;
  store: Pick<PresenceStore, 'clientIdsByUser' | 'rememberedAuths' | 'engagedByUser'>;
  records: {
    onlineList(room: string): Promise<number[]>;
    allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>>;
    onlineTime(uid: number, timeChannel: string): Promise<{ totalSeconds: number }>;
    engagedTime(uid: number, timeChannel: string): Promise<{ totalSeconds: number }>;
  };
  sequelize: Sequelize;
  timeZone: string;
  engagement: boolean;
  clock: Clock;
}

// -- live rooms --------------------------------------------------------------

export async function roomsTable(s: DataSources): Promise<Table> {
  const lists = await s.records.allOnlineLists();
  const rows = lists
    .map(({ room, uids }) => ({ room, users: uids.length }))
    .sort((a, b) => b.users - a.users || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
  return { columns: [column('room', 'Room'), column('users', 'Users online', 'number')], rows };
}

/**
 * A room's members, one row per user in the order they came: their name, tabs
 * (clientIds), which of them are engaged, and since when the user is online in
 * their time channel (their running timer). `only` limits everything past the
 * order (auths, engaged state, timers) to the rows a page shows.
 */
export async function membersTable(s: DataSources, room: string, only?: { offset: number; limit: number }): Promise<{ table: Table; total: number }> {
  // Checked first: reading an unknown room's list would create its channel row.
  if ((await findChannelId(s.sequelize, room)) === null) throw new BadRequest(`there is no room named "${room}"`);
  const [list, byUser] = await Promise.all([s.records.onlineList(room), s.store.clientIdsByUser(room)]);
  const order = inArrivalOrder(list, byUser);
  const shown = (only ? order.slice(only.offset, only.offset + only.limit) : order).map((uid) => ({ uid, clientIds: byUser.get(uid)! }));

  const clientIds = shown.flatMap((m) => m.clientIds);
  const auths = await s.store.rememberedAuths(clientIds);
  const authOf = new Map<string, Auth>();
  clientIds.forEach((clientId, i) => {
    const auth = authIn(auths[i]);
    if (auth) authOf.set(clientId, auth);
  });
  const firstAuth = (clientIds: string[]) => clientIds.map((id) => authOf.get(id)).find(Boolean) ?? null;
  const userChannel = new Map(shown.map((m) => [m.uid, firstAuth(m.clientIds)?.timeChannel ?? null]));
  const timeChannels = [...new Set([...userChannel.values()].filter((c): c is string => c !== null))];

  const engaged = new Set<string>();
  const since = new Map<number, Date>();
  await Promise.all(timeChannels.map(async (timeChannel) => {
    const uids = shown.filter((m) => userChannel.get(m.uid) === timeChannel).map((m) => m.uid);
    const [byUser, started] = await Promise.all([
      s.engagement ? s.store.engagedByUser(timeChannel) : Promise.resolve(new Map<number, string[]>()),
      runningSinceOf(s.sequelize, uids, timeChannel, s.timeZone),
    ]);
    for (const ids of byUser.values()) for (const id of ids) engaged.add(id);
    for (const [uid, at] of started) since.set(uid, at);
  }));

  const rows: Row[] = shown.map((m) => {
    const engagedTabs = m.clientIds.filter((id) => engaged.has(id));
    return {
      uid: m.uid,
      uname: firstAuth(m.clientIds)?.user.uname ?? null,
      tabs: m.clientIds.length,
      clientIds: m.clientIds.map((id) => (engaged.has(id) ? `${id} (engaged)` : id)).join(' '),
      engaged: s.engagement ? engagedTabs.length > 0 : null,
      timeChannel: userChannel.get(m.uid) ?? null,
      onlineSince: since.get(m.uid) ?? null,
    };
  });
  const columns = [
    column('uid', 'uid', 'number'), column('uname', 'Name'), column('tabs', 'Tabs', 'number'), column('clientIds', 'Tabs (clientIds)'),
    ...(s.engagement ? [column('engaged', 'Engaged')] : []), column('timeChannel', 'Time channel'), column('onlineSince', 'Online since', 'time'),
  ];
  return { table: { columns, rows }, total: order.length };
}

function authIn(json: string | null): Auth | null {
  try {
    const reading = readAuth(JSON.parse(json ?? 'null'));
    return reading.kind === 'valid' ? reading.auth : null;
  } catch {
    return null; // an unreadable remembered auth only loses the name and time channel
  }
}

// -- time per time channel ---------------------------------------------------

export interface Bin {
  /** Seconds, inclusive. */
  from: number;
  /** Seconds, exclusive. */
  to: number;
  online: number;
  engaged: number;
}

export interface TimeReport {
  table: Table;
  source: 'onlineTimes' | 'loginLogs';
  now: Date;
  users: number;
  totalSeconds: number;
  /** How many users fall in each bin of online (and engaged) time. */
  distribution: Bin[];
}

export async function timeReport(s: DataSources, channel: string, range: Range): Promise<TimeReport> {
  await requireChannel(s, channel);
  const report = await s.reports.channelReport({ channel, ...range, now: new Date(s.clock.now()) });
  const withEngaged = report.source === 'onlineTimes' && s.engagement;
  const rows: Row[] = report.users.map((u) => ({
    uid: u.uid,
    onlineSeconds: u.totalSeconds,
    ...(withEngaged ? { engagedSeconds: u.engagedSeconds ?? 0 } : {}),
    ...(report.source === 'onlineTimes' ? { runningSince: u.runningSince ?? null } : {}),
  }));
  const columns = [
    column('uid', 'uid', 'number'), column('onlineSeconds', 'Online', 'seconds'),
    ...(withEngaged ? [column('engagedSeconds', 'Engaged', 'seconds')] : []),
    ...(report.source === 'onlineTimes' ? [column('runningSince', 'Online now since', 'time')] : []),
  ];
  return {
    table: { columns, rows },
    source: report.source,
    now: report.now,
    users: report.users.length,
    totalSeconds: report.totalSeconds,
    distribution: distribution(report.users.map((u) => u.totalSeconds), withEngaged ? report.users.map((u) => u.engagedSeconds ?? 0) : []),
  };
}

const BIN_WIDTHS = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400, 172800, 604800];
const MAX_BINS = 12;

/** Users per bin of time; the width is the smallest round one that needs at most MAX_BINS bins. */
export function distribution(online: number[], engaged: number[]): Bin[] {
  if (online.length === 0) return [];
  const max = Math.max(...online, ...engaged);
  const width = BIN_WIDTHS.find((w) => Math.floor(max / w) + 1 <= MAX_BINS) ?? Math.ceil((max + 1) / MAX_BINS);
  const bins: Bin[] = Array.from({ length: Math.floor(max / width) + 1 }, (_, i) => ({ from: i * width, to: (i + 1) * width, online: 0, engaged: 0 }));
  for (const seconds of online) bins[Math.floor(seconds / width)].online++;
  for (const seconds of engaged) bins[Math.floor(seconds / width)].engaged++;
  return bins;
}

// -- one user ----------------------------------------------------------------

export interface UserTimeline {
  channel: string;
  totalSeconds: number;
  tabs: Array<{ clientId: string; sessions: Array<{ start: Date; end: Date; open: boolean }> }>;
  online: Array<{ start: Date; end: Date }>;
  /** All-time totals (faye_user_online_times, engaged times) of this channel. */
  allTime: { onlineSeconds: number; engagedSeconds: number | null };
}

/** Sessions drawn on a timeline beyond this many would be unreadable anyway; the page asks for a shorter range. */
export const MAX_TIMELINE_SESSIONS = 5000;

export async function userReport(s: DataSources, uid: number, channel: string | undefined, range: Range): Promise<{ table: Table; timelines: UserTimeline[]; now: Date; from: Date | null; to: Date | null }> {
  if (channel !== undefined) await requireChannel(s, channel);
  const now = new Date(s.clock.now());
  const report = await s.reports.userLoginReport({ uid, channel, ...range, now });
  const rows: Row[] = report.channels.flatMap((c) =>
    c.clients.flatMap((tab) => tab.sessions.map((session) => ({ channel: c.channel, clientId: tab.clientId, login: session.login, logout: session.logout, seconds: session.seconds }))));
  if (rows.length > MAX_TIMELINE_SESSIONS) {
    throw new BadRequest(`user ${uid} has ${rows.length} sessions in this range (at most ${MAX_TIMELINE_SESSIONS} are drawn); choose a shorter range or one time channel`);
  }
  const from = report.from?.getTime() ?? -Infinity;
  const to = report.to?.getTime() ?? Infinity;
  const clip = (start: Date, end: Date | null) => ({ start: new Date(Math.max(start.getTime(), from)), end: new Date(Math.min((end ?? now).getTime(), to)) });
  const timelines = await Promise.all(report.channels.map(async (c): Promise<UserTimeline> => {
    const [online, engaged] = await Promise.all([
      s.records.onlineTime(uid, c.channel),
      s.engagement ? s.records.engagedTime(uid, c.channel) : Promise.resolve(null),
    ]);
    return {
      channel: c.channel,
      totalSeconds: c.totalSeconds,
      tabs: c.clients.map((tab) => ({ clientId: tab.clientId, sessions: tab.sessions.map((x) => ({ ...clip(x.login, x.logout), open: x.logout === null })) })),
      online: c.online,
      allTime: { onlineSeconds: online.totalSeconds, engagedSeconds: engaged?.totalSeconds ?? null },
    };
  }));
  const columns = [column('channel', 'Time channel'), column('clientId', 'Tab (clientId)'), column('login', 'Login', 'time'), column('logout', 'Logout', 'time'), column('seconds', 'Counted', 'seconds')];
  return { table: { columns, rows }, timelines, now, from: report.from, to: report.to };
}

// -- attendance --------------------------------------------------------------

/** Who was in a time channel between two times, from the login log's sessions. */
export async function attendanceTable(s: DataSources, channel: string, range: Required<Range>): Promise<{ table: Table; note: string | null }> {
  const channelId = await requireChannel(s, channel);
  const now = new Date(s.clock.now());
  const rows = await loginLogRowsForReport(s.sequelize, { channelId, ...range });
  const report = buildLoginReport(rows, { now, ...range });
  const users: Row[] = report.channels
    .map((c) => ({ c, sessions: c.clients.flatMap((tab) => tab.sessions) }))
    // A visit shorter than a second is still a visit: sessions count, not only time.
    .filter(({ sessions }) => sessions.length > 0)
    .map(({ c, sessions }) => ({
      uid: c.uid,
      firstSeen: new Date(Math.max(range.from.getTime(), Math.min(...sessions.map((x) => x.login.getTime())))),
      lastSeen: new Date(Math.min(range.to.getTime(), Math.max(...sessions.map((x) => (x.logout ?? now).getTime())))),
      tabs: c.clients.filter((tab) => tab.sessions.length > 0).length,
      sessions: sessions.length,
      onlineSeconds: c.totalSeconds,
    }))
    .sort((a, b) => Number(b.onlineSeconds) - Number(a.onlineSeconds) || Number(a.uid) - Number(b.uid));
  let note: string | null = null;
  if (users.length === 0 && (await s.records.allOnlineLists()).some((list) => list.room === channel)) {
    note = `"${channel}" is a room; the login log is kept per time channel, so attendance is asked of the time channel its pages use`;
  }
  const columns = [
    column('uid', 'uid', 'number'), column('firstSeen', 'First seen', 'time'), column('lastSeen', 'Last seen', 'time'),
    column('tabs', 'Tabs', 'number'), column('sessions', 'Sessions', 'number'), column('onlineSeconds', 'Online', 'seconds'),
  ];
  return { table: { columns, rows: users }, note };
}

async function requireChannel(s: DataSources, channel: string): Promise<number> {
  const id = await findChannelId(s.sequelize, channel);
  if (id === null) throw new BadRequest(`there is no channel named "${channel}"`);
  return id;
}
