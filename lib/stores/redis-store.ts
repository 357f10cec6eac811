// Presence state in Redis, in the Ruby gem's keys (docs/rails.md). Every change
// is one Lua script call: one round trip, atomic across processes.
import type Redis from 'ioredis';
import { PresenceKeys } from './keys';
import { loadScripts, luaScript, runScript, type ScriptValue } from './lua';
import { CLIENT_RECORD_TTL_SECONDS, FIRST_CLIENT_RECORD_TTL_SECONDS, NOTHING_DEPARTED, REFUSED, TIMER_RESOLUTION_MS, UNKNOWN_CLIENT, type Arrival, type ArrivalResult, type DepartureResult, type PresenceStore, type Departure, type LeaveConfirmation, type PendingLeave, type RoomState, type Engagement, type EngagementResult, type LeaveMark, type UnseenGap } from './store';

/** The store's scripts (their .lua headers describe each for readers of the Lua). */
// arrive, depart and confirm-leave append presence events to the outbox in the same script (lib/events/outbox.lua).
const EVENTS_PRELUDE = ['events/outbox.lua'];
const ARRIVE = luaScript({
  command: 'fayeOnlineArrive', file: 'stores/arrive.lua', prelude: EVENTS_PRELUDE,
  keys: ['room', 'time', 'auth', 'status', 'seq', 'roomLeaving', 'timeLeaving', 'timeArrived', 'timeDeparted', 'outbox', 'outboxDropped', 'roomResumed', 'engineClients'],
  args: ['uid', 'clientId', 'authJson', 'ttl', 'limit', 'now', 'graceMs', 'firstTtl', 'outboxLimit', 'roomName', 'aliveAfter', 'connecting'],
  // `rest`: the evicted clientIds; added is -1 when the clientId is remembered for another user, -2 when the engine does not know it.
  results: ['added', 'joinedRoom', 'startedTimer', 'logLogin', 'seq', 'resumedFrom', 'previousAuth'],
});
const DEPART = luaScript({
  command: 'fayeOnlineDepart', file: 'stores/depart.lua', prelude: EVENTS_PRELUDE,
  keys: ['room', 'time', 'status', 'seq', 'roomLeaving', 'timeLeaving', 'timeEngaged', 'timeArrived', 'timeDeparted', 'auth', 'outbox', 'outboxDropped', 'roomResumed'],
  args: ['uid', 'clientId', 'ttl', 'sawLogin', 'at', 'defer', 'now', 'resolutionMs', 'firstTtl', 'place', 'outboxLimit', 'roomName', 'reason', 'movingTo', 'graceMs'],
  // `rest`: the unseen gaps as from, until, from, until...; with `place` and the
  // clientId remembered elsewhere: removed is 'elsewhere', leftRoom that auth JSON.
  results: ['removed', 'leftRoom', 'stoppedTimer', 'logLogout', 'seq', 'roomLeavePending', 'timerStopPending', 'wasEngaged', 'disengaged', 'session', 'leaveAt', 'engagedPausedAt', 'engagedResumedAt', 'markedAt'],
});
const ENGAGE = luaScript({
  command: 'fayeOnlineEngage', file: 'stores/engage.lua',
  keys: ['time', 'engaged', 'report'],
  args: ['uid', 'clientId', 'engagedFlag', 'reportSeq', 'ttl', 'now'],
  results: ['absent', 'stale', 'started', 'stopped', 'session'],
});
const CONFIRM_LEAVE = luaScript({
  command: 'fayeOnlineConfirmLeave', file: 'stores/confirm-leave.lua', prelude: EVENTS_PRELUDE,
  keys: ['room', 'roomLeaving', 'time', 'timeLeaving', 'seq', 'outbox', 'outboxDropped'],
  args: ['uid', 'mark', 'outboxLimit', 'roomName', 'reason', 'clientId'],
  results: ['leftRoom', 'stoppedTimer', 'seq'],
});
const ROOM_STATE = luaScript({
  command: 'fayeOnlineRoomState', file: 'stores/room-state.lua',
  keys: ['room', 'seq'],
  args: [],
  // `rest`: uid, clientIds JSON, uid, clientIds JSON...
  results: ['seq'],
  readOnly: true,
});
const FORGET = luaScript({
  command: 'fayeOnlineForget', file: 'stores/forget.lua',
  keys: ['channel', 'arrived', 'resumed'],
  // then the clientIds to remove
  args: ['uid'],
  results: ['left'],
});

const CONFIRM_CLIENT = luaScript({
  command: 'fayeOnlineConfirmClient', file: 'stores/confirm-client.lua',
  keys: ['auth', 'status'],
  args: ['ttl'],
  results: ['set'],
});

const SCRIPTS = [ARRIVE, DEPART, ENGAGE, CONFIRM_LEAVE, ROOM_STATE, FORGET, CONFIRM_CLIENT];

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
function gapsOf(pairs: ScriptValue[]): UnseenGap[] {
  const gaps: UnseenGap[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) gaps.push({ from: Number(pairs[i]), until: Number(pairs[i + 1]) });
  return gaps;
}

/** "<last seen ms>,<marked ms>"; a mark without the second part was set when the user was last seen. */
function readLeaveMark(value: string): LeaveMark | undefined {
  const match = /^(\d+),?(\d*)$/.exec(value);
  return match ? { at: Number(match[1]), markedAt: Number(match[2] || match[1]) } : undefined;
}

export interface RedisStoreOptions {
  redis: Redis;
  /** Closes the connection on close() (false when the app passed its own). */
  ownsConnection: boolean;
  namespace: string;
  maxClientIdsPerUser: number;
  /** Grace period of leaves, ms (default 0: leaves take effect at once, as in the gem). */
  leaveGraceMs?: number;
  /** How long a clientId's auth and status keys live until its first /meta/connect succeeds, s (default FIRST_CLIENT_RECORD_TTL_SECONDS; see firstRecordTtlSeconds). */
  firstRecordTtlSeconds?: number;
  /** Append presence events to the outbox (lib/events), holding at most this many; 0 or absent: events are off. */
  outboxLimit?: number;
}

export class RedisStore implements PresenceStore {
  private readonly redis: Redis;
  /** Where this store's keys are (public for tests that read them). */
  readonly keys: PresenceKeys;

  constructor(private readonly options: RedisStoreOptions) {
    loadScripts(options.redis, SCRIPTS);
    this.redis = options.redis;
    this.keys = new PresenceKeys(options.namespace);
  }

  /** Checks that Redis answers (ioredis sends each script's first call as EVAL, then EVALSHA: one round trip either way). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async arrive(a: Arrival): Promise<ArrivalResult> {
    const r = await runScript(this.redis, ARRIVE, {
      room: this.keys.channel(a.room), time: this.keys.channel(a.timeChannel), auth: this.keys.auth(a.clientId), status: this.keys.status(a.clientId), seq: this.keys.seq(a.room),
      roomLeaving: this.keys.leaving(a.room), timeLeaving: this.keys.leaving(a.timeChannel), timeArrived: this.keys.arrived(a.timeChannel), timeDeparted: this.keys.departed(a.timeChannel),
      outbox: this.keys.outbox, outboxDropped: this.keys.outboxDropped, roomResumed: this.keys.resumed(a.room),
      // Without a check the script does not touch it; the name only has to be a key.
      engineClients: a.engineClients?.key ?? this.keys.auth(a.clientId),
    }, {
      uid: a.uid, clientId: a.clientId, authJson: a.authJson, ttl: CLIENT_RECORD_TTL_SECONDS, limit: this.options.maxClientIdsPerUser, now: Math.round(a.at), graceMs: this.options.leaveGraceMs ?? 0,
      firstTtl: this.firstTtl, outboxLimit: this.options.outboxLimit ?? 0, roomName: a.room,
      aliveAfter: a.engineClients ? Math.round(a.engineClients.aliveAfter) : '', connecting: a.connecting ? '1' : '0',
    });
    if (r.added === -1) return { ...REFUSED };
    if (r.added === -2) return { ...UNKNOWN_CLIENT };
    return {
      added: r.added === 1,
      joinedRoom: r.joinedRoom === 1,
      startedTimer: r.startedTimer === 1,
      logLogin: r.logLogin === 1,
      seq: Number(r.seq),
      resumedFrom: Number(r.resumedFrom),
      previousAuth: r.previousAuth === '' ? null : String(r.previousAuth),
      evicted: r.rest.map(String),
    };
  }

  async depart(t: Departure): Promise<DepartureResult> {
    const r = await runScript(this.redis, DEPART, {
      room: this.keys.channel(t.room), time: this.keys.channel(t.timeChannel), status: this.keys.status(t.clientId), seq: this.keys.seq(t.room),
      roomLeaving: this.keys.leaving(t.room), timeLeaving: this.keys.leaving(t.timeChannel), timeEngaged: this.keys.engaged(t.timeChannel),
      timeArrived: this.keys.arrived(t.timeChannel), timeDeparted: this.keys.departed(t.timeChannel), auth: this.keys.auth(t.clientId),
      outbox: this.keys.outbox, outboxDropped: this.keys.outboxDropped, roomResumed: this.keys.resumed(t.room),
    }, {
      uid: t.uid, clientId: t.clientId, ttl: CLIENT_RECORD_TTL_SECONDS, sawLogin: t.sawLogin ? '1' : '0', at: Math.round(t.at), defer: t.deferLeave ? '1' : '0',
      now: Math.round(t.now), resolutionMs: TIMER_RESOLUTION_MS, firstTtl: this.firstTtl, place: t.ifRemembered ? `${t.room} ${t.timeChannel}` : '',
      outboxLimit: this.options.outboxLimit ?? 0, roomName: t.room, reason: t.reason ?? '', movingTo: t.movingTo ?? '', graceMs: this.options.leaveGraceMs ?? 0,
    });
    if (r.removed === 'elsewhere') return { ...NOTHING_DEPARTED, leaveAt: t.at, elsewhere: String(r.leftRoom) };
    return {
      elsewhere: null,
      removed: r.removed === 1, leftRoom: r.leftRoom === 1, stoppedTimer: r.stoppedTimer === 1, logLogout: r.logLogout === 1, seq: Number(r.seq),
      roomLeavePending: r.roomLeavePending === 1, timerStopPending: r.timerStopPending === 1, markedAt: Number(r.markedAt), wasEngaged: r.wasEngaged === 1, disengaged: r.disengaged === 1,
      engagedSession: Number(r.session), leaveAt: Number(r.leaveAt),
      engagedGap: r.engagedResumedAt === 0 ? null : { from: Number(r.engagedPausedAt), until: Number(r.engagedResumedAt) }, unseen: gapsOf(r.rest),
    };
  }

  async engage(e: Engagement): Promise<EngagementResult> {
    const r = await runScript(this.redis, ENGAGE, {
      time: this.keys.channel(e.timeChannel), engaged: this.keys.engaged(e.timeChannel), report: this.keys.engagementReport(e.clientId),
    }, {
      uid: e.uid, clientId: e.clientId, engagedFlag: e.engaged ? '1' : '0', reportSeq: e.seq === null ? '' : String(e.seq), ttl: CLIENT_RECORD_TTL_SECONDS, now: Math.round(e.at),
    });
    return { absent: r.absent === 1, stale: r.stale === 1, started: r.started === 1, stopped: r.stopped === 1, session: Number(r.session) };
  }

  async engagedByUser(timeChannel: string): Promise<Map<number, string[]>> {
    const [present, engaged] = await Promise.all([this.clientIdsByUser(timeChannel), this.redis.hgetall(this.keys.engaged(timeChannel))]);
    const result = new Map<number, string[]>();
    for (const [field, value] of Object.entries(engaged)) {
      const uid = Number(field);
      const live = engagedClientIds(value).filter((id) => present.get(uid)?.includes(id));
      if (live.length > 0) result.set(uid, live);
    }
    return result;
  }

  async engagedOfUser(timeChannel: string, uid: number): Promise<string[]> {
    const [present, engaged] = await Promise.all([this.clientIdsOfUser(timeChannel, uid), this.redis.hget(this.keys.engaged(timeChannel), String(uid))]);
    return engaged === null ? [] : engagedClientIds(engaged).filter((id) => present.includes(id));
  }

  async confirmLeave(p: PendingLeave): Promise<LeaveConfirmation> {
    const r = await runScript(this.redis, CONFIRM_LEAVE, {
      room: this.keys.channel(p.room), roomLeaving: this.keys.leaving(p.room), time: this.keys.channel(p.timeChannel), timeLeaving: this.keys.leaving(p.timeChannel), seq: this.keys.seq(p.room),
      outbox: this.keys.outbox, outboxDropped: this.keys.outboxDropped,
    }, {
      uid: p.uid, mark: `${Math.round(p.at)},${Math.round(p.markedAt)}`,
      outboxLimit: p.roomEvents === false ? 0 : this.options.outboxLimit ?? 0, roomName: p.room, reason: p.reason ?? '', clientId: p.clientId ?? '',
    });
    return { leftRoom: r.leftRoom === 1, stoppedTimer: r.stoppedTimer === 1, seq: Number(r.seq) };
  }

  async leaveMarks(channel: string): Promise<Map<number, LeaveMark>> {
    const marks = new Map<number, LeaveMark>();
    for (const [field, value] of Object.entries(await this.redis.hgetall(this.keys.leaving(channel)))) {
      const mark = readLeaveMark(value);
      if (mark) marks.set(Number(field), mark);
    }
    return marks;
  }

  async leaveMarkOf(channel: string, uid: number): Promise<LeaveMark | undefined> {
    const value = await this.redis.hget(this.keys.leaving(channel), String(uid));
    return value === null ? undefined : readLeaveMark(value);
  }

  rememberedAuth(clientId: string): Promise<string | null> {
    return this.redis.get(this.keys.auth(clientId));
  }

  async rememberedAuths(clientIds: string[]): Promise<Array<string | null>> {
    return clientIds.length ? this.redis.mget(clientIds.map((id) => this.keys.auth(id))) : [];
  }

  async confirmClient(clientId: string): Promise<void> {
    await runScript(this.redis, CONFIRM_CLIENT, { auth: this.keys.auth(clientId), status: this.keys.status(clientId) }, { ttl: CLIENT_RECORD_TTL_SECONDS });
  }

  private get firstTtl(): number {
    return this.options.firstRecordTtlSeconds ?? FIRST_CLIENT_RECORD_TTL_SECONDS;
  }

  async roomState(room: string): Promise<RoomState> {
    const { seq, rest: fields } = await runScript(this.redis, ROOM_STATE, { room: this.keys.channel(room), seq: this.keys.seq(room) }, {});
    const raw: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) raw[String(fields[i])] = String(fields[i + 1]);
    return { seq: Number(seq), users: readClientIdLists(raw) };
  }

  async clientIdsByUser(channel: string): Promise<Map<number, string[]>> {
    return readClientIdLists(await this.redis.hgetall(this.keys.channel(channel)));
  }

  async clientIdsOfUser(channel: string, uid: number): Promise<string[]> {
    const clientIds = await this.redis.hget(this.keys.channel(channel), String(uid));
    return clientIds === null ? [] : readClientIdLists({ [uid]: clientIds }).get(uid) ?? [];
  }

  async withClientIds(channel: string, uids: readonly number[]): Promise<Set<number>> {
    if (uids.length === 0) return new Set();
    const values = await this.redis.hmget(this.keys.channel(channel), ...uids.map(String));
    const raw: Record<string, string> = {};
    uids.forEach((uid, i) => {
      if (values[i] !== null) raw[uid] = values[i]!;
    });
    return new Set(readClientIdLists(raw).keys());
  }

  async userPresent(channel: string, uid: number): Promise<boolean> {
    // One transaction: a departure moving the user from the hash to the leave marks between two reads would hide them from both.
    const replies = await this.redis.multi().hget(this.keys.channel(channel), String(uid)).hexists(this.keys.leaving(channel), String(uid)).exec();
    if (!replies || replies.some(([error]) => error)) throw replies?.find(([error]) => error)?.[0] ?? new Error('faye-online: the Redis transaction reading a user\'s presence was aborted');
    const clientIds = replies[0][1] as string | null;
    return readClientIdLists(clientIds === null ? {} : { [uid]: clientIds }).has(uid) || replies[1][1] === 1;
  }

  async channels(): Promise<string[]> {
    const base = this.keys.channel('');
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
    if (clientIds.length) await runScript(this.redis, FORGET, { channel: this.keys.channel(channel), arrived: this.keys.arrived(channel), resumed: this.keys.resumed(channel) }, { uid }, clientIds);
  }

  async lock(name: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.lock(name), String(process.pid), 'PX', ttlMs, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    if (this.options.ownsConnection) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
