// History over HTTP, next to the reports and behind the same `reports.authorize`
// hook (deny by default), mounted at <reports.prefix>/history:
//
//   GET <prefix>/history/present     ?room&at            uids in the room at that moment
//   GET <prefix>/history/attendance  ?room&from&to       who was there in between, with seconds and visits
//   GET <prefix>/history/last-seen   ?uid                when the user was last seen, or online now
import express, { type Request, type Response } from 'express';
import { channelArgument } from '../edge/arguments';
import { isFayeOnlineError } from '../errors';
import type { Logger } from '../log';
import { BadRequest, isBadRequest, parseIsoDate, readQuery, requireAuthorization, uidParam, type Authorize } from '../reports/http';
import type { HistoryApi } from './index';

function required<T>(value: T | undefined, name: string, example: string): T {
  if (value === undefined) throw new BadRequest(`${name} is required, e.g. ${example}`);
  return value;
}

function room(value: string | undefined, example: string): string {
  return channelArgument('history', 'room', required(value, 'room', example));
}

export function historyRouter(api: HistoryApi | undefined, options: { authorize?: Authorize; logger: Logger }): express.Router {
  const router = express.Router();
  router.use(requireAuthorization(options.authorize, options.logger));
  const handle = (work: (req: Request) => Promise<unknown>) => async (req: Request, res: Response) => {
    if (!api) {
      res.status(404).json({ error: 'history is off: pass `events: true` to attachFayeOnline (and run `faye-online migrate up`); see docs/events.md' });
      return;
    }
    try {
      res.json(await work(req));
    } catch (error) {
      if (isBadRequest(error) || isFayeOnlineError(error, 'INVALID_ARGUMENT')) {
        res.status(400).json({ error: error.message });
        return;
      }
      options.logger.error({ err: error, path: req.originalUrl }, 'history: request failed');
      res.status(500).json({ error: 'internal error; see the server log' });
    }
  };
  router.get('/present', handle(async (req) => {
    const q = readQuery(req, ['room', 'at']);
    const name = room(q.room, '?room=/rooms/1&at=2026-11-30T10:05:00Z');
    const at = required(parseIsoDate(q.at, 'at'), 'at', '?room=/rooms/1&at=2026-11-30T10:05:00Z');
    return { room: name, at, uids: await api!.presentAt(name, at) };
  }));
  router.get('/attendance', handle(async (req) => {
    const q = readQuery(req, ['room', 'from', 'to']);
    const example = '?room=/rooms/1&from=2026-11-30T10:00:00Z&to=2026-11-30T11:00:00Z';
    const name = room(q.room, example);
    const from = required(parseIsoDate(q.from, 'from'), 'from', example);
    const to = required(parseIsoDate(q.to, 'to'), 'to', example);
    if (to < from) throw new BadRequest(`to (${q.to}) is before from (${q.from})`);
    return { room: name, from, to, users: await api!.attendance(name, from, to) };
  }));
  router.get('/last-seen', handle(async (req) => {
    const q = readQuery(req, ['uid']);
    return api!.lastSeen(required(uidParam(q.uid, 'uid'), 'uid', '?uid=42'));
  }));
  return router;
}
