// needs: mysql, redis
// `faye-online status` and `faye-online log` as an operator runs them: the
// compiled bin against a live cluster's database and Redis, readable tables,
// JSON, and one-line errors with non-zero exit codes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { assertOneLineError, cli } from '../support/cli';
import { PresenceKeys } from '../../lib/stores/keys';


describe('faye-online status and log', () => {
  let server: PresenceServer;
  const clients: TestClient[] = [];
  let ids: string[] = [];
  let env: NodeJS.ProcessEnv;

  before(async () => {
    server = await startPresenceServer('mysql+redis');
    for (const [uid, uname] of [[470700, 'mvj3'], [470700, 'mvj3'], [1, 'ann']] as const) {
      const client = onlineClient(server.url, auth(uid, uname, '/classes/4', '/courses/5/lessons/1'));
      clients.push(client);
      ids.push(await client.connected());
    }
    await server.handle.settled();
    env = { DATABASE_URL: server.db!.url, REDIS_URL: server.redis!.url };
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await server.close();
  });

  test('status prints every room and time channel as tables', async () => {
    const run = await cli(['status', '--namespace', server.namespace], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Online: 2 users, 3 clientIds in 1 room and 1 time channel\n/);
    assert.match(run.stdout, /\nRoom \/classes\/4: 2 users, 3 clientIds\n {2}UID {5}NAME {2}CLIENTIDS\n {2}1 {7}ann {3}\S+\n {2}470700 {2}mvj3 {2}\S+ \S+\n/);
    assert.match(run.stdout, /\nTime channel \/courses\/5\/lessons\/1: 2 users, 3 clientIds\n/);
    assert.match(run.stdout, /\nNothing stale\.\n$/);
  });

  test('status --cleanup shows its plan, then with --yes repairs as reconciliation does; --json prints the report', async () => {
    await server.redis!.redis.hset(new PresenceKeys(server.namespace).channel('/classes/4'), '5', '["gone5"]');
    const seen = await cli(['status', '--namespace', server.namespace, '--url', server.db!.url, '--redis', server.redis!.url]);
    assert.match(seen.stdout, /\nStale: 1 clientId in Redis, 0 online-list entries; run with --cleanup to see the repair\.\n$/);
    const planned = await cli(['status', '--namespace', server.namespace, '--cleanup'], env);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /\nCleanup plan \(1 user\):\n {2}depart 1 clientId of user 5 \(Faye client gone\): gone5\nDry run: nothing was changed\. Run again with --yes to apply it\.\n$/);
    const cleaned = await cli(['status', '--namespace', server.namespace, '--cleanup', '--yes'], env);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.match(cleaned.stdout, /\nDeparted gone5\nCleanup: 1 clientId departed, 0 online-list changes, 0 timers and 0 engaged sessions stopped\.\n$/);
    const json = await cli(['status', '--namespace', server.namespace, '--json'], env);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.totals, { users: 2, clientIds: 3, rooms: 1, timeChannels: 1 });
    assert.deepEqual(report.stale, { clientIds: [], onlineListEntries: [] });
    assertOneLineError(await cli(['status', '--yes'], env), /^faye-online status: --yes only goes with --cleanup/);
  });

  test('log --user prints each tab\'s sessions and the channel total', async () => {
    await clients[0].disconnect();
    await eventually(async () => (await server.query(`SELECT 1 FROM faye_user_login_logs WHERE status = 0`)).length === 1, 5000, 'logout row');
    const run = await cli(['log', '--user', '470700'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Logins of user 470700 \(UTC\)\n\n\/courses\/5\/lessons\/1: online \d+s\n {2}CLIENTID +LOGIN +LOGOUT +SECONDS\n/);
    assert.match(run.stdout, new RegExp(`\\n  ${ids[0]}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  \\d+\\n`));
    assert.match(run.stdout, new RegExp(`\\n  ${ids[1]}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  online +\\d+\\n`));
    const json = JSON.parse((await cli(['log', '--user', '470700', '--channel', '/courses/5/lessons/1', '--from', '2020-01-01', '--json'], env)).stdout);
    assert.equal(json.channels[0].clients.length, 2);
    const none = await cli(['log', '--user', '470700', '--to', '2020-01-01'], env);
    assert.match(none.stdout, /to 2020-01-01 00:00:00 \(UTC\)\n\nNo logins found\.\n$/);
  });

  test('mistakes end in one line and a non-zero exit', async () => {
    assertOneLineError(await cli(['log'], env), /^faye-online log: --user UID is required/);
    assertOneLineError(await cli(['log', '--user', 'x'], env), /^faye-online log: --user must be a positive integer, got "x"/);
    assertOneLineError(await cli(['log', '--user', '1', '--from', 'May 1'], env), /^faye-online log: --from must be an ISO 8601 date/);
    assertOneLineError(await cli(['log', '--user', '1', '--channel', 'lesson 1'], env), /^faye-online log: channel must be a channel name .*\[INVALID_OPTION\] \(see faye-online log --help\)$/);
    assertOneLineError(await cli(['log', '--user', '1']), /^faye-online log: no database given/);
    assertOneLineError(await cli(['status', '--url', server.db!.url]), /^faye-online status: no Redis given/);
    assertOneLineError(await cli(['status', '--bogus'], env), /^faye-online status: unknown option --bogus/);
    const redisDown = await cli(['status', '--url', server.db!.url, '--redis', 'redis://127.0.0.1:1/0']);
    assertOneLineError(redisDown, /^faye-online status: Redis does not answer at redis:\/\/127\.0\.0\.1:1\/0 .*\[REDIS_UNREACHABLE\]$/);
    const dbDown = await cli(['log', '--user', '1', '--url', 'mysql://root@127.0.0.1:1/nothing']);
    assertOneLineError(dbDown, /^faye-online log: .*\[DATABASE_UNREACHABLE\]$/);
  });
});
