// The wire formats alone: time zones and the gem's key order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatOnlineTimes, formatStartedAt, parseOnlineTimes, parseStartedAt, withTimerStarted, withTimerStopped } from '../../lib/records/legacy-format';

describe('legacy formats', () => {
  it('writes and reads _started_at as wall-clock time of the zone, across a DST change', () => {
    const zone = 'Europe/Berlin';
    const summer = new Date('2026-03-29T01:30:00Z'); // 03:30 CEST, just after the switch
    assert.equal(formatStartedAt(summer, zone), '20260329033000');
    assert.deepEqual(parseStartedAt('20260329033000', zone), summer);
    assert.deepEqual(parseStartedAt('20261128150102', 'UTC'), new Date('2026-11-28T15:01:02Z'));
    assert.equal(parseStartedAt('', zone), null);
  });

  it('keeps key order and unknown values through a round trip, as a Ruby Hash would', () => {
    const text = '{"9_spended":3,"/a_spended":125,"/b_started_at":"20261128150102","other":{"x":[1]}}';
    assert.equal(formatOnlineTimes(parseOnlineTimes(text)), text);
    const started = withTimerStarted(parseOnlineTimes(text), '/a', '20261128160000');
    const stopped = withTimerStopped(started, '/a', 5);
    assert.equal(formatOnlineTimes(stopped), '{"9_spended":3,"/a_spended":130,"/b_started_at":"20261128150102","other":{"x":[1]}}');
  });
});
