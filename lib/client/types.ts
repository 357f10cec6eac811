// Public types of the browser client. They describe Faye's browser client
// structurally (the `faye` package ships no types, and the page may get Faye
// from /faye/client.js rather than from a bundler), so that these declarations
// stand alone in dist/lib/client/index.d.ts.

/** The user a page is online as. Extra keys are sent to the server as they are. */
export interface OnlineUser {
  uid: number;
  uname: string;
  [key: string]: unknown;
}

/** Who is online, where, and against which time channel. */
export interface OnlineIdentity {
  /** Room channel, where the online user list is kept, e.g. `/classes/4`. */
  room: string;
  /** Time channel, what online time is counted against, e.g. `/courses/5/lessons/1`. */
  timeChannel: string;
  user: OnlineUser;
  /** Rendered by the app's server with `signAuth` when the Faye server has a `secret`; passed through unchanged. */
  signature?: string;
  /** Unix seconds, rendered together with `signature`; passed through unchanged. */
  expiresAt?: number;
}

/** Faye client options (seconds). The gem's defaults: timeout 10, interval 5, retry 5. */
export interface FayeClientOptions {
  timeout?: number;
  interval?: number;
  retry?: number;
  [key: string]: unknown;
}

export interface FayeMessage {
  channel: string;
  clientId?: string;
  successful?: boolean;
  data?: unknown;
  [key: string]: unknown;
}

export interface FayeExtension {
  incoming?(message: FayeMessage, callback: (message: FayeMessage) => void): void;
  outgoing?(message: FayeMessage, callback: (message: FayeMessage) => void): void;
}

/** Faye's Subscription: a thenable that settles when the server acknowledged it. */
export interface FayeSubscription extends PromiseLike<unknown> {
  cancel(): void;
}

/** The part of Faye's browser `Faye.Client` this client uses. */
export interface FayeClient {
  addExtension(extension: FayeExtension): void;
  disable(feature: string): void;
  subscribe(channel: string, callback: (data: unknown) => void): FayeSubscription;
  publish(channel: string, data: unknown): PromiseLike<unknown>;
  bind(event: 'transport:up' | 'transport:down', listener: () => void): void;
  connect(): void;
  disconnect(): PromiseLike<unknown> | void;
}

/** `window.Faye` (from `/faye/client.js`) or the `faye` package's export. */
export interface FayeModule {
  Client: new (url: string, options?: FayeClientOptions) => FayeClient;
}

/** The `<room>/user_list` payload: every uid online in the room. */
export interface UserList {
  count: number;
  uids: number[];
}

/** One `<room>/presence` diff: a user joined or left the room. */
export interface PresenceChange {
  event: 'join' | 'leave';
  uid: number;
  user: OnlineUser;
  /** The room's sequence number of this join or leave (see MemberList). */
  seq?: number;
}

/**
 * - `connecting`: before the first handshake succeeded;
 * - `online`: the server knows this page (its clientId is connected);
 * - `offline`: the transport is down, Faye keeps retrying;
 * - `left`: `leave()` was called.
 */
export type ConnectionState = 'connecting' | 'online' | 'offline' | 'left';

/** The server refused a message of this page, e.g. an unsigned or expired `auth` (Faye retries regardless). */
export interface Refusal {
  /** The channel of the refused message, e.g. `/meta/handshake`. */
  channel: string;
  /** Bayeux error code: 401 for auth, 403 for a forbidden publish. */
  code: number;
  message: string;
}

export interface OnlineClientEvents {
  state: (state: ConnectionState) => void;
  refused: (refusal: Refusal) => void;
  userList: (list: UserList) => void;
  presence: (change: PresenceChange) => void;
  join: (change: PresenceChange) => void;
  leave: (change: PresenceChange) => void;
}

/** A listener registration. `ready` settles when the server acknowledged the channel subscription. */
export interface OnlineSubscription {
  ready: Promise<void>;
  cancel(): void;
}

/** Where page-close events are listened for: `window` in a browser. */
export interface PageLifecycleTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** Where visibility and input are watched: `document` in a browser. */
export interface EngagementTarget {
  /** 'visible' or 'hidden' (the Page Visibility API); anything but 'hidden' counts as visible. */
  readonly visibilityState?: string;
  addEventListener(type: string, listener: () => void, options?: { passive?: boolean; capture?: boolean }): void;
  removeEventListener(type: string, listener: () => void, options?: { capture?: boolean }): void;
}

export interface EngagementOptions {
  /**
   * Milliseconds without input (pointer, keys, wheel, touch, scroll) after
   * which a visible page counts as idle, i.e. not engaged. Default 0: idleness
   * is not watched, a visible page is engaged.
   */
  idleAfter?: number;
  /** Where to watch visibility and input; default `document` when there is one. */
  target?: EngagementTarget;
}

export interface OnlineClientOptions extends OnlineIdentity {
  /** Faye's module: `window.Faye`, or `require('faye')` in a bundle. */
  Faye: FayeModule;
  /** The Faye endpoint, e.g. `/faye` or `https://rt.example.com/faye`. */
  url: string;
  clientOptions?: FayeClientOptions;
  /**
   * Where to listen for `pagehide`/`beforeunload`; default `window` when there
   * is one. `null` turns the before-leave notice off.
   */
  pageLifecycle?: PageLifecycleTarget | null;
  /**
   * Reports to the server whether the page is engaged (visible, and in use when
   * `idleAfter` is set), for engaged time. Default on; `false` reports nothing.
   */
  engagement?: EngagementOptions | false;
}

export interface OnlineClient {
  /** The underlying Faye client: subscribe and publish on it as usual. */
  readonly client: FayeClient;
  readonly room: string;
  readonly timeChannel: string;
  readonly user: OnlineUser;
  readonly state: ConnectionState;
  /** The clientId Faye got at the last handshake (it changes after a reconnect). */
  readonly clientId: string | undefined;
  /** Whether the page counts as engaged now (false when engagement reporting is off). */
  readonly engaged: boolean;
  /** Subscribes to `<room>/user_list`. */
  onUserList(listener: (list: UserList) => void): OnlineSubscription;
  /** Subscribes to `<room>/presence` diffs. */
  onPresence(listener: (change: PresenceChange) => void): OnlineSubscription;
  /**
   * The room's members, kept exact from the state in the subscribe reply and
   * the diffs after it (never the whole list again); called on every change.
   */
  onMembers(listener: (members: OnlineUser[]) => void): OnlineSubscription;
  on<E extends keyof OnlineClientEvents>(event: E, listener: OnlineClientEvents[E]): OnlineSubscription;
  /** Disconnects cleanly: the server processes this page's departure at once. */
  leave(): Promise<void>;
}
