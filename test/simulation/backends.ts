// The two backends the simulation runs on: embedded (MemoryStore, SQLite file,
// one process) and mysql-redis (RedisStore on real Redis, MariaDB, 2-3
// processes, each with its own connections). A backend is set up once; each run
// starts from empty tables and a fresh Redis namespace.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { Sequelize } from 'sequelize';
import { openDatabase } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryOutbox } from '../../lib/events/outbox';
import { RedisOutbox } from '../../lib/events/redis-outbox';
import { MemoryStore } from '../../lib/stores/memory-store';
import { RedisStore } from '../../lib/stores/redis-store';
import type { PresenceStore } from '../../lib/stores/store';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { REDIS_URL } from '../support/redis';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';
import { SETTINGS, type WorldBackend } from './world';
import { PresenceKeys } from '../../lib/stores/keys';

export type BackendName = 'embedded' | 'mysql-redis';

export interface SimBackend {
  name: BackendName;
  processes: number;
  /** A backend for one run, on empty tables. */
  fresh(): Promise<WorldBackend & { finish(): Promise<void> }>;
  close(): Promise<void>;
}

const TABLES = ['faye_channels', 'faye_channel_online_lists', 'faye_user_online_times', 'faye_user_login_logs', 'faye_online_engaged_times', 'faye_online_events'];

async function emptyTables(sequelize: Sequelize): Promise<void> {
  for (const table of TABLES) await sequelize.query(`DELETE FROM ${table}`);
}

/** `makeStore` replaces the MemoryStore (the checker's own test breaks one on purpose); events go to `outbox`. */
export async function embeddedBackend(
  makeStore: (outbox: MemoryOutbox) => PresenceStore = (outbox) => new MemoryStore(SETTINGS.maxClientIdsPerUser, SETTINGS.leaveGraceMs, outbox),
): Promise<SimBackend> {
  const file: TestSqlite = createTestSqlite();
  // SQLite is one file with one writer: every simulated process would share it anyway.
  const sequelize = openDatabase(file.url);
  await migrate(sequelize, 'up');
  return {
    name: 'embedded',
    processes: 1,
    async fresh() {
      await emptyTables(sequelize);
      const outbox = new MemoryOutbox();
      const store = makeStore(outbox);
      return {
        name: 'embedded',
        cluster: false,
        openProcess: () => ({ store, sequelize, outbox, close: async () => undefined }),
        finish: async () => store.close(),
      };
    },
    async close() {
      await sequelize.close();
      file.remove();
    },
  };
}

export async function mysqlRedisBackend(processes = 3): Promise<SimBackend> {
  const database: TestDatabase = await createTestDatabase('sim');
  const admin = openDatabase(database.url);
  await migrate(admin, 'up');
  const cleanup = new Redis(REDIS_URL);
  return {
    name: 'mysql-redis',
    processes,
    async fresh() {
      await emptyTables(admin);
      const namespace = `fosim_${randomBytes(4).toString('hex')}`;
      return {
        name: 'mysql-redis',
        cluster: true,
        openProcess: () => {
          const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
          const sequelize = openDatabase(database.url);
          const store = new RedisStore({
            redis, ownsConnection: true, namespace, maxClientIdsPerUser: SETTINGS.maxClientIdsPerUser, leaveGraceMs: SETTINGS.leaveGraceMs, outboxLimit: 100_000,
          });
          return {
            store,
            sequelize,
            outbox: new RedisOutbox(redis, namespace),
            async close() {
              await store.close();
              await sequelize.close();
            },
          };
        },
        async finish() {
          const keys = await cleanup.keys(new PresenceKeys(namespace).all);
          if (keys.length) await cleanup.del(...keys);
        },
      };
    },
    async close() {
      cleanup.disconnect();
      await admin.close();
      await database.drop();
    },
  };
}

export function openBackend(name: BackendName): Promise<SimBackend> {
  return name === 'embedded' ? embeddedBackend() : mysqlRedisBackend();
}
