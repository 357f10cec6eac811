// The messages of one page take effect in the order they came: an engagement
// report of a clientId the process tracks takes the page's place at once, as a
// connect does. A report that waited for a promise first went after a later
// connect naming the page's new place, and moved the page back to its old one
// (the simulation's seed 295216135: its user left the new room at once).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Auth } from '../../lib/core/auth';
import type { Presence } from '../../lib/core/presence';
import { extensionOver } from '../support/extension';

/** An extension over a presence that only remembers where each clientId is and records every place it is taken to. */
function extensionRecordingPlaces() {
  const places = new Map<string, Auth>();
  const taken: string[] = [];
  const presence = {
    sighted: () => undefined,
    authOf: (clientId: string) => places.get(clientId),
    arrive: (clientId: string, auth: Auth) => {
      const current = places.get(clientId);
      if (current && current.room === auth.room && current.timeChannel === auth.timeChannel) return null;
      places.set(clientId, auth);
      taken.push(`${auth.room} ${auth.timeChannel}`);
      return Promise.resolve();
    },
    engage: async () => 'applied',
  } satisfies Partial<Record<keyof Presence, unknown>>;
  const send = extensionOver(presence);
  return { taken, send, placeOf: (clientId: string) => places.get(clientId) };
}

const auth = (room: string, timeChannel: string) => ({ room_channel: room, time_channel: timeChannel, current_user: { uid: 5, uname: 'u' } });

test("a tracked page's report naming its old place, then one naming its new place and a connect there, move it once", async () => {
  const { taken, send, placeOf } = extensionRecordingPlaces();
  await send({ channel: '/meta/connect', clientId: 'c1', connectionType: 'long-polling', auth: auth('/rooms/abx', '/lessons/1') });
  // In flight at once, in this order.
  const answers = await Promise.all([
    send({ channel: '/faye_online/engagement', clientId: 'c1', data: { engaged: true, seq: 1 }, auth: auth('/rooms/abx', '/lessons/1') }),
    send({ channel: '/faye_online/engagement', clientId: 'c1', data: { engaged: true, seq: 2 }, auth: auth('/rooms/b', '/lessons/3') }),
    send({ channel: '/meta/connect', clientId: 'c1', connectionType: 'long-polling', auth: auth('/rooms/b', '/lessons/3') }),
  ]);
  assert.deepEqual(answers.map((a) => a.error), [undefined, undefined, undefined]);
  assert.deepEqual(taken, ['/rooms/abx /lessons/1', '/rooms/b /lessons/3']);
  assert.equal(placeOf('c1')?.room, '/rooms/b');
});
