// The dashboard: an Express router of plain HTML/JS/CSS pages (assets/, no
// build step, nothing from a CDN) and the JSON they read, behind the REST
// reports' own `authorize` hook. Mounted by the handle:
//
//   app.use('/faye-online', online.dashboard())
//
//   GET  /                  the pages (one HTML file; the hash picks the page)
//   GET  /assets/<file>     dashboard.js, dashboard.css
//   GET  /data/config       the server's time zone and settings the pages need
//   GET  /data/rooms        rooms and how many are online          } tables: one page as JSON
//   GET  /data/members      ?room: a room's users, tabs, engaged     } (offset, limit), or all
//   GET  /data/time         ?channel&from&to: time per user          } of it with format=csv
//   GET  /data/user         ?uid&channel&from&to: sessions per tab   }
//   GET  /data/attendance   ?channel&from&to: who was there          }
//   GET  /data/health       processes, Redis, database, reconciliation, metrics
//   GET  /data/events       Server-Sent Events: joins, leaves, engagement
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Request, type Response } from 'express';
import type { Clock } from '../core/clock';
import type { FayeOnlineEvents } from '../edge/attach';
import type { Logger } from '../log';
import { isBadRequest, requireAuthorization, type Authorize } from '../reports/http';
import { attendanceTable, membersTable, roomsTable, timeReport, userReport, type DataSources } from './data';
import { Health, type HealthSources } from './health';
import { BadRequest, channelParam, rangeParams, readQuery, tableQuery, uidParam } from './input';
import { openRedis, type RedisOption } from '../stores/redis-connection';
import { LiveStreams, REFRESH_SECONDS } from './live';
import { pageOf, toCsv, type Table } from './table';

export interface DashboardSources extends DataSources, Omit<HealthSources, 'allOnlineLists' | 'sequelize' | 'clock' | 'redis'> {
  /** The cluster's Redis (the `redis` option); undefined when embedded. The dashboard keeps a connection of its own for the heartbeat. */
  redis: RedisOption | undefined;
  events: EventEmitter<FayeOnlineEvents>;
  authorize: Authorize | undefined;
  logger: Logger;
  clock: Clock;
}

export interface Dashboard {
  router: express.Router;
  /** Ends the live streams and the heartbeat. */
  close(): Promise<void>;
}

const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'application/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** lib/dashboard/assets, next to this file when run from source; dist/lib/dashboard/assets once built (scripts/copy-assets.js). */
function assetsDir(): string {
  const candidates = [join(__dirname, 'assets'), join(__dirname, '..', '..', '..', 'lib', 'dashboard', 'assets')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0];
}

export function createDashboard(s: DashboardSources): Dashboard {
  const router = express.Router();
  const live = new LiveStreams(s.events, s.clock);
  const redis = s.redis === undefined ? undefined : openRedis(s.redis);
  if (redis?.owned) redis.redis.on('error', (error) => s.logger.warn({ err: error }, 'dashboard: Redis connection error; reconnecting'));
  const health = new Health({ ...s, redis: redis?.redis, allOnlineLists: () => s.records.allOnlineLists() });
  health.start();
  const dir = assetsDir();

  router.use(requireAuthorization(s.authorize, s.logger));

  router.get('/', (req, res) => {
    // The page loads its assets and data by relative URLs: they must resolve under the mount.
    const path = req.originalUrl.split('?')[0];
    if (!path.endsWith('/')) {
      res.redirect(301, `${path}/`);
      return;
    }
    sendAsset(res, 'index.html');
  });
  router.get('/assets/:file', (req, res) => {
    const file = String(req.params.file);
    if (!(file in ASSETS) || file === 'index.html') {
      res.status(404).json({ error: `no dashboard asset "${file}"` });
      return;
    }
    sendAsset(res, file);
  });

  function sendAsset(res: Response, file: string): void {
    res.set({
      'Content-Type': ASSETS[file],
      'Cache-Control': 'no-cache',
      // Names and channels on the pages come from users' pages: nothing inline may run.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'self'",
      'X-Content-Type-Options': 'nosniff',
    });
    res.sendFile(join(dir, file));
  }

  const answer = (work: (req: Request) => Promise<unknown>) => async (req: Request, res: Response) => {
    try {
      res.set('Cache-Control', 'no-store').json(await work(req));
    } catch (error) {
      fail(req, res, error);
    }
  };

  /** A table endpoint: one page of it as JSON (with `extra`), or all of it as CSV. */
  const table = (name: string, known: readonly string[], work: (params: Record<string, string | undefined>, paging: { offset: number; limit: number } | null) => Promise<{ table: Table; total?: number; extra?: object }>) =>
    async (req: Request, res: Response) => {
      try {
        const { params, paging, csv } = tableQuery(req, known);
        const result = await work(params, csv ? null : paging);
        if (csv) {
          res.set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="faye-online-${name}.csv"`, 'Cache-Control': 'no-store' });
          res.send(toCsv(result.table));
          return;
        }
        // A table that was already cut to the page (members) says how long it is.
        const page = result.total === undefined ? pageOf(result.table, paging) : { ...result.table, total: result.total, ...paging };
        res.set('Cache-Control', 'no-store').json({ ...result.extra, ...page });
      } catch (error) {
        fail(req, res, error);
      }
    };

  function fail(req: Request, res: Response, error: unknown): void {
    if (isBadRequest(error)) {
      res.status(400).json({ error: error.message });
      return;
    }
    s.logger.error({ err: error, path: req.originalUrl }, 'dashboard: request failed');
    res.status(500).json({ error: 'internal error; see the server log' });
  }

  router.get('/data/config', answer(async (req) => {
    readQuery(req, []);
    return { timeZone: s.timeZone, engagement: s.engagement, refreshSeconds: REFRESH_SECONDS, cluster: s.redis !== undefined };
  }));

  router.get('/data/rooms', table('rooms', [], async () => ({ table: await roomsTable(s) })));

  router.get('/data/members', table('members', ['room'], async (params, paging) => {
    const room = channelParam(params.room, 'room');
    return membersTable(s, room, paging ?? undefined);
  }));

  router.get('/data/time', table('time', ['channel', 'from', 'to'], async (params) => {
    const range = rangeParams(params, s.timeZone);
    const { table: rows, ...extra } = await timeReport(s, channelParam(params.channel, 'channel'), range);
    return { table: rows, extra: { ...extra, from: range.from ?? null, to: range.to ?? null } };
  }));

  router.get('/data/user', table('user', ['uid', 'channel', 'from', 'to'], async (params) => {
    const uid = uidParam(params.uid, 'uid');
    if (uid === undefined) throw new BadRequest('uid is required, e.g. uid=42');
    const channel = params.channel === undefined || params.channel === '' ? undefined : channelParam(params.channel, 'channel');
    const report = await userReport(s, uid, channel, rangeParams(params, s.timeZone));
    const { table: rows, ...extra } = report;
    return { table: rows, extra };
  }));

  router.get('/data/attendance', table('attendance', ['channel', 'from', 'to'], async (params) => {
    const channel = channelParam(params.channel, 'channel');
    const range = rangeParams(params, s.timeZone, true) as { from: Date; to: Date };
    const { table: rows, note } = await attendanceTable(s, channel, range);
    return { table: rows, extra: { note, from: range.from, to: range.to } };
  }));

  router.get('/data/health', answer(async (req) => {
    readQuery(req, []);
    return { ...(await health.report()), liveStreams: live.size };
  }));

  router.get('/data/events', (req, res) => {
    try {
      readQuery(req, []);
    } catch (error) {
      fail(req, res, error);
      return;
    }
    live.open(req, res);
  });

  router.use((req, res) => {
    res.status(404).json({ error: `no dashboard page or data at ${req.method} ${req.originalUrl}` });
  });

  return {
    router,
    async close() {
      live.close();
      await health.close();
      if (redis?.owned) redis.redis.disconnect();
    },
  };
}
