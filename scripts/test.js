#!/usr/bin/env node
'use strict';
// Runs the test suite: builds the package, finds test/**/*.test.ts, checks which
// services (MariaDB, Redis) answer, and runs every suite whose services are up
// under Node's own test runner. A suite declares what it needs in a comment line
// near its top:   // needs: mysql, redis
// Without CI=true a missing service skips the suites that need it and says so at
// the end; with CI=true a missing service is a failure, never a skip.
//
// Usage: npm test [-- <file filter substring>...]
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

function needsOf(file) {
  const head = fs.readFileSync(file, 'utf8').split('\n').slice(0, 15).join('\n');
  const match = head.match(/^\/\/ needs: (.+)$/m);
  return match ? match[1].split(',').map((s) => s.trim()).filter(Boolean) : [];
}

function probe(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function main() {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('test: the build failed (see above); fix it before the tests can run.');
    process.exit(1);
  }
  // tsx runs the tests without checking their types: check them (and the benchmarks) here.
  const typecheck = spawnSync('npm', ['run', '--silent', 'typecheck'], { cwd: root, stdio: 'inherit' });
  if (typecheck.status !== 0) {
    console.error('test: the tests or benchmarks do not type-check (see above); fix them before the tests can run.');
    process.exit(1);
  }

  // Probe exactly what the test helpers will use (test/support/mariadb.ts,
  // test/support/redis.ts, test/browser/demo.test.ts), read from the same variables.
  const mysqlHost = process.env.MYSQL_HOST || '127.0.0.1';
  const mysqlPort = Number(process.env.MYSQL_PORT || 3306);
  const redisUrl = new URL(process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379/9');
  const redisHost = redisUrl.hostname || '127.0.0.1';
  const redisPort = Number(redisUrl.port || 6379);
  const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const services = {
    mysql: {
      up: await probe(mysqlHost, mysqlPort),
      what: `MariaDB/MySQL does not answer on ${mysqlHost}:${mysqlPort} (MYSQL_HOST, MYSQL_PORT)`,
      how: 'start MariaDB (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) or point MYSQL_HOST/MYSQL_PORT at it',
    },
    redis: {
      up: await probe(redisHost, redisPort),
      what: `Redis does not answer on ${redisHost}:${redisPort} (REDIS_TEST_URL)`,
      how: 'start Redis (redis-server --daemonize yes --port 6379 --save "" --appendonly no) or point REDIS_TEST_URL at it',
    },
    chromium: {
      up: fs.existsSync(chromiumPath),
      what: `no Chromium at ${chromiumPath} (CHROMIUM_PATH)`,
      how: 'install Chromium (apt-get install -y chromium) or set CHROMIUM_PATH',
    },
  };

  let files = findTests(path.join(root, 'test'));
  if (filters.length) {
    files = files.filter((f) => filters.some((x) => path.relative(root, f).includes(x)));
    if (files.length === 0) {
      console.error(`test: no test file under test/ matches ${filters.map((x) => `"${x}"`).join(' or ')}.`);
      process.exit(1);
    }
  }

  const run = [];
  const skipped = [];
  for (const file of files) {
    const missing = needsOf(file).filter((need) => !(services[need] && services[need].up));
    if (missing.length === 0) run.push(file);
    else skipped.push({ file: path.relative(root, file), missing });
  }

  const missingServices = () => [...new Set(skipped.flatMap((s) => s.missing))];

  if (skipped.length && process.env.CI === 'true') {
    for (const s of skipped) console.error(`test: ${s.file} needs ${s.missing.join(', ')}.`);
    for (const need of missingServices()) console.error(`test: ${services[need].what}; ${services[need].how}.`);
    console.error('test: CI=true, so a missing service is a failure. .ci/run starts the services; see docs/development.md "Running the tests".');
    process.exit(1);
  }

  // Suites that need no service run two at a time (a machine of two cores finishes them in half the time);
  // those that talk to MariaDB or Redis one at a time, so that one suite's load never slows another's timers.
  const alone = run.filter((file) => needsOf(file).length === 0);
  const withServices = run.filter((file) => needsOf(file).length > 0);
  const runFiles = (list, concurrency) => {
    if (list.length === 0) return 0;
    console.log(`\ntest: ${list.length} test files ${concurrency === 1 ? 'one at a time' : `${concurrency} at a time`}`);
    const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--test-force-exit', ...list];
    const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, FAYE_ONLINE_TEST: '1' } });
    return result.status === null ? 1 : result.status;
  };
  const aloneStatus = runFiles(alone, 2);
  const status = runFiles(withServices, 1) || aloneStatus;
  if (aloneStatus !== 0) console.error('\ntest: some of the test files that need no service failed (the first of the two runs above).');

  if (skipped.length) {
    console.log(`\nSkipped ${skipped.length} of ${files.length} test files, because a service they need is missing:`);
    for (const s of skipped) console.log(`  ${s.file}: needs ${s.missing.join(', ')}`);
    for (const need of missingServices()) console.log(`  ${services[need].what}; ${services[need].how}.`);
    console.log('  (With CI=true a missing service fails the run instead.)');
  }
  process.exit(status);
}

main();
