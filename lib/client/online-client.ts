// The browser side of presence: one Faye client that carries the page's `auth`
// on every message, announces page closes, and reads what the server publishes
// about the room. Both entries build on it: `createOnlineClient` (typed, camel
// case) and the legacy `Faye.init_online_client` (the gem's snake_case options).
import { FayeOnlineError } from '../errors';
import { watchPageClose } from './page-close';
import type {
  ConnectionState,
  FayeClient,
  FayeClientOptions,
  FayeMessage,
  FayeModule,
  FayeSubscription,
  OnlineClient,
  OnlineClientEvents,
  OnlineClientOptions,
  OnlineIdentity,
  OnlineUser,
  OnlineSubscription,
  PageLifecycleTarget,
} from './types';
import { MODERN_FIELD_NAMES, readClientOptions, readEngagement, readFayeUrl, readIdentity, type EngagementSetup } from './validate';
import { watchEngagement, type EngagementWatch } from './engagement';
import { MemberList, type PresenceState } from './member-list';
import {
  BEFORE_LEAVE_CHANNEL, ENGAGEMENT_CHANNEL, PRESENCE_PAGE_EXT, presenceChannel, userListChannel, type EngagementMessage, type PresencePageRequest,
} from '../protocol';
import { readPresenceChange, readPresenceState, readRefusal, readUserList, toWireAuth } from './wire';

/** What both entries hand over once their options are validated. */
export interface OnlineClientSetup {
  Faye: FayeModule;
  url: string;
  clientOptions: FayeClientOptions;
  identity: OnlineIdentity;
  pageLifecycle: PageLifecycleTarget | null;
  /** null: engagement is not reported. */
  engagement: EngagementSetup | null;
}

export function readFayeModule(value: unknown, hint: string): FayeModule {
  const Faye = value as FayeModule | undefined;
  if (!Faye || typeof Faye.Client !== 'function') {
    throw new FayeOnlineError('INVALID_OPTION', `faye-online: Faye's client is missing; ${hint}`);
  }
  return Faye;
}

export function defaultPageLifecycle(): PageLifecycleTarget | null {
  return typeof window === 'undefined' ? null : window;
}

/** Typed entry: `createOnlineClient({ Faye, url, room, timeChannel, user })`. */
export function createOnlineClient(options: OnlineClientOptions): OnlineClient {
  if (typeof options !== 'object' || options === null) {
    throw new FayeOnlineError('INVALID_OPTION', 'faye-online: createOnlineClient needs an options object { Faye, url, room, timeChannel, user }');
  }
  return startOnlineClient({
    Faye: readFayeModule(options.Faye, "pass it as the Faye option (window.Faye from <mount>/client.js, or require('faye') in a bundle)"),
    url: readFayeUrl(options.url, 'url'),
    clientOptions: readClientOptions(options.clientOptions, 'clientOptions'),
    identity: readIdentity(options, MODERN_FIELD_NAMES),
    pageLifecycle: options.pageLifecycle === undefined ? defaultPageLifecycle() : options.pageLifecycle,
    engagement: readEngagement(options.engagement, { option: 'engagement', idleAfter: 'idleAfter' }),
  });
}

/**
 * Times a client starts a crowded room's pages over (the read it was paging
 * was gone: expired, or the request reached another process of the cluster)
 * before it falls back to <room>/user_list for the member list.
 */
export const MAX_PAGE_RESTARTS = 3;

function settled(thenable: PromiseLike<unknown>): Promise<void> {
  return new Promise((resolve, reject) => thenable.then(() => resolve(), reject));
}

export function startOnlineClient(setup: OnlineClientSetup): OnlineClient {
  const { identity } = setup;
  const client: FayeClient = new setup.Faye.Client(setup.url, setup.clientOptions);
  client.disable('autodisconnect');

  const auth = toWireAuth(identity);
  let state: ConnectionState = 'connecting';
  let clientId: string | undefined;
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const refusalListeners = new Set<OnlineClientEvents['refused']>();
  // The room's members, fed by every <room>/presence subscribe reply (the
  // state; Faye subscribes again after a re-handshake) and message (the diffs).
  const members = new MemberList();
  const memberListeners = new Set<(list: OnlineUser[]) => void>();
  const roomPresence = presenceChannel(identity.room);
  const membersChanged = () => {
    for (const listener of [...memberListeners]) listener(members.list());
  };
  const setState = (next: ConnectionState) => {
    if (state === next || state === 'left') return;
    state = next;
    for (const listener of [...stateListeners]) listener(next);
  };

  // A crowded room's state comes in pages: each next page is asked for by
  // subscribing to <room>/presence again (Faye's forced subscribe, which adds
  // no listener) with the page request in ext. `pageRequest` waits for that
  // message; `pageAsked` is true until its reply.
  let pageRequest: PresencePageRequest | null = null;
  let pageAsked = false;
  let restarts = 0;
  let userListFallback: FayeSubscription | null = null;
  /** Asks for a page; null starts over (the first page of a new read). */
  const askPage = (request: PresencePageRequest | null) => {
    pageAsked = true;
    // Not from inside Faye's incoming pipeline, where the reply is still being handled.
    setTimeout(() => {
      if (state === 'left') return;
      pageRequest = request;
      (client.subscribe as unknown as (channel: string, force: true) => FayeSubscription)(roomPresence, true);
    }, 0);
  };
  const fallBackToUserList = () => {
    if (userListFallback || state === 'left') return;
    userListFallback = client.subscribe(userListChannel(identity.room), (data) => {
      const list = readUserList(data);
      if (!list) return;
      members.useUserList(list.uids);
      membersChanged();
    });
  };
  /** A reply to our page request could not continue the collection: start over, a few times at most. */
  const restart = () => {
    restarts += 1;
    if (restarts > MAX_PAGE_RESTARTS) fallBackToUserList();
    else askPage(null);
  };
  const onState = (reply: PresenceState) => {
    const asked = pageAsked;
    pageAsked = false;
    const step = members.receive(reply);
    if (step.kind === 'changed') {
      restarts = 0;
      membersChanged();
    } else if (step.kind === 'next') {
      // A first page answering a page request: the read it named was gone.
      if (asked && reply.paging?.offset === 0) restarts += 1;
      if (restarts > MAX_PAGE_RESTARTS) fallBackToUserList();
      else askPage(step.request);
    } else if (asked) {
      restart();
    }
  };

  client.addExtension({
    outgoing(message: FayeMessage, callback: (message: FayeMessage) => void) {
      // Merged like the gem did, so that another extension's auth fields survive.
      const existing = typeof message.auth === 'object' && message.auth !== null ? message.auth : {};
      message.auth = { ...existing, ...auth };
      if (pageRequest && message.channel === '/meta/subscribe' && message.subscription === roomPresence) {
        const ext = typeof message.ext === 'object' && message.ext !== null ? message.ext : {};
        message.ext = { ...ext, [PRESENCE_PAGE_EXT]: pageRequest };
        pageRequest = null;
      }
      callback(message);
    },
    incoming(message: FayeMessage, callback: (message: FayeMessage) => void) {
      const state = readPresenceState(message, roomPresence);
      if (state) {
        onState(state);
      } else if (message.channel === roomPresence) {
        const change = readPresenceChange(message.data);
        if (change && members.apply(change)) membersChanged();
      } else if (pageAsked && message.channel === '/meta/subscribe' && message.subscription === roomPresence && message.successful === false) {
        pageAsked = false;
        restart();
      }
      const refusal = readRefusal(message);
      if (refusal) for (const listener of [...refusalListeners]) listener(refusal);
      if (message.channel === '/meta/handshake') {
        if (message.successful) {
          // A new clientId: Faye subscribes again, and that reply starts the state over.
          pageRequest = null;
          pageAsked = false;
          clientId = message.clientId;
          setState('online');
          // The server starts every new clientId as not engaged.
          if (engagement?.engaged) reportEngagement(true);
        } else {
          setState('offline');
        }
      }
      callback(message);
    },
  });
  // Engagement reports carry a number that grows with each report of this page,
  // so that the server applies them in order even when they overtake each other.
  let reportSeq = 0;
  function reportEngagement(engaged: boolean): void {
    if (clientId === undefined || state === 'left') return; // the handshake reports the state then
    const report: EngagementMessage = { engaged, seq: ++reportSeq };
    client.publish(ENGAGEMENT_CHANNEL, report);
  }
  const engagement: EngagementWatch | null = setup.engagement
    ? watchEngagement(setup.engagement.target, setup.engagement.idleAfterMs, reportEngagement)
    : null;

  client.bind('transport:up', () => {
    if (clientId !== undefined) setState('online');
  });
  client.bind('transport:down', () => setState('offline'));

  const stopWatchingClose = setup.pageLifecycle
    ? watchPageClose(setup.pageLifecycle, () => {
        // Publishing while not connected would start a handshake on a closing page.
        if (state !== 'online') return false;
        client.publish(BEFORE_LEAVE_CHANNEL, {});
        return true;
      })
    : () => undefined;

  const subscribe = (channel: string, onData: (data: unknown) => void): OnlineSubscription => {
    const subscription = state === 'left' ? null : client.subscribe(channel, onData);
    const ready = subscription ? settled(subscription) : Promise.reject(new FayeOnlineError('CLOSED', 'faye-online: this client has left; create a new one'));
    ready.catch(() => undefined); // a caller who ignores `ready` should not get an unhandled rejection
    return { ready, cancel: () => subscription?.cancel() };
  };

  function on<E extends keyof OnlineClientEvents>(event: E, listener: OnlineClientEvents[E]): OnlineSubscription {
    switch (event) {
      case 'state': {
        const onState = listener as OnlineClientEvents['state'];
        stateListeners.add(onState);
        return { ready: Promise.resolve(), cancel: () => stateListeners.delete(onState) };
      }
      case 'refused': {
        const onRefusal = listener as OnlineClientEvents['refused'];
        refusalListeners.add(onRefusal);
        return { ready: Promise.resolve(), cancel: () => refusalListeners.delete(onRefusal) };
      }
      case 'userList': {
        const onList = listener as OnlineClientEvents['userList'];
        return subscribe(userListChannel(identity.room), (data) => {
          const list = readUserList(data);
          if (list) onList(list);
        });
      }
      case 'presence':
      case 'join':
      case 'leave': {
        const onChange = listener as OnlineClientEvents['presence'];
        return subscribe(presenceChannel(identity.room), (data) => {
          const change = readPresenceChange(data);
          if (change && (event === 'presence' || change.event === event)) onChange(change);
        });
      }
      default:
        throw new FayeOnlineError('INVALID_OPTION', `faye-online: unknown event ${JSON.stringify(event)}; use state, refused, userList, presence, join or leave`);
    }
  }

  // Faye connects lazily, on the first subscribe or publish; a page that only
  // wants to be counted online subscribes to nothing, so connect now.
  client.connect();

  return {
    client,
    room: identity.room,
    timeChannel: identity.timeChannel,
    user: identity.user,
    get state() {
      return state;
    },
    get clientId() {
      return clientId;
    },
    get engaged() {
      return engagement?.engaged ?? false;
    },
    onUserList: (listener) => on('userList', listener),
    onPresence: (listener) => on('presence', listener),
    onMembers(listener) {
      memberListeners.add(listener);
      if (members.ready) listener(members.list());
      const subscription = subscribe(roomPresence, () => undefined);
      return {
        ready: subscription.ready,
        cancel: () => {
          memberListeners.delete(listener);
          subscription.cancel();
          if (memberListeners.size === 0) userListFallback?.cancel();
        },
      };
    },
    on,
    async leave() {
      if (state === 'left') return;
      stopWatchingClose();
      engagement?.stop();
      setState('left');
      stateListeners.clear();
      refusalListeners.clear();
      const disconnected = client.disconnect();
      if (!disconnected) return;
      // Faye settles the disconnect when the server answers; an unreachable
      // server would leave it pending, so do not wait longer than a poll.
      const timeoutMs = 1000 * (Number(setup.clientOptions.timeout) || 10);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        settled(disconnected).catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
