// needs: mysql, redis
// Two messages of one page naming two rooms, both valid, reaching two
// processes of a cluster at the same moment (issue 13, case 2). The clientId
// must end up in one room, the one the store remembers for it, and its
// disconnect must leave nothing behind: no user online, no timer running.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { auth, createBacking, eventually, startPresenceServer, type Backing, type PresenceServer } from '../support/presence-server';
import { postBayeux, rawHandshake, rawPublish } from '../security/support';
import { PresenceKeys } from '../../lib/stores/keys';

let backing: Backing;
let one: PresenceServer;
let two: PresenceServer;
before(async () => {
  backing = await createBacking('mysql+redis');
  one = await startPresenceServer('mysql+redis', {}, backing);
  two = await startPresenceServer('mysql+redis', {}, backing);
});
after(async () => {
  await Promise.all([one.close(), two.close()]);
  await backing.release();
});

async function roomsHolding(clientId: string, rooms: string[]): Promise<string[]> {
  const held: string[] = [];
  for (const room of rooms) {
    const raw = await backing.redis!.redis.hgetall(new PresenceKeys(backing.namespace).channel(room));
    if (Object.values(raw).some((json) => (JSON.parse(json) as string[]).includes(clientId))) held.push(room);
  }
  return held;
}

test('engagement reports of one page naming two rooms, at two processes at once, leave its clientId in one room; its disconnect ends everything', async () => {
  const rooms = ['/twice/rooms/a', '/twice/rooms/b'];
  const lessons = ['/twice/lessons/a', '/twice/lessons/b'];
  for (let round = 0; round < 5; round++) {
    const clientId = await rawHandshake(one);
    const uid = 80 + round;
    const [a, b] = await Promise.all([
      rawPublish(one, clientId, '/faye_online/engagement', { engaged: true, seq: 1 }, auth(uid, 'ann', rooms[0], lessons[0])),
      rawPublish(two, clientId, '/faye_online/engagement', { engaged: true, seq: 2 }, auth(uid, 'ann', rooms[1], lessons[1])),
    ]);
    assert.equal(a.successful || b.successful, true, `${JSON.stringify(a)} ${JSON.stringify(b)}`);
    await Promise.all([one.handle.settled(), two.handle.settled()]);

    const held = await roomsHolding(clientId, rooms);
    assert.equal(held.length, 1, `round ${round}: in ${held.join(' and ') || 'no room'}`);
    const remembered = JSON.parse((await backing.redis!.redis.get(new PresenceKeys(backing.namespace).auth(clientId)))!) as { room_channel: string };
    assert.equal(remembered.room_channel, held[0], 'the room the store remembers');

    // Faye answers a /meta/disconnect before the engine has destroyed the client.
    await postBayeux(one, [{ channel: '/meta/disconnect', clientId, id: `d${round}` }]);
    await eventually(async () => (await roomsHolding(clientId, rooms)).length === 0, 5000, 'in no room after its disconnect');
    await Promise.all([one.handle.settled(), two.handle.settled()]);
    for (const room of rooms) assert.ok(!(await one.handle.onlineUsers(room)).includes(uid), `${uid} is not listed in ${room}`);
    // A stop whose SQL write overtook the start of the same page (decided just
    // before it on the other process) looks again after the write retry delay.
    for (const lesson of lessons) {
      await eventually(async () => (await one.handle.onlineTime(uid, lesson)).runningSince === null, 5000, `no timer of ${uid} runs in ${lesson}`);
    }
  }
});
