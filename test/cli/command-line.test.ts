// The `faye-online` command line itself, the same for every command: the
// version, our own words for parser mistakes, exit code 2 for every usage
// mistake, output into a pipe that closes early, and the pending migrations of
// an empty database counted as the server counts them. No services needed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NOT_SETTINGS, SETTINGS } from '../../lib/cli/serve';
import { resolveOptions } from '../../lib/options';
import { createTestSqlite } from '../support/sqlite';
import { BIN, cli, type Run } from '../support/cli';

/** Exit 2 and one line on stderr that says `pattern`, no stack trace. */
function assertUsage(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 2, run.stdout + run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], pattern);
}

describe('the faye-online command line', () => {
  it('prints its version with --version (and -v)', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const run = await cli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${version}\n`);
    }
    assert.match((await cli(['--help'])).stdout, /faye-online --version/);
  });

  it('says what is wrong in its own words, never in the parser\'s, and exits 2', async () => {
    assertUsage(await cli(['status', '--uri', 'mysql://x/y']), /^faye-online status: unknown option --uri \(did you mean --url\?\) \(see faye-online status --help\)$/);
    assertUsage(await cli(['status', '--timeout', '-1', '--url', 'mysql://h/d', '--redis', 'redis://h']), /^faye-online status: --timeout must be a positive number of seconds, got "-1"/);
    assertUsage(await cli(['status', '--timeout']), /^faye-online status: --timeout needs a value/);
    assertUsage(await cli(['status', '--json=yes']), /^faye-online status: --json takes no value, got "yes"/);
    assertUsage(await cli(['status', 'now']), /^faye-online status: unexpected argument "now"/);
    assertUsage(await cli(['log', '--user', '1', '--user', '2']), /^faye-online log: --user is given twice/);
    assertUsage(await cli(['migrate', 'up', '-x']), /^faye-online migrate: unknown option -x/);
    assertUsage(await cli(['serve', '--prot', '80']), /^faye-online serve: unknown option --prot \(did you mean --port\?\)/);
    for (const run of await Promise.all([cli(['status', '--uri', 'x']), cli(['serve', '--timeout', '-1']), cli(['migrate', 'up', '--url'])])) {
      assert.doesNotMatch(run.stderr, /ambiguous|ERR_PARSE_ARGS|To specify/);
    }
  });

  it('exits 2 for a range that ends before it starts, before opening the database', async () => {
    assertUsage(await cli(['log', '--user', '1', '--from', '2026-05-02', '--to', '2026-05-01', '--url', 'mysql://root@127.0.0.1:1/none']),
      /^faye-online log: --from \(2026-05-02 00:00:00\) is after --to \(2026-05-01 00:00:00\)/);
  });

  it('exits 2 when the library refuses a value the command line gave', async () => {
    const sqlite = createTestSqlite();
    try {
      assert.equal((await cli(['migrate', 'up', '--url', sqlite.url])).code, 0);
      assertUsage(await cli(['log', '--user', '1', '--channel', 'lesson 1', '--url', sqlite.url]), /^faye-online log: channel must be a channel name .*\[INVALID_OPTION\] \(see faye-online log --help\)$/);
    } finally {
      sqlite.remove();
    }
  });

  it('stops writing quietly when the reader of its output went away (status | head)', async () => {
    const sqlite = createTestSqlite();
    try {
      assert.equal((await cli(['migrate', 'up', '--url', sqlite.url])).code, 0);
      const child = spawn(process.execPath, [BIN, 'migrate', 'status', '--url', sqlite.url], { env: { PATH: process.env.PATH } });
      // The reading end closes before the command writes a line: every write meets a closed pipe.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(stderr, '');
      assert.equal(code, 0);
    } finally {
      sqlite.remove();
    }
  });

  it('names the fix when the optional sqlite3 driver is not installed and the embedded database is used', async () => {
    const child = spawn(process.execPath, ['--require', join(__dirname, '..', 'support', 'without-sqlite3.js'), BIN, 'serve', '--port', '0'], { env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 1, stdout + stderr);
    assert.doesNotMatch(stdout, /ready/);
    assert.equal(stderr, 'faye-online serve: the embedded SQLite database needs the sqlite3 package, which faye-online leaves optional; ' +
      'install it with `npm install sqlite3`, or give a MySQL/MariaDB database (the `database` option, --url or DATABASE_URL) [DATABASE_DRIVER_MISSING]\n');
  });

  it('says what it waits for when the database does not answer, and gives up after FAYE_ONLINE_DB_TIMEOUT', async () => {
    // Accepts connections and never says a word, like a host behind a firewall that drops packets.
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { port } = silent.address() as { port: number };
      const run = await cli(['migrate', 'status', '--url', `mysql://root@127.0.0.1:${port}/app`], { FAYE_ONLINE_DB_TIMEOUT: '2' });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines[0], `faye-online: waiting for the database root@127.0.0.1:${port}/app to answer (up to 2 s; FAYE_ONLINE_DB_TIMEOUT) ...`);
      assert.match(lines[1], /^faye-online migrate: cannot connect to root@127\.0\.0\.1:\d+\/app: .*\[DATABASE_UNREACHABLE\]$/);
      assert.equal(lines.length, 2, run.stderr);
    } finally {
      silent.close();
    }
  });

  it('counts the same pending migrations on an empty database as the server does', async () => {
    const sqlite = createTestSqlite();
    try {
      const status = await cli(['status', '--url', sqlite.url, '--redis', 'redis://127.0.0.1:1/0']);
      assert.equal(status.code, 1);
      assert.match(status.stderr, /not migrated \(pending: 20130326113504, 20130531033325, 20261128190000, 20261130090000, 20261130100000\).*\[SCHEMA_NOT_MIGRATED\]$/m);
    } finally {
      sqlite.remove();
    }
  });
});

describe('faye-online serve settings', () => {
  it('name every option of attachFayeOnline: each is a flag with a variable, or listed with the reason it cannot be one', async () => {
    // The options' own list, as resolveOptions states it for an unknown one.
    let known: string[] = [];
    try {
      resolveOptions({ notAnOption: true } as never);
    } catch (error) {
      known = /\(known: ([^)]+)\)/.exec((error as Error).message)![1].split(', ');
    }
    assert.ok(known.length > 20, known.join(', '));
    const covered = new Set([...SETTINGS.flatMap((s) => (s.option ? [s.option] : [])), ...Object.keys(NOT_SETTINGS)]);
    assert.deepEqual(known.filter((name) => !covered.has(name as never)), []);
    const help = (await cli(['serve', '--help'])).stdout;
    for (const s of SETTINGS) assert.match(help, new RegExp(`\\n  --${s.flag} \\S+\\n(?:      .*\\n)*?      env ${s.env}; default: `), s.flag);
  });
});
