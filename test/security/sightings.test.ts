// A message counts as a sighting of its page only when the edge lets it through:
// a page whose every message is refused is not online anywhere, and its
// departure time must not move later with each refusal (found by the simulation).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Presence } from '../../lib/core/presence';
import { extensionOver } from '../support/extension';

function extensionWatchingSightings() {
  const touched: string[] = [];
  const presence = {
    sighted: (clientId: string) => touched.push(clientId),
    authOf: () => undefined,
    arrive: () => null,
  } satisfies Partial<Record<keyof Presence, unknown>>;
  const send = extensionOver(presence);
  return { touched, send };
}

const auth = (uid: unknown) => ({ room_channel: '/rooms/a', time_channel: '/lessons/1', current_user: { uid, uname: 'u' } });

test('a connect with an auth the edge refuses is no sighting; an accepted one is', async () => {
  const { touched, send } = extensionWatchingSightings();
  const refused = await send({ channel: '/meta/connect', clientId: 'c1', connectionType: 'long-polling', auth: auth('not a uid') });
  assert.match(String(refused.error), /^401::/);
  const refusedPublish = await send({ channel: '/rooms/a/user_list', clientId: 'c1', data: {} });
  assert.match(String(refusedPublish.error), /^403::/);
  assert.deepEqual(touched, []);
  const accepted = await send({ channel: '/meta/connect', clientId: 'c1', connectionType: 'long-polling', auth: auth(7) });
  assert.equal(accepted.error, undefined);
  const chat = await send({ channel: '/rooms/a/chat', clientId: 'c1', data: { text: 'hi' } });
  assert.equal(chat.error, undefined);
  assert.deepEqual(touched, ['c1', 'c1']);
});
