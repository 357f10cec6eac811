// needs: mysql, redis
// Property-based fuzzing of the Bayeux edge against a real server on MariaDB and
// Redis: random and malformed messages (wrong types, huge and unicode strings,
// SQL- and Lua-looking text, __proto__ keys, out-of-range numbers) sent as raw
// HTTP POSTs, interleaved with valid traffic. The server must answer every
// request, keep serving a real client, and once things settle:
//   - every uid in a room's user_info_list has a clientId in Redis, and every
//     user with a clientId is in the list;
//   - no timer runs for a user without clientIds in that time channel, and no
//     engaged session either;
//   - login rows pair up: a clientId has one more login than logouts while it is
//     live, as many once it is gone.
// The seed is printed (and can be given with FUZZ_SEED) so a failure reproduces.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { auth, clientIdsByUser, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { postBayeux, rawHandshake } from './support';

const ROOMS = ['/fuzz/r1', '/fuzz/r2'];
const TIMES = ['/fuzz/t1', '/fuzz/t2'];
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

let server: PresenceServer;
let witness: TestClient;
const clientIds: string[] = [];

before(async () => {
  console.log(`fuzz seed ${seed} (rerun with FUZZ_SEED=${seed})`);
  server = await startPresenceServer('mysql+redis', { timeout: 1, gc: 1, beforeLeaveDelay: 0.5, maxMessageBytes: 16 * 1024 });
  witness = onlineClient(server.url, auth(1, 'witness', ROOMS[0], TIMES[0]), { transport: 'long-polling' });
  await witness.connected();
  for (let i = 0; i < 4; i++) clientIds.push(await rawHandshake(server));
});
after(async () => {
  await witness.disconnect().catch(() => undefined);
  await server.close();
});

const hostile = fc.oneof(
  fc.constantFrom("'; DROP TABLE faye_channels; --", '") redis.call("FLUSHALL") --', '__proto__', 'constructor', '/../../etc', '/a//b', '*', '/**', '\u0000', '\n'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 300 }).map((s) => `/${s}`),
  fc.constant('x'.repeat(20_000)),
);
const anyValue = fc.oneof(
  hostile,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e308, null, true, false, '1', '01', '1e3'),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'length', 'toString', 'uid'), fc.oneof(fc.integer(), fc.string())),
);
const validAuth = fc.record({
  room_channel: fc.constantFrom(...ROOMS),
  time_channel: fc.constantFrom(...TIMES),
  current_user: fc.record({ uid: fc.integer({ min: 2, max: 6 }), uname: fc.constantFrom('ann', 'bob', '王') }),
});
// A valid auth with one field replaced by something random.
const brokenAuth = fc.tuple(validAuth, fc.constantFrom('room_channel', 'time_channel', 'uid', 'uname', 'extra', 'whole'), anyValue).map(([a, field, value]) => {
  if (field === 'whole') return value;
  if (field === 'uid' || field === 'uname') return { ...a, current_user: { ...a.current_user, [field]: value } };
  return { ...a, [field]: value };
});
const clientIdArb = fc.oneof(fc.integer({ min: 0, max: 3 }).map((i) => ({ pick: i })), anyValue);
const channel = fc.oneof(fc.constantFrom('/meta/handshake', '/meta/connect', '/meta/subscribe', '/meta/unsubscribe', '/meta/disconnect', '/faye_online/before_leave', '/faye_online/engagement', '/fuzz/r1/user_list', '/chat/x'), anyValue);
const message = fc.record(
  {
    channel,
    clientId: clientIdArb,
    id: fc.oneof(fc.string({ maxLength: 8 }), anyValue),
    auth: fc.oneof(validAuth, brokenAuth, anyValue),
    data: anyValue,
    subscription: fc.oneof(fc.constantFrom('/fuzz/r1/user_list', '/chat/x'), anyValue),
    connectionType: fc.oneof(fc.constant('long-polling'), anyValue),
    supportedConnectionTypes: fc.oneof(fc.constant(['long-polling']), anyValue),
    version: fc.oneof(fc.constant('1.0'), anyValue),
    advice: fc.oneof(fc.constant({ timeout: 0 }), anyValue),
  },
  { requiredKeys: ['channel'] },
);
// Valid traffic interleaved: a tracked connect, a before_leave, an engagement report or a disconnect of one of the raw clients.
const engagementReport = fc.record({ engaged: fc.boolean(), seq: fc.integer({ min: 1, max: 1_000_000 }) });
const validMessage = fc.tuple(
  fc.integer({ min: 0, max: 3 }), validAuth,
  fc.constantFrom('/meta/connect', '/meta/connect', '/faye_online/before_leave', '/faye_online/engagement', '/meta/disconnect'), engagementReport,
).map(([pick, a, ch, report]) => ({ channel: ch, clientId: { pick }, connectionType: 'long-polling', data: ch === '/faye_online/engagement' ? report : {}, auth: a }));
const batch = fc.tuple(fc.oneof(fc.array(message, { minLength: 1, maxLength: 4 }), anyValue.map((v) => [v])), fc.option(validMessage, { nil: undefined })).map(
  ([messages, valid]) => (valid === undefined ? messages : [...(messages as unknown[]), valid]),
);

function resolveClientIds(messages: unknown[]): unknown[] {
  return messages.map((m) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return m;
    const copy = { ...(m as Record<string, unknown>) };
    const pick = (copy.clientId as { pick?: number } | undefined)?.pick;
    if (typeof pick === 'number') copy.clientId = clientIds[pick];
    // Never hold a long-poll: each request is answered at once.
    if (copy.channel === '/meta/connect') copy.advice = { timeout: 0 };
    return copy;
  });
}

test('random and malformed Bayeux traffic never breaks the server, and presence invariants hold after it settles', { timeout: 120_000 }, async () => {
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(batch, async (messages) => {
      const { status } = await postBayeux(server, resolveClientIds(messages as unknown[]));
      assert.ok(status === 200 || status === 400 || status === 413, `HTTP ${status}`);
    }),
    { seed, numRuns: RUNS, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false },
  );
  console.log(`fuzz: ${RUNS} batches in ${Date.now() - started} ms`);

  // Still serving: the witness is online and a new client gets through.
  const fresh = onlineClient(server.url, auth(7, 'after', ROOMS[1], TIMES[1]), { transport: 'long-polling' });
  await fresh.connected();
  await fresh.faye.publish('/chat/after', { ok: true });
  await fresh.disconnect();

  // Let the raw clients time out (GC 1 s, timeout 1 s) and everything settle.
  await eventually(async () => {
    await server.handle.settled();
    for (const room of ROOMS) {
      const byUser = await clientIdsByUser(server, room);
      const listed = (await server.handle.onlineUsers(room)).map(String).sort();
      if (JSON.stringify(listed) !== JSON.stringify(Object.keys(byUser).sort())) return false;
    }
    return true;
  }, 20_000, 'room lists match the clientIds in Redis');

  for (const room of ROOMS) {
    const byUser = await clientIdsByUser(server, room);
    const listed = (await server.handle.onlineUsers(room)).map(String).sort();
    assert.deepEqual(listed, Object.keys(byUser).sort(), `room ${room}`);
  }
  assert.ok((await server.handle.onlineUsers(ROOMS[0])).includes(1), 'the witness is still online');

  const times = await server.query<{ user_id: number; online_times: string }>('SELECT user_id, online_times FROM faye_user_online_times');
  for (const time of TIMES) {
    const byUser = await clientIdsByUser(server, time);
    for (const row of times) {
      const running = `${time}_started_at` in (JSON.parse(row.online_times) as Record<string, unknown>);
      assert.equal(running, String(row.user_id) in byUser, `timer of ${row.user_id} in ${time} runs only while the user has a clientId there`);
    }
  }

  const engaged = await server.query<{ user_id: number; name: string; engaged_ms: number }>(
    'SELECT e.user_id, c.name, e.engaged_ms FROM faye_online_engaged_times e JOIN faye_channels c ON c.id = e.channel_id WHERE e.engaged_since_ms IS NOT NULL',
  );
  const [{ sessions }] = await server.query<{ sessions: number }>('SELECT COUNT(*) AS sessions FROM faye_online_engaged_times');
  console.log(`fuzz: ${sessions} engaged-time rows written, ${engaged.length} still running`);
  for (const row of engaged) {
    assert.ok(String(row.user_id) in (await clientIdsByUser(server, row.name)), `engaged session of ${row.user_id} in ${row.name} runs only while the user has a clientId there`);
  }

  const rows = await server.query<{ clientId: string; status: number }>('SELECT clientId, status FROM faye_user_login_logs');
  const byClient = new Map<string, number[]>();
  for (const row of rows) byClient.set(row.clientId, [...(byClient.get(row.clientId) ?? []), Number(row.status)]);
  // A clientId that moved (same page, another room or lesson) logs out and in again.
  const live = new Set<string>();
  for (const channelName of [...ROOMS, ...TIMES]) for (const ids of Object.values(await clientIdsByUser(server, channelName))) ids.forEach((id) => live.add(id));
  for (const [clientId, statuses] of byClient) {
    const open = statuses.filter((s) => s === 1).length - statuses.filter((s) => s === 0).length;
    assert.equal(open, live.has(clientId) ? 1 : 0, `${clientId}: ${statuses.join(',')}`);
  }
  // Nothing hostile reached the tables.
  const names = await server.query<{ name: string }>('SELECT name FROM faye_channels');
  for (const { name } of names) assert.match(name, /^(\/[A-Za-z0-9]+)+$/);
});
