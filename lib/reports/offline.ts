// Reports without a running server (the CLI): the database and, for status,
// the cluster's Redis. Liveness then comes from faye-redis' `<ns>/clients`
// sorted set, which every server of the cluster keeps up to date.
import { Presence } from '../core/presence';
import { reconcile, type ReconcileReport } from '../core/reconcile';
import { departureOf } from '../core/departures';
import { systemClock } from '../core/clock';
import { FayeOnlineError } from '../errors';
import { silentLogger } from '../log';
import { defaultTimeZone } from '../records/legacy-format';
import { redactUrl } from '../log';
import { ensureMigrated } from '../schema';
import { existingTables } from '../schema/layout';
import { openRedisStore, openSql } from '../backends';
import { EngineKeys } from '../stores/keys';
import { checkNamespace, DEFAULTS } from '../options';
import type { ReportsApi } from './http';
import { createReports } from './api';
import { fayeRedisLiveness } from './liveness';
import type { ClusterSigns, RunningTimer } from './cleanup';

export interface OfflineReportsOptions {
  databaseUrl: string;
  /** Needed for status only. */
  redisUrl?: string;
  namespace?: string;
  /** The servers' Faye timeout, seconds (a client is live while pinged within 1.6 × timeout). Default 10. */
  timeout?: number;
  timeZone?: string;
  /** MySQL/MariaDB: how long to wait for the server to answer, ms. Default: the driver's. */
  connectTimeoutMs?: number;
  /** Wait before cleanup removes what is stale, ms. Default 1000. */
  graceMs?: number;
}

export interface OfflineReports extends ReportsApi {
  /** What `status --cleanup` needs besides the status report (Redis required). */
  cleanup: OfflineCleanup;
  close(): Promise<void>;
}

export interface OfflineCleanup {
  /** The Redis address and namespace, as an operator would recognise them. */
  where: { redis: string; namespace: string };
  signs(): Promise<ClusterSigns>;
  runningTimers(): Promise<RunningTimer[]>;
  /** The servers' reconciliation pass, run from here: dead clientIds depart (logouts logged, timers stopped), lists and timers follow. */
  repair(): Promise<ReconcileReport>;
}

export async function openOfflineReports(options: OfflineReportsOptions): Promise<OfflineReports> {
  const timeZone = options.timeZone ?? defaultTimeZone();
  const namespace = checkNamespace(options.namespace ?? DEFAULTS.namespace);
  const { sequelize, records, close: closeSql } = openSql(options.databaseUrl, { timeZone, connectTimeoutMs: options.connectTimeoutMs });
  const { redis, store } = options.redisUrl
    ? openRedisStore(options.redisUrl, 'oneShot', { namespace, maxClientIdsPerUser: DEFAULTS.maxClientIdsPerUser })
    : { redis: undefined, store: undefined };
  // A refused connection rejects connect() below; the event would only print a second report of it.
  redis?.on('error', () => undefined);
  const close = async () => {
    await store?.close();
    await closeSql();
  };
  try {
    // Engaged time is reported when its table exists; the gem's tables are required.
    await ensureMigrated(sequelize, { engagement: false });
    if (redis) {
      await redis.connect().catch((error: Error) => {
        throw new FayeOnlineError('REDIS_UNREACHABLE', `Redis does not answer at ${redactUrl(options.redisUrl ?? '')} (${error.message}); start it or fix --redis / REDIS_URL`, { cause: error });
      });
    }
  } catch (error) {
    await close();
    throw error;
  }
  const noRedis = async (): Promise<never> => {
    throw new FayeOnlineError('INVALID_OPTION', 'status needs the cluster\'s Redis: pass --redis redis://host:6379/1 or set REDIS_URL (an embedded server keeps its state in its own process; ask its /faye-online/api/status endpoint)');
  };
  const isLive = redis ? fayeRedisLiveness(redis, namespace, options.timeout ?? DEFAULTS.timeout) : noRedis;
  const reports = createReports({
    sequelize,
    timeZone,
    status: {
      store: store ?? { channels: noRedis, clientIdsByUser: noRedis, rememberedAuths: noRedis, forget: noRedis },
      records,
      isLive,
      graceMs: options.graceMs,
    },
  });
  const cleanup: OfflineCleanup = {
    where: { redis: redactUrl(options.redisUrl ?? ''), namespace },
    async signs() {
      if (!redis || !store) return noRedis();
      const [engineClients, channels] = await Promise.all([redis.zcard(new EngineKeys(namespace).clients), store.channels()]);
      return { engineClients, presenceChannels: channels.length };
    },
    runningTimers: () => records.runningTimers(),
    async repair() {
      if (!store) return noRedis();
      // Engaged sessions are repaired where the servers record them (their table exists).
      const engagement = (await existingTables(sequelize, ['faye_online_engaged_times'])).length > 0;
      // The dead clients' pages are gone for good: no leave grace.
      const presence = new Presence({ store, records, logger: silentLogger, leaveGraceMs: 0, engagement });
      const failures: Error[] = [];
      presence.on('writeFailed', (error) => failures.push(error));
      const report = await reconcile({
        store,
        records,
        logger: silentLogger,
        clientExists: async (clientId) => (await isLive([clientId])).has(clientId),
        localClientIds: () => [],
        // Nobody tracks the page here and faye-redis keeps no last ping past its GC: as of now.
        departOrphan: (clientId) => {
          const { reason, at } = departureOf({ explicit: false, now: systemClock.now() });
          return presence.depart(clientId, reason, at);
        },
        forUser: (uid, task) => presence.forUser(uid, task),
        // The servers publish <room>/user_list on their next change of the room.
        onListChanged: () => undefined,
        engagement,
      });
      await presence.idle();
      if (failures.length > 0) throw failures[0];
      return report;
    },
  };
  return { ...reports, cleanup, close };
}
