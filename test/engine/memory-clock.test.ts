// The embedded mode on a ManualClock: Faye's memory engine ends a client that
// stopped polling 2 x timeout after its last ping on the clock the server was
// given, not on the wall clock. At the default settings (timeout 10 s, leave
// grace 5 s) the whole departure runs in simulated time: before, the engine's
// own setTimeout would have waited 20 real seconds whatever the clock said.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { auth, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { rawConnect, rawHandshake } from '../security/support';

const room = '/clock/rooms/1';
const lesson = '/clock/lessons/1';
const clock = new ManualClock();
let server: PresenceServer;

before(async () => {
  server = await startPresenceServer('sqlite+memory', { clock, timeout: 10, leaveGrace: 5 });
});
after(() => server?.close());

const advance = (ms: number) => clock.advance(ms, () => server.handle.settled());

test("Faye's memory engine times a silent client out on the server's clock, and its departure follows at once in simulated time", async () => {
  const clientId = await rawHandshake(server);
  const connected = await rawConnect(server, clientId, auth(7, 'ann', room, lesson));
  assert.equal(connected.successful, true, JSON.stringify(connected));
  await server.handle.settled();
  assert.deepEqual(await server.handle.onlineUsers(room), [7]);

  // Just under 2 x timeout since the last ping: the engine still has the client.
  await advance(19_999);
  assert.deepEqual(await server.handle.onlineUsers(room), [7]);
  const running = await server.handle.onlineTime(7, lesson);
  assert.notEqual(running.runningSince, null);
  // The running part counts up to the server's clock, not the wall clock.
  assert.ok(running.totalSeconds >= 19 && running.totalSeconds <= 20, `${running.totalSeconds} s so far`);

  // The engine's timer fires on the clock; the leave waits its grace, then takes effect as of the last sighting.
  await advance(1);
  await advance(5_000);
  assert.deepEqual(await server.handle.onlineUsers(room), []);
  const time = await server.handle.onlineTime(7, lesson);
  assert.equal(time.runningSince, null, 'the timer stopped');
  assert.equal(time.totalSeconds, 0, `online as of its one connect only (${time.totalSeconds} s)`);
  const reply = await rawConnect(server, clientId, auth(7, 'ann', room, lesson));
  assert.equal(reply.successful, false, `the engine forgot the client: ${JSON.stringify(reply)}`);
});
