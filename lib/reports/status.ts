// The status report (the gem's FayeOnline.status): every room and time channel
// with the users online there and their clientIds, the totals, and what is
// stale: clientIds left in a uid_to_clientIds hash whose Faye client no longer
// exists, and uids in a room's online list without any live clientId there
// (a process that died before recording a departure leaves both behind).
//
// Cleanup removes what is stale and says what it removed. A clientId whose
// Faye client was just destroyed is normally on its way out through a regular
// departure (which also stops the timer and logs the logout); removing it first
// would rob that departure of its transitions. So cleanup first lets in-flight
// departures finish (`settle`, then a grace period for other processes), then
// re-reads and removes only what is still stale.
import type { Sequelize } from 'sequelize';
import { readAuth } from '../core/auth';
import type { PresenceStore } from '../stores/store';
import type { AliveFilter } from './liveness';
import { readAllOnlineLists } from '../records/records';
import { Sql } from '../records/sql';

export type ChannelKind = 'room' | 'timeChannel';

export interface StatusUser {
  uid: number;
  /** From the auth remembered for one of the user's clientIds; null if unknown. */
  uname: string | null;
  /** Live clientIds only. */
  clientIds: string[];
}

export interface ChannelStatus {
  channel: string;
  /** A room has an online list in faye_channel_online_lists; other channels are time channels. */
  kind: ChannelKind;
  /** Users with at least one live clientId, by uid. */
  users: StatusUser[];
  userCount: number;
  clientIdCount: number;
  /** Rooms only: faye_channel_online_lists as stored (before any cleanup). */
  onlineList?: number[];
}

export interface StaleClientIds {
  channel: string;
  uid: number;
  clientIds: string[];
}

export interface StaleListEntry {
  room: string;
  uid: number;
}

export interface StatusReport {
  at: Date;
  totals: {
    /** Distinct users with a live clientId anywhere. */
    users: number;
    /** Distinct live clientIds. */
    clientIds: number;
    rooms: number;
    timeChannels: number;
  };
  /** Sorted by kind (rooms first), then name. Channels with nobody and an empty list are left out. */
  channels: ChannelStatus[];
  stale: { clientIds: StaleClientIds[]; onlineListEntries: StaleListEntry[] };
  /** null unless cleanup was asked for. */
  cleanup: { removedClientIds: StaleClientIds[]; removedFromOnlineLists: StaleListEntry[] } | null;
}

export interface StatusSources {
  store: Pick<PresenceStore, 'channels' | 'clientIdsByUser' | 'rememberedAuths' | 'forget'>;
  sequelize: Sequelize;
  records: { removeFromOnlineList(room: string, uid: number): Promise<number[]> };
  /** Told about every online list cleanup changed (a running server re-publishes <room>/user_list). */
  onListChanged?: (room: string, list: number[]) => void;
  isLive: AliveFilter;
  /** Resolves when this process's presence work in flight is done (a running server's `settled`). */
  settle?: () => Promise<void>;
  /** ms to wait before cleaning up, for departures in flight on other processes. Default 1000. */
  graceMs?: number;
  now?: () => Date;
}

export interface StatusOptions {
  /** Remove stale clientIds and online-list entries. Default false. */
  cleanup?: boolean;
}

interface Snapshot {
  lists: Map<string, number[]>;
  maps: Map<string, Map<number, string[]>>;
  live: Set<string>;
}

async function snapshot(sources: StatusSources): Promise<Snapshot> {
  // The online lists are read before the clientIds: an arrival writes Redis
  // first and MySQL second, so a uid seen in a list is already in Redis too.
  const lists = new Map((await readAllOnlineLists(new Sql(sources.sequelize))).map(({ room, uids }) => [room, uids]));
  const maps = await readMaps(sources, await sources.store.channels());
  const live = await sources.isLive([...new Set([...maps.values()].flatMap((byUser) => [...byUser.values()].flat()))]);
  return { lists, maps, live };
}

async function readMaps(sources: StatusSources, channels: string[]): Promise<Map<string, Map<number, string[]>>> {
  const maps = await Promise.all(channels.map((channel) => sources.store.clientIdsByUser(channel)));
  return new Map(channels.map((channel, i) => [channel, maps[i]]));
}

function findStale(s: Snapshot): { clientIds: StaleClientIds[]; onlineListEntries: StaleListEntry[] } {
  const clientIds: StaleClientIds[] = [];
  for (const [channel, byUser] of s.maps) {
    for (const [uid, ids] of byUser) {
      const dead = ids.filter((id) => !s.live.has(id));
      if (dead.length) clientIds.push({ channel, uid, clientIds: dead });
    }
  }
  const onlineListEntries: StaleListEntry[] = [];
  for (const [room, uids] of s.lists) {
    const byUser = s.maps.get(room);
    for (const uid of uids) {
      if (!(byUser?.get(uid) ?? []).some((id) => s.live.has(id))) onlineListEntries.push({ room, uid });
    }
  }
  return { clientIds, onlineListEntries };
}

export async function presenceStatus(sources: StatusSources, options: StatusOptions = {}): Promise<StatusReport> {
  const now = sources.now ?? (() => new Date());
  const at = now();
  const first = await snapshot(sources);
  const stale = findStale(first);
  const channels = await describeChannels(sources, first);
  const liveIds = new Set(channels.flatMap((c) => c.users.flatMap((u) => u.clientIds)));
  const liveUids = new Set(channels.flatMap((c) => c.users.map((u) => u.uid)));
  const report: StatusReport = {
    at,
    totals: {
      users: liveUids.size,
      clientIds: liveIds.size,
      rooms: channels.filter((c) => c.kind === 'room').length,
      timeChannels: channels.filter((c) => c.kind === 'timeChannel').length,
    },
    channels,
    stale,
    cleanup: null,
  };
  if (options.cleanup) report.cleanup = await cleanUp(sources, stale);
  return report;
}

async function describeChannels(sources: StatusSources, s: Snapshot): Promise<ChannelStatus[]> {
  const names = new Set([...s.maps.keys(), ...[...s.lists].filter(([, uids]) => uids.length > 0).map(([room]) => room)]);
  const channels: ChannelStatus[] = [];
  for (const channel of names) {
    const users: StatusUser[] = [];
    for (const [uid, ids] of s.maps.get(channel) ?? []) {
      const live = ids.filter((id) => s.live.has(id));
      if (live.length) users.push({ uid, uname: null, clientIds: live });
    }
    users.sort((a, b) => a.uid - b.uid);
    const list = s.lists.get(channel);
    const isRoom = list !== undefined;
    if (!users.length && !(list?.length)) continue;
    channels.push({
      channel,
      kind: isRoom ? 'room' : 'timeChannel',
      users,
      userCount: users.length,
      clientIdCount: users.reduce((n, u) => n + u.clientIds.length, 0),
      ...(isRoom ? { onlineList: list } : {}),
    });
  }
  channels.sort((a, b) => (a.kind === b.kind ? (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0) : a.kind === 'room' ? -1 : 1));
  await addNames(sources, channels);
  return channels;
}

/** Fills in `uname` from the auth remembered for each user's first live clientId (one round trip). */
async function addNames(sources: StatusSources, channels: ChannelStatus[]): Promise<void> {
  const firstIdOf = new Map<number, string>();
  for (const channel of channels) for (const user of channel.users) if (!firstIdOf.has(user.uid)) firstIdOf.set(user.uid, user.clientIds[0]);
  const uids = [...firstIdOf.keys()];
  const auths = await sources.store.rememberedAuths(uids.map((uid) => firstIdOf.get(uid)!));
  const names = new Map<number, string>();
  uids.forEach((uid, i) => {
    const uname = unameOf(auths[i]);
    if (uname !== null) names.set(uid, uname);
  });
  for (const channel of channels) for (const user of channel.users) user.uname = names.get(user.uid) ?? null;
}

function unameOf(json: string | null | undefined): string | null {
  if (!json) return null;
  try {
    const reading = readAuth(JSON.parse(json));
    return reading.kind === 'valid' ? reading.auth.user.uname : null;
  } catch {
    return null; // an unreadable remembered auth only loses the name
  }
}

async function cleanUp(sources: StatusSources, stale: StatusReport['stale']): Promise<NonNullable<StatusReport['cleanup']>> {
  const removedClientIds: StaleClientIds[] = [];
  const removedFromOnlineLists: StaleListEntry[] = [];
  if (!stale.clientIds.length && !stale.onlineListEntries.length) return { removedClientIds, removedFromOnlineLists };
  await sources.settle?.();
  const grace = sources.graceMs ?? 1000;
  if (grace > 0) await new Promise((resolve) => setTimeout(resolve, grace));

  // Re-read what was stale: whatever a regular departure handled meanwhile is gone from the maps.
  const affected = [...new Set([...stale.clientIds.map((s) => s.channel), ...stale.onlineListEntries.map((s) => s.room)])];
  const maps = await readMaps(sources, affected);
  const candidates = stale.clientIds.map((s) => ({ ...s, clientIds: s.clientIds.filter((id) => maps.get(s.channel)?.get(s.uid)?.includes(id)) }));
  const roomIds = stale.onlineListEntries.flatMap((e) => maps.get(e.room)?.get(e.uid) ?? []);
  const live = await sources.isLive([...new Set([...candidates.flatMap((c) => c.clientIds), ...roomIds])]);

  for (const candidate of candidates) {
    const dead = candidate.clientIds.filter((id) => !live.has(id));
    if (!dead.length) continue;
    await sources.store.forget(candidate.channel, candidate.uid, dead);
    removedClientIds.push({ ...candidate, clientIds: dead });
  }
  for (const entry of stale.onlineListEntries) {
    if ((maps.get(entry.room)?.get(entry.uid) ?? []).some((id) => live.has(id))) continue;
    const list = await sources.records.removeFromOnlineList(entry.room, entry.uid);
    sources.onListChanged?.(entry.room, list);
    removedFromOnlineLists.push(entry);
  }
  return { removedClientIds, removedFromOnlineLists };
}
