// needs: mysql, redis
// Graceful shutdown: close() while arrivals are still being written loses
// nothing, and afterwards nothing keeps the process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createTestSqlite } from '../support/sqlite';
import { auth, eventually, onlineClient, startPresenceServer, type TestClient } from '../support/presence-server';
import { sleep } from '../support/wait';
import { PresenceKeys } from '../../lib/stores/keys';

const ROOM = '/classes/20';
const LESSON = '/courses/20/lessons/1';

describe('graceful shutdown', () => {
  test('20 clients arriving while close() is called: whatever Redis recorded is in MySQL after close', async () => {
    const server = await startPresenceServer('mysql+redis');
    const redis = server.redis!.redis;
    const ns = server.namespace;
    // Slow SQL down so that close() surely meets writes in flight.
    server.sequelize.addHook('beforeQuery', async () => { await sleep(20); });
    const clients: TestClient[] = [];
    try {
      for (let uid = 1; uid <= 20; uid++) {
        const client = onlineClient(server.url, auth(uid, `user${uid}`, ROOM, LESSON), { transport: 'long-polling' });
        clients.push(client);
        void client.connected().catch(() => undefined);
      }
      await eventually(async () => (await redis.hlen(new PresenceKeys(ns).channel(ROOM))) >= 3, 10_000, 'first arrivals in Redis');
      await server.handle.close();
      for (const client of clients) client.vanish();

      const roomMap = await redis.hgetall(new PresenceKeys(ns).channel(ROOM));
      const timeMap = await redis.hgetall(new PresenceKeys(ns).channel(LESSON));
      const clientIds = Object.values(roomMap).flatMap((json) => JSON.parse(json) as string[]);
      assert.ok(clientIds.length >= 3);
      const statuses = clientIds.length ? await redis.mget(clientIds.map((id) => new PresenceKeys(ns).status(id))) : [];
      const logged = clientIds.filter((_, i) => statuses[i] === '1');
      assert.equal(logged.length, clientIds.length, 'every arrival Redis recorded had its login logged');

      const rows = await server.db!.raw.query('SELECT clientId FROM faye_user_login_logs WHERE status = 1');
      const inMysql = new Set((rows[0] as Array<{ clientId: string }>).map((r) => r.clientId));
      assert.deepEqual(logged.filter((id) => !inMysql.has(id)), [], 'every login Redis marked as logged has its row');

      const [lists] = await server.db!.raw.query(
        `SELECT l.user_info_list FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = ?`, [ROOM]);
      const list = JSON.parse((lists as Array<{ user_info_list: string }>)[0].user_info_list) as number[];
      assert.deepEqual([...list].sort((a, b) => a - b), Object.keys(roomMap).map(Number).sort((a, b) => a - b), 'the online list holds every user Redis has in the room');

      const [times] = await server.db!.raw.query('SELECT user_id, online_times FROM faye_user_online_times');
      const running = (times as Array<{ user_id: number; online_times: string }>)
        .filter((r) => `${LESSON}_started_at` in JSON.parse(r.online_times)).map((r) => r.user_id).sort((a, b) => a - b);
      assert.deepEqual(running, Object.keys(timeMap).map(Number).sort((a, b) => a - b), 'a timer runs for every user Redis has in the time channel');
    } finally {
      for (const client of clients) client.vanish();
      await server.close();
    }
  });

  test('after close() the process exits by itself', async () => {
    const sqlite = createTestSqlite();
    const child = spawn(process.execPath, ['-e', CHILD], {
      cwd: join(__dirname, '..', '..'),
      env: { PATH: process.env.PATH, DATABASE_URL: sqlite.url },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout!.on('data', (d) => { output += d; });
    try {
      const port = await eventually(() => /port (\d+)/.exec(output)?.[1], 20_000, 'child listening');
      const client = onlineClient(`http://127.0.0.1:${port}/faye`, auth(5, 'eve', ROOM, LESSON), { transport: 'long-polling' });
      await client.connected();
      await eventually(() => output.includes('arrived'), 5000, 'arrival in the child');
      const started = Date.now();
      child.stdin!.write('close\n');
      const exited = once(child, 'exit');
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`child still running 5 s after close(); output:\n${output}`)), 5000));
      const [code] = (await Promise.race([exited, timeout])) as [number];
      client.vanish();
      assert.equal(code, 0);
      assert.match(output, /closed/);
      assert.ok(Date.now() - started < 5000);
    } finally {
      child.kill('SIGKILL');
      sqlite.remove();
    }
  });
});

// The child: an app that attaches, serves, and on "close" calls handle.close()
// and server.close(), then relies on the event loop draining to exit.
const CHILD = `
const http = require('node:http');
const express = require('express');
const { attachFayeOnline } = require('./dist/lib/index.js');
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const app = express();
const server = http.createServer(app);
const handle = attachFayeOnline(app, server, { database: process.env.DATABASE_URL, logger: silent });
handle.on('arrive', () => console.log('arrived'));
handle.ready.then(() => server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port)));
process.stdin.on('data', async (data) => {
  if (!String(data).includes('close')) return;
  process.stdin.pause();
  process.stdin.unref();
  await handle.close();
  server.close();
  server.closeIdleConnections();
  console.log('closed');
});
`;
