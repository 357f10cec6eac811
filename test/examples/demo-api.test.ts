// The demo's JSON endpoints (examples/start.js) as its page uses them, without
// a browser: a real Faye client joins, another user's "here since" comes from
// the server, a bad uid is a 400 that says why, and the page can tell its user
// how long leaving takes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auth, eventually, onlineClient } from '../support/presence-server';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';

const START = join(__dirname, '..', '..', 'examples', 'start.js');

describe('the demo\'s endpoints', () => {
  let sqlite: TestSqlite;
  let origin: string;
  let stop: () => Promise<void>;
  before(async () => {
    sqlite = createTestSqlite();
    const child = spawn(process.execPath, [START], { env: { PATH: process.env.PATH, PORT: '0', DATABASE_URL: sqlite.url } });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stdout += d; });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    stop = async () => {
      child.kill('SIGTERM');
      await exited;
    };
    origin = await eventually(() => /demo ready at (http:\/\/localhost:\d+)/.exec(stdout)?.[1], 20_000, `the demo's ready line in: ${stdout}`);
  });
  after(async () => {
    await stop();
    sqlite.remove();
  });

  it('answers a uid that is not one with 400 and a message saying what it takes', async () => {
    const bad = await fetch(`${origin}/api/time?uid=x&time_channel=/demo/lessons/intro`);
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'uid must be a positive integer, e.g. /api/time?uid=42&time_channel=/demo/lessons/intro; got "x"', code: 'INVALID_QUERY' });
    const noChannel = await fetch(`${origin}/api/time?uid=42`);
    assert.equal(noChannel.status, 400);
    assert.match((await noChannel.json()).error, /^time_channel is required/);
  });

  it('gives every member\'s "here since", not only the page\'s own user', async () => {
    const client = onlineClient(`${origin}/faye`, auth(7, 'bea', '/demo/rooms/lobby', '/demo/lessons/intro'));
    try {
      await client.connected();
      const body = await eventually(async () => {
        const reply = await (await fetch(`${origin}/api/members?room=${encodeURIComponent('/demo/rooms/lobby')}&time_channel=${encodeURIComponent('/demo/lessons/intro')}`)).json();
        return reply.count === 1 ? reply : null;
      }, 10_000, 'bea in the room');
      assert.equal(body.members[0].uid, 7);
      assert.ok(Math.abs(Date.parse(body.members[0].since) - Date.now()) < 60_000, `since ${body.members[0].since}`);
    } finally {
      await client.disconnect();
    }
  });

  it('tells the page how long leaving takes (the leave grace) and how long a closed tab takes', async () => {
    assert.deepEqual(await (await fetch(`${origin}/api/settings`)).json(), { leaveGraceSeconds: 5, beforeLeaveDelaySeconds: 3 });
  });
});
