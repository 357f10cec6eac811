// The `events` option: off by default, true takes the defaults, an object is
// checked setting by setting with errors that name the setting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFayeOnlineError } from '../../lib/errors';
import { resolveOptions, type FayeOnlineOptions } from '../../lib/options';

const refuses = (events: unknown, pattern: RegExp) =>
  assert.throws(() => resolveOptions({ events } as FayeOnlineOptions), (e) => isFayeOnlineError(e, 'INVALID_OPTION') && pattern.test(e.message));

test('events are off by default; true takes the defaults; settings are read in their units', () => {
  assert.equal(resolveOptions({}).events, undefined);
  assert.equal(resolveOptions({ events: false }).events, undefined);
  assert.deepEqual(resolveOptions({ events: true }).events, { drainIntervalMs: 1000, outboxLimit: 100_000, retentionDays: undefined });
  assert.deepEqual(resolveOptions({ events: { drainInterval: 0.5, outboxLimit: 10, retentionDays: 30 } }).events, { drainIntervalMs: 500, outboxLimit: 10, retentionDays: 30 });
});

test('a wrong events setting is an error naming it', () => {
  refuses('yes', /`events`: must be true, false or \{ drainInterval, outboxLimit, retentionDays \}/);
  refuses({ retention: 3 }, /`events`: unknown setting "retention"/);
  refuses({ retentionDays: 0 }, /`events.retentionDays`: must be a positive number/);
  refuses({ outboxLimit: 1.5 }, /`events.outboxLimit`: must be a positive integer/);
  refuses({ drainInterval: -1 }, /`events.drainInterval`: must be a positive number/);
  refuses(null, /`events`: must be true, false/);
});
