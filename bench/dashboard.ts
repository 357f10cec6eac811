// bench:dashboard: how fast the dashboard's data answers with many users online
// in one room (default 10,000), on MariaDB and Redis. The users are written
// straight into the presence store, the Faye engine's client set and the
// tables (real Faye clients for 10,000 users would measure the load generator),
// then a real server with the dashboard mounted is asked each endpoint
// `repeat` times over HTTP.
//   npm run bench:dashboard -- --users 10000 --repeat 20
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { Records, openDatabase } from '../lib/records';
import { migrate } from '../lib/schema';
import { RedisStore } from '../lib/stores/redis-store';
import { createBacking, startPresenceServer } from '../test/support/presence-server';
import { parseFlags } from './support/args';
import { inPool } from './support/pool';
import { runBenchmark } from './support/processes';
import { percentile, progress, saveResult, table } from './support/report';
import { fillOnlineList } from '../test/support/online-lists';
import { EngineKeys } from '../lib/stores/keys';

const flags = parseFlags({ users: 10_000, repeat: 20 });
const ROOM = '/bench/dashboard';
const LESSON = '/bench/dashboard/lesson';

async function populate(backing: Awaited<ReturnType<typeof createBacking>>): Promise<void> {
  const sequelize = openDatabase(backing.databaseUrl);
  await migrate(sequelize, 'up');
  const records = new Records({ sequelize, timeZone: 'UTC' });
  const redis = new Redis(backing.redis!.url);
  const store = new RedisStore({ redis, ownsConnection: true, namespace: backing.namespace, maxClientIdsPerUser: 32 });
  const uids = Array.from({ length: flags.users }, (_, i) => i + 1);
  const now = Date.now();
  progress(`writing ${flags.users} users into Redis`);
  await inPool(uids, 100, async (uid) => {
    const clientId = `bench${uid}`;
    const authJson = JSON.stringify({ room_channel: ROOM, time_channel: LESSON, current_user: { uid, uname: `user ${uid}` } });
    await store.arrive({ clientId, uid, room: ROOM, timeChannel: LESSON, authJson, at: now });
  });
  for (let i = 0; i < uids.length; i += 1000) {
    await redis.zadd(new EngineKeys(backing.namespace).clients, ...uids.slice(i, i + 1000).flatMap((uid) => [now, `bench${uid}`]));
  }
  progress('writing the online list and every user\'s running timer');
  await fillOnlineList(records, ROOM, uids);
  await records.channelId(LESSON); // the first login log row creates it on a real server
  await inPool(uids, 20, async (uid) => { await records.startTimer(uid, LESSON, new Date(now - uid * 1000)); });
  await store.close();
  await sequelize.close();
}

runBenchmark(async () => {
  const backing = await createBacking('mysql+redis');
  try {
    await populate(backing);
    // The clients' pings are as old as the population: a long timeout keeps the engine from expiring them while we measure.
    const server = await startPresenceServer('mysql+redis', { reports: { authorize: () => true }, timeout: 3600, gc: 3600, reconcileInterval: 0 }, backing);
    server.app.use('/faye-online', server.handle.dashboard());
    const base = `http://127.0.0.1:${server.port}/faye-online/data/`;
    const endpoints: Array<[string, string]> = [
      ['rooms', 'rooms'],
      ['members, first page (50)', `members?room=${ROOM}`],
      ['members, last page (50)', `members?room=${ROOM}&offset=${flags.users - 50}`],
      ['members, page of 500', `members?room=${ROOM}&limit=500`],
      [`time per channel (${flags.users} users)`, `time?channel=${LESSON}`],
      ['health', 'health'],
      [`members CSV (all ${flags.users})`, `members?room=${ROOM}&format=csv`],
    ];
    const rows = [];
    const results: Record<string, unknown> = {};
    for (const [name, path] of endpoints) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < flags.repeat; i++) {
        const started = performance.now();
        const res = await fetch(base + path);
        const body = await res.text();
        times.push(performance.now() - started);
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body}`);
        bytes = body.length;
      }
      times.sort((a, b) => a - b);
      const stats = { p50: percentile(times, 50), p95: percentile(times, 95), max: times[times.length - 1], bytes };
      results[name] = stats;
      rows.push([name, stats.p50, stats.p95, stats.max, Math.round(bytes / 1024)]);
      progress(`${name}: p50 ${stats.p50?.toFixed(1)} ms`);
    }
    await server.close();
    console.log(`\nDashboard data with ${flags.users} users online in one room (MariaDB + Redis, ${flags.repeat} requests each, one at a time)\n`);
    console.log(table(['endpoint', 'p50 ms', 'p95 ms', 'max ms', 'KiB'], rows));
    console.log(`\nsaved ${saveResult('dashboard', { users: flags.users, repeat: flags.repeat, results })}`);
  } finally {
    await backing.release();
  }
});
