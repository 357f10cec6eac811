// One transition per change: a user's two tabs arriving and leaving give four
// transitions, each holding the clientId's change and its user's together, and
// the handle's public events derived from them keep their documented order.
// Unit test: the in-memory store and in-memory records.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { Presence, type PresenceRecords, type Transition } from '../../lib/core/presence';
import { Departures } from '../../lib/edge/departures';
import { emitPublicEvents, type FayeOnlineEvents } from '../../lib/edge/handle';
import { Lifecycle } from '../../lib/edge/lifecycle';
import { traceLine } from '../../lib/edge/trace';
import { silentLogger } from '../../lib/log';
import { MemoryStore } from '../../lib/stores/memory-store';

function memoryRecords(): PresenceRecords {
  const lists = new Map<string, number[]>();
  return {
    addToOnlineList: async (room, uid) => {
      const list = [...(lists.get(room) ?? []).filter((u) => u !== uid), uid];
      lists.set(room, list);
      return list;
    },
    removeFromOnlineList: async (room, uid) => {
      const list = (lists.get(room) ?? []).filter((u) => u !== uid);
      lists.set(room, list);
      return list;
    },
    startTimer: async () => true,
    stopTimer: async () => 1,
    writeLoginLog: async () => undefined,
    startEngaged: async () => true,
    stopEngaged: async () => true,
  };
}

function authOf(uid: number): Auth {
  const reading = readAuth({ room_channel: '/classes/1', time_channel: '/lessons/1', current_user: { uid, uname: `u${uid}` } });
  assert.equal(reading.kind, 'valid');
  return reading.auth;
}

const summary = (t: Transition) => [t.clientId, t.client, t.membership, t.timer, t.reason, t.list === null ? null : `[${t.list}]`].join(' ');

describe('presence transitions', () => {
  it('a user with two tabs: one transition per arrival and departure, the user-level change inside it', async () => {
    const clock = new ManualClock(1_000_000);
    const presence = new Presence({ store: new MemoryStore(32), records: memoryRecords(), logger: silentLogger, clock });
    const transitions: Transition[] = [];
    presence.on('transition', (t) => transitions.push(t));
    const departures = new Departures({ clock, trackedLastSeen: (clientId) => presence.lastSeen(clientId) });

    await presence.arrive('a', authOf(7));
    await presence.arrive('b', authOf(7));
    await clock.advance(5000);
    departures.disconnected('a');
    const first = departures.destroyed('a');
    await presence.depart('a', first.reason, first.at);
    // b stopped answering 5 s ago: it left as of its last message.
    await clock.advance(5000);
    const second = departures.destroyed('b');
    assert.deepEqual(second, { reason: 'timeout', at: 1_000_000 });
    await presence.depart('b', second.reason, second.at);
    await presence.idle();

    assert.deepEqual(transitions.map(summary), [
      'a arrived joined started  [7]',
      'b arrived    ',
      'a departed   disconnect ',
      'b departed left stopped timeout []',
    ]);
    assert.equal(transitions[0]!.seq > 0, true, 'a join carries the room seq');
    // b departed as of its last message; its user was online until a's disconnect.
    assert.equal(transitions[3]!.at.getTime(), 1_000_000);
    assert.equal(transitions[3]!.leftAt?.getTime(), 1_005_000);

    const handle = new EventEmitter<FayeOnlineEvents>();
    const events: string[] = [];
    for (const name of ['arrive', 'join', 'depart', 'leave'] as const) handle.on(name, (e: { clientId: string }) => events.push(`${name} ${e.clientId}`));
    const times: number[] = [];
    handle.on('depart', (e) => times.push(e.at.getTime()));
    handle.on('leave', (e) => times.push(e.at.getTime()));
    for (const t of transitions) emitPublicEvents(handle, t);
    assert.deepEqual(events, ['arrive a', 'join a', 'arrive b', 'depart a', 'depart b', 'leave b']);
    assert.deepEqual(times, [1_005_000, 1_000_000, 1_005_000]);

    assert.deepEqual(transitions.map((t) => traceLine(t)?.message), [
      'trace: user 7 (u7) joined /classes/1 with clientId a; online list now [7]',
      'trace: user 7 (u7) opened another clientId b in /classes/1; online list unchanged',
      'trace: clientId a of user 7 (u7) departed from /classes/1 (disconnect); the user is still online there',
      'trace: user 7 (u7) left /classes/1 (clientId b, timeout); online list now []',
    ]);
  });

  it('an engaged page that leaves: its engagement stops before its leave, however long each write takes', async () => {
    const clock = new ManualClock(1_000_000);
    // The engaged time's row is written last; before the departure waited for
    // all its writes at once, the leave went out first whenever this happened.
    let releaseEngaged!: () => void;
    const engagedWritten = new Promise<void>((resolve) => (releaseEngaged = resolve));
    const records: PresenceRecords = { ...memoryRecords(), stopEngaged: async () => (await engagedWritten, true) };
    const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, clock });
    const transitions: Transition[] = [];
    presence.on('transition', (t) => transitions.push(t));

    await presence.arrive('a', authOf(7));
    assert.equal(await presence.engage('a', authOf(7), true, 1), 'applied');
    await clock.advance(5000);
    const departed = presence.depart('a', 'disconnect', clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(transitions.map(summary).slice(2), [], 'nothing is emitted while a write of the departure is pending');
    releaseEngaged();
    await departed;
    await presence.idle();

    assert.deepEqual(transitions.map((t) => `${t.engagement ?? ''} ${summary(t)}`), [
      ' a arrived joined started  [7]',
      'started a     ',
      'stopped a     ',
      ' a departed left stopped disconnect []',
    ]);
  });

  it('a server closes once: a second close() waits for the same steps, which ran once, in order', async () => {
    const steps: string[] = [];
    const lifecycle = new Lifecycle({
      logger: silentLogger,
      start: async () => undefined,
      onReady: () => steps.push('ready'),
      stopping: () => void steps.push('stopping'),
      stop: [() => void steps.push('settle'), async () => void steps.push('close connections')],
    });
    await lifecycle.ready;
    assert.equal(lifecycle.open, true);
    const [one, two] = [lifecycle.close(), lifecycle.close()];
    assert.equal(lifecycle.open, false);
    assert.equal(one, two);
    await one;
    assert.deepEqual(steps, ['ready', 'stopping', 'settle', 'close connections']);
  });
});
