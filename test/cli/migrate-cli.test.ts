// needs: mysql
// `faye-online migrate` as a user runs it: the compiled bin, real output, exit codes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMariadbBackend, createSqliteBackend, type TestBackend } from '../support/databases';
import { assertOneLineError, cli } from '../support/cli';


describe('faye-online migrate', () => {
  let mariadb: TestBackend;
  before(async () => { mariadb = await createMariadbBackend('cli'); });
  after(() => mariadb.cleanup());

  it('prints help globally and per command', async () => {
    const global = await cli(['--help']);
    assert.equal(global.code, 0);
    assert.match(global.stdout, /Usage: faye-online <command>/);
    assert.match(global.stdout, /migrate\s+create, revert or inspect/);
    const migrate = await cli(['migrate', '--help']);
    assert.equal(migrate.code, 0);
    assert.match(migrate.stdout, /Usage: faye-online migrate <up\|down\|status\|adopt>/);
    assert.match(migrate.stdout, /--all/);
  });

  it('runs up, status, up again, down on MariaDB (URL from --url or DATABASE_URL)', async () => {
    const up = await cli(['migrate', 'up', '--url', mariadb.url]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /== 20130326113504 faye_create_user_list: migrating\n== 20130326113504 faye_create_user_list: migrated \(\d+\.\d\d s\)\n/);
    assert.match(up.stdout, /== 20130531033325 add_faye_user_login_logs: migrated/);
    assert.match(up.stdout, /== 20261128190000 create_faye_online_engaged_times: migrated/);
    assert.match(up.stdout, /== 20261130090000 create_faye_online_events: migrated/);
    assert.match(up.stdout, /== 20261130100000 create_faye_online_webhooks: migrated/);
    assert.match(up.stdout, /\n5 migrations applied in \d+\.\d s\n$/);

    const status = await cli(['migrate', 'status'], { DATABASE_URL: mariadb.url });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /up {4}20130326113504  faye_create_user_list\nup {4}20130531033325  add_faye_user_login_logs\nup {4}20261128190000  create_faye_online_engaged_times\nup {4}20261130090000  create_faye_online_events\nup {4}20261130100000  create_faye_online_webhooks\nUp to date: 5 applied\n$/);

    const again = await cli(['migrate', 'up'], { DATABASE_URL: mariadb.url });
    assert.match(again.stdout, /\nNothing to do: database is up to date \(5 applied\)\n$/);

    const down = await cli(['migrate', 'down', '--url', mariadb.url]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /== 20261130100000 create_faye_online_webhooks: reverted .*\n1 migration reverted in \d+\.\d s\n$/);
    const after = await cli(['migrate', 'status', '--url', mariadb.url]);
    assert.match(after.stdout, /down  20261130100000  create_faye_online_webhooks\n4 applied, 1 pending: run `faye-online migrate up`\n$/);
  });

  it('widens online_times only when asked (--widen-online-times), and down narrows it back while nothing is longer', async () => {
    const columnType = async () => (await mariadb.rows<{ t: string }>(
      "SELECT DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'faye_user_online_times' AND COLUMN_NAME = 'online_times'"))[0].t;
    assert.equal((await cli(['migrate', 'up', '--url', mariadb.url])).code, 0);
    assert.equal(await columnType(), 'text', 'the gem\'s TEXT unless asked');
    const widen = await cli(['migrate', 'up', '--widen-online-times', '--url', mariadb.url]);
    assert.equal(widen.code, 0, widen.stderr);
    assert.match(widen.stdout, /== 20261129200000 widen_faye_user_online_times: migrated .*\n1 migration applied in/);
    assert.equal(await columnType(), 'mediumtext');
    const status = await cli(['migrate', 'status', '--url', mariadb.url]);
    assert.match(status.stdout, /up {4}20261129200000  widen_faye_user_online_times\nUp to date: 6 applied\n$/);
    assertOneLineError(await cli(['migrate', 'down', '--widen-online-times', '--url', mariadb.url]), /--widen-online-times only goes with up/);
    const down = await cli(['migrate', 'down', '--url', mariadb.url]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await columnType(), 'text');
    await cli(['migrate', 'down', '--all', '--yes', '--url', mariadb.url]);
  });

  it('points at adopt when the tables exist but are not recorded, and adopts them', async () => {
    await cli(['migrate', 'up', '--url', mariadb.url]);
    await mariadb.exec('DELETE FROM schema_migrations');
    const up = await cli(['migrate', 'up', '--url', mariadb.url]);
    assertOneLineError(up, /^faye-online migrate: tables .* already exist .*faye-online migrate adopt.*\[SCHEMA_UNTRACKED\]$/);
    const adopt = await cli(['migrate', 'adopt', '--url', mariadb.url]);
    assert.equal(adopt.code, 0, adopt.stderr);
    assert.match(adopt.stdout, /: adopted \(layout verified\)\n.*\n5 migrations adopted; database is up to date\n$/);
  });

  it('down lists what it would drop and refuses to drop the gem\'s tables holding rows unless --yes', async () => {
    await cli(['migrate', 'up', '--url', mariadb.url]);
    await mariadb.exec("INSERT INTO faye_user_login_logs (status, uid, t, channel_id, clientId) VALUES (1, 470700, '2026-11-29 10:00:00', 1, 'abc')");
    const refused = await cli(['migrate', 'down', '--all', '--url', mariadb.url]);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /\nReverting drops faye_online_webhook_cursors \(0 rows\), faye_online_webhook_dead_letters \(0 rows\), faye_online_events \(0 rows\), faye_online_engaged_times \(0 rows\), faye_user_login_logs \(1 row, the gem's\), faye_channels \(0 rows, the gem's\), faye_channel_online_lists \(0 rows, the gem's\), faye_user_online_times \(0 rows, the gem's\)\n$/);
    assertOneLineError(refused, /^faye-online migrate: refusing to drop the gem's tables that hold rows \(faye_user_login_logs: 1 row\); on a shared database they are the Rails app's data too\. Nothing was changed; pass --yes to drop them anyway$/);
    assert.match((await cli(['migrate', 'status', '--url', mariadb.url])).stdout, /Up to date: 5 applied\n$/);
    // Our own tables alone may go: it holds no Rails data.
    for (let i = 0; i < 3; i += 1) {
      const ours = await cli(['migrate', 'down', '--url', mariadb.url]);
      assert.equal(ours.code, 0, ours.stderr);
    }
    const forced = await cli(['migrate', 'down', '--all', '--yes', '--url', mariadb.url]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /\n2 migrations reverted in \d+\.\d s\n$/);
    assertOneLineError(await cli(['migrate', 'up', '--yes', '--url', mariadb.url]), /^faye-online migrate: --yes only goes with down/);
  });

  it('works on an SQLite file', async () => {
    const sqlite = await createSqliteBackend();
    try {
      const up = await cli(['migrate', 'up', '--url', sqlite.url]);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /5 migrations applied/);
      const down = await cli(['migrate', 'down', '--all', '--url', sqlite.url]);
      assert.match(down.stdout, /5 migrations reverted/);
    } finally {
      await sqlite.cleanup();
    }
  });

  describe('says in one line what is wrong and how to fix it', () => {
    it('no server on the port', async () => {
      assertOneLineError(await cli(['migrate', 'up', '--url', 'mysql://root@127.0.0.1:1/x']), /connection refused; start the MySQL\/MariaDB server or fix host and port .*\[DATABASE_UNREACHABLE\]$/);
    });
    it('a URL that is not one', async () => {
      assertOneLineError(await cli(['migrate', 'up', '--url', 'postgres://u@h/db']), /scheme "postgres:" is not supported; expected mysql:\/\/.*\[DATABASE_URL\]$/);
      assertOneLineError(await cli(['migrate', 'up', '--url', 'mysql://127.0.0.1']), /must name a host and a database.*\[DATABASE_URL\]$/);
    });
    it('a wrong password', async () => {
      const url = mariadb.url.replace('mysql://root', 'mysql://root:wrong-password');
      assertOneLineError(await cli(['migrate', 'status', '--url', url]), /access denied; fix the user name and password .*\[DATABASE_AUTH\]$/);
    });
    it('an unknown database', async () => {
      const url = mariadb.url.replace(/\/[^/]+$/, '/faye_online_no_such_db');
      assertOneLineError(await cli(['migrate', 'up', '--url', url]), /database "faye_online_no_such_db" does not exist .*CREATE DATABASE .*\[DATABASE_URL\]$/);
    });
    it('no URL at all, or a wrong command line', async () => {
      const none = await cli(['migrate', 'up']);
      assert.equal(none.code, 2);
      assertOneLineError(none, /no database given; pass --url .* or set DATABASE_URL/);
      assertOneLineError(await cli(['migrate', 'sideways', '--url', mariadb.url]), /expected one of up, down, status, adopt/);
      assertOneLineError(await cli(['frobnicate']), /unknown command "frobnicate"/);
    });
  });
});
