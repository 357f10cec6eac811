// The minimal traces of bugs the simulation found, replayed on both backends
// at the default settings: each must now break no invariant.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openBackend, type BackendName, type SimBackend } from './backends';
import { runSteps } from './run';
import type { Step, TimedStep } from './scenario';

const at = (seconds: number, step: Step): TimedStep => ({ at: seconds * 1000, step });
const open = (page: number, uid: number, room: string, timeChannel: string, proc = 0): Step => ({ kind: 'open', page, uid, room, timeChannel, proc, engaged: true });

/** `cluster`: the trace needs several processes (a crash), so it runs on mysql-redis only. */
const traces: Array<{ name: string; steps: TimedStep[]; cluster?: boolean }> = [
  {
    name: 'two reports of one page naming two rooms at once leave it in the second room only',
    steps: [
      at(1, open(0, 2, '/rooms/abx', '/lessons/1')),
      at(20, { kind: 'overlap', page: 0, first: { room: '/rooms/b', timeChannel: '/lessons/3' }, second: { room: '/rooms/a', timeChannel: '/lessons/2' } }),
      at(120, { kind: 'quiet' }),
    ],
  },
  {
    name: 'a user back before the engine noticed their lost page: the time nobody saw them is not online time',
    steps: [
      at(63.7, open(0, 4, '/rooms/abx', '/lessons/3')),
      at(170.6, { kind: 'networkLost', page: 0 }),
      at(208.2, open(1, 4, '/rooms/b', '/lessons/3', 1)),
      at(310, { kind: 'quiet' }),
    ],
  },
  {
    name: "a lost page's backdated departure, the user's last, does not stop the timer before another page's later close",
    steps: [
      at(30.3, open(0, 4, '/rooms/b', '/lessons/1')),
      at(60.1, open(1, 4, '/rooms/a', '/lessons/1')),
      at(166.7, { kind: 'networkLost', page: 1 }),
      at(178.8, { kind: 'close', page: 0 }),
      at(280, { kind: 'quiet' }),
    ],
  },
  {
    name: "a lost page that reconciliation finds before the engine's GC departs as of its last ping, even on a process that never saw it",
    steps: [
      at(171.7, open(0, 4, '/rooms/b', '/lessons/1', 1)),
      at(187.1, { kind: 'networkLost', page: 0 }),
      at(208.3, { kind: 'crash', proc: 0 }),
      at(333.5, { kind: 'quiet' }),
    ],
    cluster: true,
  },
  {
    name: 'the same after two overlapping reports, when the periodic reconciliation runs between clientExists turning false and the GC',
    steps: [
      at(3.4, open(0, 2, '/rooms/b', '/lessons/2', 2)),
      at(20.4, { kind: 'overlap', page: 0, first: { room: '/rooms/abx', timeChannel: '/lessons/2' }, second: { room: '/rooms/abx', timeChannel: '/lessons/1' } }),
      at(269.1, { kind: 'networkLost', page: 0 }),
      at(374.2, { kind: 'quiet' }),
    ],
  },
  {
    name: "a page that hopped to another process and moved there: the first process's stale memory of it does not close the new place's login session",
    steps: [
      at(42.1, open(0, 5, '/rooms/a', '/lessons/2')),
      at(179.5, { kind: 'hop', page: 0, proc: 1 }),
      at(180.6, { kind: 'move', page: 0, room: '/rooms/b', timeChannel: '/lessons/3' }),
      at(208.8, { kind: 'networkLost', page: 0 }),
      at(417.1, { kind: 'quiet' }),
    ],
    cluster: true,
  },
  {
    name: "a tab evicted by a process whose memory of it is stale leaves where it is, closing its own login session",
    steps: [
      at(6.7, open(0, 2, '/rooms/a', '/lessons/3')),
      at(16.9, { kind: 'move', page: 0, room: '/rooms/b', timeChannel: '/lessons/1' }),
      at(31.1, { kind: 'hop', page: 0, proc: 2 }),
      at(34.9, { kind: 'move', page: 0, room: '/rooms/abx', timeChannel: '/lessons/1' }),
      // One tab past maxClientIdsPerUser (32) in the room; the newest, which evicts page 0, reaches process 0.
      // Page 1 keeps the user in /lessons/1 (the model of the truth knows no evictions).
      ...Array.from({ length: 32 }, (_, i) => at(160 + i * 0.1, open(i + 1, 2, '/rooms/abx', i === 0 ? '/lessons/1' : '/lessons/3', i === 31 ? 0 : 1))),
      at(320.1, { kind: 'close', page: 0 }),
      at(320.2, { kind: 'close', page: 1 }),
      at(418.6, { kind: 'quiet' }),
    ],
    cluster: true,
  },
  {
    name: "a page moved by another process, back on the first one: its stale memory moves nothing, and the new place's login session closes",
    steps: [
      at(4.9, open(0, 5, '/rooms/a', '/lessons/3', 1)),
      at(13.9, { kind: 'hop', page: 0, proc: 2 }),
      at(16.6, { kind: 'overlap', page: 0, first: { room: '/rooms/b', timeChannel: '/lessons/1' }, second: { room: '/rooms/a', timeChannel: '/lessons/1' } }),
      at(23.8, { kind: 'hop', page: 0, proc: 1 }),
      at(36.6, { kind: 'networkLost', page: 0 }),
      at(168.1, { kind: 'quiet' }),
    ],
    cluster: true,
  },
  {
    name: 'a refused name in another case (/rooms/aBx) leaves the list of /rooms/abx alone, whoever asks about it',
    steps: [
      at(24.9, { kind: 'open', page: 0, uid: 2, room: '/rooms/aBx', timeChannel: '/lessons/3', proc: 0, engaged: false }),
      at(202.1, { kind: 'quiet' }),
      at(206.3, open(1, 1, '/rooms/abx', '/lessons/2')),
      at(459.3, { kind: 'quiet' }),
    ],
  },
  {
    name: 'a move to a refused name: the page stays where it was, connecting again at once, and its time there goes on',
    steps: [
      at(2.5, open(0, 3, '/rooms/b', '/lessons/1')),
      at(18.8, { kind: 'move', page: 0, room: '/rooms/aBx', timeChannel: '/lessons/2' }),
      at(159.2, { kind: 'quiet' }),
    ],
  },
  {
    name: "an engagement report after the page's last connect is a sighting for every process: its departure is not backdated before it",
    steps: [
      at(37.7, open(0, 4, '/rooms/abx', '/lessons/1', 1)),
      at(44.0, { kind: 'engage', page: 0, engaged: false }),
      at(47.3, { kind: 'networkLost', page: 0 }),
      at(159.5, { kind: 'quiet' }),
    ],
  },
  {
    name: "a page's report naming its old place, sent before the connect naming its new one, does not move it back (seed 295216135)",
    steps: [
      at(6.4, open(0, 5, '/rooms/b', '/lessons/2', 2)),
      at(176.3, open(1, 5, '/rooms/abx', '/lessons/1', 1)),
      // Page 0's leave of /rooms/b waits out the grace; page 1 moves there within it.
      at(193.2, { kind: 'disconnect', page: 0 }),
      at(196.9, { kind: 'overlap', page: 1, first: { room: '/rooms/abx', timeChannel: '/lessons/1' }, second: { room: '/rooms/b', timeChannel: '/lessons/3' } }),
      at(381.2, { kind: 'quiet' }),
    ],
  },
  {
    name: "a page that comes into a room within the grace of its user's leave there and moves on at once hands the leave back (seed 893901461)",
    steps: [
      // Page 0 is refused (a name in another case): its reports name places it never was in.
      at(8.8, open(0, 4, '/rooms/aBx', '/lessons/2')),
      at(20.0, open(1, 4, '/rooms/abx', '/lessons/1', 2)),
      at(21.4, { kind: 'move', page: 1, room: '/rooms/a', timeChannel: '/lessons/2' }),
      // Page 1 reloads: back in /rooms/a within the grace, 4 s later.
      at(29.2, { kind: 'reload', page: 1, gapMs: 4000 }),
      // Page 0's first report names /rooms/a (cancelling the pending leave there), its second moves it on.
      at(30.0, { kind: 'overlap', page: 0, first: { room: '/rooms/a', timeChannel: '/lessons/1' }, second: { room: '/rooms/b', timeChannel: '/lessons/3' } }),
      at(159.4, { kind: 'quiet' }),
    ],
  },
  {
    name: 'a page moving to another lesson of its room stays in the room: no leave and join, even when its move was damped (seed 627940019)',
    steps: [
      at(13.3, open(0, 5, '/rooms/b', '/lessons/1', 2)),
      at(46.9, { kind: 'move', page: 0, room: '/rooms/b', timeChannel: '/lessons/3' }),
      // Within the extension's move interval (2 s): applied at 48.9 s, while the page is really there.
      at(48.1, { kind: 'move', page: 0, room: '/rooms/b', timeChannel: '/lessons/2' }),
      at(186.0, { kind: 'quiet' }),
    ],
  },
];

for (const backend of ['embedded', 'mysql-redis'] as BackendName[]) {
  describe(`bugs the simulation found stay fixed (${backend})`, () => {
    let subject: SimBackend;
    before(async () => {
      subject = await openBackend(backend);
    });
    after(() => subject?.close());
    for (const { name, steps } of traces.filter((trace) => backend === 'mysql-redis' || !trace.cluster)) {
      test(name, async () => {
        const result = await runSteps(subject, steps);
        assert.equal(result.applied, steps.length, 'every step applies');
        assert.deepEqual(result.violations, []);
      });
    }
  });
}
