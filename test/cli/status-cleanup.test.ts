// needs: mysql, redis
// `faye-online status --cleanup` cannot hurt live data: after a real crash
// (a server process killed with SIGKILL, its users left online in MySQL and
// Redis), cleanup pointed at the wrong Redis database, namespace or SQL
// database refuses and changes nothing; a cleanup larger than --max-users
// refuses; without --yes it is a dry run; with --yes it makes exactly the
// repair a starting server's reconciliation makes on the same crash.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Records } from '../../lib/records';
import { openDatabase } from '../../lib/records/database';
import { migrate } from '../../lib/schema';
import { startCluster, sqlReader, onlineUids, type Cluster } from '../cluster/processes';
import { loginRows, onlineTimes, type SqlReader } from '../presence/sql-helpers';
import { cli, type Run } from '../support/cli';
import { createTestDatabase } from '../support/mariadb';
import { auth, eventually, onlineClient, startPresenceServer, type TestClient } from '../support/presence-server';
import { EngineKeys } from '../../lib/stores/keys';

const ROOM = '/classes/4';
const TIME = '/courses/5/lessons/1';
const TIMEOUT = 1; // seconds: the servers' Faye timeout, so the crashed clients are dead 1.6 s after the kill

interface Crash {
  cluster: Cluster;
  sql: SqlReader;
  clientIds: string[];
  env: NodeJS.ProcessEnv;
}

/** Two users (one with two tabs) online on a server process that is then killed with SIGKILL. */
async function crash(tabs: TestClient[], clusters: Cluster[]): Promise<Crash> {
  const cluster = await startCluster(1, { timeout: TIMEOUT, gc: 1, reconcileInterval: 0, leaveGrace: 0, timeZone: 'UTC' });
  clusters.push(cluster);
  const sql = sqlReader(cluster);
  const server = cluster.processes[0];
  const clientIds: string[] = [];
  for (const [uid, uname] of [[470700, 'mvj3'], [470700, 'mvj3'], [1, 'ann']] as const) {
    const tab = onlineClient(server.url, auth(uid, uname, ROOM, TIME));
    tabs.push(tab);
    clientIds.push(await tab.connected());
  }
  await eventually(async () => (await onlineUids(sql, ROOM)).length === 2 && (await loginRows(sql, clientIds)).length === 3, 10_000, 'both users online in MySQL');
  await server.kill();
  for (const tab of tabs) tab.vanish();
  const env = { DATABASE_URL: cluster.backing.databaseUrl, REDIS_URL: cluster.backing.redis!.url };
  // The killed server's clients stop pinging: dead once their last ping is 1.6 x timeout old.
  const redis = cluster.backing.redis!.redis;
  await eventually(async () => {
    const pings = await redis.zrange(new EngineKeys(cluster.namespace).clients, 0, -1, 'WITHSCORES');
    const scores = pings.filter((_, i) => i % 2 === 1).map(Number);
    return scores.length === 3 && scores.every((score) => score < Date.now() - 1600 * TIMEOUT - 200);
  }, 10_000, 'the crashed clients dead');
  return { cluster, sql, clientIds, env };
}

/** What a repair decides, in terms that do not depend on when it ran. */
async function outcome(c: Crash) {
  const rows = await loginRows(c.sql, c.clientIds);
  const timers = await Promise.all([470700, 1].map(async (uid) => Object.keys(JSON.parse((await onlineTimes(c.sql, uid)) ?? '{}')).filter((k) => k.endsWith('_started_at'))));
  return {
    list: await onlineUids(c.sql, ROOM),
    logouts: c.clientIds.map((id) => rows.filter((r) => r.clientId === id && r.status === 0).length),
    runningTimers: timers.flat(),
  };
}

const unchanged = { list: [1, 470700], logouts: [0, 0, 0], runningTimers: [`${TIME}_started_at`, `${TIME}_started_at`] };

function assertRefused(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const lines = run.stderr.trim().split('\n').filter((line) => !line.startsWith('faye-online: waiting for the database'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /^faye-online status: refusing to clean up: /);
  assert.match(lines[0], pattern);
  assert.match(lines[0], /; nothing was changed$/);
}

describe('faye-online status --cleanup', () => {
  const tabs: TestClient[] = [];
  const clusters: Cluster[] = [];
  let a: Crash;
  before(async () => { a = await crash(tabs, clusters); });
  after(async () => {
    for (const tab of tabs) tab.vanish();
    await Promise.all(clusters.map((c) => c.close()));
  });

  it('refuses on a Redis database that shows no sign of the cluster', async () => {
    const wrongDb = a.env.REDIS_URL!.replace(/\/\d+$/, '/12');
    const run = await cli(['status', '--namespace', a.cluster.namespace, '--timeout', '1', '--cleanup', '--yes', '--redis', wrongDb], a.env);
    assertRefused(run, new RegExp(`redis://127\\.0\\.0\\.1:6379/12 \\(namespace ${a.cluster.namespace}\\) shows no sign of a faye-online cluster: no Faye clients in ${a.cluster.namespace}/clients and no presence keys`));
    assert.deepEqual(await outcome(a), unchanged);
  });

  it('refuses in a namespace that shows no sign of the cluster', async () => {
    const run = await cli(['status', '--namespace', `${a.cluster.namespace}x`, '--timeout', '1', '--cleanup', '--yes'], a.env);
    assertRefused(run, /shows no sign of a faye-online cluster.*Check --redis \(its database number\) and --namespace/);
    assert.deepEqual(await outcome(a), unchanged);
  });

  it('refuses when it would change more users than --max-users', async () => {
    const run = await cli(['status', '--namespace', a.cluster.namespace, '--timeout', '1', '--cleanup', '--yes', '--max-users', '1'], a.env);
    assertRefused(run, /the cleanup would change 2 users, more than --max-users 1\. .*raise --max-users/);
    assert.match(run.stdout, /\nCleanup plan \(2 users\):\n/);
    assert.deepEqual(await outcome(a), unchanged);
  });

  it('shows the plan and changes nothing without --yes (no terminal to ask)', async () => {
    const run = await cli(['status', '--namespace', a.cluster.namespace, '--timeout', '1', '--cleanup'], a.env);
    assert.equal(run.code, 0, run.stderr);
    const [tab1, tab2, ann] = a.clientIds;
    assert.match(run.stdout, new RegExp(
      '\\nCleanup plan \\(2 users\\):\\n' +
      `  depart 1 clientId of user 1 \\(Faye client gone\\): ${ann}\\n` +
      `  depart 2 clientIds of user 470700 \\(Faye client gone\\): ${[tab1, tab2].sort().join(' ')}\\n` +
      `  remove user (1|470700) from the online list of /classes/4\\n  remove user (1|470700) from the online list of /classes/4\\n` +
      `  stop the timer of user (1|470700) in ${TIME}\\n  stop the timer of user (1|470700) in ${TIME}\\n` +
      'Dry run: nothing was changed\\. Run again with --yes to apply it\\.\\n$'));
    assert.deepEqual(await outcome(a), unchanged);
  });

  it('with --yes makes the same repair as a starting server\'s reconciliation: logouts logged, timers stopped, lists emptied', async () => {
    const b = await crash(tabs, clusters);
    {
      const run = await cli(['status', '--namespace', a.cluster.namespace, '--timeout', '1', '--cleanup', '--yes', '--json'], a.env);
      assert.equal(run.code, 0, run.stderr);
      const { cleanup } = JSON.parse(run.stdout) as { cleanup: { plan: { users: number[] }; refused: string | null; applied: { orphanClientIds: string[] } } };
      assert.equal(cleanup.refused, null);
      assert.deepEqual(cleanup.plan.users, [1, 470700]);
      assert.deepEqual([...cleanup.applied.orphanClientIds].sort(), [...a.clientIds].sort());

      // The same crash, repaired by a server that starts on it.
      const server = await startPresenceServer('mysql+redis', { timeout: TIMEOUT, gc: 1, timeZone: 'UTC', reconcileInterval: 300 }, b.cluster.backing);
      try {
        await eventually(async () => (await outcome(b)).logouts.every((n) => n === 1), 10_000, 'the server repaired the crash');
        await server.handle.settled();
      } finally {
        await server.close();
      }
      const expected = { list: [], logouts: [1, 1, 1], runningTimers: [] };
      assert.deepEqual(await outcome(b), expected);
      assert.deepEqual(await outcome(a), expected);

      const again = await cli(['status', '--namespace', a.cluster.namespace, '--timeout', '1', '--cleanup', '--yes'], a.env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /\nNothing stale\.\n\nCleanup: nothing to repair\.\n$/);
    }
  });
});

describe('faye-online status --cleanup against the database of another cluster', () => {
  it('refuses when not one user online in the database is live in Redis', async () => {
    const server = await startPresenceServer('mysql+redis', { timeout: TIMEOUT });
    const other = await createTestDatabase('other_cluster');
    const tab = onlineClient(server.url, auth(470700, 'mvj3', ROOM, TIME));
    try {
      await tab.connected();
      await server.handle.settled();
      const sequelize = openDatabase(other.url);
      try {
        await migrate(sequelize, 'up');
        const records = new Records({ sequelize });
        for (const uid of [7, 8]) await records.addToOnlineList('/classes/9', uid);
      } finally {
        await sequelize.close();
      }
      const run = await cli(['status', '--namespace', server.namespace, '--cleanup', '--yes'], { DATABASE_URL: other.url, REDIS_URL: server.redis!.url });
      assertRefused(run, /the database and redis:\/\/127\.0\.0\.1:6379\/9 \(namespace \w+\) look like two different clusters: 2 user\(s\) online in the database, 1 live in Redis, and not one in both/);
      const [rows] = await other.raw.query('SELECT user_info_list FROM faye_channel_online_lists');
      assert.deepEqual(rows, [{ user_info_list: '[7,8]' }]);
    } finally {
      await tab.disconnect();
      await other.drop();
      await server.close();
    }
  });
});
