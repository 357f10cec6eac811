// needs: mysql, redis
// Work belongs to transitions only (docs/protocol.md): a repeated /meta/connect
// of a known clientId costs no SQL statement and no presence Redis round trip;
// a join costs one presence round trip (the arrival, which also checks and
// pings the client in the engine) and a leave exactly one. Redis commands
// are counted where they are sent (every command of the server's ioredis
// connection, sorted by key: presence keys are "/<ns>/...", the engine's
// "<ns>/..."), SQL statements by Sequelize's hook.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BayeuxMessage } from 'faye';
import Redis from 'ioredis';
import { auth, createBacking, eventually, onlineClient, startPresenceServer, type Backing, type PresenceServer } from '../support/presence-server';
import { userInfoList } from './sql-helpers';
import { CLIENT_RECORD_TTL_SECONDS } from '../../lib/stores/store';
import { sleep } from '../support/wait';

let server: PresenceServer;
let backing: Backing;
let redis: Redis;
const presenceCommands: string[][] = [];
const engineCommands: string[][] = [];
let connects = 0;

before(async () => {
  backing = await createBacking('mysql+redis');
  redis = new Redis(backing.redis!.url);
  const send = redis.sendCommand.bind(redis);
  const ns = backing.namespace;
  redis.sendCommand = ((command: { name: string; args: unknown[] }) => {
    const args = command.args.map(String);
    if (args.some((a) => a.startsWith(`/${ns}/`))) presenceCommands.push([command.name, ...args]);
    else if (args.some((a) => a.startsWith(`${ns}/`))) engineCommands.push([command.name, ...args]);
    return send(command as never);
  }) as typeof redis.sendCommand;
  server = await startPresenceServer('mysql+redis', { timeout: 1, redis, reconcileInterval: 0 }, backing);
  server.handle.adapter.addExtension({
    incoming(message: BayeuxMessage, callback: (message: BayeuxMessage) => void) {
      if (message.channel === '/meta/connect') connects += 1;
      callback(message);
    },
  });
});

after(async () => {
  await server.close();
  redis.disconnect();
  await backing.release();
});

// ioredis sends a script's first call on a connection as EVAL, later ones as EVALSHA.
const scriptCalls = (commands: string[][]) => commands.map((c) => (c[0].toLowerCase() === 'eval' ? 'evalsha' : c[0].toLowerCase()));

const settle = () => server.handle.settled();

test('a join costs one presence round trip, repeated connects cost none and no SQL, a leave costs one', async () => {
  await settle(); // the startup reconciliation pass reads the store too
  presenceCommands.length = 0;
  engineCommands.length = 0;
  const connectsBefore = connects;
  const client = onlineClient(server.url, auth(31, 'counted', '/rooms/counted', '/lessons/counted'));
  const id = await client.connected();
  await eventually(async () => (await userInfoList(server, '/rooms/counted')) === '[31]', 5000, 'joined');
  await settle();
  // arrive.lua also checks and pings the client in the engine, and gives the
  // keys of a clientId whose connect Faye accepts their full TTL at once.
  assert.deepEqual(scriptCalls(presenceCommands), ['evalsha'], 'join: one call of arrive.lua');
  // The engine's own commands for the client are Faye's: one ZSCORE per
  // /meta/connect (does the client exist?) and one ping per accepted one;
  // presence adds none (it used to check and ping before the arrival).
  const joinConnects = connects - connectsBefore;
  const engineCalls = (name: string) => engineCommands.filter((c) => c[0].toLowerCase() === name && c.includes(id)).length;
  assert.ok(joinConnects >= 1, `${joinConnects} connects`);
  assert.equal(engineCalls('zscore'), joinConnects, 'one ZSCORE per connect, Faye\'s');
  assert.ok(engineCalls('zadd') <= joinConnects + 1, `ZADD: the handshake's and one ping per connect, got ${engineCalls('zadd')} for ${joinConnects} connects`);
  const ttls = await Promise.all(['clientId_auth', 'clientId_status'].map((kind) => redis.ttl(`/${backing.namespace}/${kind}/${id}`)));
  assert.ok(ttls.every((ttl) => ttl > CLIENT_RECORD_TTL_SECONDS - 60), `full TTL with the arrival: ${ttls}`);
  // With a shared store, the join's <room>/user_list is confirmed a window
  // (100 ms) later by one more read of the list (lib/edge/user-list.ts): the
  // connects below are counted once it is long past.
  await sleep(1000);

  presenceCommands.length = 0;
  engineCommands.length = 0;
  server.sql.reset();
  const before = connects;
  await sleep(3500);
  await settle();
  const repeated = connects - before;
  assert.ok(repeated >= 2, `the client re-connected ${repeated} times`);
  assert.deepEqual(presenceCommands, [], 'no presence Redis command on repeated connects');
  assert.deepEqual(server.sql.statements, [], 'no SQL statement on repeated connects');
  // For the record (not an assertion on speed): what Faye's engine itself spends per connect.
  console.log(`# ${repeated} repeated connects: 0 presence round trips, 0 SQL; the engine sent ${engineCommands.length} commands (${(engineCommands.length / repeated).toFixed(1)} per connect)`);

  presenceCommands.length = 0;
  await client.disconnect();
  await eventually(async () => (await userInfoList(server, '/rooms/counted')) === '[]', 5000, 'left');
  await settle();
  assert.deepEqual(scriptCalls(presenceCommands), ['evalsha'], `leave: one call of depart.lua (clientId ${id})`);
});

test('an engagement report costs one presence round trip; SQL only when the user\'s engaged session starts or ends', async () => {
  const lesson = '/lessons/engagedcount';
  const first = onlineClient(server.url, auth(32, 'engaged', '/rooms/engagedcount', lesson));
  const second = onlineClient(server.url, auth(32, 'engaged', '/rooms/engagedcount', lesson));
  await first.connected();
  await second.connected();
  await settle();
  const measure = async (client: typeof first, data: { engaged: boolean; seq: number }) => {
    presenceCommands.length = 0;
    server.sql.reset();
    await client.faye.publish('/faye_online/engagement', data);
    await settle();
    return { redis: scriptCalls(presenceCommands), sql: server.sql.statements.map((s) => s.split(' ')[0]) };
  };
  // The user's first session here: no row yet, so the UPDATE finds none, then SELECT and INSERT.
  assert.deepEqual(await measure(first, { engaged: true, seq: 1 }), { redis: ['evalsha'], sql: ['UPDATE', 'SELECT', 'INSERT'] }, 'first session');
  assert.deepEqual(await measure(second, { engaged: true, seq: 1 }), { redis: ['evalsha'], sql: [] }, 'a second engaged tab changes nothing in SQL');
  assert.deepEqual(await measure(first, { engaged: false, seq: 2 }), { redis: ['evalsha'], sql: [] }, 'one tab still engaged');
  assert.deepEqual(await measure(second, { engaged: false, seq: 2 }), { redis: ['evalsha'], sql: ['UPDATE'] }, 'the session ends: one statement');
  assert.deepEqual(await measure(first, { engaged: true, seq: 3 }), { redis: ['evalsha'], sql: ['UPDATE'] }, 'the next session starts: one statement');

  presenceCommands.length = 0;
  await first.disconnect();
  await second.disconnect();
  // Faye answers /meta/disconnect before its engine destroys the client, so
  // wait until both departures ran, then count.
  await eventually(() => scriptCalls(presenceCommands).length >= 2, 5000, 'both departures');
  await settle();
  assert.deepEqual(scriptCalls(presenceCommands), ['evalsha', 'evalsha'], 'each departure is still one call of depart.lua, engaged or not');
});
