// attachFayeOnline: mounts Faye on an Express app's HTTP server with the
// presence extension, and wires the presence core to its backends, the
// broadcasts, before_leave, reconciliation and the public handle. Each part has
// its own module; this file only connects them.
import type { Server as HttpServer } from 'node:http';
import type { Express } from 'express';
import type { NodeAdapter } from 'faye';
import { openServerBackends, type ServerBackends } from '../backends';
import { firstRecordTtlSeconds } from '../stores/store';
import { Presence } from '../core/presence';
import { createDashboard, type Dashboard } from '../dashboard';
import { presenceEvents, type PresenceEventsRunner } from '../events';
import { RedisEngine } from '../engine';
import { PresenceMetrics } from '../metrics';
import { resolveOptions, type FayeOnlineOptions, type ResolvedOptions } from '../options';
import { clientExistsOn, createReports, engineLiveness } from '../reports';
import { ensureMigrated, migrate } from '../schema';
import { webhookDelivery } from '../webhooks';
import { onReconnected } from '../stores/redis-connection';
import { Broadcasts } from './broadcasts';
import type { BeforeLeave } from './before-leave';
import { bindDepartures, departEveryone, type Departures } from './departures';
import { PresenceExtension } from './extension';
import { createAdapter, serveFaye } from './faye-server';
import { FayeOnlineServer, type FayeOnlineHandle } from './handle';
import { InFlight, Lifecycle } from './lifecycle';
import { reactToPresence } from './reactions';
import { Reconciliation } from './reconciliation';
import { mountRoutes } from './routes';

export type { FayeOnlineEvents, FayeOnlineHandle, Member } from './handle';

export function attachFayeOnline(app: Express, httpServer: HttpServer, options: FayeOnlineOptions = {}): FayeOnlineHandle {
  const opts = resolveOptions(options);
  const { logger, clock, engagement } = opts;
  // Created before presence exists; it only asks presence when scraped.
  const metrics = opts.metrics ? new PresenceMetrics(opts.metrics.register, { isTracked: (clientId) => presence.isKnown(clientId) }) : undefined;
  const backends = openBackends(opts, metrics);
  const { sql: { sequelize, records }, store, embedded } = backends;
  const adapter = createAdapter(opts, backends.engine);
  const proxy = adapter._server._engine;
  const redisEngine = embedded ? undefined : RedisEngine.fromAdapter(adapter);
  // The store shares the engine's Redis: a first arrival checks and pings the client in its own script.
  const engineClients = redisEngine && (() => redisEngine.liveClients());
  const presence = new Presence({ store, records, logger, clock, leaveGraceMs: opts.leaveGrace * 1000, engagement, engineClients });
  const { runner: events, history } = presenceEvents(opts.events, { outbox: backends.outbox, sequelize, logger, clock, register: metrics?.register, lock: (name, ttl) => store.lock(name, ttl) });
  // One process of the cluster POSTs faye_online_events to the webhook URL (docs/webhooks.md).
  const webhooks = webhookDelivery({ sequelize, webhooks: opts.webhooks, clock, logger, register: metrics?.register });
  const inFlight = new InFlight(metrics && ((work) => metrics.time(work)));
  const track = (work: Promise<unknown>) => inFlight.track(work);
  const settled = () => inFlight.settled().then(() => presence.idle());
  const broadcasts = new Broadcasts({
    proxy, clock, logger, userListWindowMs: opts.userListWindow, presenceDiffs: opts.presenceDiffs, readList: (room) => records.onlineList(room), shared: !embedded,
  });
  const onListChanged = (room: string, list: number[]) => broadcasts.listChanged(room, list);
  const { departures, beforeLeave } = bindDepartures({ adapter, redisEngine, presence, clock, logger, track, beforeLeaveDelayMs: opts.beforeLeaveDelay * 1000, untrack: (clientId) => extension.forget(clientId) });
  const extension = new PresenceExtension({
    presence, beforeLeave, logger, clock, track,
    secret: opts.secret, validateMessage: opts.validateMessage, authorizeSubscription: opts.authorizeSubscription, maxMessageBytes: opts.maxMessageBytes,
    clientExists: clientExistsOn(proxy), ping: (clientId) => proxy.ping(clientId), rememberedAuth: (clientId) => store.rememberedAuth(clientId), isReady: () => lifecycle.open,
  });
  serveFaye(adapter, httpServer, opts, {
    presence: extension, onDisconnect: (clientId) => departures.disconnected(clientId), isTracked: (clientId) => presence.isKnown(clientId),
    authOf: (clientId) => presence.authOf(clientId) ?? null, store, metrics, logger,
  });
  // What reconciliation and the reports ask: the Redis engine's check rejects
  // when Redis fails (the pass fails and runs again later, a report fails),
  // where Faye's callback answers no and a live page would look gone.
  const clientExists = redisEngine ? (clientId: string) => redisEngine.alive(clientId) : clientExistsOn(proxy);
  const reconciliation = new Reconciliation({
    presence, departures, track, clock, logger, intervalSeconds: opts.reconcileInterval, timeoutSeconds: opts.timeout,
    sources: { store, records, engagement, clientExists, onListChanged, listRepaired: events && ((repair) => events.listRepaired(repair)) },
  });
  // Restarted or failed over, Redis may have lost the last writes before.
  if (backends.redis) onReconnected(backends.redis, () => reconciliation.soon());
  const reports = createReports({ sequelize, timeZone: opts.timeZone, engagement, status: { store, records, isLive: engineLiveness(clientExists), settle: settled, onListChanged } });
  mountRoutes(app, { clientPath: opts.clientPath, reports: { api: reports, ...opts.reports }, history, metrics: metrics && opts.metrics && { collector: metrics, path: opts.metrics.path }, logger });
  if (!opts.secret) logger.warn({}, 'no `secret`: auth is not signed, so any page can claim to be any user (the gem\'s behaviour); see faye-online\'s docs/security.md');

  let dashboard: Dashboard | undefined;
  const lifecycle = serverLifecycle(opts, {
    backends, redisEngine, adapter, presence, departures, beforeLeave, reconciliation, broadcasts, events, webhooks, metrics, settled, dashboard: () => dashboard,
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
  reactToPresence(presence, { broadcasts, metrics, trace: opts.trace ? logger : undefined, handle, evicted: (clientId) => extension.evicted(clientId) });
  return handle;
}

/** The server's backends, with the metrics of their connections and lock conflicts. */
function openBackends(opts: ResolvedOptions, metrics: PresenceMetrics | undefined): ServerBackends {
  return openServerBackends(
    {
      ...opts, leaveGraceMs: opts.leaveGrace * 1000, firstRecordTtlSeconds: firstRecordTtlSeconds(opts), onLockConflict: () => metrics?.sqlLockConflict(),
      recordEvents: opts.events !== undefined, outboxLimit: opts.events?.outboxLimit,
    },
    { onRedisError: metrics && (() => metrics.redisError()), onRedisReconnecting: metrics && (() => metrics.redisReconnecting()) },
  );
}

/** What must hold before the server serves: the schema (migrated here or checked), Redis, the engine's subscriptions. */
async function readyChecks(opts: ResolvedOptions, backends: ServerBackends, redisEngine: RedisEngine | undefined): Promise<void> {
  const { sequelize } = backends.sql;
  if (opts.autoMigrate ?? sequelize.getDialect() === 'sqlite') await migrate(sequelize, 'up');
  else await ensureMigrated(sequelize, { engagement: opts.engagement, events: opts.events !== undefined || opts.webhooks !== undefined, webhooks: opts.webhooks !== undefined });
  await backends.ping();
  if (redisEngine) await redisEngine.ready();
}

interface ServerParts {
  backends: ServerBackends;
  redisEngine: RedisEngine | undefined;
  adapter: NodeAdapter;
  presence: Presence;
  departures: Departures;
  beforeLeave: BeforeLeave;
  reconciliation: Reconciliation;
  broadcasts: Broadcasts;
  events: PresenceEventsRunner | undefined;
  webhooks: ReturnType<typeof webhookDelivery>;
  metrics: PresenceMetrics | undefined;
  settled(): Promise<void>;
  dashboard(): Dashboard | undefined;
}

/** When the server's parts start, and the order in which close() stops them. */
function serverLifecycle(opts: ResolvedOptions, p: ServerParts): Lifecycle {
  const { logger } = opts;
  return new Lifecycle({
    logger,
    start: () => readyChecks(opts, p.backends, p.redisEngine),
    onReady() {
      p.events?.start();
      p.reconciliation.start();
      p.webhooks?.start();
      logger.info({ mount: opts.mount, embedded: p.backends.embedded }, 'faye-online ready');
    },
    async stopping() {
      p.reconciliation.stop();
      p.beforeLeave.close();
      await p.dashboard()?.close();
      await p.webhooks?.close();
    },
    stop: [
      p.settled,
      // Alone, this process is the whole truth; in a cluster the other processes take its clients over.
      () => (p.backends.embedded ? departEveryone(p.presence, p.departures) : undefined),
      // Nobody here will be around when their grace periods end.
      () => p.presence.confirmPendingLeaves(),
      // What those wrote is still in the outbox: drained once more, before the connections close.
      () => p.events?.close(),
      () => p.broadcasts.flush(),
      () => Promise.resolve(p.adapter.close()),
      () => p.metrics?.close(),
      () => p.backends.close(),
    ],
  });
}
