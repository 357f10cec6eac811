// The invariants: what the recorded presence must agree with in the reference
// model (truth.ts). Each check returns violations; none means the run is right.
import { attendance, lastSeen, presentAt } from '../../lib/events/history';
import { loginLogRowsForReport } from '../../lib/reports/queries';
import { buildLoginReport } from '../../lib/reports/sessions';
import { union } from './truth';
import { SETTINGS, type World } from './world';

export interface Violation {
  invariant: string;
  detail: string;
}

const seconds = (ms: number) => ms / 1000;

/**
 * The named channels that the database files under the same faye_channels row
 * as `channel`: MariaDB's collation matches names regardless of case, so the
 * row of a refused /rooms/aBx is /rooms/abx's; SQLite keeps them apart. A
 * row's truth is the union of its names' truths.
 */
async function sameRow(world: World, channel: string, named: string[]): Promise<string[]> {
  // Read only: a row the checker created under a refused name (/rooms/aBx)
  // would become the row the server's /rooms/abx list lives in.
  const records = world.anyProcess()!.records;
  const id = await records.existingChannelId(channel);
  if (id === null) return [channel];
  const names: string[] = [];
  for (const other of named) if (other === channel || (await records.existingChannelId(other)) === id) names.push(other);
  return names;
}

/** Who is online: the store's maps and the SQL online lists hold exactly the users the truth has there. */
async function whoIsOnline(world: World): Promise<Violation[]> {
  const process = world.anyProcess()!;
  const now = world.clock.now();
  const out: Violation[] = [];
  const same = (a: Set<number>, b: Iterable<number>) => {
    const other = new Set(b);
    return a.size === other.size && [...a].every((uid) => other.has(uid));
  };
  const show = (uids: Iterable<number>) => `[${[...uids].sort((a, b) => a - b).join(',')}]`;
  for (const room of world.rooms()) {
    const truth = world.truth.presentIn(room, now);
    const stored = (await process.resources.store.clientIdsByUser(room)).keys();
    const listed = await process.records.onlineList(room);
    const storedSet = new Set(stored);
    if (!same(truth, storedSet)) out.push({ invariant: 'who is online (store)', detail: `${room}: truth ${show(truth)}, store ${show(storedSet)}` });
    const rowTruth = new Set((await sameRow(world, room, world.rooms())).flatMap((name) => [...world.truth.presentIn(name, now)]));
    if (!same(rowTruth, listed) || listed.length !== new Set(listed).size) {
      out.push({ invariant: 'who is online (SQL list)', detail: `${room}: truth ${show(rowTruth)}, faye_channel_online_lists ${show(listed)}` });
    }
  }
  const running = new Map<string, Set<number>>();
  for (const { uid, timeChannel } of await process.records.runningTimers()) {
    if (!running.has(timeChannel)) running.set(timeChannel, new Set());
    running.get(timeChannel)!.add(uid);
  }
  for (const timeChannel of world.timeChannels()) {
    const truth = world.truth.presentIn(timeChannel, now);
    const stored = new Set((await process.resources.store.clientIdsByUser(timeChannel)).keys());
    if (!same(truth, stored)) out.push({ invariant: 'who is online (store)', detail: `${timeChannel}: truth ${show(truth)}, store ${show(stored)}` });
    const timers = running.get(timeChannel) ?? new Set<number>();
    if (!same(truth, timers)) out.push({ invariant: 'timers running', detail: `${timeChannel}: truth ${show(truth)}, timers running for ${show(timers)}` });
  }
  return out;
}

/** Per uid and room, the diffs (join/leave events, in the room's sequence order) alternate, and end as the truth is now. */
function diffsAlternate(world: World): Violation[] {
  const out: Violation[] = [];
  const now = world.clock.now();
  const byKey = new Map<string, Array<{ seq: number; kind: string; at: number }>>();
  for (const e of world.observed.diffs) {
    const key = `${e.room} ${e.uid}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(e);
  }
  for (const [key, events] of byKey) {
    events.sort((a, b) => a.seq - b.seq);
    let expected = 'join';
    for (const e of events) {
      if (e.kind !== expected) {
        out.push({ invariant: 'diffs alternate', detail: `${key}: ${events.map((x) => `${x.kind}#${x.seq}@${world.t(x.at)}`).join(' ')}` });
        break;
      }
      expected = expected === 'join' ? 'leave' : 'join';
    }
  }
  for (const room of world.rooms()) {
    for (const uid of world.truth.users()) {
      const events = byKey.get(`${room} ${uid}`) ?? [];
      const joined = events.length > 0 && events[events.length - 1].kind === 'join';
      if (joined !== world.truth.presentIn(room, now).has(uid)) {
        out.push({ invariant: 'diffs end as the truth', detail: `${room} ${uid}: last diff ${joined ? 'join' : 'leave (or none)'}, truth ${joined ? 'gone' : 'there'}` });
      }
    }
  }
  return out;
}

/**
 * No user_list flap: a user whose absence from a room was shorter than the
 * leave grace never disappears from its list. The grace covers departures of
 * pages that may come right back (a disconnect, a reload, a network loss); a
 * page that announced its close (before_leave, confirmed after
 * beforeLeaveDelay) or moved to another room leaves at once.
 */
function noFlap(world: World): Violation[] {
  const out: Violation[] = [];
  const byRoom = new Map<string, Array<{ list: number[]; at: number }>>();
  for (const entry of world.observed.lists) {
    if (!byRoom.has(entry.room)) byRoom.set(entry.room, []);
    byRoom.get(entry.room)!.push(entry);
  }
  for (const [room, lists] of byRoom) {
    const uids = new Set(lists.flatMap((l) => l.list));
    for (const uid of uids) {
      let present = false;
      for (const { list, at } of lists) {
        const now = list.includes(uid);
        if (present && !now) {
          const gap = world.truth.gapAround(uid, room, at);
          if (gap === null) out.push({ invariant: 'no user_list flap', detail: `${room}: uid ${uid} left the list at ${world.t(at)} while really there` });
          else if (gap.ending !== 'close' && gap.ending !== 'moved' && gap.to - gap.from < SETTINGS.leaveGraceMs) {
            out.push({ invariant: 'no user_list flap', detail: `${room}: uid ${uid} left the list at ${world.t(at)}, away only ${world.t(gap.from)}-${world.t(gap.to)}` });
          }
        }
        present = now;
      }
    }
  }
  return out;
}

/**
 * Online time: faye_user_online_times equals the union of the login log's
 * sessions (±1 s per session: both round to whole seconds), and is within one
 * poll interval per sighting break of the truth (the server only knows the last
 * message of a page that went silent). Engaged time never exceeds online time.
 */
async function onlineTime(world: World): Promise<Violation[]> {
  const process = world.anyProcess()!;
  const now = world.clock.now();
  const out: Violation[] = [];
  for (const uid of world.truth.users()) {
    const rows = await loginLogRowsForReport(process.records.sequelize, { uid });
    const report = buildLoginReport(rows, { now: new Date(now) });
    for (const timeChannel of world.timeChannels()) {
      const row = await sameRow(world, timeChannel, world.timeChannels());
      const truthSpans = union(row.flatMap((name) => world.truth.timeIn(uid, name, now)));
      const truthSeconds = truthSpans.reduce((sum, s) => sum + s.end - s.start, 0) / 1000;
      const channelId = await process.records.existingChannelId(timeChannel);
      const logged = channelId === null ? undefined : report.channels.find((c) => c.channelId === channelId);
      const sessions = logged ? logged.clients.reduce((n, c) => n + c.sessions.length, 0) : 0;
      const logSeconds = logged?.totalSeconds ?? 0;
      const recorded = (await process.records.onlineTime(uid, timeChannel, new Date(now))).totalSeconds;
      const key = `uid ${uid} ${timeChannel}`;
      if (Math.abs(recorded - logSeconds) > Math.max(1, sessions)) {
        out.push({ invariant: 'online time = login log', detail: `${key}: online_times ${recorded}s, login log union ${logSeconds}s over ${sessions} sessions` });
      }
      const breaks = row.reduce((sum, name) => sum + world.truth.breaks(uid, name), 0);
      const below = truthSeconds - recorded;
      if (below > breaks * (seconds(SETTINGS.timeoutMs) + 1) || -below > Math.max(1, breaks)) {
        out.push({ invariant: 'online time = truth', detail: `${key}: online_times ${recorded}s, truth ${truthSeconds.toFixed(1)}s (${truthSpans.length} spans, ${breaks} sighting breaks)` });
      }
      const engaged = (await process.records.engagedTime(uid, timeChannel, new Date(now))).totalSeconds;
      if (engaged > recorded + Math.max(1, breaks)) out.push({ invariant: 'engaged <= online', detail: `${key}: engaged ${engaged}s, online ${recorded}s` });
    }
  }
  return out;
}

/** After everyone left: no list entry, no clientId, no timer, no engaged session, nothing pending in any process. */
async function nothingRunning(world: World): Promise<Violation[]> {
  const process = world.anyProcess()!;
  const out: Violation[] = [];
  const store = process.resources.store;
  const channels = await store.channels();
  if (channels.length) out.push({ invariant: 'nothing running', detail: `store still maps clientIds in ${channels.join(', ')}` });
  for (const { room, uids } of await process.records.allOnlineLists()) if (uids.length) out.push({ invariant: 'nothing running', detail: `${room} lists [${uids.join(',')}]` });
  for (const t of await process.records.runningTimers()) out.push({ invariant: 'nothing running', detail: `timer of uid ${t.uid} in ${t.timeChannel} runs` });
  for (const e of await process.records.runningEngagements()) out.push({ invariant: 'nothing running', detail: `engaged session of uid ${e.uid} in ${e.timeChannel} runs` });
  for (const p of world.processes.filter((x) => x.alive)) {
    const known = p.presence.knownClientIds();
    if (known.length) out.push({ invariant: 'nothing running', detail: `p${p.slot} still tracks ${known.join(', ')}` });
    // A pending before_leave check is two timers on the process's clock: counted here.
    if (p.timers > 0) out.push({ invariant: 'nothing running', detail: `p${p.slot} has ${p.timers} timers pending` });
  }
  if (world.engine.size) out.push({ invariant: 'nothing running', detail: `the engine still has ${world.engine.size} clients` });
  return out;
}

/** Reconciliation repairs what it reports: a second pass right after finds nothing. */
async function reconcileRepairs(world: World): Promise<Violation[]> {
  const process = world.anyProcess()!;
  await process.reconcile();
  await world.settle();
  const second = await process.reconcile();
  await world.settle();
  const found = second.orphanClientIds.length + second.lists.length + second.timersStopped.length + second.engagementsStopped.length;
  return found ? [{ invariant: 'reconcile repairs', detail: `a second pass still found ${JSON.stringify(second)}` }] : [];
}

/** The quiet points of each run so far: history must still tell each of them right later. */
const quietPoints = new WeakMap<World, number[]>();

/**
 * History = truth: from faye_online_events alone (drained first), who was in
 * each room at this quiet point and at every earlier one is who the truth had
 * there (but for a user whose stay ended within a poll interval of that
 * moment: a silent page leaves as of its last message); attendance since
 * the run began names only users the truth had in the room, and every one who
 * stayed longer than a poll interval; last seen says online exactly for users
 * the truth has in a room.
 */
async function historyAgrees(world: World): Promise<Violation[]> {
  const process = world.anyProcess()!;
  await process.events.drain();
  const sequelize = process.records.sequelize;
  const now = world.clock.now();
  const moments = [...(quietPoints.get(world) ?? []), now];
  quietPoints.set(world, moments);
  const out: Violation[] = [];
  const show = (uids: Iterable<number>) => `[${[...uids].sort((a, b) => a - b).join(',')}]`;
  const eventsOf = async (room: string) => {
    const [rows] = await sequelize.query(`SELECT kind, user_id, occurred_ms, reason FROM faye_online_events WHERE channel = '${room}' ORDER BY id`);
    return (rows as Array<{ kind: string; user_id: number; occurred_ms: number; reason: string }>).map((r) => `${r.kind} ${r.user_id ?? ''}@${world.t(Number(r.occurred_ms))}(${r.reason})`).join(' ');
  };
  const truthAt = (room: string, at: number) =>
    world.truth.stays.filter((s) => s.room === room && s.start <= at && (s.end === null || s.end > at)).map((s) => s.uid);
  // The server knows a silent page's last message only: its leave is as of
  // then, up to one poll interval (the timeout) before the truth's end.
  const slack = SETTINGS.timeoutMs + 1000;
  const nearBoundary = (uid: number, room: string, at: number) => world.truth.stays.some((st) =>
    st.uid === uid && st.room === room && st.end !== null && Math.abs(st.end - at) <= slack);
  for (const room of world.rooms()) {
    for (const at of moments) {
      const history = await presentAt(sequelize, room, new Date(at));
      const truth = truthAt(room, at);
      const differ = [...history.filter((u) => !truth.includes(u)), ...truth.filter((u) => !history.includes(u))];
      if (differ.some((uid) => !nearBoundary(uid, room, at))) {
        out.push({ invariant: 'history = truth (present at)', detail: `${room} at ${world.t(at)}: truth ${show(truthAt(room, at))}, history ${show(history)}; events ${await eventsOf(room)}` });
      }
    }
    // Everyone attending really was there; everyone there for longer than a
    // poll interval attends (a shorter stay of a page that then went silent
    // may be recorded as none: it leaves as of its last message).
    const attended = (await attendance(sequelize, room, new Date(world.startedAt), new Date(now), new Date(now))).map((a) => a.uid);
    const stays = world.truth.stays.filter((st) => st.room === room && (st.end ?? now) > st.start);
    const there = new Set(stays.map((st) => st.uid));
    const required = new Set(stays.filter((st) => (st.end ?? now) - st.start > slack).map((st) => st.uid));
    if (attended.some((uid) => !there.has(uid)) || [...required].some((uid) => !attended.includes(uid))) {
      out.push({ invariant: 'history = truth (attendance)', detail: `${room}: truth ${show(there)} (longer than a poll interval: ${show(required)}), attendance ${show(attended)}; events ${await eventsOf(room)}` });
    }
  }
  for (const uid of world.truth.users()) {
    const online = world.rooms().some((room) => truthAt(room, now).includes(uid));
    const seen = await lastSeen(sequelize, uid, new Date(now));
    if (seen.online !== online) out.push({ invariant: 'history = truth (last seen)', detail: `uid ${uid}: truth ${online ? 'online' : 'offline'}, last seen says ${seen.online ? `online in ${seen.channel}` : 'offline'}` });
  }
  return out;
}

export async function checkQuietPoint(world: World, { final }: { final: boolean }): Promise<Violation[]> {
  await world.settle();
  const out = [...(await whoIsOnline(world)), ...diffsAlternate(world), ...noFlap(world), ...(await onlineTime(world))];
  out.push(...(await reconcileRepairs(world)));
  out.push(...(await historyAgrees(world)));
  if (final) out.push(...(await nothingRunning(world)));
  out.push(...world.observed.errors.splice(0).map((detail) => ({ invariant: 'no errors logged', detail })));
  return out;
}
