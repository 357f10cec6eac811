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

  it('reads every zone offset as Intl does, second by second, around offset changes (the offsets are cached per quarter hour)', () => {
    // The oracle: Intl asked for every instant, as before the cache.
    const formats = new Map<string, Intl.DateTimeFormat>();
    const intlWall = (ms: number, timeZone: string): number[] => {
      if (!formats.has(timeZone)) formats.set(timeZone, new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
      }));
      const parts = Object.fromEntries(formats.get(timeZone)!.formatToParts(ms).map((p) => [p.type, p.value]));
      return [parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second].map(Number);
    };
    const digits = ([y, mo, d, h, mi, s]: number[]) => [y, mo, d, h, mi, s].map((n, i) => String(n).padStart(i === 0 ? 4 : 2, '0')).join('');
    const intlOffset = (ms: number, zone: string) => {
      const [y, mo, d, h, mi, s] = intlWall(ms, zone);
      return Date.UTC(y, mo - 1, d, h, mi, s) - ms;
    };
    const intlParse = (text: string, zone: string) => {
      const [y, mo, d, h, mi, s] = text.match(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/)!.slice(1).map(Number);
      const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
      let guess = asUtc;
      for (let i = 0; i < 2; i++) guess = asUtc - intlOffset(guess, zone);
      return new Date(guess);
    };
    // Zones with DST, half- and quarter-hour offsets, a 30-minute DST step, and
    // Liberia's 1972 change from -0:44:30 to -0:45 (off the minute).
    const cases: Array<[string, string]> = [
      ['America/New_York', '2026-03-08T07:00:00Z'], ['America/New_York', '2026-11-01T06:00:00Z'],
      ['Europe/Berlin', '2026-10-25T01:00:00Z'], ['Australia/Lord_Howe', '2026-10-03T15:30:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T15:00:00Z'], ['Pacific/Chatham', '2026-09-26T14:00:00Z'],
      ['Asia/Kolkata', '2026-06-01T00:00:00Z'], ['America/St_Johns', '2026-03-08T05:30:00Z'],
      ['Africa/Monrovia', '1972-01-07T00:44:30Z'],
    ];
    let compared = 0;
    for (const [zone, change] of cases) {
      const at = Date.parse(change);
      // Every 7 s for an hour either side of the change, at 0 and 999 ms into the second.
      for (let ms = at - 3_600_000; ms <= at + 3_600_000; ms += 7_000) {
        for (const instant of [ms, ms + 999]) {
          const expected = digits(intlWall(instant, zone));
          assert.equal(formatStartedAt(new Date(instant), zone), expected, `${zone} at ${new Date(instant).toISOString()}`);
          assert.deepEqual(parseStartedAt(expected, zone), intlParse(expected, zone), `${zone} reading ${expected}`);
          compared += 1;
        }
      }
    }
    assert.equal(compared, cases.length * 2 * (Math.floor(7_200_000 / 7_000) + 1));
  });

  it('keeps key order and unknown values through a round trip, as a Ruby Hash would', () => {
    const text = '{"9_spended":3,"/a_spended":125,"/b_started_at":"20261128150102","other":{"x":[1]}}';
    assert.equal(formatOnlineTimes(parseOnlineTimes(text)), text);
    const started = withTimerStarted(parseOnlineTimes(text), '/a', '20261128160000');
    const stopped = withTimerStopped(started, '/a', 5);
    assert.equal(formatOnlineTimes(stopped), '{"9_spended":3,"/a_spended":130,"/b_started_at":"20261128150102","other":{"x":[1]}}');
  });
});
