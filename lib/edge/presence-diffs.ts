// Presence diffs: besides the gem's full <room>/user_list, every join and leave
// is published on <room>/presence as {"event", "uid", "user", "seq"}, and a
// client subscribing to <room>/presence gets the room's current state in the
// subscribe reply (ext.faye_online_presence), read atomically with the room's
// sequence number. A client applies the diffs whose seq is newer than what it
// knows of that user, and so keeps an exact list without ever receiving the
// whole list again (the browser client does this; see docs/protocol.md "Presence diffs").
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import { isValidChannelName, readAuth, type User } from '../core/auth';
import type { Logger } from '../log';
import type { PresenceStore } from '../stores/store';
import { PRESENCE_STATE_EXT, PRESENCE_SUFFIX, presenceChannel, type PresenceDiffMessage, type PresenceStateMessage } from '../protocol';

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
 * One snapshot read per room at a time, shared by every reply that asks while
 * it waits to start. A reply never joins a read that already started: that read
 * may predate the reply's subscription, and a join published in between would
 * then be in neither the snapshot nor the subscriber's diffs. So a reply joins
 * the queued read, or queues one that starts when the running one ends. Many
 * subscribers of a crowded room at once then cost at most two reads of it
 * in flight, instead of one each.
 */
export class SharedSnapshots {
  private readonly queued = new Map<string, Promise<PresenceSnapshot>>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly read: (room: string) => Promise<PresenceSnapshot>) {}

  snapshot(room: string): Promise<PresenceSnapshot> {
    const queued = this.queued.get(room);
    if (queued) return queued;
    const start = (): Promise<PresenceSnapshot> => {
      this.queued.delete(room);
      const reading = this.read(room);
      const done = reading.then(() => undefined, () => undefined);
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
}

/** Adds the current state to successful subscribe replies for <room>/presence channels. */
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

export class PresenceStateExtension {
  private readonly snapshots: SharedSnapshots;
  private readonly turns = new OnePerTurn();

  constructor(store: PresenceStore, private readonly logger: Logger) {
    this.snapshots = new SharedSnapshots((room) => presenceSnapshot(store, room));
  }

  outgoing(message: BayeuxMessage, _request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    if (message.channel !== '/meta/subscribe' || !message.successful) return callback(message);
    const rooms = [...new Set([message.subscription ?? []].flat().map(roomOf).filter((room): room is string => room !== null))];
    if (rooms.length === 0) return callback(message);
    Promise.all(rooms.map((room) => this.snapshots.snapshot(room)))
      // One reply per turn of the event loop: replies sharing one read of a
      // crowded room would otherwise all be built and serialized in the turn
      // the read ends (twenty requests of eight held the loop for 300 ms).
      .then((snapshots) => new Promise<PresenceSnapshot[]>((resolve) => this.turns.run(() => resolve(snapshots))))
      .then((snapshots) => {
        const state: Record<string, PublicState> = {};
        for (const snapshot of snapshots) state[presenceChannel(snapshot.room)] = publicState(snapshot);
        message.ext = { ...(message.ext ?? {}), [PRESENCE_STATE_EXT]: state };
      })
      .catch((error) => this.logger.error({ err: error, rooms }, 'could not read the presence state for a subscribe reply'))
      .finally(() => callback(message));
  }
}

type PublicState = PresenceStateMessage<User>;

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
