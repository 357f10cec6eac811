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

function probe(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
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

  const services = {
    mysql: { up: await probe(Number(process.env.MYSQL_PORT || 3306)), how: 'start MariaDB: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd' },
    redis: { up: await probe(Number(process.env.REDIS_PORT || 6379)), how: 'start Redis: redis-server --daemonize yes --port 6379 --save "" --appendonly no' },
    chromium: { up: fs.existsSync(process.env.CHROMIUM_PATH || '/usr/bin/chromium'), how: 'install Chromium: apt-get install -y chromium' },
  };

  let files = findTests(path.join(root, 'test'));
  if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));

  const run = [];
  const skipped = [];
  for (const file of files) {
    const missing = needsOf(file).filter((need) => !(services[need] && services[need].up));
    if (missing.length === 0) run.push(file);
    else skipped.push({ file: path.relative(root, file), missing });
  }

  if (skipped.length && process.env.CI === 'true') {
    for (const s of skipped) console.error(`test: ${s.file} needs ${s.missing.join(', ')}, which is not running.`);
    console.error('test: CI=true, so a missing service is a failure. .ci/run starts the services; see README "Running the tests".');
    process.exit(1);
  }

  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=180000', ...run];
  const result = run.length ? spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, FAYE_ONLINE_TEST: '1' } }) : { status: 0 };

  if (skipped.length) {
    console.log('\nSkipped suites (their services are not running here):');
    for (const s of skipped) {
      console.log(`  ${s.file}: needs ${s.missing.join(', ')}`);
    }
    const needed = [...new Set(skipped.flatMap((s) => s.missing))];
    for (const need of needed) console.log(`  to run them, ${services[need].how}`);
  }
  process.exit(result.status === null ? 1 : result.status);
}

main();
