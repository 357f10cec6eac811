// needs: mysql, redis
// `faye-online serve` as a Rails shop runs it: the compiled bin in its own
// process, a real MariaDB database and Redis, a real Faye client with `auth`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { auth, eventually, onlineClient } from '../support/presence-server';
import { createTestRedis, type TestRedis } from '../support/redis';
import { PresenceKeys } from '../../lib/stores/keys';

const BIN = join(__dirname, '..', '..', 'bin', 'faye-online.js');

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

interface Serving {
  child: ChildProcess;
  /** e.g. http://localhost:40123 */
  origin: string;
  output(): { stdout: string; stderr: string };
  exited: Promise<Run>;
}

/** Only what a server on a clean machine would see: no variables of the test process. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, FAYE_ONLINE_LOG_LEVEL: 'warn', ...env };
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exited: Promise<Run>; output(): { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exited, output: () => ({ stdout, stderr }) };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return spawnCli(args, env).exited;
}

/** Starts `serve` and resolves once it prints its ready line. */
async function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Serving> {
  const run = spawnCli(['serve', '--port', '0', ...args], env);
  const ready = await Promise.race([
    eventually(() => /ready at (http:\/\/[^/ ]+)/.exec(run.output().stdout)?.[1], 20_000, 'ready line'),
    run.exited.then((r) => { throw new Error(`serve exited with ${r.code} before it was ready:\n${r.stdout}${r.stderr}`); }),
  ]);
  return { ...run, origin: ready };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms); }),
  ]);
}

/** A failure is one line on stderr, no stack trace. */
function assertOneLineError(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, run.stdout + run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

describe('faye-online serve', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  before(async () => {
    db = await createTestDatabase('serve');
    redis = await createTestRedis();
    const migrated = await cli(['migrate', 'up', '--url', db.url]);
    assert.equal(migrated.code, 0, migrated.stderr);
  });
  after(async () => {
    await redis.cleanup();
    await db.drop();
  });

  it('lists every flag with its environment variable and default in --help', async () => {
    const run = await cli(['serve', '--help']);
    assert.equal(run.code, 0, run.stderr);
    for (const [flag, env, fallback] of [
      ['--port', 'PORT', '9292'], ['--host', 'HOST', 'every interface'], ['--mount', 'FAYE_ONLINE_MOUNT', '/faye'],
      ['--url', 'DATABASE_URL', 'sqlite:faye-online.sqlite'], ['--redis', 'REDIS_URL', 'none'], ['--namespace', 'FAYE_ONLINE_NAMESPACE', 'faye'],
      ['--timeout', 'FAYE_ONLINE_TIMEOUT', '10'], ['--ping', 'FAYE_ONLINE_PING', '30'], ['--gc', 'FAYE_ONLINE_GC', '60'],
      ['--before-leave-delay', 'FAYE_ONLINE_BEFORE_LEAVE_DELAY', '3'], ['--secret', 'FAYE_ONLINE_SECRET', 'none'], ['--time-zone', 'FAYE_ONLINE_TIME_ZONE', 'this process'],
    ]) {
      assert.match(run.stdout, new RegExp(`\\n  ${flag} [A-Z]+\\n(?:      .*\\n)*?      env ${env}; default: ${fallback}`), `${flag} with ${env} and ${fallback}`);
    }
    assert.match(run.stdout, /DEBUG_FAYE=true/);
    assert.match(run.stdout, /\/healthz/);
    for (const line of run.stdout.split('\n')) assert.ok(line.length <= 80, `help line longer than 80 characters: ${line}`);
    const global = await cli(['--help']);
    assert.match(global.stdout, /\n {2}serve +run a standalone Faye server/);
  });

  it('tracks a real Faye client in the shared tables and stops on SIGTERM with exit 0', async () => {
    // Configured the way a Procfile or systemd unit would: from the environment.
    const server = await startServe([], { DATABASE_URL: db.url, REDIS_URL: redis.url, FAYE_ONLINE_NAMESPACE: redis.namespace, FAYE_ONLINE_GC: '1' });
    try {
      const { stdout } = server.output();
      assert.match(stdout, /database {2}root@[^ ]+\/faye_online_test_serve_\w+: migrated\n/);
      assert.match(stdout, new RegExp(`redis {5}redis://127\\.0\\.0\\.1:6379/9: answers \\(namespace ${redis.namespace}\\)\\n`));
      assert.match(stdout, /ready at http:\/\/localhost:\d+\/faye \(browser client \/faye-online\.js, health \/healthz\)\n/);

      const health = await fetch(`${server.origin}/healthz`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, 'ok');
      const script = await fetch(`${server.origin}/faye-online.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      assert.match(await script.text(), /init_online_client/);
      assert.equal((await fetch(`${server.origin}/faye/client.js`)).status, 200);

      const client = onlineClient(`${server.origin}/faye`, auth(470700, 'mvj3'));
      const clientId = await client.connected();
      await eventually(async () => {
        const [rows] = await db.raw.query('SELECT l.user_info_list FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = ?', ['/classes/4']);
        return (rows as Array<{ user_info_list: string }>)[0]?.user_info_list === '[470700]';
      }, 10_000, 'uid 470700 in faye_channel_online_lists');
      assert.deepEqual(JSON.parse((await redis.redis.hget(new PresenceKeys(redis.namespace).channel('/classes/4'), '470700'))!), [clientId]);

      // The client is still connected (a long-poll held open) when the server is told to stop.
      server.child.kill('SIGTERM');
      const run = await withTimeout(server.exited, 5000, 'stopping after SIGTERM');
      client.vanish();
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /SIGTERM, stopping .*\nfaye-online serve: stopped\n$/);
      assert.equal(run.stderr, '');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses to start on a database that is not migrated, naming the command that fixes it', async () => {
    const empty = await createTestDatabase('serve_empty');
    try {
      const run = await cli(['serve', '--port', '0', '--url', empty.url, '--redis', redis.url]);
      assertOneLineError(run, 1, new RegExp(
        `^faye-online serve: the faye-online tables are not migrated in root@[^ ]+/${empty.name}; ` +
        `create them with \`npx faye-online migrate up --url ${empty.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`, then start again \\[SCHEMA_NOT_MIGRATED\\]$`,
      ));
      assert.doesNotMatch(run.stdout, /ready/);
    } finally {
      await empty.drop();
    }
  });

  it('refuses to start when Redis does not answer', async () => {
    const port = await closedPort();
    const run = await withTimeout(cli(['serve', '--port', '0', '--url', db.url, '--redis', `redis://127.0.0.1:${port}/1`]), 10_000, 'failing on a closed Redis port');
    assertOneLineError(run, 1, new RegExp(`^faye-online serve: Redis at redis://127\\.0\\.0\\.1:${port}/1 does not answer \\(connect ECONNREFUSED [^)]+\\); start Redis or fix --redis \\(REDIS_URL\\) \\[REDIS_UNREACHABLE\\]$`));
    assert.doesNotMatch(run.stdout, /ready/);
  });

  it('names the flag and its variable when a setting is wrong (exit 2), before connecting to anything', async () => {
    assertOneLineError(await cli(['serve', '--timeout', 'soon']), 2, /^faye-online serve: --timeout \(FAYE_ONLINE_TIMEOUT\) must be a positive number of seconds, got "soon"/);
    assertOneLineError(await cli(['serve'], { PORT: '99999' }), 2, /^faye-online serve: --port \(PORT\) must be a port number from 0 to 65535, got "99999"/);
    assertOneLineError(await cli(['serve'], { FAYE_ONLINE_TIME_ZONE: 'Mars/Base' }), 2, /^faye-online serve: --time-zone \(FAYE_ONLINE_TIME_ZONE\) must be an IANA time zone/);
    assertOneLineError(await cli(['serve', '--secret', 'short']), 2, /^faye-online serve: --secret \(FAYE_ONLINE_SECRET\) must be a string .* of at least 16 bytes/);
    assertOneLineError(await cli(['serve', '--redis', 'localhost:6379']), 2, /^faye-online serve: --redis \(REDIS_URL\) must be a redis:\/\/ URL/);
    assertOneLineError(await cli(['serve', '--colour']), 2, /^faye-online serve: unknown option --colour \(see faye-online serve --help\)$/);
  });

  it('warns that a secret given as a flag is visible in ps', async () => {
    const server = await startServe(['--url', db.url, '--redis', redis.url, '--namespace', redis.namespace, '--secret', 'a-secret-of-at-least-16-bytes']);
    try {
      assert.match(server.output().stderr, /warning: --secret is visible to every user of this machine in `ps`; prefer the FAYE_ONLINE_SECRET variable/);
      server.child.kill('SIGINT');
      assert.equal((await withTimeout(server.exited, 5000, 'stopping after SIGINT')).code, 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

describe('faye-online serve on a shared Rails database', () => {
  let redis: TestRedis;
  let gemOnly: TestDatabase;
  before(async () => {
    redis = await createTestRedis();
    // Only the gem's two migrations, as on a database where Rails ran them: our own (webhooks, events, engaged time) are reverted.
    gemOnly = await createTestDatabase('serve_gem_only');
    assert.equal((await cli(['migrate', 'up', '--url', gemOnly.url])).code, 0);
    for (let ours = 0; ours < 3; ours++) assert.equal((await cli(['migrate', 'down', '--url', gemOnly.url])).code, 0);
  });
  after(async () => {
    await redis.cleanup();
    await gemOnly.drop();
  });

  it('starts with engaged time off when only the gem\'s migrations ran, saying in one line how to turn it on', async () => {
    const server = await startServe(['--url', gemOnly.url, '--redis', redis.url, '--namespace', redis.namespace, '--metrics', '/metrics',
      '--reports-token', 'a-token-of-at-least-16-bytes', '--leave-grace', '0', '--presence-diffs', 'off']);
    try {
      const { stdout } = server.output();
      const engagedLines = stdout.split('\n').filter((line) => /engaged/.test(line));
      assert.deepEqual(engagedLines, [`  engaged   off: its table (faye_online_engaged_times, ours) is not migrated; to record engaged time run \`npx faye-online migrate up --url ${gemOnly.url}\` and restart`]);
      // Options that only the middleware had before: metrics, reports behind a token.
      assert.equal((await fetch(`${server.origin}/metrics`)).status, 200);
      assert.equal((await fetch(`${server.origin}/faye-online/api/status`)).status, 403);
      const reports = await fetch(`${server.origin}/faye-online/api/status`, { headers: { authorization: 'Bearer a-token-of-at-least-16-bytes' } });
      assert.equal(reports.status, 200, await reports.clone().text());
      const client = onlineClient(`${server.origin}/faye`, auth(470700, 'mvj3'));
      await client.connected();
      await eventually(async () => {
        const [rows] = await gemOnly.raw.query('SELECT user_info_list FROM faye_channel_online_lists');
        return (rows as Array<{ user_info_list: string }>)[0]?.user_info_list === '[470700]';
      }, 10_000, 'uid 470700 in faye_channel_online_lists');
      await client.disconnect();
      server.child.kill('SIGTERM');
      assert.equal((await withTimeout(server.exited, 5000, 'stopping')).code, 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses engaged time asked for explicitly when its table is missing', async () => {
    const run = await cli(['serve', '--port', '0', '--url', gemOnly.url, '--redis', redis.url, '--engagement', 'on']);
    assertOneLineError(run, 1, /^faye-online serve: the faye-online tables are not migrated in .*migrate up --url .*\[SCHEMA_NOT_MIGRATED\]$/);
  });

  it('names the flag of every middleware option it was given wrongly (exit 2)', async () => {
    assertOneLineError(await cli(['serve', '--engagement', 'maybe']), 2, /^faye-online serve: --engagement \(FAYE_ONLINE_ENGAGEMENT\) must be on or off, got "maybe"/);
    assertOneLineError(await cli(['serve'], { FAYE_ONLINE_LEAVE_GRACE: '-1' }), 2, /^faye-online serve: --leave-grace \(FAYE_ONLINE_LEAVE_GRACE\) must be a number of seconds \(0 or more\)/);
    assertOneLineError(await cli(['serve', '--metrics', 'metrics']), 2, /^faye-online serve: --metrics \(FAYE_ONLINE_METRICS\) must be a URL path like "\/metrics"/);
    assertOneLineError(await cli(['serve', '--max-message-bytes', '100']), 2, /^faye-online serve: --max-message-bytes \(FAYE_ONLINE_MAX_MESSAGE_BYTES\) must be at least 8192 bytes/);
    assertOneLineError(await cli(['serve', '--reports-token', 'short']), 2, /^faye-online serve: --reports-token \(FAYE_ONLINE_REPORTS_TOKEN\) must be at least 16 bytes/);
  });

  it('never says ready when its port is taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const { port } = taken.address() as { port: number };
      const run = await cli(['serve', '--port', String(port), '--host', '127.0.0.1', '--url', gemOnly.url, '--redis', redis.url], { FAYE_ONLINE_LOG_LEVEL: 'info' });
      assert.equal(run.code, 1);
      assert.doesNotMatch(run.stdout + run.stderr, /faye-online ready|ready at/);
      assert.match(run.stderr, new RegExp(`faye-online serve: port ${port} is already in use on 127\\.0\\.0\\.1; stop the other program or choose another with --port \\(PORT\\)`));
    } finally {
      taken.close();
    }
  });

  it('says what it waits for when the database does not answer, and gives up after --db-timeout', async () => {
    // A server that accepts connections and never says a word, like a firewall that drops packets.
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { port } = silent.address() as { port: number };
      const run = await withTimeout(cli(['serve', '--port', '0', '--url', `mysql://root@127.0.0.1:${port}/app`], { FAYE_ONLINE_DB_TIMEOUT: '2' }), 15_000, 'giving up on a silent database');
      assert.match(run.stdout, new RegExp(`\\n  database  waiting for root@127\\.0\\.0\\.1:${port}/app to answer \\(up to 2 s, --db-timeout\\) \\.\\.\\.\\n`));
      assertOneLineError(run, 1, /^faye-online serve: cannot connect to root@127\.0\.0\.1:\d+\/app: .*\[DATABASE_UNREACHABLE\]$/);
    } finally {
      silent.close();
    }
  });
});
