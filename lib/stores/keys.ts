// Every Redis key and Pub/Sub topic faye-online reads or writes, built here
// and nowhere else (docs/rails.md lists them for operators).
//
// Some are shared byte for byte with other programs and must never change:
//   - the Ruby gem's presence keys: /<ns>/uid_to_clientIds<channel>,
//     /<ns>/clientId_auth/<clientId>, /<ns>/clientId_status/<clientId>;
//   - faye-redis' engine layout (Ruby and Node engines), whose namespace has
//     no leading slash: <ns>/clients, <ns>/clients/<clientId>/channels and
//     /messages, <ns>/channels<channel>, <ns>/locks/gc, <ns>/notifications/*.
// The others are ours (the gem never reads them) and live beside the gem's
// presence keys under /<ns>/. test/stores/keys.test.ts pins every string.

/** The presence keys: the gem's and ours, under `/<namespace>/`. */
export class PresenceKeys {
  private readonly base: string;
  /** What every presence key starts with. */
  readonly prefix: string;

  constructor(namespace: string) {
    this.base = `/${namespace}`;
    this.prefix = `${this.base}/`;
  }

  /** Every presence key of the namespace, as a SCAN / KEYS pattern. */
  get all(): string {
    return `${this.prefix}*`;
  }

  /** The gem's hash of uid → JSON array of clientIds, for a room or a time channel (channel starts with '/'). */
  channel(channel: string): string {
    return `${this.base}/uid_to_clientIds${channel}`;
  }

  /** The gem's: the auth JSON last seen for a clientId. */
  auth(clientId: string): string {
    return `${this.base}/clientId_auth/${clientId}`;
  }

  /** The gem's: "1" once a clientId's login row is written, "0" once its logout row is. */
  status(clientId: string): string {
    return `${this.base}/clientId_status/${clientId}`;
  }

  /** Ours: the room's join/leave sequence number for presence diffs. */
  seq(room: string): string {
    return `${this.base}/presence_seq${room}`;
  }

  /** Ours: users of a room or time channel whose leave is in its grace period (uid → ms). */
  leaving(channel: string): string {
    return `${this.base}/leaving${channel}`;
  }

  /** Ours: a time channel's engaged clientIds by uid. */
  engaged(timeChannel: string): string {
    return `${this.base}/engaged${timeChannel}`;
  }

  /** Ours: the number of the last engagement report applied for a clientId. */
  engagementReport(clientId: string): string {
    return `${this.base}/clientId_engagement/${clientId}`;
  }

  /** Ours: when each clientId arrived in a time channel (clientId → ms), for the timer's unseen gaps. */
  arrived(timeChannel: string): string {
    return `${this.base}/arrived${timeChannel}`;
  }

  /** Ours: clientId → when the grace began of the user's pending leave of the room that its arrival cancelled (ms; a move out hands the leave back). */
  resumed(room: string): string {
    return `${this.base}/resumed${room}`;
  }

  /** Ours: when each user's departed clientIds were seen in a time channel since their timer started (uid → spans). */
  departed(timeChannel: string): string {
    return `${this.base}/departed${timeChannel}`;
  }

  /** Ours: a cluster-wide lock (reconciliation's is `reconcile`). */
  lock(name: string): string {
    return `${this.base}/locks/${name}`;
  }

  /** Ours: the events outbox, a list of JSON entries, oldest first. */
  get outbox(): string {
    return `${this.base}/events_outbox`;
  }

  /** Ours: how many events were not appended because the outbox was full. */
  get outboxDropped(): string {
    return `${this.base}/events_outbox_dropped`;
  }

  /** Ours: the dashboard's heartbeat hash of the cluster's processes. */
  get processes(): string {
    return `${this.base}/faye_online/processes`;
  }
}

/** faye-redis' engine layout, under `<namespace>/` (no leading slash). */
export class EngineKeys {
  /** What every engine key and topic starts with. */
  readonly prefix: string;
  /** Sorted set: clientId → time of its last ping (ms). */
  readonly clients: string;
  /** What every client's own keys start with (the Lua scripts append `<clientId>/channels`). */
  readonly clientsPrefix: string;
  /** What every channel's subscriber set starts with (the Lua scripts append the channel). */
  readonly channelsPrefix: string;
  /** The GC lock; its value is its expiry time (ms). */
  readonly gcLock: string;
  /** Pub/Sub topics; `flush` is ours only (faye-redis servers do not subscribe to it). */
  readonly topics: { messages: string; close: string; flush: string };

  constructor(namespace: string) {
    this.prefix = `${namespace}/`;
    this.clients = `${namespace}/clients`;
    this.clientsPrefix = `${namespace}/clients/`;
    this.channelsPrefix = `${namespace}/channels`;
    this.gcLock = `${namespace}/locks/gc`;
    this.topics = { messages: `${namespace}/notifications/messages`, close: `${namespace}/notifications/close`, flush: `${namespace}/notifications/flush` };
  }

  /** Every engine key of the namespace, as a SCAN / KEYS pattern. */
  get all(): string {
    return `${this.prefix}*`;
  }

  /** Set of a client's subscriptions. */
  clientChannels(clientId: string): string {
    return `${this.clientsPrefix}${clientId}/channels`;
  }

  /** List of JSON messages waiting for a client. */
  clientMessages(clientId: string): string {
    return `${this.clientsPrefix}${clientId}/messages`;
  }

  /** Set of a channel's subscribers (channel starts with '/'). */
  channel(channel: string): string {
    return `${this.channelsPrefix}${channel}`;
  }
}
