'use strict';
// One presence server of a cluster test, in a process of its own: an Express
// app, an http server on an ephemeral port and attachFayeOnline on the shared
// MariaDB database and Redis namespace. Started by test/cluster/processes.ts;
// configured by the JSON in FAYE_ONLINE_TEST_SERVER (ServerProcessConfig).
//
// It runs the built package (dist/, which `npm test` builds first): plain
// JavaScript starts in a fraction of the time tsx needs, and it is what ships.
//
// It reports to the parent over the IPC channel (Report in processes.ts):
//   listening  its port, once ready
//   engine     the engine's 'disconnect' event (which process destroyed which client, lastSeen)
//   presence   the handle's join / leave / arrive / depart events
//   log        every log line of the package, structured
// SIGTERM (or a 'close' message) closes it gracefully; losing the parent ends it,
// so a crashed test run leaves no server behind.
const { once } = require('node:events');
const http = require('node:http');
const express = require('express');
const { attachFayeOnline, RedisEngine } = require('../../dist/lib');

function send(report) {
  if (process.connected) process.send(report);
}

// Errors do not survive IPC serialization; their message does.
function plain(fields) {
  return JSON.parse(JSON.stringify(fields ?? {}, (_key, value) => (value instanceof Error ? value.message : value)));
}

const ipcLogger = Object.fromEntries(
  ['debug', 'info', 'warn', 'error'].map((level) => [level, (fields, message) => send({ type: 'log', level, message, fields: plain(fields) })]),
);

async function main() {
  const config = JSON.parse(process.env.FAYE_ONLINE_TEST_SERVER || '');
  const { dashboard, ...options } = config.options;
  const app = express();
  const server = http.createServer(app);
  const handle = attachFayeOnline(app, server, {
    // Leaves at once, as the gem: these tests time departures against GC and kills.
    leaveGrace: 0,
    ...options,
    ...(dashboard ? { reports: { authorize: (req) => req.headers['x-dashboard'] === 'open' } } : {}),
    database: config.database,
    redis: config.redis,
    namespace: config.namespace,
    autoMigrate: false, // the test migrated the shared database once, before starting the processes
    logger: ipcLogger,
  });

  const engine = RedisEngine.fromAdapter(handle.adapter);
  handle.adapter.bind('disconnect', (clientId) => {
    const info = engine && engine.disconnectInfo(clientId);
    send({ type: 'engine', event: 'disconnect', clientId, reason: info && info.reason, lastSeen: info && info.lastSeen });
  });
  for (const event of ['join', 'leave', 'arrive', 'depart']) {
    handle.on(event, (e) => {
      send({ type: 'presence', event, clientId: e.clientId, uid: e.uid, room: e.room, timeChannel: e.timeChannel, at: e.at.getTime(), reason: e.reason });
    });
  }

  if (dashboard) app.use('/faye-online', handle.dashboard());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await handle.ready;
  send({ type: 'listening', port: server.address().port });

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await handle.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('message', (message) => {
    if (message && message.type === 'close') void close();
  });
}

process.on('disconnect', () => process.exit(1));
main().catch((error) => {
  process.stderr.write(`server process failed: ${(error && error.stack) || error}\n`);
  process.exit(1);
});
