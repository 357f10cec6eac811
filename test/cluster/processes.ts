// A cluster of presence servers, each a real child process (server-process.js),
// sharing one MariaDB database and one Redis namespace of the test's own. The
// processes report what happens in them over IPC, so a test can tell which
// process did what; every child is killed when the test process ends, however
// it ends.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { migrate } from '../../lib/schema';
import { openDatabase } from '../../lib/records';
import type { FayeOnlineOptions } from '../../lib';
import { createBacking, type Backing } from '../support/presence-server';
import { userInfoList, type SqlReader } from '../presence/sql-helpers';
import { PresenceKeys } from '../../lib/stores/keys';

/** What server-process.js is started with. */
export interface ServerProcessConfig {
  database: string;
  redis: string;
  namespace: string;
  /** `dashboard`: mount it at /faye-online, open to requests with the header `x-dashboard: open`. */
  options: Pick<FayeOnlineOptions, 'timeout' | 'gc' | 'beforeLeaveDelay' | 'userListWindow' | 'reconcileInterval' | 'timeZone' | 'leaveGrace' | 'events'> & { dashboard?: boolean };
}

export type Report =
  | { type: 'listening'; port: number }
  | { type: 'engine'; event: 'disconnect'; clientId: string; reason?: string; lastSeen?: number }
  | { type: 'presence'; event: 'join' | 'leave' | 'arrive' | 'depart'; clientId: string; uid: number; room: string; timeChannel: string; at: number; reason?: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields: Record<string, unknown> };

/** A report with the process that sent it and when the test received it. */
export type Received = Report & { from: string; receivedAt: number };

export interface ServerProcess {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  reports: Received[];
  /** Whether the process is still running. */
  running(): boolean;
  /** kill -9: no cleanup of any kind. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: handle.close(), then exit. Resolves once the process is gone. */
  stop(): Promise<void>;
}

export interface Cluster {
  processes: ServerProcess[];
  backing: Backing;
  namespace: string;
  /** Every report of every process, in the order the test received them. */
  reports: Received[];
  /** Stops every process that still runs and removes the database and the Redis keys. */
  close(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'server-process.js');
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * `where` points the processes at another Redis (a Sentinel URL) or database (a
 * MariaDB of the test's own) than the backing's; the backing's namespace stays.
 */
export async function startCluster(count: number, options: ServerProcessConfig['options'], where: { redis?: string; database?: string } = {}): Promise<Cluster> {
  const backing = await createBacking('mysql+redis');
  const database = where.database ?? backing.databaseUrl;
  const sequelize = openDatabase(database);
  try {
    // Once, here: processes migrating the same database at the same time would race.
    await migrate(sequelize, 'up');
  } finally {
    await sequelize.close();
  }
  const reports: Received[] = [];
  const config: ServerProcessConfig = { database, redis: where.redis ?? backing.redis!.url, namespace: backing.namespace, options };
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startProcess(`P${i}`, config, reports)));
  const processes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const cluster: Cluster = {
    processes,
    backing,
    namespace: backing.namespace,
    reports,
    async close() {
      await Promise.all(processes.map((p) => p.stop()));
      await backing.release();
    },
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await cluster.close();
    throw (failed as PromiseRejectedResult).reason;
  }
  return cluster;
}

/** One more process on the cluster's database and Redis namespace (e.g. after another was killed), with its own options. */
export async function addProcess(cluster: Cluster, name: string, options: ServerProcessConfig['options']): Promise<ServerProcess> {
  const config: ServerProcessConfig = { database: cluster.backing.databaseUrl, redis: cluster.backing.redis!.url, namespace: cluster.namespace, options };
  const added = await startProcess(name, config, cluster.reports);
  cluster.processes.push(added);
  return added;
}

async function startProcess(name: string, config: ServerProcessConfig, all: Received[]): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, FAYE_ONLINE_TEST_SERVER: JSON.stringify(config) };
  delete env.NODE_TEST_CONTEXT; // the child is a server, not a test file of this run
  const child = fork(SCRIPT, [], { execArgv: [], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  running.add(child);
  const exited = once(child, 'exit').then(() => {
    running.delete(child);
  });
  const reports: Received[] = [];
  child.on('message', (report: Report) => {
    const received = { ...report, from: name, receivedAt: Date.now() };
    reports.push(received);
    all.push(received);
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000);
    child.on('message', (report: Report) => {
      if (report.type === 'listening') {
        clearTimeout(timer);
        resolve(report.port);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      const errors = reports.filter((r) => r.type === 'log' && r.level === 'error').map((r) => (r as { message: string }).message);
      reject(new Error(`${name} exited before listening (code ${child.exitCode}); errors: ${errors.join('; ') || 'none logged'}`));
    });
  });

  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const signal = async (sig: NodeJS.Signals, graceMs: number) => {
    if (!isRunning()) return;
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}/faye`,
    child,
    reports,
    running: isRunning,
    kill: () => signal('SIGKILL', 0),
    stop: () => signal('SIGTERM', 10_000),
  };
}

/** Reports of one kind, from every process. */
export function reportsOf<T extends Report['type']>(reports: Received[], type: T): Array<Extract<Report, { type: T }> & { from: string; receivedAt: number }> {
  return reports.filter((r) => r.type === type) as Array<Extract<Report, { type: T }> & { from: string; receivedAt: number }>;
}

// --- what the cluster shares, read raw --------------------------------------

/** A room's or time channel's uid → clientIds hash (the gem's key), clientIds sorted. */
export async function clientIdsByUser(cluster: Cluster, channel: string): Promise<Record<string, string[]>> {
  const raw = await cluster.backing.redis!.redis.hgetall(new PresenceKeys(cluster.namespace).channel(channel));
  return Object.fromEntries(Object.entries(raw).map(([uid, json]) => [uid, (JSON.parse(json) as string[]).sort()]));
}

/** Every clientId in every `/<ns>/uid_to_clientIds*` hash of the namespace. */
export async function clientIdsInAllHashes(cluster: Cluster): Promise<Set<string>> {
  const redis = cluster.backing.redis!.redis;
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${new PresenceKeys(cluster.namespace).channel('')}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      for (const json of Object.values(await redis.hgetall(key))) for (const clientId of JSON.parse(json) as string[]) found.add(clientId);
    }
  } while (cursor !== '0');
  return found;
}

/** Raw SQL on the shared database (for the helpers of test/presence/sql-helpers.ts). */
export function sqlReader(cluster: Cluster): SqlReader {
  return {
    async query<T>(sql: string) {
      const [rows] = await cluster.backing.db!.raw.query(sql);
      return rows as T[];
    },
  };
}

/** The uids of a room's MySQL online list, sorted: arrivals handled by different processes may finish in any order. */
export async function onlineUids(sql: SqlReader, room: string): Promise<number[]> {
  return (JSON.parse((await userInfoList(sql, room)) ?? '[]') as number[]).sort((a, b) => a - b);
}
