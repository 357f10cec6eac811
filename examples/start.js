#!/usr/bin/env node
'use strict';
// The faye-online demo (`npm start`): an Express app with Faye and presence
// mounted by attachFayeOnline, the page in examples/public/, and two small JSON
// endpoints the page reads its initial state from.
//
//   PORT          HTTP port, default 3000 (0 picks a free one)
//   DATABASE_URL  mysql://user:pass@host/db; unset: the embedded SQLite file
//   REDIS_URL     redis://host:6379/1; unset: in-process state (one process)
const http = require('node:http');
const path = require('node:path');
const express = require('express');

const PUBLIC_DIR = path.join(__dirname, 'public');

function say(line) {
  process.stdout.write(`${line}\n`);
}

/** One clear line with the cause and the fix, then exit. */
function fail(cause, fix) {
  process.stderr.write(`faye-online demo could not start: ${cause}${fix ? `\n  fix: ${fix}` : ''}\n`);
  process.exit(1);
}

function loadPackage() {
  try {
    return require('../dist/lib/index.js');
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND') fail('the package is not built (dist/lib/index.js is missing)', 'run `npm run build`, then `npm start`');
    throw error;
  }
}

function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function describeSetup(env, defaults) {
  // Without DATABASE_URL, attachFayeOnline uses its default (an SQLite file relative to the working directory).
  const url = env.DATABASE_URL || defaults.database;
  const database = url.startsWith('sqlite:')
    ? `SQLite file ${path.resolve(url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''))}`
    : `MySQL ${redact(url)}`;
  const state = env.REDIS_URL ? `Redis ${redact(env.REDIS_URL)}` : 'in-process state';
  const embedded = !env.REDIS_URL && url.startsWith('sqlite:');
  return `${embedded ? 'embedded: ' : ''}${database}, ${state}`;
}

function fixFor(error, env) {
  switch (error && error.code) {
    case 'EADDRINUSE':
      return `another program uses port ${env.PORT || 3000}; stop it or run PORT=3001 npm start`;
    case 'DATABASE_URL':
      return 'DATABASE_URL must look like mysql://user:password@host:3306/database (or unset it for the embedded SQLite file)';
    case 'DATABASE_UNREACHABLE':
      return 'start MySQL/MariaDB or correct DATABASE_URL (or unset it for the embedded SQLite file)';
    case 'DATABASE_AUTH':
      return 'check the user and password in DATABASE_URL';
    case 'SCHEMA_NOT_MIGRATED':
    case 'SCHEMA_UNTRACKED':
      return 'create the tables with `npx faye-online migrate up` (it reads DATABASE_URL), then npm start';
    case 'SCHEMA_MISMATCH':
      return 'the faye_* tables differ from the Ruby gem\'s layout; see `npx faye-online migrate status`';
    case 'REDIS_UNREACHABLE':
      return 'start Redis or correct REDIS_URL (or unset it for in-process state)';
    case 'INVALID_OPTION':
      return 'see the option named above in docs/options.md';
    default:
      return 'run with DEBUG=faye-online for details';
  }
}

/**
 * Logs of the package, one line each; debug and info only with DEBUG. A warning
 * that repeats (e.g. every reconnect attempt to a Redis that is down) is shown once.
 */
function demoLogger(verbose) {
  const warned = new Set();
  const line = (level) => (fields, message) => {
    if (level === 'warn') {
      if (warned.has(message)) return;
      warned.add(message);
    }
    const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields, (k, v) => (v instanceof Error ? v.message : v))}` : '';
    (level === 'info' || level === 'debug' ? process.stdout : process.stderr).write(`  [${level}] ${message}${extra}\n`);
  };
  const quiet = () => {};
  return { debug: verbose ? line('debug') : quiet, info: verbose ? line('info') : quiet, warn: line('warn'), error: line('error') };
}

function queryString(req, name) {
  const value = req.query[name];
  return typeof value === 'string' ? value : '';
}

/** The page and its JSON endpoints, after what attachFayeOnline mounted (Faye, /faye-online.js). */
function mountDemo(app, handle, settings) {
  app.use(express.static(PUBLIC_DIR));

  app.get('/api/members', async (req, res) => {
    const room = queryString(req, 'room');
    const timeChannel = queryString(req, 'time_channel');
    const members = await handle.members(room);
    // "Here since": when the member's clock in this lesson started (their first
    // tab in it); from the shared records, so it holds for everyone in a cluster.
    const since = timeChannel ? await Promise.all(members.map((m) => handle.onlineTime(m.uid, timeChannel).then((t) => t.runningSince))) : [];
    res.json({
      room,
      count: members.length,
      // clientIds stay on the server: the page only needs to know how many tabs.
      members: members.map((m, i) => ({ uid: m.uid, uname: m.uname, tabs: m.clientIds.length, since: since[i] ?? null })),
    });
  });

  app.get('/api/time', async (req, res) => {
    const uidText = queryString(req, 'uid');
    const timeChannel = queryString(req, 'time_channel');
    if (!/^[1-9][0-9]{0,9}$/.test(uidText)) {
      res.status(400).json({ error: `uid must be a positive integer, e.g. /api/time?uid=42&time_channel=/demo/lessons/intro; got "${uidText}"`, code: 'INVALID_QUERY' });
      return;
    }
    if (!timeChannel) {
      res.status(400).json({ error: 'time_channel is required, e.g. /api/time?uid=42&time_channel=/demo/lessons/intro', code: 'INVALID_QUERY' });
      return;
    }
    const uid = Number(uidText);
    const [time, engaged] = await Promise.all([handle.onlineTime(uid, timeChannel), handle.engagedTime(uid, timeChannel)]);
    res.json({
      uid,
      timeChannel,
      spentSeconds: time.spentSeconds,
      runningSince: time.runningSince,
      totalSeconds: time.totalSeconds,
      // Engaged time: only while one of the user's tabs is visible.
      engagedSeconds: engaged.totalSeconds,
      engagedRunning: engaged.runningSince !== null,
    });
  });

  // What the page tells its user about leaving: the server's delays.
  app.get('/api/settings', (_req, res) => {
    res.json({ leaveGraceSeconds: settings.leaveGrace, beforeLeaveDelaySeconds: settings.beforeLeaveDelay });
  });

  // Express 5 forwards rejected handlers here. Bad room or uid values come back
  // from the package as FayeOnlineErrors, which are the caller's mistake.
  app.use((error, req, res, next) => {
    if (res.headersSent) return next(error);
    const clientMistake = ['INVALID_CHANNEL', 'INVALID_AUTH', 'INVALID_OPTION'].includes(error && error.code);
    if (!clientMistake) process.stderr.write(`  [error] ${req.method} ${req.originalUrl}: ${error && error.message}\n`);
    res.status(clientMistake ? 400 : 500).json({ error: clientMistake ? error.message : 'internal error', code: error && error.code });
  });
}

async function main(env = process.env) {
  const { attachFayeOnline, DEFAULTS } = loadPackage();
  const setup = describeSetup(env, DEFAULTS);
  say(`faye-online demo: starting (${setup})`);

  const app = express();
  const server = http.createServer(app);
  let handle;
  try {
    handle = attachFayeOnline(app, server, {
      database: env.DATABASE_URL || undefined,
      redis: env.REDIS_URL || undefined,
      logger: demoLogger(Boolean(env.DEBUG)),
    });
  } catch (error) {
    fail(error.message, fixFor(error, env));
  }
  mountDemo(app, handle, { leaveGrace: DEFAULTS.leaveGrace, beforeLeaveDelay: DEFAULTS.beforeLeaveDelay });

  try {
    await handle.ready;
    say('faye-online demo: database and presence state ready');
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(env.PORT ?? 3000), () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await handle.close().catch(() => undefined);
    fail(error.message, fixFor(error, env));
  }

  say(`faye-online demo ready at http://localhost:${server.address().port} (${setup})`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) process.exit(130); // a second Ctrl-C does not wait
    stopping = true;
    say(`faye-online demo: ${signal}, closing (presence state, database) ...`);
    try {
      await handle.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      say('faye-online demo: stopped');
      process.exit(0);
    } catch (error) {
      process.stderr.write(`faye-online demo: closing failed: ${error.message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error) => fail(error && error.message ? error.message : String(error), fixFor(error, process.env)));
