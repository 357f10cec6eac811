// The handle's read methods are often reached from an app's own public routes
// (the demo's /api/members?room=), so their arguments are checked like wire
// input: a wrong one is a FayeOnlineError naming the method and the argument,
// never a TypeError from deep inside, and never an SQL parameter like NaN.
import { channelNameProblem, MAX_UID } from '../core/auth';
import { FayeOnlineError } from '../errors';

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** A room or time channel argument: '/'-separated lower-case letters and digits, as in auth. */
export function channelArgument(method: string, name: string, value: unknown): string {
  const problem = channelNameProblem(value);
  if (problem) throw new FayeOnlineError('INVALID_ARGUMENT', `${method}: ${name} ${problem}, got ${describe(value)}`);
  return value as string;
}

/** A uid argument: a positive integer up to the width of the uid columns. */
export function uidArgument(method: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_UID) {
    throw new FayeOnlineError('INVALID_ARGUMENT', `${method}: uid must be a positive integer up to ${MAX_UID}, got ${describe(value)}`);
  }
  return value;
}

/** A moment argument: a valid Date. */
export function dateArgument(method: string, name: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new FayeOnlineError('INVALID_ARGUMENT', `${method}: ${name} must be a valid Date, got ${value instanceof Date ? 'an invalid Date' : describe(value)}`);
  }
  return value;
}
