// What attachFayeOnline returns: the public handle. A class, so that the
// compiler checks it against FayeOnlineHandle; its parts (the adapter, the
// records, the reports, the lifecycle) are built by attach.ts and handed in.
import { EventEmitter } from 'node:events';
import type { Router } from 'express';
import type { NodeAdapter } from 'faye';
import type { Registry } from 'prom-client';
import { engagementEventOf, presenceEventOf, type DepartureReason, type EngagementEvent, type PresenceEvent, type Transition } from '../core/presence';
import type { ReconcileReport } from '../core/reconcile';
import { FayeOnlineError } from '../errors';
import type { EngagedTime, OnlineTime, Records } from '../records';
import type { ReportsApi } from '../reports';
import type { PresenceStore } from '../stores/store';
import type { Attendance, HistoryApi, LastSeen } from '../events';
import { channelArgument, dateArgument, uidArgument } from './arguments';
import { inArrivalOrder, presenceSnapshot, usersOf, type PresenceSnapshot } from './presence-diffs';

export interface Member {
  uid: number;
  uname: string;
  clientIds: string[];
}

export interface FayeOnlineEvents {
  join: [PresenceEvent];
  leave: [PresenceEvent & { reason: DepartureReason }];
  arrive: [PresenceEvent];
  depart: [PresenceEvent & { reason: DepartureReason }];
  /** A user's engaged time in a time channel started (their first engaged page) or stopped (their last one). */
  engagement: [EngagementEvent];
}

export interface FayeOnlineHandle extends EventEmitter<FayeOnlineEvents>, ReportsApi, HistoryApi {
  /** The Faye NodeAdapter (for getClient(), bind(), addExtension()...). */
  readonly adapter: NodeAdapter;
  /** Resolves when the database is migrated and Redis answers; rejects with the cause otherwise. */
  readonly ready: Promise<void>;
  /** uids online in a room, in the order they came (the gem's user_info_list). */
  onlineUsers(room: string): Promise<number[]>;
  onlineCount(room: string): Promise<number>;
  /** Who is in a room right now, with their names and clientIds. */
  members(room: string): Promise<Member[]>;
  /** A room's members with the sequence number of the last join/leave they reflect (what <room>/presence subscribers get first). */
  presenceState(room: string): Promise<PresenceSnapshot>;
  /** A user's online time in a time channel, including the running part. */
  onlineTime(uid: number, timeChannel: string): Promise<OnlineTime>;
  /** A user's engaged time in a time channel (pages visible and in use), including the running part. */
  engagedTime(uid: number, timeChannel: string): Promise<EngagedTime>;
  /** The prom-client registry holding this server's metrics, when the `metrics` option is on. */
  readonly metricsRegistry: Registry | undefined;
  /** Runs the reconciliation pass now (see docs/operations.md); it also runs at startup and every `reconcileInterval`. */
  reconcile(): Promise<ReconcileReport>;
  /** The dashboard (pages and their data) as an Express router, behind `reports.authorize`: `app.use('/faye-online', online.dashboard())`. */
  dashboard(): Router;
  /** Resolves when every presence change started so far is fully written. */
  settled(): Promise<void>;
  /** Stops timers, finishes pending work, closes every connection it opened. */
  close(): Promise<void>;
}

/** The parts a handle answers from. */
export interface HandleParts {
  adapter: NodeAdapter;
  ready: Promise<void>;
  reports: ReportsApi;
  records: Records;
  store: PresenceStore;
  metricsRegistry: Registry | undefined;
  /** Whether engaged time is recorded (the `engagement` option). */
  engagement: boolean;
  /** History from the events table; undefined while the `events` option is off. */
  history: HistoryApi | undefined;
  /** Now on the server's clock: the running part of a time counts up to it. */
  now(): Date;
  reconcile(): Promise<ReconcileReport>;
  /** Builds the dashboard's router; called once, on first use. */
  dashboard(handle: FayeOnlineHandle): Router;
  settled(): Promise<void>;
  close(): Promise<void>;
}

export class FayeOnlineServer extends EventEmitter<FayeOnlineEvents> implements FayeOnlineHandle {
  readonly adapter: NodeAdapter;
  readonly ready: Promise<void>;
  readonly metricsRegistry: Registry | undefined;
  private router: Router | undefined;

  constructor(private readonly parts: HandleParts) {
    super();
    this.adapter = parts.adapter;
    this.ready = parts.ready;
    this.metricsRegistry = parts.metricsRegistry;
  }

  status(...args: Parameters<ReportsApi['status']>): ReturnType<ReportsApi['status']> {
    return this.parts.reports.status(...args);
  }

  userLoginReport(...args: Parameters<ReportsApi['userLoginReport']>): ReturnType<ReportsApi['userLoginReport']> {
    return this.parts.reports.userLoginReport(...args);
  }

  channelReport(...args: Parameters<ReportsApi['channelReport']>): ReturnType<ReportsApi['channelReport']> {
    return this.parts.reports.channelReport(...args);
  }

  loginLogList(...args: Parameters<ReportsApi['loginLogList']>): ReturnType<ReportsApi['loginLogList']> {
    return this.parts.reports.loginLogList(...args);
  }

  async onlineUsers(room: string): Promise<number[]> {
    return this.parts.records.onlineList(channelArgument('onlineUsers', 'room', room));
  }

  async onlineCount(room: string): Promise<number> {
    return (await this.parts.records.onlineList(channelArgument('onlineCount', 'room', room))).length;
  }

  async members(room: string): Promise<Member[]> {
    channelArgument('members', 'room', room);
    const { records, store } = this.parts;
    const [order, byUser] = await Promise.all([records.onlineList(room), store.clientIdsByUser(room)]);
    const uids = inArrivalOrder(order, byUser);
    const users = await usersOf(store, byUser);
    return uids.map((uid) => ({ uid, uname: users.get(uid)!.uname, clientIds: byUser.get(uid)! }));
  }

  async presenceState(room: string): Promise<PresenceSnapshot> {
    return presenceSnapshot(this.parts.store, channelArgument('presenceState', 'room', room));
  }

  async onlineTime(uid: number, timeChannel: string): Promise<OnlineTime> {
    return this.parts.records.onlineTime(uidArgument('onlineTime', uid), channelArgument('onlineTime', 'timeChannel', timeChannel), this.parts.now());
  }

  async engagedTime(uid: number, timeChannel: string): Promise<EngagedTime> {
    uidArgument('engagedTime', uid);
    channelArgument('engagedTime', 'timeChannel', timeChannel);
    if (!this.parts.engagement) throw new FayeOnlineError('INVALID_OPTION', 'engaged time is not recorded: the `engagement` option is false');
    return this.parts.records.engagedTime(uid, timeChannel, this.parts.now());
  }

  async presentAt(room: string, at: Date): Promise<number[]> {
    return this.history('presentAt').presentAt(channelArgument('presentAt', 'room', room), dateArgument('presentAt', 'at', at));
  }

  async attendance(room: string, from: Date, to: Date): Promise<Attendance[]> {
    channelArgument('attendance', 'room', room);
    if (dateArgument('attendance', 'to', to) < dateArgument('attendance', 'from', from)) throw new FayeOnlineError('INVALID_ARGUMENT', 'attendance: `to` is before `from`');
    return this.history('attendance').attendance(room, from, to);
  }

  async lastSeen(uid: number): Promise<LastSeen> {
    return this.history('lastSeen').lastSeen(uidArgument('lastSeen', uid));
  }

  private history(method: string): HistoryApi {
    if (!this.parts.history) throw new FayeOnlineError('INVALID_OPTION', `${method}: history is off; pass \`events: true\` to attachFayeOnline (docs/events.md)`);
    return this.parts.history;
  }

  reconcile(): Promise<ReconcileReport> {
    return this.parts.reconcile();
  }

  dashboard(): Router {
    return (this.router ??= this.parts.dashboard(this));
  }

  settled(): Promise<void> {
    return this.parts.settled();
  }

  close(): Promise<void> {
    return this.parts.close();
  }
}

/**
 * The handle's events of one transition, in the order users saw them before
 * transitions existed: a clientId's arrive before its user's join, its depart
 * before its user's leave.
 */
export function emitPublicEvents(handle: EventEmitter<FayeOnlineEvents>, t: Transition): void {
  const event = presenceEventOf(t);
  const reason = t.reason ?? 'disconnect';
  if (t.client === 'arrived') handle.emit('arrive', event);
  if (t.membership === 'joined') handle.emit('join', event);
  if (t.client === 'departed') handle.emit('depart', { ...event, reason });
  if (t.membership === 'left') handle.emit('leave', { ...event, at: t.leftAt ?? t.at, reason });
  const engagement = engagementEventOf(t);
  if (engagement) handle.emit('engagement', engagement);
}
