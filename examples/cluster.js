#!/usr/bin/env node
'use strict';
// faye-online on several processes sharing one port (`npm run start:cluster`):
// the primary forks WORKERS workers with node:cluster; each runs the same
// Express app with attachFayeOnline on the same Redis and MySQL. node:cluster
// hands each incoming connection to the next worker (round-robin), so the
// requests of one long-polling page land on different workers; that is fine,
// because every worker reads and writes the same state in Redis (see
// docs/operations.md "Running a cluster").
//
//   REDIS_URL     redis://host:6379/1 (required: the workers' shared state)
//   DATABASE_URL  mysql://user:pass@host:3306/db (required; migrate it first:
//                 npx faye-online migrate up)
//   PORT          HTTP port, default 3000
//   WORKERS       number of workers, default: the CPUs, at most 4
//   NAMESPACE     Redis key namespace, default faye
//
// Try it:  curl 'http://localhost:3000/online?room=/classes/4'   (answered by any worker)
// Stop it: SIGTERM or Ctrl-C; every worker closes its handle, then exits.
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');
const express = require('express');

const env = process.env;

/** One clear line with the cause and the fix, then exit. */
function fail(cause, fix) {
  process.stderr.write(`faye-online cluster could not start: ${cause}${fix ? `\n  fix: ${fix}` : ''}\n`);
  process.exit(1);
}

function say(line) {
  const who = cluster.isPrimary ? 'primary' : `worker ${cluster.worker.id}`;
  process.stdout.write(`[${who} ${process.pid}] ${line}\n`);
}

/** The package's logs, one line each, tagged with the worker; debug only with DEBUG. */
function workerLogger() {
  const line = (level) => (fields, message) => {
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields, (k, v) => (v instanceof Error ? v.message : v))}` : '';
    say(`${level}: ${message}${extra}`);
  };
  return { debug: env.DEBUG ? line('debug') : () => {}, info: line('info'), warn: line('warn'), error: line('error') };
}

function primary() {
  if (!env.REDIS_URL) fail('REDIS_URL is not set', 'the workers share their state in Redis: REDIS_URL=redis://127.0.0.1:6379/1');
  if (!env.DATABASE_URL) fail('DATABASE_URL is not set', 'the workers share one database: DATABASE_URL=mysql://user:password@127.0.0.1:3306/app');
  const count = Number(env.WORKERS || Math.min(4, os.availableParallelism()));
  if (!(Number.isInteger(count) && count > 0)) fail(`WORKERS must be a positive integer, not "${env.WORKERS}"`);

  let stopping = false;
  const fork = () => cluster.fork();

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) {
        say('all workers stopped');
        process.exit(); // with the exitCode stop() set
      }
      return;
    }
    // A worker that could not start (database not migrated, Redis down) would fail
    // again at once: stop instead of forking in a loop. The worker said why.
    if (!worker.readyOnce) {
      say(`worker ${worker.id} exited before it was ready (code ${code}); stopping`);
      stop('a worker failed to start', 1);
      return;
    }
    // Its clients reconnect through the remaining workers and keep their
    // clientIds; those that do not are cleaned up by GC within gc + 2 x timeout.
    say(`worker ${worker.id} died (${signal || `code ${code}`}); starting another`);
    fork();
  });
  cluster.on('message', (worker, message) => {
    if (message === 'ready') worker.readyOnce = true;
  });

  function stop(why, exitCode = 0) {
    if (stopping) return;
    stopping = true;
    process.exitCode = exitCode;
    say(`${why}: stopping ${Object.keys(cluster.workers).length} workers`);
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
  }
  // Ctrl-C reaches the workers too (same process group); they ignore it and wait for our SIGTERM.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  say(`starting ${count} workers on port ${env.PORT || 3000}`);
  for (let i = 0; i < count; i++) fork();
}

async function worker() {
  let attachFayeOnline;
  try {
    ({ attachFayeOnline } = require('../dist/lib/index.js'));
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND') fail('the package is not built (dist/lib/index.js is missing)', 'run `npm run build`');
    throw error;
  }

  const app = express();
  const server = http.createServer(app);
  const handle = attachFayeOnline(app, server, {
    redis: env.REDIS_URL,
    database: env.DATABASE_URL,
    namespace: env.NAMESPACE || undefined,
    logger: workerLogger(),
  });

  // Any worker answers for the whole cluster: the state is in Redis and MySQL.
  app.get('/online', async (req, res) => {
    const room = typeof req.query.room === 'string' ? req.query.room : '';
    const members = await handle.members(room);
    res.json({ worker: cluster.worker.id, pid: process.pid, room, count: members.length, members });
  });
  app.use((error, req, res, next) => {
    if (res.headersSent) return next(error);
    const mistake = ['INVALID_CHANNEL', 'INVALID_OPTION'].includes(error && error.code);
    res.status(mistake ? 400 : 500).json({ error: mistake ? error.message : 'internal error', code: error && error.code });
  });

  try {
    await handle.ready;
  } catch (error) {
    fail(error.message, error.code === 'SCHEMA_NOT_MIGRATED' || error.code === 'SCHEMA_UNTRACKED' ? 'npx faye-online migrate up (it reads DATABASE_URL)' : undefined);
  }
  server.listen(Number(env.PORT || 3000), () => {
    say(`ready at http://localhost:${server.address().port}`);
    process.send('ready');
  });

  let closing = false;
  process.on('SIGINT', () => {}); // the primary decides when to stop
  process.on('SIGTERM', async () => {
    if (closing) return;
    closing = true;
    // close() stops this worker's timers and finishes its pending presence work;
    // its clients are not logged out: they reconnect through the other workers.
    await handle.close().catch((error) => say(`close failed: ${error.message}`));
    server.closeAllConnections();
    server.close(() => {
      say('stopped');
      process.exit(0);
    });
  });
}

if (cluster.isPrimary) primary();
else worker().catch((error) => fail(error && error.message ? error.message : String(error)));
