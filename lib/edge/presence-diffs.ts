// Presence diffs: besides the gem's full <room>/user_list, every join and leave
// is published on <room>/presence as {"event", "uid", "user", "seq"}, and a
// client subscribing to <room>/presence gets the room's current state in the
// subscribe reply (ext.faye_online_presence), read atomically with the room's
// sequence number. A client applies the diffs whose seq is newer than what it
// knows of that user, and so keeps an exact list without ever receiving the
// whole list again (the browser client does this; see docs/protocol.md "Presence diffs").
// Past one page of members the reply carries one page of a read, and the
// client asks for the others (presence-pages.ts).
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import { isValidChannelName, readAuth, type User } from '../core/auth';
import type { Logger } from '../log';
import type { PresenceStore } from '../stores/store';
import { systemClock, type Clock } from '../core/clock';
import {
  PRESENCE_PAGE_EXT, PRESENCE_STATE_EXT, PRESENCE_SUFFIX, presenceChannel, type PresenceDiffMessage, type PresencePageMessage, type PresenceStateMessage,
} from '../protocol';
import { bayeuxError } from './extension';
import { KeptReads, PagedRead, readPageRequest } from './presence-pages';
import { windowFor } from './user-list';

export { presenceChannel };

function roomOf(channel: unknown): string | null {
  if (typeof channel !== 'string' || !channel.endsWith(PRESENCE_SUFFIX)) return null;
  const room = channel.slice(0, -PRESENCE_SUFFIX.length);
  return isValidChannelName(room) ? room : null;
}

export type PresenceDiff = PresenceDiffMessage<User>;

export interface PresenceSnapshot {
  room: string;
  seq: number;
  members: Array<{ uid: number; user: User; clientIds: string[] }>;
}

/**
 * A room's users in the order they came: the online list's order for those
 * with clientIds, then anyone with clientIds the list does not name yet (an
 * arrival writes the store before the list).
 */
export function inArrivalOrder(list: readonly number[], byUser: Map<number, string[]>): number[] {
  const listed = new Set(list);
  return [...list.filter((uid) => byUser.has(uid)), ...[...byUser.keys()].filter((uid) => !listed.has(uid))];
}

/** The public user of each listed user, from the auth remembered for one of their clientIds. */
export async function usersOf(store: PresenceStore, byUser: Map<number, string[]>): Promise<Map<number, User>> {
  const uids = [...byUser.keys()];
  const auths = await store.rememberedAuths(uids.map((uid) => byUser.get(uid)![0]));
  const users = new Map<number, User>();
  uids.forEach((uid, i) => {
    let wire: unknown = null;
    try {
      wire = JSON.parse(auths[i] ?? 'null');
    } catch {
      /* an unreadable remembered auth only loses the name */
    }
    const reading = readAuth(wire);
    users.set(uid, reading.kind === 'valid' ? reading.auth.user : { uid, uname: '' });
  });
  return users;
}

export async function presenceSnapshot(store: PresenceStore, room: string): Promise<PresenceSnapshot> {
  const state = await store.roomState(room);
  const users = await usersOf(store, state.users);
  return { room, seq: state.seq, members: [...state.users].map(([uid, clientIds]) => ({ uid, user: users.get(uid)!, clientIds })) };
}

/**
 * One snapshot read per room at a time, and at most one per window, shared by
 * every reply that asks while it waits to start. A reply never joins a read
 * that already started: that read may predate the reply's subscription, and a
 * join published in between would then be in neither the snapshot nor the
 * subscriber's diffs. So a reply joins the queued read, or queues one that
 * starts when the running one has ended and its window has passed. Newcomers
 * of a crowded room (a 10,000-member room filling up) then cost one read and
 * one serialization per window, however many they are.
 */
export class SharedSnapshots {
  private readonly queued = new Map<string, Promise<PresenceSnapshot>>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly read: (room: string) => Promise<PresenceSnapshot>,
    private readonly windowMs = 0,
    private readonly clock: Clock = systemClock,
  ) {}

  snapshot(room: string): Promise<PresenceSnapshot> {
    const queued = this.queued.get(room);
    if (queued) return queued;
    const start = (): Promise<PresenceSnapshot> => {
      this.queued.delete(room);
      const startedAt = this.clock.now();
      const reading = this.read(room);
      const done = reading.then((snapshot) => snapshot.members.length, () => 0).then((members) => this.windowEnd(startedAt, members));
      this.running.set(room, done);
      void done.then(() => {
        if (this.running.get(room) === done) this.running.delete(room);
      });
      return reading;
    };
    const next = (this.running.get(room) ?? Promise.resolve()).then(start);
    this.queued.set(room, next);
    return next;
  }

  /**
   * When the window of a read started at `startedAt` ends. A crowded room's
   * window grows with its members, as its user_list window does (1 s at
   * 10,000): one read of 10,000 members took 240-340 ms of CPU, and 200
   * newcomers arriving over seconds had the room read back to back, 20 times.
   */
  private windowEnd(startedAt: number, members: number): Promise<void> {
    const wait = this.windowMs > 0 ? startedAt + windowFor(this.windowMs, members) - this.clock.now() : 0;
    return wait > 0 ? new Promise((resolve) => this.clock.after(wait, resolve)) : Promise.resolve();
  }
}

/**
 * Runs tasks one per turn of the event loop. (setImmediate alone does not:
 * every immediate queued before a check phase runs in that same phase.)
 */
class OnePerTurn {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  run(task: () => void): void {
    this.queue.push(task);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.next());
  }

  private next(): void {
    this.queue.shift()?.();
    if (this.queue.length > 0) setImmediate(() => this.next());
    else this.scheduled = false;
  }
}

/** A room's newcomers share one snapshot read per this many ms (the default user_list window); longer past 1,000 members (windowFor). */
export const SNAPSHOT_WINDOW_MS = 100;

/** The work behind subscribe replies, for the metrics. */
export interface StateWork {
  stateRead(): void;
  pageSerialized(): void;
}

export interface PresenceStateSettings {
  /** Members in one page of a crowded room's state. */
  pageSize: number;
  clock: Clock;
  work?: StateWork;
}

/**
 * A page request of one subscribe message, checked on its way in and answered
 * on its way out: from the kept read it names, or (read null) from the next read.
 */
type PageAsk = { room: string; seq: number; cursor: number; read: PagedRead | null };

/** Page requests waiting for their reply, at most (a reply always follows; this only bounds a surprise). */
const MAX_WAITING_ASKS = 10_000;

/**
 * Adds the current state to successful subscribe replies for <room>/presence
 * channels: the whole state when the room fits one page, else the first page
 * of a read, or the page a page request asked for (presence-pages.ts).
 */
export class PresenceStateExtension {
  private readonly snapshots: SharedSnapshots;
  private readonly turns = new OnePerTurn();
  private readonly kept: KeptReads;
  private readonly paged = new WeakMap<PresenceSnapshot, PagedRead>();
  /** Page requests by "<clientId> <message id>", until their reply goes out. */
  private readonly asks = new Map<string, PageAsk>();

  constructor(store: PresenceStore, private readonly logger: Logger, private readonly settings: PresenceStateSettings) {
    this.kept = new KeptReads(settings.clock);
    this.snapshots = new SharedSnapshots((room) => {
      settings.work?.stateRead();
      return presenceSnapshot(store, room);
    }, SNAPSHOT_WINDOW_MS, settings.clock);
  }

  incoming(message: BayeuxMessage, _request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    const ext = message.ext as Record<string, unknown> | undefined;
    if (message.channel !== '/meta/subscribe' || message.error || typeof ext !== 'object' || ext === null || !(PRESENCE_PAGE_EXT in ext)) {
      return callback(message);
    }
    const ask = this.readAsk(message, ext[PRESENCE_PAGE_EXT]);
    if (typeof ask === 'string') {
      this.logger.warn({ clientId: message.clientId, reason: ask }, 'refused a presence page request');
      message.error = bayeuxError(400, `Bad presence page request: ${ask}`);
    } else {
      this.asks.set(askKey(message), ask);
      if (this.asks.size > MAX_WAITING_ASKS) this.asks.delete(this.asks.keys().next().value!);
    }
    callback(message);
  }

  /** The page asked for, a restart when its read is not kept here, or what is wrong with the request. */
  private readAsk(message: BayeuxMessage, value: unknown): PageAsk | string {
    if (typeof message.clientId !== 'string' || message.id === undefined) return 'a page request needs a clientId and an id';
    const channels = [...new Set([message.subscription ?? []].flat())];
    const room = channels.length === 1 ? roomOf(channels[0]) : null;
    if (room === null) return 'a page request subscribes to exactly one presence channel of a room';
    const request = readPageRequest(value);
    if (typeof request === 'string') return request;
    const read = this.kept.find(room, request.seq) ?? null;
    if (read && !read.isCursor(request.cursor)) return `cursor ${request.cursor} is not a page of seq ${request.seq} (${read.count} members in pages of ${read.pageSize})`;
    return { room, ...request, read };
  }

  outgoing(message: BayeuxMessage, _request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    if (message.channel !== '/meta/subscribe') return callback(message);
    const ask = this.asks.get(askKey(message));
    if (ask) this.asks.delete(askKey(message));
    if (!message.successful) return callback(message);
    const rooms = [...new Set([message.subscription ?? []].flat().map(roomOf).filter((room): room is string => room !== null))];
    if (rooms.length === 0) return callback(message);
    Promise.all(rooms.map((room) => (ask?.room === room ? this.askedPage(ask) : this.snapshots.snapshot(room).then((snapshot) => this.firstPage(snapshot)))))
      // One reply per turn of the event loop: replies sharing one read of a
      // crowded room would otherwise all be built and serialized in the turn
      // the read ends (twenty requests of eight held the loop for 300 ms).
      .then((states) => new Promise<WireState[]>((resolve) => this.turns.run(() => resolve(states))))
      .then((states) => {
        const state: Record<string, WireState> = {};
        rooms.forEach((room, i) => (state[presenceChannel(room)] = states[i]));
        message.ext = { ...(message.ext ?? {}), [PRESENCE_STATE_EXT]: state };
      })
      .catch((error) => this.logger.error({ err: error, rooms }, 'could not read the presence state for a subscribe reply'))
      .finally(() => callback(message));
  }

  /** The page asked for, from its kept read or from the next read of the same seq; else the next read's first page. */
  private async askedPage(ask: PageAsk): Promise<WireState> {
    if (ask.read) return ask.read.page(ask.cursor);
    const snapshot = await this.snapshots.snapshot(ask.room);
    const read = snapshot.seq === ask.seq ? this.pagedRead(snapshot) : null;
    return read?.isCursor(ask.cursor) ? read.page(ask.cursor) : this.firstPage(snapshot);
  }

  /** The whole state of a room that fits one page; else the first page of its read, kept for the next ones. */
  private firstPage(snapshot: PresenceSnapshot): WireState {
    return snapshot.members.length <= this.settings.pageSize ? publicState(snapshot) : this.pagedRead(snapshot).page(0);
  }

  private pagedRead(snapshot: PresenceSnapshot): PagedRead {
    let read = this.paged.get(snapshot);
    if (!read) {
      read = new PagedRead(snapshot, this.settings.pageSize, () => this.settings.work?.pageSerialized());
      this.paged.set(snapshot, read);
      this.kept.keep(read);
    }
    return read;
  }
}

function askKey(message: BayeuxMessage): string {
  return `${String(message.clientId)} ${String(message.id)}`;
}

type PublicState = PresenceStateMessage<User>;
type WireState = PublicState | PresencePageMessage;

const publicStates = new WeakMap<PresenceSnapshot, PublicState>();

/** A snapshot as pages see it, built once per snapshot however many replies share it. */
function publicState(snapshot: PresenceSnapshot): PublicState {
  let state = publicStates.get(snapshot);
  if (!state) {
    // clientIds stay on the server: other pages have no business with them.
    state = { seq: snapshot.seq, members: snapshot.members.map(({ uid, user }) => ({ uid, user })) };
    publicStates.set(snapshot, state);
  }
  return state;
}
