// Without `redis` and `database`, attachFayeOnline runs on an SQLite file in the
// working directory and in-process state: the demo needs no services.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import express from 'express';
import { attachFayeOnline } from '../../lib';
import { silentLogger } from '../../lib/log';
import { auth, eventually, onlineClient } from '../support/presence-server';

test('no options: an SQLite file in the working directory, migrated at startup, and presence works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faye-online-embedded-'));
  const cwd = process.cwd();
  process.chdir(dir);
  const app = express();
  const server = http.createServer(app);
  const online = attachFayeOnline(app, server, { logger: silentLogger });
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    await online.ready;
    assert.ok(existsSync(join(dir, 'faye-online.sqlite')), 'faye-online.sqlite created');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/faye`;
    const client = onlineClient(url, auth(3, 'solo', '/embedded/room', '/embedded/lesson'));
    await client.connected();
    await eventually(async () => (await online.onlineUsers('/embedded/room')).length === 1, 5000, 'online');
    assert.deepEqual(await online.onlineUsers('/embedded/room'), [3]);
    assert.equal(await online.onlineCount('/embedded/room'), 1);
    assert.deepEqual((await online.members('/embedded/room')).map((m) => [m.uid, m.uname]), [[3, 'solo']]);
    assert.ok((await online.onlineTime(3, '/embedded/lesson')).runningSince);
    const served = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/faye-online.js`);
    assert.equal(served.status, 200, 'the browser client is served');
    await client.disconnect();
    // The default leaveGrace (5 s) holds the leave back first.
    await eventually(async () => (await online.onlineCount('/embedded/room')) === 0, 15_000, 'offline');
  } finally {
    await online.close();
    server.closeAllConnections();
    server.close();
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});
