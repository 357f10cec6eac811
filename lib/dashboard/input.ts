// The dashboard's query parameters. Parsing and the 400 error class are the
// REST reports' own (lib/reports/http.ts), so a value one accepts the other
// accepts too; what is added here: times without an offset are read in the
// server's `timeZone` (what an operator types is the wall clock of the
// server's zone, which the pages name), and ranges have an upper bound.
import type { Request } from 'express';
import { BadRequest, intParam, parseIsoDate, readQuery, uidParam } from '../reports/http';
import { channelNameProblem } from '../core/auth';
import { formatStartedAt, parseStartedAt } from '../records/legacy-format';

export { BadRequest, readQuery, uidParam };

/** A range longer than this is refused: a report over years of login logs would hold the database for minutes. */
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

const HAS_OFFSET = /(?:Z|[+-]\d{2}:?\d{2})$/;

/** An ISO 8601 date or date-time; without an offset it is wall-clock time in `timeZone`. */
export function zonedDate(value: string | undefined, name: string, timeZone: string): Date | undefined {
  const checked = parseIsoDate(value, name);
  if (value === undefined || checked === undefined || HAS_OFFSET.test(value)) return checked;
  const [date, time = '00:00:00'] = value.split(/[T ]/);
  const [h, m, s = '00'] = time.split(':');
  const digits = `${date.replace(/-/g, '')}${h}${m}${s.slice(0, 2)}`;
  const instant = parseStartedAt(digits, timeZone);
  // Date rolls 2026-02-30 over into March, and a wall-clock time inside a DST gap does not exist: both fail the round trip.
  if (!instant || formatStartedAt(instant, timeZone) !== digits) throw new BadRequest(`${name} is not a time that exists in ${timeZone}: "${value}"`);
  return instant;
}

export interface Range {
  from?: Date;
  to?: Date;
}

/** from/to in `timeZone`; with `required`, both must be given. Either way at most MAX_RANGE_DAYS apart, from before to. */
export function rangeParams(params: Record<string, string | undefined>, timeZone: string, required = false): Range {
  const from = zonedDate(params.from, 'from', timeZone);
  const to = zonedDate(params.to, 'to', timeZone);
  if (required && (!from || !to)) throw new BadRequest('from and to are both required, e.g. from=2026-05-01T08:00&to=2026-05-01T10:00');
  if (from && to) {
    if (from.getTime() > to.getTime()) throw new BadRequest(`from (${params.from}) is after to (${params.to})`);
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * 86_400_000) {
      throw new BadRequest(`the range from ${params.from} to ${params.to} is longer than ${MAX_RANGE_DAYS} days; choose a shorter one`);
    }
  }
  return { from, to };
}

export function channelParam(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new BadRequest(`${name} is required, e.g. ${name}=/courses/5/lessons/1`);
  const problem = channelNameProblem(value);
  if (problem) throw new BadRequest(`${name} ${problem}, got "${value}"`);
  return value;
}

export interface Paging {
  offset: number;
  limit: number;
}

export function pagingParams(params: Record<string, string | undefined>): Paging {
  return {
    offset: intParam(params.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: intParam(params.limit, 'limit', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
  };
}

/** The query parameters `known` plus the ones every table takes (paging, format). */
export function tableQuery(req: Request, known: readonly string[]): { params: Record<string, string | undefined>; paging: Paging; csv: boolean } {
  const params = readQuery(req, [...known, 'offset', 'limit', 'format']);
  if (params.format !== undefined && params.format !== 'csv' && params.format !== 'json') throw new BadRequest(`format must be csv or json, got "${params.format}"`);
  return { params, paging: pagingParams(params), csv: params.format === 'csv' };
}
