// Time intervals and their union. A user with several tabs has overlapping
// sessions; online time is the length of their union, not the sum.
//
// Numbers are points in time in any one unit (reports use epoch milliseconds).
// Rules:
// - an open interval (end null) lasts until `now`; if it starts after `now` it
//   has not lasted yet and counts as zero-length;
// - touching intervals merge ([0,5] and [5,9] give [0,9]);
// - zero-length intervals add no time and do not appear in the union;
// - a closed interval ending before it starts, or a bound that is not a finite
//   number, is a caller's bug and throws INVALID_OPTION naming the interval:
//   clamping it would hide a wrong row or a mixed-up unit.
import { FayeOnlineError } from '../errors';

export interface Interval {
  start: number;
  /** null while still open: counts up to `now`. */
  end: number | null;
}

export interface ClosedInterval {
  start: number;
  end: number;
}

/** The union of `intervals`: sorted by start, non-overlapping, non-touching, none zero-length. */
export function unionIntervals(intervals: ReadonlyArray<Interval>, now: number): ClosedInterval[] {
  if (!Number.isFinite(now)) throw new FayeOnlineError('INVALID_OPTION', `unionIntervals: now must be a finite number, got ${now}`);
  const closed = intervals
    .map((interval, index) => closeInterval(interval, index, now))
    .filter((interval) => interval.end > interval.start)
    .sort((a, b) => a.start - b.start);

  const union: ClosedInterval[] = [];
  for (const interval of closed) {
    const last = union[union.length - 1];
    if (last && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
    else union.push({ ...interval });
  }
  return union;
}

/** The length of the union of `intervals`: overlapping time counts once. */
export function totalDuration(intervals: ReadonlyArray<Interval>, now: number): number {
  return lengthOfUnion(unionIntervals(intervals, now));
}

/** The length of a union `unionIntervals` returned (its intervals do not overlap). */
export function lengthOfUnion(union: ReadonlyArray<ClosedInterval>): number {
  return union.reduce((sum, interval) => sum + (interval.end - interval.start), 0);
}

function closeInterval(interval: Interval, index: number, now: number): ClosedInterval {
  const { start, end } = interval;
  if (!Number.isFinite(start) || (end !== null && !Number.isFinite(end))) {
    throw new FayeOnlineError('INVALID_OPTION', `unionIntervals: intervals[${index}] must have finite bounds, got start ${start} and end ${end}`);
  }
  if (end === null) return { start, end: Math.max(start, now) };
  if (end < start) {
    throw new FayeOnlineError('INVALID_OPTION', `unionIntervals: intervals[${index}] ends (${end}) before it starts (${start})`);
  }
  return { start, end };
}
