// The services a bench run writes to: a fresh MariaDB database and a Redis
// namespace of its own on database 9 (the test helpers', so the same rules
// hold: unique names, dropped and deleted after, never anyone else's).
import { createTestDatabase, type TestDatabase } from '../../test/support/mariadb';
import { createTestRedis, type TestRedis } from '../../test/support/redis';

export interface Backing {
  redis: TestRedis;
  db?: TestDatabase;
  release(): Promise<void>;
}

export async function createBacking(options: { database: boolean }): Promise<Backing> {
  const redis = await createTestRedis();
  const db = options.database ? await createTestDatabase('bench') : undefined;
  return {
    redis,
    db,
    async release() {
      await redis.cleanup();
      await db?.drop();
    },
  };
}
