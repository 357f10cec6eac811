import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { totalDuration, unionIntervals } from '../../lib/reports/intervals';

const now = 1000;

test('no intervals make an empty union and no time', () => {
  assert.deepEqual(unionIntervals([], now), []);
  assert.equal(totalDuration([], now), 0);
});

test('disjoint intervals stay apart and come out sorted by start', () => {
  const input = [{ start: 50, end: 60 }, { start: 10, end: 20 }, { start: 30, end: 40 }];
  assert.deepEqual(unionIntervals(input, now), [{ start: 10, end: 20 }, { start: 30, end: 40 }, { start: 50, end: 60 }]);
  assert.equal(totalDuration(input, now), 30);
});

test('overlapping intervals merge: two tabs 10:00-10:30 and 10:15-10:45 count 45 minutes', () => {
  const minute = 60_000;
  const input = [{ start: 0, end: 30 * minute }, { start: 15 * minute, end: 45 * minute }];
  assert.deepEqual(unionIntervals(input, now), [{ start: 0, end: 45 * minute }]);
  assert.equal(totalDuration(input, now), 45 * minute);
});

test('identical intervals count once', () => {
  assert.deepEqual(unionIntervals([{ start: 5, end: 9 }, { start: 5, end: 9 }, { start: 5, end: 9 }], now), [{ start: 5, end: 9 }]);
});

test('a nested interval adds nothing, in either order', () => {
  assert.deepEqual(unionIntervals([{ start: 0, end: 100 }, { start: 20, end: 30 }], now), [{ start: 0, end: 100 }]);
  assert.deepEqual(unionIntervals([{ start: 20, end: 30 }, { start: 0, end: 100 }], now), [{ start: 0, end: 100 }]);
  assert.deepEqual(unionIntervals([{ start: 0, end: 100 }, { start: 0, end: 30 }, { start: 70, end: 100 }], now), [{ start: 0, end: 100 }]);
});

test('touching intervals merge into one', () => {
  assert.deepEqual(unionIntervals([{ start: 5, end: 9 }, { start: 0, end: 5 }], now), [{ start: 0, end: 9 }]);
});

test('an interval overlapping several merges them all', () => {
  const input = [{ start: 0, end: 10 }, { start: 20, end: 30 }, { start: 40, end: 50 }, { start: 5, end: 45 }];
  assert.deepEqual(unionIntervals(input, now), [{ start: 0, end: 50 }]);
});

test('zero-length intervals add no time and do not appear', () => {
  assert.deepEqual(unionIntervals([{ start: 7, end: 7 }], now), []);
  assert.deepEqual(unionIntervals([{ start: 0, end: 5 }, { start: 5, end: 5 }, { start: 8, end: 8 }], now), [{ start: 0, end: 5 }]);
  assert.equal(totalDuration([{ start: 7, end: 7 }], now), 0);
});

test('an open interval counts up to now', () => {
  assert.deepEqual(unionIntervals([{ start: 900, end: null }], now), [{ start: 900, end: 1000 }]);
  assert.equal(totalDuration([{ start: 900, end: null }, { start: 950, end: 980 }], now), 100);
});

test('an open interval swallows closed ones that end before now, not those ending after', () => {
  assert.deepEqual(unionIntervals([{ start: 800, end: null }, { start: 900, end: 1200 }], now), [{ start: 800, end: 1200 }]);
});

test('an open interval that starts after now has not lasted yet', () => {
  assert.deepEqual(unionIntervals([{ start: 1500, end: null }], now), []);
  assert.equal(totalDuration([{ start: 1500, end: null }], now), 0);
});

test('an interval ending before it starts is refused with a message naming it', () => {
  assert.throws(
    () => unionIntervals([{ start: 0, end: 5 }, { start: 9, end: 3 }], now),
    (error: unknown) => error instanceof Error && (error as { code?: string }).code === 'INVALID_OPTION' && /intervals\[1\] ends \(3\) before it starts \(9\)/.test(error.message),
  );
});

test('bounds that are not finite numbers are refused', () => {
  assert.throws(() => unionIntervals([{ start: Number.NaN, end: 5 }], now), /intervals\[0\] must have finite bounds/);
  assert.throws(() => unionIntervals([{ start: 0, end: Infinity }], now), /finite bounds/);
  assert.throws(() => totalDuration([], Number.NaN), /now must be a finite number/);
});

test('the input is left as it was', () => {
  const input = [{ start: 5, end: 9 }, { start: 0, end: 6 }];
  const union = unionIntervals(input, now);
  union[0].end = 99;
  assert.deepEqual(input, [{ start: 5, end: 9 }, { start: 0, end: 6 }]);
});

test('the union is sorted, disjoint and as long as a brute-force count of covered points', () => {
  const interval = fc.record({ start: fc.integer({ min: 0, max: 100 }), length: fc.option(fc.integer({ min: 0, max: 30 })) });
  fc.assert(
    fc.property(fc.array(interval, { maxLength: 8 }), (drawn) => {
      const input = drawn.map(({ start, length }) => ({ start, end: length === null ? null : start + length }));
      const union = unionIntervals(input, 110);
      for (let i = 1; i < union.length; i++) assert.ok(union[i - 1].end < union[i].start);
      let covered = 0;
      for (let point = 0; point < 140; point++) {
        if (input.some(({ start, end }) => start <= point && point < (end ?? Math.max(110, start)))) covered++;
      }
      assert.equal(totalDuration(input, 110), covered);
    }),
  );
});
