// Channel names that differ only in case are one room in MySQL (its default
// collation ignores case) and two in Redis and Faye. Lower case is the one
// spelling every layer agrees on; the edge and the browser client refuse any
// other instead of rewriting it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readIdentity, MODERN_FIELD_NAMES } from '../../lib/client/validate';
import { auth, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { channelId, userInfoList } from './sql-helpers';

let server: PresenceServer;
const clients: TestClient[] = [];
before(async () => {
  server = await startPresenceServer('sqlite+memory', { timeout: 1 });
});
after(async () => {
  await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  await server.close();
});

test('a page naming a room or time channel with capitals gets a Bayeux error and is not tracked; the lower-case name is', async () => {
  const refused = [auth(71, 'ann', '/case/rooms/aBx', '/case/lessons/1'), auth(72, 'bob', '/case/rooms/abx', '/case/Lessons/1')];
  const pages = refused.map((wire) => onlineClient(server.url, wire));
  clients.push(...pages);
  for (const page of pages) void page.connected().catch(() => undefined);
  await eventually(() => pages.every((page) => page.errors.length > 0), 5000, 'errors');
  assert.match(pages[0].errors[0], /^401::Invalid auth - room_channel must be lower case \(MySQL matches channel names regardless of case but Redis and Faye do not\)$/);
  assert.match(pages[1].errors[0], /^401::Invalid auth - time_channel must be lower case/);

  const page = onlineClient(server.url, auth(73, 'cy', '/case/rooms/abx', '/case/lessons/1'));
  clients.push(page);
  await page.connected();
  await eventually(async () => (await userInfoList(server, '/case/rooms/abx')) === '[73]', 5000, 'the lower-case room is tracked');
  await server.handle.settled();
  assert.deepEqual(await server.handle.onlineUsers('/case/rooms/abx'), [73]);
  assert.equal(await channelId(server, '/case/rooms/aBx'), undefined, 'no faye_channels row for a refused name');
  assert.equal(await channelId(server, '/case/Lessons/1'), undefined, 'no faye_channels row for a refused name');
  assert.deepEqual(await server.query('SELECT uid FROM faye_user_login_logs WHERE uid IN (71, 72)'), [], 'nothing logged for the refused pages');
  assert.deepEqual(await server.query('SELECT user_id FROM faye_user_online_times WHERE user_id IN (71, 72)'), [], 'no timer for them');
});

test('the browser client refuses a channel name with capitals before sending anything, naming the field and the lower-case form', () => {
  assert.throws(
    () => readIdentity({ room: '/rooms/aBx', timeChannel: '/lessons/1', user: { uid: 1, uname: 'a' } }, MODERN_FIELD_NAMES),
    { code: 'INVALID_AUTH', message: 'faye-online: room must be lower case (MySQL matches channel names regardless of case but Redis and Faye do not): use "/rooms/abx" (got "/rooms/aBx")' },
  );
});
