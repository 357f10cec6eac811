// attachFayeOnline: mounts Faye on an Express app's HTTP server with the
// presence extension, and wires the presence core to its stores, the SQL
// records, the user_list broadcasts and before_leave.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import faye, { type BayeuxMessage, type NodeAdapter } from 'faye';
import type { IncomingMessage } from 'node:http';
import { Presence, type DepartureReason, type EngagementEvent, type PresenceEvent } from '../core/presence';
import { reconcile, type ReconcileReport } from '../core/reconcile';
import { departureOf } from '../core/departures';
import type { ClockTimer } from '../core/clock';
import { RedisEngine } from '../engine';
import { FayeOnlineError } from '../errors';
import { resolveOptions, type FayeOnlineOptions } from '../options';
import { Records, openDatabase, type EngagedTime, type OnlineTime } from '../records';
import { ensureMigrated, migrate } from '../schema';
import { MemoryStore } from '../stores/memory-store';
import { onReconnected, openRedis } from '../stores/redis-connection';
import { RedisStore } from '../stores/redis-store';
import type { PresenceStore } from '../stores/store';
import { BeforeLeave, type Liveness } from './before-leave';
import { PresenceMetrics } from '../metrics';
import { createReports, engineLiveness, reportsRouter, type ReportsApi } from '../reports';
import { tracePresence } from './trace';
import { channelArgument, dateArgument, uidArgument } from './arguments';
import { CHURN_LIMITS, CoalescedDiffs } from './churn';
import { narrowDelivery } from './delivery';
import { PresenceExtension } from './extension';
import { PresenceStateExtension, inArrivalOrder, presenceChannel, presenceSnapshot, usersOf, type PresenceDiff, type PresenceSnapshot } from './presence-diffs';
import { bodyLimitFor, limitBatches, limitRequestBodies } from './request-limit';
import { UserListBroadcaster } from './user-list';
import { createDashboard, type Dashboard } from '../dashboard';
import { historyApi, historyRouter, MemoryOutbox, PresenceEventsRunner, RedisOutbox, type EventOutbox, type HistoryApi } from '../events';

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
  readonly metricsRegistry: import('prom-client').Registry | undefined;
  /** Runs the reconciliation pass now (see docs/operations.md); it also runs at startup and every `reconcileInterval`. */
  reconcile(): Promise<ReconcileReport>;
  /** The dashboard (pages and their data) as an Express router, behind `reports.authorize`: `app.use('/faye-online', online.dashboard())`. */
  dashboard(): import('express').Router;
  /** Resolves when every presence change started so far is fully written. */
  settled(): Promise<void>;
  /** Stops timers, finishes pending work, closes every connection it opened. */
  close(): Promise<void>;
}

function clientBundlePath(): string | undefined {
  // dist/lib/edge → dist/client; lib/edge (run from source) → dist/client
  const candidates = [join(__dirname, '..', '..', 'client', 'faye-online.js'), join(__dirname, '..', '..', 'dist', 'client', 'faye-online.js')];
  return candidates.find((file) => existsSync(file));
}


export function attachFayeOnline(app: Express, httpServer: HttpServer, options: FayeOnlineOptions = {}): FayeOnlineHandle {
  const opts = resolveOptions(options);
  const logger = opts.logger;
  const clock = opts.clock;
  const embedded = opts.redis === undefined;

  const sequelize = openDatabase(opts.database, { logger });
  const ownsDatabase = typeof opts.database === 'string';
  // Created before presence exists; it only asks presence when scraped.
  const metrics = opts.metrics ? new PresenceMetrics(opts.metrics.register, { isTracked: (clientId) => presence.isKnown(clientId) }) : undefined;
  const records = new Records({ sequelize, timeZone: opts.timeZone, logger, events: opts.events !== undefined, observer: { onConflict: () => metrics?.sqlLockConflict() } });
  let outbox: EventOutbox | undefined;

  let store: PresenceStore;
  let prepareRedis: (() => Promise<unknown>) | undefined;
  if (embedded) {
    const memoryOutbox = opts.events && new MemoryOutbox(opts.events.outboxLimit);
    store = new MemoryStore(opts.maxClientIdsPerUser, opts.leaveGrace * 1000, memoryOutbox || undefined);
    outbox = memoryOutbox || undefined;
    if (ownsDatabase && sequelize.getDialect() !== 'sqlite') {
      logger.warn({}, 'no `redis` option: presence state lives in this process only; run one process, or give `redis` to form a cluster');
    }
  } else {
    const { redis, owned } = openRedis(opts.redis!);
    // ioredis reconnects by itself; without a listener it would also print every
    // connection error to stderr as "Unhandled error event".
    if (owned) redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection error (presence store); reconnecting'));
    if (metrics) {
      redis.on('error', () => metrics.redisError());
      redis.on('reconnecting', () => metrics.redisReconnecting());
    }
    const redisStore = new RedisStore({ redis, ownsConnection: owned, namespace: opts.namespace, maxClientIdsPerUser: opts.maxClientIdsPerUser, leaveGraceMs: opts.leaveGrace * 1000, outboxLimit: opts.events?.outboxLimit });
    store = redisStore;
    if (opts.events) outbox = new RedisOutbox(redis, opts.namespace);
    prepareRedis = () => redisStore.ping();
    // Restarted or failed over, Redis may have lost the last writes before.
    onReconnected(redis, () => reconcileSoon());
  }

  const adapter = new faye.NodeAdapter({
    mount: opts.mount,
    timeout: opts.timeout,
    ping: opts.ping,
    engine: embedded ? {} : { type: RedisEngine, redis: opts.redis, namespace: opts.namespace, gc: opts.gc, logger, clock },
  });
  const proxy = adapter._server._engine;
  narrowDelivery(proxy, { exactListsOnly: opts.authorizeSubscription !== undefined });
  const redisEngine = embedded ? undefined : RedisEngine.fromAdapter(adapter);

  const events = opts.events && outbox
    ? new PresenceEventsRunner({ settings: opts.events, outbox, sequelize, logger, clock, register: metrics?.register, lock: (name, ttl) => store.lock(name, ttl) })
    : undefined;
  const history = opts.events ? historyApi(sequelize, clock) : undefined;

  const presence = new Presence({ store, records, logger, clock, leaveGraceMs: opts.leaveGrace * 1000, engagement: opts.engagement });
  const handle = new EventEmitter<FayeOnlineEvents>() as FayeOnlineHandle;
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    inFlight.add(work);
    metrics?.time(work);
    void work.finally(() => inFlight.delete(work));
  };

  // Server-side publishes go straight to the engine: no in-process client, no
  // handshake, and in a cluster the engine delivers them on every process.
  const publish = (channel: string, data: unknown) => proxy.publish({ channel, data, id: randomBytes(8).toString('hex') });

  const userLists = new UserListBroadcaster({
    windowMs: opts.userListWindow,
    clock,
    publish,
    read: (room) => records.onlineList(room),
    onError: (error, room) => logger.error({ err: error, room }, 'could not read the online list for <room>/user_list'),
  });

  presence.on('roomList', (room, list) => userLists.changed(room, list));
  // One user's joins and leaves reach a room's members at most once per window (lib/edge/churn.ts).
  const diffs = new CoalescedDiffs<PresenceDiff>({ windowMs: CHURN_LIMITS.diffWindowMs, clock, publish: (room, diff) => publish(presenceChannel(room), diff) });
  presence.on('join', (event) => {
    if (opts.presenceDiffs) diffs.diff(event.room, event.uid, { event: 'join', uid: event.uid, user: event.user, seq: event.seq });
    handle.emit('join', event);
  });
  presence.on('leave', (event) => {
    if (opts.presenceDiffs) diffs.diff(event.room, event.uid, { event: 'leave', uid: event.uid, user: event.user, seq: event.seq });
    handle.emit('leave', event);
  });
  presence.on('arrive', (event) => handle.emit('arrive', event));
  presence.on('depart', (event) => handle.emit('depart', event));
  presence.on('engagement', (event) => handle.emit('engagement', event));
  presence.on('evicted', (clientId) => extension.evicted(clientId));
  if (metrics) {
    presence.on('arrive', (event) => metrics.arrived(event.clientId, event.uid));
    presence.on('depart', (event) => metrics.departed(event.clientId, event.reason));
    presence.on('join', () => metrics.joined());
    presence.on('leave', (event) => metrics.left(event.reason));
    presence.on('writeFailed', () => metrics.sqlWriteFailed());
  }
  if (opts.trace) tracePresence(presence, logger);

  // Departures decided here (before_leave) carry their own reason and time.
  const decided = new Map<string, { reason: DepartureReason; at: number }>();
  const explicitDisconnects = new Set<string>();

  const liveness: Liveness = redisEngine
    ? {
        lastSeen: (clientId) => redisEngine.lastSeen(clientId),
        flush: (clientId) => redisEngine.flush(clientId),
        destroy,
      }
    : {
        lastSeen: (clientId) =>
          new Promise((resolve) => proxy.clientExists(clientId, (exists) => resolve(exists ? presence.lastSeen(clientId) ?? 0 : null))),
        flush: (clientId) => {
          if (proxy.hasConnection(clientId)) proxy.flushConnection(clientId, false);
        },
        destroy,
      };

  function destroy(clientId: string, at: number): void {
    decided.set(clientId, { reason: 'before_leave', at });
    proxy.destroyClient(clientId);
  }

  const beforeLeave = new BeforeLeave({
    delayMs: opts.beforeLeaveDelay * 1000,
    clock,
    liveness,
    onError: (error, clientId) => logger.error({ err: error, clientId }, 'before_leave check failed'),
  });

  // Every destroyed client (explicit /meta/disconnect, engine timeout, or our
  // before_leave decision) leaves here, once.
  adapter.bind('disconnect', (clientId: string) => {
    extension.forget(clientId);
    const info = redisEngine?.disconnectInfo(clientId);
    const decidedHere = decided.get(clientId);
    decided.delete(clientId);
    const explicit = explicitDisconnects.delete(clientId) || info?.reason === 'disconnect';
    const { reason, at } = departureOf({
      decided: decidedHere, explicit, engineLastSeen: info?.lastSeen, trackedLastSeen: presence.lastSeen(clientId), now: clock.now(),
    });
    track(presence.gone(clientId, reason, at).catch((error) => logger.error({ err: error, clientId }, 'presence: could not record a departure')));
  });
  // In a cluster another process may have destroyed the client: forget it here.
  // Not at once: the Redis engine's `close` notification can overtake the
  // local `disconnect` of a client this very process destroyed, whose
  // departure then still finds the auth and last-seen time in memory instead
  // of reading them back from Redis.
  adapter.bind('close', (clientId: string) => {
    clock.after(1000, () => presence.forgetLocally(clientId));
  });

  let dashboard: Dashboard | undefined;
  let isReady = false;
  let closed = false;
  const extension = new PresenceExtension({
    presence,
    beforeLeave,
    logger,
    secret: opts.secret,
    validateMessage: opts.validateMessage,
    authorizeSubscription: opts.authorizeSubscription,
    maxMessageBytes: opts.maxMessageBytes,
    clientExists: (clientId) => new Promise((resolve) => proxy.clientExists(clientId, resolve)),
    ping: (clientId) => proxy.ping(clientId),
    rememberedAuth: (clientId) => store.rememberedAuth(clientId),
    track,
    isReady: () => isReady && !closed,
    clock,
  });
  adapter.addExtension({
    incoming(message: BayeuxMessage, request: IncomingMessage | null, callback: (message: BayeuxMessage) => void) {
      extension.incoming(message, request, (answer) => {
        // Only a disconnect the extension let through ends the client.
        if (answer.channel === '/meta/disconnect' && !answer.error && typeof answer.clientId === 'string' && presence.isKnown(answer.clientId)) {
          explicitDisconnects.add(answer.clientId);
        }
        callback(answer);
      });
    },
  });
  if (metrics) {
    adapter.addExtension({
      incoming(message: BayeuxMessage, callback: (message: BayeuxMessage) => void) {
        metrics.bayeuxMessage(message.channel);
        callback(message);
      },
    });
  }
  limitRequestBodies(adapter, bodyLimitFor(opts.maxMessageBytes), logger);
  limitBatches(adapter, { maxMessages: opts.maxMessagesPerRequest, maxFrameBytes: bodyLimitFor(opts.maxMessageBytes) }, logger);
  if (opts.presenceDiffs) adapter.addExtension(new PresenceStateExtension(store, logger));
  adapter.attach(httpServer);

  const bundle = clientBundlePath();
  app.get(opts.clientPath, (_req, res) => {
    if (!bundle) {
      res.status(404).type('text/plain').send('faye-online: the browser client is not built; run `npm run build` in the faye-online package');
      return;
    }
    res.type('application/javascript').sendFile(bundle);
  });

  const reports = createReports({
    sequelize,
    timeZone: opts.timeZone,
    engagement: opts.engagement,
    status: {
      store,
      records,
      isLive: engineLiveness(proxy),
      settle: () => settled(),
      onListChanged: (room, list) => userLists.changed(room, list),
    },
  });
  app.use(`${opts.reports.prefix}/history`, historyRouter(history, { authorize: opts.reports.authorize, logger }));
  app.use(opts.reports.prefix, reportsRouter(reports, { authorize: opts.reports.authorize, logger }));
  if (metrics && opts.metrics) {
    app.get(opts.metrics.path, async (_req, res) => {
      const { contentType, body } = await metrics.scrape();
      res.type(contentType).send(body);
    });
  }

  if (!opts.secret) logger.warn({}, 'no `secret`: auth is not signed, so any page can claim to be any user (the gem\'s behaviour); see faye-online\'s docs/security.md');

  const ready = (async () => {
    const useMigrations = opts.autoMigrate ?? sequelize.getDialect() === 'sqlite';
    if (useMigrations) await migrate(sequelize, 'up');
    else await ensureMigrated(sequelize, { engagement: opts.engagement, events: opts.events !== undefined });
    if (prepareRedis) {
      await prepareRedis().catch((error) => {
        throw new FayeOnlineError('REDIS_UNREACHABLE', `Redis does not answer (${(error as Error).message}); start it or fix the \`redis\` option`, { cause: error });
      });
    }
    if (redisEngine) await redisEngine.ready();
    isReady = true;
    events?.start();
    startReconciling();
    logger.info({ mount: opts.mount, embedded }, 'faye-online ready');
  })();
  ready.catch((error) => logger.error({ err: error }, `faye-online is not ready: ${(error as Error).message}`));

  async function settled(): Promise<void> {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await presence.idle();
  }

  // Reconciliation: once at startup (after a crash the records may still show
  // users online) and then periodically, by one process of the cluster at a time.
  const clientExists = (clientId: string) => new Promise<boolean>((resolve) => proxy.clientExists(clientId, resolve));
  let lastReconciliation: { at: Date; report: ReconcileReport } | null = null;
  const reconcileNow = (): Promise<ReconcileReport> =>
    reconcile({
      store,
      records,
      logger,
      clientExists,
      localClientIds: () => presence.knownClientIds(),
      // The process reconciling may never have seen the page: it left as of
      // the engine's last ping, which the engine keeps until its GC removes
      // the client (clientExists turns false well before that).
      departOrphan: async (clientId) => {
        const engineLastSeen = (await redisEngine?.lastSeen(clientId)) ?? undefined;
        const { reason, at } = departureOf({ explicit: false, engineLastSeen, trackedLastSeen: presence.lastSeen(clientId), now: clock.now() });
        return presence.gone(clientId, reason, at);
      },
      forUser: (uid, task) => presence.forUser(uid, task),
      onListChanged: (room, list) => userLists.changed(room, list),
      engagement: opts.engagement,
      clock,
      leaveAbandoned: (pending, scope) => presence.leaveAbandoned(pending, scope),
      listRepaired: events && ((repair) => events.listRepaired(repair)),
    }).then((report) => (lastReconciliation = { at: new Date(clock.now()), report }).report);
  let reconcileTimer: ClockTimer | undefined;
  // After Redis came back, once the pages had a timeout's time to reconnect or
  // re-handshake; every process, unlocked: each one's tracked clientIds matter.
  let reconcileSoonTimer: ClockTimer | undefined;
  function reconcileSoon(): void {
    if (closed || reconcileSoonTimer) return;
    logger.info({ inSeconds: opts.timeout }, 'Redis is back after a connection loss; reconciling soon');
    reconcileSoonTimer = clock.after(opts.timeout * 1000, () => {
      reconcileSoonTimer = undefined;
      track(reconcileNow().catch((error) => logger.error({ err: error }, 'reconciliation failed; it runs again later')));
    });
  }
  function startReconciling(): void {
    const run = async () => {
      if (closed || !(await store.lock('reconcile', Math.max(1000, opts.reconcileInterval * 900)))) return;
      await reconcileNow();
    };
    const pass = () => track(run().catch((error) => logger.error({ err: error }, 'reconciliation failed; it runs again later')));
    const schedule = () => {
      reconcileTimer = clock.after(opts.reconcileInterval * 1000, () => {
        if (closed) return;
        schedule();
        pass();
      });
    };
    pass();
    if (opts.reconcileInterval > 0) schedule();
  }

  function historyOf(method: string): HistoryApi {
    if (!history) throw new FayeOnlineError('INVALID_OPTION', `${method}: history is off; pass \`events: true\` to attachFayeOnline (docs/events.md)`);
    return history;
  }

  Object.assign(handle, {
    reconcile: reconcileNow,
    adapter,
    ready,
    ...reports,
    metricsRegistry: metrics?.register,
    onlineUsers: async (room: string) => records.onlineList(channelArgument('onlineUsers', 'room', room)),
    onlineCount: async (room: string) => (await records.onlineList(channelArgument('onlineCount', 'room', room))).length,
    async members(room: string): Promise<Member[]> {
      channelArgument('members', 'room', room);
      const [order, byUser] = await Promise.all([records.onlineList(room), store.clientIdsByUser(room)]);
      const uids = inArrivalOrder(order, byUser);
      const users = await usersOf(store, byUser);
      return uids.map((uid) => ({ uid, uname: users.get(uid)!.uname, clientIds: byUser.get(uid)! }));
    },
    presenceState: async (room: string) => presenceSnapshot(store, channelArgument('presenceState', 'room', room)),
    onlineTime: async (uid: number, timeChannel: string) =>
      records.onlineTime(uidArgument('onlineTime', uid), channelArgument('onlineTime', 'timeChannel', timeChannel)),
    async engagedTime(uid: number, timeChannel: string): Promise<EngagedTime> {
      uidArgument('engagedTime', uid);
      channelArgument('engagedTime', 'timeChannel', timeChannel);
      if (!opts.engagement) throw new FayeOnlineError('INVALID_OPTION', 'engaged time is not recorded: the `engagement` option is false');
      return records.engagedTime(uid, timeChannel);
    },
    settled,
    presentAt: async (room: string, at: Date) => historyOf('presentAt').presentAt(channelArgument('presentAt', 'room', room), dateArgument('presentAt', 'at', at)),
    async attendance(room: string, from: Date, to: Date) {
      channelArgument('attendance', 'room', room);
      if (dateArgument('attendance', 'to', to) < dateArgument('attendance', 'from', from)) throw new FayeOnlineError('INVALID_ARGUMENT', 'attendance: `to` is before `from`');
      return historyOf('attendance').attendance(room, from, to);
    },
    lastSeen: async (uid: number) => historyOf('lastSeen').lastSeen(uidArgument('lastSeen', uid)),
    dashboard: () =>
      (dashboard ??= createDashboard({
        ...opts, reports, store, records, sequelize, events: handle, authorize: opts.reports.authorize,
        metrics: metrics?.register, tracked: () => presence.knownClientIds().length, lastReconciliation: () => lastReconciliation,
      })).router,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await dashboard?.close();
      beforeLeave.close();
      reconcileTimer?.cancel();
      reconcileSoonTimer?.cancel();
      await ready.catch(() => undefined);
      await settled();
      // Alone, this process is the whole truth: whoever is still connected
      // leaves now, so that lists and timers do not stay open in the database.
      // In a cluster the other processes take the clients over.
      if (embedded) {
        await Promise.all(presence.knownClientIds().map((clientId) => presence.gone(clientId, 'disconnect')));
      }
      // Nobody here will be around when their grace periods end.
      await presence.confirmPendingLeaves();
      await events?.close();
      await userLists.flush();
      diffs.flush();
      await Promise.resolve(adapter.close());
      await store.close();
      metrics?.close();
      if (ownsDatabase) await sequelize.close();
    },
  });
  return handle;
}
