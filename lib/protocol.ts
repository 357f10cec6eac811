// The wire protocol between pages and the server, in one module that both the
// edge (lib/edge) and the browser client (lib/client) import: the channel
// names and builders, and the shapes of what travels on them. Wire names
// (snake_case, the gem's) live here and in the modules that read them. It
// imports nothing, so the browser bundle can take it whole. docs/protocol.md
// describes the protocol for people.

/** Our own channels' prefix: pages publish reports under it, nobody may subscribe to it. */
export const INTERNAL_PREFIX = '/faye_online/';

/** Published when the page is being closed; the server checks a few seconds later whether this clientId is gone. */
export const BEFORE_LEAVE_CHANNEL = '/faye_online/before_leave';

/** Published with an EngagementReport when the page becomes engaged (visible and in use) or stops being so. */
export const ENGAGEMENT_CHANNEL = '/faye_online/engagement';

/** Where the server answers a refused message whose fields cannot be trusted (never published). */
export const REFUSED_CHANNEL = '/faye_online/refused';

/** What a delivery the subscription rule withholds becomes (a message without data, never published). */
export const WITHHELD_CHANNEL = '/faye_online/withheld';

export const USER_LIST_SUFFIX = '/user_list';
export const PRESENCE_SUFFIX = '/presence';

/** The gem's full list of a room: a UserListMessage on every change. */
export function userListChannel(room: string): string {
  return `${room}${USER_LIST_SUFFIX}`;
}

/** A room's joins and leaves, one PresenceDiffMessage each; its subscribe reply carries the room's state. */
export function presenceChannel(room: string): string {
  return `${room}${PRESENCE_SUFFIX}`;
}

/** The ext key of a /meta/subscribe reply holding the state of each <room>/presence subscribed to, by channel. */
export const PRESENCE_STATE_EXT = 'faye_online_presence';

/** A user as the wire carries it: `current_user` of the auth, extra keys kept as the app sent them. */
export interface WireUser {
  uid: number;
  uname: string;
  [key: string]: unknown;
}

/** On <room>/user_list: `{"count": N, "user_list": [uid, ...]}` (the gem's). */
export interface UserListMessage {
  count: number;
  user_list: number[];
}

/** On <room>/presence: one join or leave; `seq` is the room's sequence number after it. */
export interface PresenceDiffMessage<U extends WireUser = WireUser> {
  event: 'join' | 'leave';
  uid: number;
  user: U;
  seq: number;
}

/** A room's state in a subscribe reply (ext[PRESENCE_STATE_EXT][channel]), when the room fits one page. */
export interface PresenceStateMessage<U extends WireUser = WireUser> {
  seq: number;
  members: Array<{ uid: number; user: U }>;
}

/**
 * One page of a crowded room's state (ext[PRESENCE_STATE_EXT][channel]), when
 * the room has more members than one page holds. `page` is the JSON text of
 * the page's members (the `members` array of PresenceStateMessage), sent as a
 * string so that the server serializes each page once for every newcomer.
 * `offset` is the index of its first member in the read of `seq`; `next`,
 * absent on the last page, is the cursor to ask for the following one.
 */
export interface PresencePageMessage {
  seq: number;
  count: number;
  offset: number;
  page: string;
  next?: number;
}

/**
 * The ext key of a /meta/subscribe of one <room>/presence asking for the next
 * page of a read instead of a new state: `{"seq": n, "cursor": next}`.
 */
export const PRESENCE_PAGE_EXT = 'faye_online_presence_page';

/** What a page request carries in ext[PRESENCE_PAGE_EXT]. */
export interface PresencePageRequest {
  seq: number;
  cursor: number;
}

/** On /faye_online/engagement: `{"engaged": true|false, "seq": n}`, seq numbering the page's reports. */
export interface EngagementMessage {
  engaged: boolean;
  seq?: number;
}
