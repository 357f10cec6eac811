// The simulation's checker finds what it claims to find: a scripted day that is
// right passes, and the same day against a store that forgets to confirm
// leaves breaks exactly the invariants that mistake breaks, with a trace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MemoryStore } from '../../lib/stores/memory-store';
import type { LeaveConfirmation, PendingLeave } from '../../lib/stores/store';
import { embeddedBackend, type SimBackend } from './backends';
import { runSteps, shrink } from './run';
import type { Step, TimedStep } from './scenario';
import { SETTINGS } from './world';

/** Confirms no leave after its grace period: the user stays online for ever. */
class ForgetfulStore extends MemoryStore {
  override async confirmLeave(_pending: PendingLeave): Promise<LeaveConfirmation> {
    return { leftRoom: false, stoppedTimer: false, seq: 0 };
  }
}

const at = (seconds: number, step: Step): TimedStep => ({ at: seconds * 1000, step });
const open = (page: number, uid: number): Step => ({ kind: 'open', page, uid, room: '/rooms/a', timeChannel: '/lessons/1', proc: 0, engaged: true });

// Two users; one disconnects (a leave in its grace period), the other closes its page.
const day: TimedStep[] = [
  at(1, open(0, 1)),
  at(2, open(1, 2)),
  at(30, { kind: 'engage', page: 1, engaged: false }),
  at(40, { kind: 'disconnect', page: 0 }),
  at(140, { kind: 'quiet' }),
  at(141, { kind: 'close', page: 1 }),
  at(240, { kind: 'quiet' }),
];

describe('the simulation checker', () => {
  let right: SimBackend;
  let broken: SimBackend;
  before(async () => {
    right = await embeddedBackend();
    broken = await embeddedBackend(() => new ForgetfulStore(SETTINGS.maxClientIdsPerUser, SETTINGS.leaveGraceMs));
  });
  after(async () => {
    await right?.close();
    await broken?.close();
  });

  test('a day the library gets right breaks nothing', async () => {
    const result = await runSteps(right, day);
    assert.equal(result.applied, day.length);
    assert.deepEqual(result.violations, []);
  });

  test('a store that never confirms a leave is caught, and the trace shrinks to the steps that matter', async () => {
    const result = await runSteps(broken, day);
    const invariants = new Set(result.violations.map((v) => v.invariant));
    for (const invariant of ['who is online (SQL list)', 'timers running', 'diffs end as the truth', 'online time = login log']) {
      assert.ok(invariants.has(invariant), `${invariant} not reported: ${JSON.stringify(result.violations)}`);
    }
    assert.ok(result.violations.some((v) => v.detail.includes('/rooms/a: truth [2], faye_channel_online_lists [1,2]')), JSON.stringify(result.violations));
    const minimal = await shrink(broken, day, 'who is online (SQL list)', 30_000);
    assert.deepEqual(minimal.map((s) => s.step.kind), ['open', 'disconnect', 'quiet']);
  });
});
