// `faye-online serve --dashboard-password`: the compiled bin in its own process
// (embedded SQLite) serves the dashboard and opens the JSON reports to whoever
// gives the password, over HTTP Basic, and to nobody else.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { BIN, cli } from '../support/cli';
import { eventually } from '../support/presence-server';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';

const PASSWORD = 'correct horse battery';
const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`teacher:${password}`).toString('base64')}` });

describe('faye-online serve --dashboard-password', () => {
  let sqlite: TestSqlite;
  let child: ChildProcess;
  let base: string;

  before(async () => {
    sqlite = createTestSqlite();
    child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--url', sqlite.url], {
      env: { PATH: process.env.PATH, FAYE_ONLINE_DASHBOARD_PASSWORD: PASSWORD, FAYE_ONLINE_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    base = await eventually(() => /ready at (http:\/\/[^/ ]+)/.exec(stdout)?.[1], 20_000, 'ready line');
  });

  after(async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
    sqlite.remove();
  });

  test('without the password the browser is asked for it (401), with a wrong one too', async () => {
    for (const headers of [{}, basic('wrong password!')]) {
      const res = await fetch(`${base}/faye-online/`, { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="faye-online", charset="UTF-8"');
      assert.equal((await fetch(`${base}/faye-online/api/status`, { headers })).status, 401, 'the reports stay closed');
    }
  });

  test('with the password: the dashboard, its data and the REST reports', async () => {
    const page = await fetch(`${base}/faye-online/`, { headers: basic(PASSWORD) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>faye-online dashboard<\/title>/);
    const script = await fetch(`${base}/faye-online/assets/dashboard.js`, { headers: basic(PASSWORD) });
    assert.equal(script.status, 200, 'the assets ship in the built package');
    const config = await (await fetch(`${base}/faye-online/data/config`, { headers: basic(PASSWORD) })).json();
    assert.equal(config.cluster, false);
    assert.equal((await fetch(`${base}/faye-online/api/status`, { headers: basic(PASSWORD) })).status, 200);
  });

  test('a short password is a usage error, one line', async () => {
    const run = await cli(['serve', '--dashboard-password', 'short'], {});
    assert.equal(run.code, 2);
    assert.match(run.stderr.trim(), /^faye-online serve: --dashboard-password \(FAYE_ONLINE_DASHBOARD_PASSWORD\) must be at least 12 characters/);
  });
});
