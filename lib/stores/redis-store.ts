// Presence state in Redis, in the Ruby gem's keys (docs/rails.md). Every change
// is one Lua script call: one round trip, atomic across processes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { outboxKeys } from '../events/redis-outbox';
import { CLIENT_RECORD_TTL_SECONDS, REFUSED, TIMER_RESOLUTION_MS, type Arrival, type ArrivalResult, type DepartureResult, type PresenceStore, type Departure, type LeaveConfirmation, type PendingLeave, type RoomState, type Engagement, type EngagementResult, type LeaveMark, type UnseenGap } from './store';

type ScriptResult = Array<number | string>;

interface PresenceCommands {
  fayeOnlineArrive(room: string, time: string, auth: string, status: string, seq: string, roomLeaving: string, timeLeaving: string, timeArrived: string, timeDeparted: string, outbox: string, dropped: string, uid: number, clientId: string, authJson: string, ttl: number, limit: number, now: number, graceMs: number, outboxLimit: number, roomName: string): Promise<ScriptResult>;
  fayeOnlineDepart(room: string, time: string, status: string, seq: string, roomLeaving: string, timeLeaving: string, timeEngaged: string, timeArrived: string, timeDeparted: string, outbox: string, dropped: string, uid: number, clientId: string, ttl: number, sawLogin: string, at: number, defer: string, now: number, resolutionMs: number, outboxLimit: number, roomName: string, reason: string): Promise<ScriptResult>;
  fayeOnlineConfirmLeave(room: string, roomLeaving: string, time: string, timeLeaving: string, seq: string, outbox: string, dropped: string, uid: number, mark: string, outboxLimit: number, roomName: string, reason: string, clientId: string): Promise<ScriptResult>;
  fayeOnlineEngage(time: string, engaged: string, report: string, uid: number, clientId: string, engagedFlag: string, seq: string, ttl: number, now: number): Promise<ScriptResult>;
  fayeOnlineForget(channel: string, arrived: string, uid: number, ...clientIds: string[]): Promise<number>;
  fayeOnlineRoomState(room: string, seq: string): Promise<Array<number | string>>;
}

/** The gem's hash values (JSON arrays of clientIds) by uid; unreadable and empty entries are skipped. */
function readClientIdLists(raw: Record<string, string>): Map<number, string[]> {
  const result = new Map<number, string[]>();
  for (const [field, value] of Object.entries(raw)) {
    const uid = Number(field);
    if (!Number.isInteger(uid) || uid <= 0) continue;
    let list: unknown;
    try {
      list = JSON.parse(value);
    } catch {
      continue;
    }
    if (Array.isArray(list) && list.length > 0) result.set(uid, list.map(String));
  }
  return result;
}

/** The clientIds of an engaged hash value `{"since": ms, "clientIds": [...]}`; none when unreadable. */
function engagedClientIds(raw: string): string[] {
  try {
    const { clientIds } = JSON.parse(raw) as { clientIds?: unknown };
    return Array.isArray(clientIds) ? clientIds.map(String) : [];
  } catch {
    return [];
  }
}

/** depart.lua's unseen gaps: from, until, from, until... */
function gapsOf(pairs: ScriptResult): UnseenGap[] {
  const gaps: UnseenGap[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) gaps.push({ from: Number(pairs[i]), until: Number(pairs[i + 1]) });
  return gaps;
}

function script(name: string): string {
  return readFileSync(join(__dirname, `${name}.lua`), 'utf8');
}

/** A script that appends presence events to the outbox (lib/events/outbox.lua goes first). */
function scriptWithEvents(name: string): string {
  return readFileSync(join(__dirname, '..', 'events', 'outbox.lua'), 'utf8') + script(name);
}

export interface RedisStoreOptions {
  redis: Redis;
  /** Closes the connection on close() (false when the app passed its own). */
  ownsConnection: boolean;
  namespace: string;
  maxClientIdsPerUser: number;
  /** Grace period of leaves, ms (default 0: leaves take effect at once, as in the gem). */
  leaveGraceMs?: number;
  /** Append presence events to the outbox (lib/events), holding at most this many; 0 or absent: events are off. */
  outboxLimit?: number;
}

export class RedisStore implements PresenceStore {
  private readonly redis: Redis & PresenceCommands;
  private readonly prefix: string;
  private readonly outbox: { outbox: string; dropped: string };

  constructor(private readonly options: RedisStoreOptions) {
    const redis = options.redis as Redis & Partial<PresenceCommands>;
    if (!redis.fayeOnlineArrive) {
      redis.defineCommand('fayeOnlineArrive', { numberOfKeys: 11, lua: scriptWithEvents('arrive') });
      redis.defineCommand('fayeOnlineDepart', { numberOfKeys: 11, lua: scriptWithEvents('depart') });
      redis.defineCommand('fayeOnlineEngage', { numberOfKeys: 3, lua: script('engage') });
      redis.defineCommand('fayeOnlineConfirmLeave', { numberOfKeys: 7, lua: scriptWithEvents('confirm-leave') });
      redis.defineCommand('fayeOnlineRoomState', { numberOfKeys: 2, lua: script('room-state') });
      redis.defineCommand('fayeOnlineForget', { numberOfKeys: 2, lua: script('forget') });
    }
    this.redis = redis as Redis & PresenceCommands;
    this.prefix = `/${options.namespace}`;
    this.outbox = outboxKeys(options.namespace);
  }

  /** Checks that Redis answers (ioredis sends each script's first call as EVAL, then EVALSHA: one round trip either way). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** The gem's hash of uid → clientIds for a room or time channel. */
  channelKey(channel: string): string {
    return `${this.prefix}/uid_to_clientIds${channel}`;
  }

  /** Our own key (not the gem's): the room's join/leave sequence number for presence diffs. */
  seqKey(room: string): string {
    return `${this.prefix}/presence_seq${room}`;
  }

  /** Our own key: users of a room or time channel whose leave is in its grace period (uid → ms). */
  leavingKey(channel: string): string {
    return `${this.prefix}/leaving${channel}`;
  }

  /** Our own key: a time channel's engaged clientIds by uid (JSON arrays, as the gem's maps). */
  engagedKey(timeChannel: string): string {
    return `${this.prefix}/engaged${timeChannel}`;
  }

  /** Our own key: the number of the last engagement report applied for a clientId. */
  engagementReportKey(clientId: string): string {
    return `${this.prefix}/clientId_engagement/${clientId}`;
  }

  /** Our own key: when each clientId arrived in a time channel (clientId → ms), for the timer's unseen gaps. */
  arrivedKey(timeChannel: string): string {
    return `${this.prefix}/arrived${timeChannel}`;
  }

  /** Our own key: when each user's departed clientIds were seen in a time channel since their timer started (uid → spans). */
  departedKey(timeChannel: string): string {
    return `${this.prefix}/departed${timeChannel}`;
  }

  authKey(clientId: string): string {
    return `${this.prefix}/clientId_auth/${clientId}`;
  }

  statusKey(clientId: string): string {
    return `${this.prefix}/clientId_status/${clientId}`;
  }

  async arrive(a: Arrival): Promise<ArrivalResult> {
    const r = await this.redis.fayeOnlineArrive(
      this.channelKey(a.room), this.channelKey(a.timeChannel), this.authKey(a.clientId), this.statusKey(a.clientId), this.seqKey(a.room),
      this.leavingKey(a.room), this.leavingKey(a.timeChannel), this.arrivedKey(a.timeChannel), this.departedKey(a.timeChannel), this.outbox.outbox, this.outbox.dropped,
      a.uid, a.clientId, a.authJson, CLIENT_RECORD_TTL_SECONDS, this.options.maxClientIdsPerUser, Math.round(a.at), this.options.leaveGraceMs ?? 0,
      this.options.outboxLimit ?? 0, a.room,
    );
    if (r[0] === -1) return { ...REFUSED };
    return {
      added: r[0] === 1,
      joinedRoom: r[1] === 1,
      startedTimer: r[2] === 1,
      logLogin: r[3] === 1,
      seq: Number(r[4]),
      resumedFrom: Number(r[5]),
      previousAuth: r[6] === '' ? null : String(r[6]),
      evicted: r.slice(7).map(String),
    };
  }

  async depart(t: Departure): Promise<DepartureResult> {
    const r = await this.redis.fayeOnlineDepart(
      this.channelKey(t.room), this.channelKey(t.timeChannel), this.statusKey(t.clientId), this.seqKey(t.room),
      this.leavingKey(t.room), this.leavingKey(t.timeChannel), this.engagedKey(t.timeChannel), this.arrivedKey(t.timeChannel), this.departedKey(t.timeChannel), this.outbox.outbox, this.outbox.dropped,
      t.uid, t.clientId, CLIENT_RECORD_TTL_SECONDS, t.sawLogin ? '1' : '0', Math.round(t.at), t.deferLeave ? '1' : '0', Math.round(t.now), TIMER_RESOLUTION_MS,
      this.options.outboxLimit ?? 0, t.room, t.reason ?? '',
    );
    return {
      removed: r[0] === 1, leftRoom: r[1] === 1, stoppedTimer: r[2] === 1, logLogout: r[3] === 1, seq: Number(r[4]),
      roomLeavePending: r[5] === 1, timerStopPending: r[6] === 1, wasEngaged: r[7] === 1, disengaged: r[8] === 1, engagedSession: Number(r[9]),
      leaveAt: Number(r[10]), engagedGap: r[12] === 0 ? null : { from: Number(r[11]), until: Number(r[12]) }, unseen: gapsOf(r.slice(13)),
    };
  }

  async engage(e: Engagement): Promise<EngagementResult> {
    const r = await this.redis.fayeOnlineEngage(
      this.channelKey(e.timeChannel), this.engagedKey(e.timeChannel), this.engagementReportKey(e.clientId),
      e.uid, e.clientId, e.engaged ? '1' : '0', e.seq === null ? '' : String(e.seq), CLIENT_RECORD_TTL_SECONDS, Math.round(e.at),
    );
    return { absent: r[0] === 1, stale: r[1] === 1, started: r[2] === 1, stopped: r[3] === 1, session: Number(r[4]) };
  }

  async engagedByUser(timeChannel: string): Promise<Map<number, string[]>> {
    const [present, engaged] = await Promise.all([this.clientIdsByUser(timeChannel), this.redis.hgetall(this.engagedKey(timeChannel))]);
    const result = new Map<number, string[]>();
    for (const [field, value] of Object.entries(engaged)) {
      const uid = Number(field);
      const live = engagedClientIds(value).filter((id) => present.get(uid)?.includes(id));
      if (live.length > 0) result.set(uid, live);
    }
    return result;
  }

  async confirmLeave(p: PendingLeave): Promise<LeaveConfirmation> {
    const r = await this.redis.fayeOnlineConfirmLeave(
      this.channelKey(p.room), this.leavingKey(p.room), this.channelKey(p.timeChannel), this.leavingKey(p.timeChannel), this.seqKey(p.room), this.outbox.outbox, this.outbox.dropped,
      p.uid, `${Math.round(p.at)},${Math.round(p.markedAt)}`, p.roomEvents === false ? 0 : this.options.outboxLimit ?? 0, p.room, p.reason ?? '', p.clientId ?? '',
    );
    return { leftRoom: r[0] === 1, stoppedTimer: r[1] === 1, seq: Number(r[2]) };
  }

  async leaveMarks(channel: string): Promise<Map<number, LeaveMark>> {
    const marks = new Map<number, LeaveMark>();
    for (const [field, value] of Object.entries(await this.redis.hgetall(this.leavingKey(channel)))) {
      // "<last seen ms>,<marked ms>"; a mark without the second part was set when it was last seen.
      const match = /^(\d+),?(\d*)$/.exec(value);
      if (match) marks.set(Number(field), { at: Number(match[1]), markedAt: Number(match[2] || match[1]) });
    }
    return marks;
  }

  rememberedAuth(clientId: string): Promise<string | null> {
    return this.redis.get(this.authKey(clientId));
  }

  async rememberedAuths(clientIds: string[]): Promise<Array<string | null>> {
    return clientIds.length ? this.redis.mget(clientIds.map((id) => this.authKey(id))) : [];
  }

  async roomState(room: string): Promise<RoomState> {
    const [seq, ...fields] = await this.redis.fayeOnlineRoomState(this.channelKey(room), this.seqKey(room));
    const raw: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) raw[String(fields[i])] = String(fields[i + 1]);
    return { seq: Number(seq), users: readClientIdLists(raw) };
  }

  async clientIdsByUser(channel: string): Promise<Map<number, string[]>> {
    return readClientIdLists(await this.redis.hgetall(this.channelKey(channel)));
  }

  async channels(): Promise<string[]> {
    const base = this.channelKey('');
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${base}/*`, 'COUNT', 500);
      for (const key of keys) found.add(key.slice(base.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  async forget(channel: string, uid: number, clientIds: string[]): Promise<void> {
    if (clientIds.length) await this.redis.fayeOnlineForget(this.channelKey(channel), this.arrivedKey(channel), uid, ...clientIds);
  }

  async lock(name: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}/locks/${name}`, String(process.pid), 'PX', ttlMs, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    if (this.options.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
