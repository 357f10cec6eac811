// What the server itself publishes to pages: a room's online list on
// <room>/user_list (the gem's), its joins and leaves on <room>/presence, and
// the before_leave nudge that must reach whichever process of the cluster holds
// a closing page's connection.
import { randomBytes } from 'node:crypto';
import type { EngineProxy } from 'faye';
import type { Clock } from '../core/clock';
import type { Transition } from '../core/presence';
import type { RedisEngine } from '../engine';
import type { Logger } from '../log';
import type { Liveness } from './before-leave';
import { CHURN_LIMITS, CoalescedDiffs } from './churn';
import { presenceChannel, type PresenceDiff } from './presence-diffs';
import { UserListBroadcaster } from './user-list';

export interface BroadcastsOptions {
  proxy: EngineProxy;
  clock: Clock;
  logger: Logger;
  /** <room>/user_list: at most one message per room per window, ms. */
  userListWindowMs: number;
  /** Whether joins and leaves go out on <room>/presence. */
  presenceDiffs: boolean;
  /** A room's online list as stored now (the trailing message of a window). */
  readList(room: string): Promise<number[]>;
  /** Other processes may publish the same rooms' lists (the Redis store): each burst's last list is confirmed (user-list.ts). */
  shared: boolean;
}

export class Broadcasts {
  private readonly userLists: UserListBroadcaster;
  private readonly diffs: CoalescedDiffs<PresenceDiff>;

  constructor(private readonly options: BroadcastsOptions) {
    const { clock, logger } = options;
    // Server-side publishes go straight to the engine: no in-process client, no
    // handshake, and in a cluster the engine delivers them on every process.
    // Message ids: unique per process (a random prefix) and cheap per message
    // (a counter; a crypto call per join and leave showed in storm profiles).
    const idPrefix = randomBytes(6).toString('hex');
    let sent = 0;
    const publish = (channel: string, data: unknown) => options.proxy.publish({ channel, data, id: `${idPrefix}${(sent += 1).toString(36)}` });
    this.userLists = new UserListBroadcaster({
      windowMs: options.userListWindowMs,
      clock,
      publish,
      read: options.readList,
      confirm: options.shared,
      onError: (error, room) => logger.error({ err: error, room }, 'could not read the online list for <room>/user_list'),
    });
    // One user's joins and leaves reach a room's members at most once per window (lib/edge/churn.ts).
    this.diffs = new CoalescedDiffs<PresenceDiff>({ windowMs: CHURN_LIMITS.diffWindowMs, clock, publish: (room, diff) => publish(presenceChannel(room), diff) });
  }

  /** What pages hear of a transition: the list it wrote on <room>/user_list, the join or leave on <room>/presence. */
  transition(t: Transition): void {
    if (t.list) this.listChanged(t.room, t.list);
    if (t.membership) this.diff(t.room, { event: t.membership === 'joined' ? 'join' : 'leave', uid: t.uid, user: t.user, seq: t.seq });
  }

  /** A room's online list changed; `list` is the list now stored. */
  listChanged(room: string, list: number[]): void {
    this.userLists.changed(room, list);
  }

  /** A user joined or left a room. */
  diff(room: string, diff: PresenceDiff): void {
    if (this.options.presenceDiffs) this.diffs.diff(room, diff.uid, diff);
  }

  /** Sends what is due now and stops (close). */
  async flush(): Promise<void> {
    await this.userLists.flush();
    this.diffs.flush();
  }
}

/**
 * How before_leave asks whether a closing page is still there. With the Redis
 * engine the nudge and the last ping reach the whole cluster; embedded, this
 * process holds every connection.
 */
export function beforeLeaveLiveness(
  proxy: EngineProxy, redisEngine: RedisEngine | undefined, trackedLastSeen: (clientId: string) => number | undefined, destroy: Liveness['destroy'],
): Liveness {
  if (redisEngine) {
    return { lastSeen: (clientId) => redisEngine.lastSeen(clientId), nudge: (clientId) => redisEngine.nudge(clientId), destroy };
  }
  return {
    lastSeen: (clientId) => new Promise((resolve) => proxy.clientExists(clientId, (exists) => resolve(exists ? trackedLastSeen(clientId) ?? 0 : null))),
    nudge: (clientId) => {
      if (proxy.hasConnection(clientId)) proxy.flushConnection(clientId, false);
    },
    destroy,
  };
}
