// A Redis primary, one replica and three sentinels of the test's own (all
// redis-server, the sentinels with --sentinel), on ports of the 27000-27999
// range, and the means to fail the primary.
import Redis from 'ioredis';
import { removeScratch, scratchDir, startService, stopAll, writeConfig, type Service } from './services';

export const MASTER_NAME = 'faye-online-test';

export interface SentinelSet {
  /** The `redis` option / REDIS_URL for this set (database 0). */
  url: string;
  primary: Service;
  replica: Service;
  sentinels: Service[];
  /** host:port of the primary as the sentinels see it now. */
  primaryAddress(): Promise<string>;
  /** A connection to whatever is primary now (through the sentinels), for the test's own reads. */
  connect(): Redis;
  stop(): Promise<void>;
}

/** Failure is decided after 1 s without an answer: short, so that the test is short. */
const DOWN_AFTER_MS = 1000;

function redisArgs(dir: string, port: number, extra: string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, ...extra];
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startSentinelSet(ports: { primary: number; replica: number; sentinels: [number, number, number] }): Promise<SentinelSet> {
  const dir = scratchDir('sentinel');
  const started: Service[] = [];
  try {
    const primary = await startService('redis-primary', 'redis-server', redisArgs(dir, ports.primary), ports.primary);
    started.push(primary);
    const replica = await startService('redis-replica', 'redis-server', redisArgs(dir, ports.replica, ['--replicaof', '127.0.0.1', String(ports.primary)]), ports.replica);
    started.push(replica);
    const probe = new Redis({ port: ports.replica, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await until(async () => /master_link_status:up/.test(await probe.info('replication')), 10_000, 'the replica did not sync');
    } finally {
      probe.disconnect();
    }

    const sentinels: Service[] = [];
    for (const port of ports.sentinels) {
      // Sentinel rewrites its configuration file: one each, in the scratch folder.
      const config = writeConfig(dir, `sentinel-${port}.conf`, [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${ports.primary} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'));
      const sentinel = await startService(`sentinel-${port}`, 'redis-server', [config, '--sentinel'], port);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Ready for a failover once every sentinel knows the replica and the two other sentinels.
    for (const sentinel of sentinels) {
      const client = new Redis({ port: sentinel.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        await until(async () => {
          const replicas = (await client.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
          const others = (await client.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as string[][];
          return replicas.length === 1 && others.length === 2;
        }, 15_000, `sentinel ${sentinel.port} did not discover the replica and the other sentinels`);
      } finally {
        client.disconnect();
      }
    }

    const sentinelList = ports.sentinels.map((port) => ({ host: '127.0.0.1', port }));
    return {
      url: `redis+sentinel://${ports.sentinels.map((port) => `127.0.0.1:${port}`).join(',')}/${MASTER_NAME}?db=0`,
      primary,
      replica,
      sentinels,
      async primaryAddress() {
        for (const sentinel of sentinels) {
          if (!sentinel.running()) continue;
          const client = new Redis({ port: sentinel.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
          try {
            const [host, port] = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[];
            return `${host}:${port}`;
          } catch {
            // the next one
          } finally {
            client.disconnect();
          }
        }
        throw new Error('no sentinel answers');
      },
      connect: () => new Redis({ sentinels: sentinelList, name: MASTER_NAME }),
      async stop() {
        await stopAll(started);
        removeScratch(dir);
      },
    };
  } catch (error) {
    await stopAll(started);
    removeScratch(dir);
    throw error;
  }
}
