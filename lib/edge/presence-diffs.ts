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

const SUFFIX = '/presence';

export function presenceChannel(room: string): string {
  return `${room}${SUFFIX}`;
}

function roomOf(channel: unknown): string | null {
  if (typeof channel !== 'string' || !channel.endsWith(SUFFIX)) return null;
  const room = channel.slice(0, -SUFFIX.length);
  return isValidChannelName(room) ? room : null;
}

export interface PresenceDiff {
  event: 'join' | 'leave';
  uid: number;
  user: User;
  seq: number;
}

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

/** Adds the current state to successful subscribe replies for <room>/presence channels. */
export class PresenceStateExtension {
  constructor(private readonly store: PresenceStore, private readonly logger: Logger) {}

  outgoing(message: BayeuxMessage, _request: IncomingMessage | null, callback: (message: BayeuxMessage) => void): void {
    if (message.channel !== '/meta/subscribe' || !message.successful) return callback(message);
    const rooms = [message.subscription ?? []].flat().map(roomOf).filter((room): room is string => room !== null);
    if (rooms.length === 0) return callback(message);
    Promise.all(rooms.map((room) => presenceSnapshot(this.store, room)))
      .then((snapshots) => {
        // clientIds stay on the server: other pages have no business with them.
        const state: Record<string, { seq: number; members: Array<{ uid: number; user: User }> }> = {};
        for (const { room, seq, members } of snapshots) {
          state[presenceChannel(room)] = { seq, members: members.map(({ uid, user }) => ({ uid, user })) };
        }
        message.ext = { ...(message.ext ?? {}), faye_online_presence: state };
      })
      .catch((error) => this.logger.error({ err: error, rooms }, 'could not read the presence state for a subscribe reply'))
      .finally(() => callback(message));
  }
}
