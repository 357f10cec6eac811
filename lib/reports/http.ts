// The reports as JSON over HTTP, mounted by attachFayeOnline under
// `reports.prefix`. Deny by default: without an `authorize` hook every request
// is refused, because the reports name users and their clientIds.
//
//   GET  <prefix>/status                   rooms, time channels, users, clientIds, stale entries
//   POST <prefix>/status/cleanup           the same, removing what is stale
//   GET  <prefix>/users/:uid/logins        ?channel&from&to: sessions per time channel and tab
//   GET  <prefix>/online-time              ?channel&from&to: a time channel's users and their time
//   GET  <prefix>/logs                     ?uid&channel&from&to&limit&offset: raw login-log rows, paged
import express, { type Request, type Response } from 'express';
import { isFayeOnlineError } from '../errors';
import type { Logger } from '../log';
import type { ChannelReport, ChannelReportQuery, LoginLogListQuery, LoginLogListEntry, UserLoginQuery, UserLoginReport } from './login-report';
import type { StatusOptions, StatusReport } from './status';

export type Authorize = (req: Request) => boolean | Promise<boolean>;

export interface ReportsApi {
  status(options?: StatusOptions): Promise<StatusReport>;
  userLoginReport(query: UserLoginQuery): Promise<UserLoginReport>;
  channelReport(query: ChannelReportQuery): Promise<ChannelReport>;
  loginLogList(query: LoginLogListQuery): Promise<{ rows: LoginLogListEntry[]; more: boolean }>;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

class BadRequest extends Error {}

type Params = Record<string, string | undefined>;

/** Query parameters as single strings; unknown or repeated ones are the caller's mistake. */
function readQuery(req: Request, known: readonly string[]): Params {
  const params: Params = {};
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!known.includes(key)) throw new BadRequest(`unknown parameter "${key}"${known.length ? ` (known: ${known.join(', ')})` : ' (this endpoint takes none)'}`);
    if (typeof value !== 'string') throw new BadRequest(`parameter "${key}" must be given once, as a plain value`);
    params[key] = value;
  }
  return params;
}

function uidParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new BadRequest(`${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

// ISO 8601 only (2026-05-01, 2026-05-01T08:00:00Z, with an offset): what Date
// would also accept ("May 1") is ambiguous about its zone.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export function parseIsoDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = ISO_DATE.test(value) ? new Date(value.replace(' ', 'T')) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw new BadRequest(`${name} must be an ISO 8601 date like 2026-05-01 or 2026-05-01T08:00:00Z, got "${value}"`);
  return date;
}

function intParam(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadRequest(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

export function reportsRouter(api: ReportsApi, options: { authorize?: Authorize; logger: Logger }): express.Router {
  const router = express.Router();
  const { authorize, logger } = options;

  router.use(async (req, res, next) => {
    if (!authorize) {
      res.status(403).json({
        error: 'faye-online reports are disabled: pass `reports: { authorize: (req) => boolean }` to attachFayeOnline to allow the requests it approves',
      });
      return;
    }
    let allowed = false;
    try {
      // Exactly true: a hook that returns a truthy object or string by mistake
      // (a user record, a role name) must not open reports that name users.
      allowed = (await authorize(req)) === true;
    } catch (error) {
      logger.error({ err: error, path: req.originalUrl }, 'reports: the authorize hook threw; request refused');
    }
    if (!allowed) {
      res.status(403).json({ error: 'not authorized for faye-online reports' });
      return;
    }
    next();
  });

  const handle = (work: (req: Request, res: Response) => Promise<unknown>) => async (req: Request, res: Response) => {
    try {
      res.json(await work(req, res));
    } catch (error) {
      if (error instanceof BadRequest || isFayeOnlineError(error, 'INVALID_OPTION') || isFayeOnlineError(error, 'INVALID_CHANNEL')) {
        res.status(400).json({ error: (error as Error).message });
        return;
      }
      logger.error({ err: error, path: req.originalUrl }, 'reports: request failed');
      res.status(500).json({ error: 'internal error; see the server log' });
    }
  };

  router.get('/status', handle(async (req) => {
    readQuery(req, []);
    return api.status();
  }));

  router.post('/status/cleanup', handle(async (req) => {
    readQuery(req, []);
    return api.status({ cleanup: true });
  }));

  router.get('/users/:uid/logins', handle(async (req) => {
    const q = readQuery(req, ['channel', 'from', 'to']);
    return api.userLoginReport({
      uid: uidParam(String(req.params.uid), 'uid')!,
      channel: q.channel,
      from: parseIsoDate(q.from, 'from'),
      to: parseIsoDate(q.to, 'to'),
    });
  }));

  router.get('/online-time', handle(async (req) => {
    const q = readQuery(req, ['channel', 'from', 'to']);
    if (q.channel === undefined) throw new BadRequest('channel is required, e.g. ?channel=/courses/5/lessons/1');
    return api.channelReport({ channel: q.channel, from: parseIsoDate(q.from, 'from'), to: parseIsoDate(q.to, 'to') });
  }));

  router.get('/logs', handle(async (req) => {
    const q = readQuery(req, ['uid', 'channel', 'from', 'to', 'limit', 'offset']);
    const limit = intParam(q.limit, 'limit', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
    const offset = intParam(q.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const page = await api.loginLogList({
      uid: uidParam(q.uid, 'uid'), channel: q.channel, from: parseIsoDate(q.from, 'from'), to: parseIsoDate(q.to, 'to'), limit, offset,
    });
    let next: string | null = null;
    if (page.more) {
      const params = new URLSearchParams(Object.entries({ ...q, limit: String(limit), offset: String(offset + limit) }).filter((e): e is [string, string] => e[1] !== undefined));
      next = `${req.baseUrl}${req.path}?${params}`;
    }
    return { rows: page.rows, limit, offset, next };
  }));

  router.use((req, res) => {
    res.status(404).json({ error: `no report at ${req.method} ${req.originalUrl}; see README "Operations"` });
  });
  return router;
}
