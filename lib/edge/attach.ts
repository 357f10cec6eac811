// attachFayeOnline: mounts Faye on an Express app's HTTP server with the
// presence extension, and wires the presence core to its backends, the
// broadcasts, before_leave, reconciliation and the public handle. Each part has
// its own module; this file only connects them.
import type { Server as HttpServer } from 'node:http';
import type { Express } from 'express';
import { openServerBackends } from '../backends';
import { firstRecordTtlSeconds } from '../stores/store';
import { Presence } from '../core/presence';
import { createDashboard, type Dashboard } from '../dashboard';
import { historyApi, PresenceEventsRunner } from '../events';
import { RedisEngine } from '../engine';
import { PresenceMetrics } from '../metrics';
import { resolveOptions, type FayeOnlineOptions } from '../options';
import { createReports, engineLiveness } from '../reports';
import { ensureMigrated, migrate } from '../schema';
import { webhookDelivery } from '../webhooks';
import { onReconnected } from '../stores/redis-connection';
import { BeforeLeave } from './before-leave';
import { Broadcasts, beforeLeaveLiveness } from './broadcasts';
import { Departures } from './departures';
import { PresenceExtension } from './extension';
import { createAdapter, serveFaye } from './faye-server';
import { FayeOnlineServer, emitPublicEvents, type FayeOnlineHandle } from './handle';
import { InFlight, Lifecycle } from './lifecycle';
import { Reconciliation } from './reconciliation';
import { mountRoutes } from './routes';
import { trace } from './trace';

export type { FayeOnlineEvents, FayeOnlineHandle, Member } from './handle';

export function attachFayeOnline(app: Express, httpServer: HttpServer, options: FayeOnlineOptions = {}): FayeOnlineHandle {
  const opts = resolveOptions(options);
  const { logger, clock, engagement } = opts;

  // Created before presence exists; it only asks presence when scraped.
  const metrics = opts.metrics ? new PresenceMetrics(opts.metrics.register, { isTracked: (clientId) => presence.isKnown(clientId) }) : undefined;
  const backends = openServerBackends(
    {
      ...opts, leaveGraceMs: opts.leaveGrace * 1000, firstRecordTtlSeconds: firstRecordTtlSeconds(opts), onLockConflict: () => metrics?.sqlLockConflict(),
      recordEvents: opts.events !== undefined, outboxLimit: opts.events?.outboxLimit,
    },
    { onRedisError: metrics && (() => metrics.redisError()), onRedisReconnecting: metrics && (() => metrics.redisReconnecting()) },
  );
  const { sql: { sequelize, records }, store, embedded } = backends;
  // One process of the cluster POSTs faye_online_events to the webhook URL (docs/webhooks.md).
  const webhooks = webhookDelivery({ sequelize, webhooks: opts.webhooks, clock, logger, register: metrics?.register });
  const adapter = createAdapter(opts, backends.engine);
  const proxy = adapter._server._engine;
  const redisEngine = embedded ? undefined : RedisEngine.fromAdapter(adapter);
  const presence = new Presence({ store, records, logger, clock, leaveGraceMs: opts.leaveGrace * 1000, engagement });
  // Presence events (docs/events.md): the outbox's drainer, retention, the repairs' events, history.
  const events = opts.events && backends.outbox
    ? new PresenceEventsRunner({ settings: opts.events, outbox: backends.outbox, sequelize, logger, clock, register: metrics?.register, lock: (name, ttl) => store.lock(name, ttl) })
    : undefined;
  const history = opts.events ? historyApi(sequelize, clock) : undefined;
  const inFlight = new InFlight(metrics && ((work) => metrics.time(work)));
  const track = (work: Promise<unknown>) => inFlight.track(work);
  const settled = async () => {
    await inFlight.settled();
    await presence.idle();
  };
  const broadcasts = new Broadcasts({ proxy, clock, logger, userListWindowMs: opts.userListWindow, presenceDiffs: opts.presenceDiffs, readList: (room) => records.onlineList(room) });

  // Departures: before_leave decides some, Faye's 'disconnect' processes every one, once.
  const departures = new Departures({ clock, trackedLastSeen: (clientId) => presence.lastSeen(clientId), engineLastSeen: redisEngine && ((clientId) => redisEngine.lastSeen(clientId)) });
  const beforeLeave = new BeforeLeave({
    delayMs: opts.beforeLeaveDelay * 1000,
    clock,
    liveness: beforeLeaveLiveness(proxy, redisEngine, (clientId) => presence.lastSeen(clientId), (clientId, at) => {
      departures.decide(clientId, at);
      proxy.destroyClient(clientId);
    }),
    onError: (error, clientId) => logger.error({ err: error, clientId }, 'before_leave check failed'),
  });
  adapter.bind('disconnect', (clientId: string) => {
    extension.forget(clientId);
    const { reason, at } = departures.destroyed(clientId, redisEngine?.disconnectInfo(clientId));
    track(presence.gone(clientId, reason, at).catch((error) => logger.error({ err: error, clientId }, 'presence: could not record a departure')));
  });
  // In a cluster another process may have destroyed the client: forget it here.
  // Not at once: the Redis engine's `close` notification can overtake the
  // local `disconnect` of a client this very process destroyed, whose
  // departure then still finds the auth and last-seen time in memory instead
  // of reading them back from Redis.
  adapter.bind('close', (clientId: string) => clock.after(1000, () => presence.forgetLocally(clientId)));

  const extension = new PresenceExtension({
    presence, beforeLeave, logger, clock, track,
    secret: opts.secret, validateMessage: opts.validateMessage, authorizeSubscription: opts.authorizeSubscription, maxMessageBytes: opts.maxMessageBytes,
    clientExists: (clientId) => new Promise((resolve) => proxy.clientExists(clientId, resolve)),
    ping: (clientId) => proxy.ping(clientId),
    rememberedAuth: (clientId) => store.rememberedAuth(clientId),
    isReady: () => lifecycle.open,
  });
  serveFaye(adapter, httpServer, opts, {
    presence: extension, onDisconnect: (clientId) => departures.disconnected(clientId), isTracked: (clientId) => presence.isKnown(clientId),
    authOf: (clientId) => presence.authOf(clientId) ?? null, store, metrics, logger,
  });

  const reconciliation = new Reconciliation({
    presence, departures, track, clock, logger, intervalSeconds: opts.reconcileInterval, timeoutSeconds: opts.timeout,
    sources: {
      store, records, engagement,
      clientExists: (clientId) => new Promise<boolean>((resolve) => proxy.clientExists(clientId, resolve)),
      onListChanged: (room, list) => broadcasts.listChanged(room, list),
      listRepaired: events && ((repair) => events.listRepaired(repair)),
    },
  });
  // Restarted or failed over, Redis may have lost the last writes before.
  if (backends.redis) onReconnected(backends.redis, () => reconciliation.soon());

  const reports = createReports({
    sequelize, timeZone: opts.timeZone, engagement,
    status: { store, records, isLive: engineLiveness(proxy), settle: settled, onListChanged: (room, list) => broadcasts.listChanged(room, list) },
  });
  mountRoutes(app, { clientPath: opts.clientPath, reports: { api: reports, ...opts.reports }, history, metrics: metrics && opts.metrics && { collector: metrics, path: opts.metrics.path }, logger });
  if (!opts.secret) logger.warn({}, 'no `secret`: auth is not signed, so any page can claim to be any user (the gem\'s behaviour); see faye-online\'s docs/security.md');

  let dashboard: Dashboard | undefined;
  const lifecycle = new Lifecycle({
    logger,
    async start() {
      if (opts.autoMigrate ?? sequelize.getDialect() === 'sqlite') await migrate(sequelize, 'up');
      else await ensureMigrated(sequelize, { engagement, events: opts.events !== undefined || opts.webhooks !== undefined, webhooks: opts.webhooks !== undefined });
      await backends.ping();
      if (redisEngine) await redisEngine.ready();
    },
    onReady() {
      events?.start();
      reconciliation.start();
      webhooks?.start();
      logger.info({ mount: opts.mount, embedded }, 'faye-online ready');
    },
    async stopping() {
      reconciliation.stop();
      beforeLeave.close();
      await dashboard?.close();
      await webhooks?.close();
    },
    stop: [
      settled,
      // Alone, this process is the whole truth: whoever is still connected
      // leaves now, so that lists and timers do not stay open in the database.
      // In a cluster the other processes take the clients over.
      async () => {
        if (!embedded) return;
        await Promise.all(presence.knownClientIds().map((clientId) => {
          const { reason, at } = departures.shutdown();
          return presence.gone(clientId, reason, at);
        }));
      },
      // Nobody here will be around when their grace periods end.
      () => presence.confirmPendingLeaves(),
      // What those wrote is still in the outbox: drained once more, before the connections close.
      () => events?.close(),
      () => broadcasts.flush(),
      () => Promise.resolve(adapter.close()),
      () => metrics?.close(),
      () => backends.close(),
    ],
  });

  const handle = new FayeOnlineServer({
    adapter, ready: lifecycle.ready, reports, records, store, engagement, settled, history, now: () => new Date(clock.now()),
    metricsRegistry: metrics?.register,
    reconcile: () => reconciliation.now(),
    dashboard: (events) => (dashboard = createDashboard({
      ...opts, reports, store, records, sequelize, events, authorize: opts.reports.authorize,
      metrics: metrics?.register, tracked: () => presence.knownClientIds().length, lastReconciliation: () => reconciliation.lastReport,
    })).router,
    close: () => lifecycle.close(),
  });
  // Every reaction to presence derives from its one transition per change.
  presence.on('transition', (t) => {
    broadcasts.transition(t);
    metrics?.transition(t);
    if (opts.trace) trace(logger, t);
    emitPublicEvents(handle, t);
  });
  presence.on('evicted', (clientId) => extension.evicted(clientId));
  if (metrics) presence.on('writeFailed', () => metrics.sqlWriteFailed());
  return handle;
}
