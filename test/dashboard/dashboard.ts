// The dashboard end to end, on one backend: a real presence server with the
// dashboard mounted by one line, real Faye clients as the users, and Debian's
// Chromium (playwright-core) looking at the pages.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Request } from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Records } from '../../lib/records';
import { launchChromium } from '../support/browser';
import { auth, eventually, onlineClient, startPresenceServer, type Backend, type PresenceServer, type TestClient } from '../support/presence-server';

const root = resolve(__dirname, '..', '..');
const ROOM = '/classes/4';
const LESSON = '/courses/5/lessons/1';
/** A lesson with a morning's history written straight into the tables (what a class leaves behind). */
const PAST_LESSON = '/courses/5/lessons/0';
const STUDENTS = 12;
const TIME_ZONE = 'Asia/Shanghai';
/** Shorter than the pages' periodic refresh (10 s): a change seen within it came through the live stream. */
const LIVE_MS = 8000;

/** The app's admin check: a teacher's cookie opens the dashboard; anything else stays out. */
function authorize(req: Request): boolean | Promise<boolean> {
  // A hook answering something truthy that is not `true` must not open anything.
  if (req.headers['x-sloppy-hook']) return 'yes' as unknown as boolean;
  if (req.headers['x-broken-hook']) throw new Error('the session store is down');
  return /(?:^|;\s*)role=teacher(?:;|$)/.test(req.headers.cookie ?? '');
}

async function rowsOf(page: Page, table: string): Promise<Array<Record<string, string>>> {
  return page.$$eval(`[data-table="${table}"] tbody tr[data-key]`, (rows) =>
    rows.map((row) => Object.fromEntries(Array.from(row.querySelectorAll('td'), (td) => [td.getAttribute('data-column') ?? '', td.textContent ?? '']))));
}

function hms(seconds: number): string {
  return `${Math.floor(seconds / 3600)}:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

export function dashboardSuite(backend: Backend): void {
  describe(`dashboard (${backend})`, () => {
    let server: PresenceServer;
    let base: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const pageErrors: string[] = [];
    const clients: TestClient[] = [];
    let startedAt: Date;
    let bobLeftAt: Date;

    before(async () => {
      server = await startPresenceServer(backend, { reports: { authorize }, timeZone: TIME_ZONE, metrics: true });
      server.app.use('/faye-online', server.handle.dashboard());
      base = `http://127.0.0.1:${server.port}/faye-online/`;
      browser = await launchChromium();
      context = await browser.newContext({ viewport: { width: 1200, height: 760 }, deviceScaleFactor: 1 });
      await context.addCookies([{ name: 'role', value: 'teacher', url: base }]);
      page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        // 400s the tests ask for show in the console as failed loads; everything else is a page bug.
        if (message.type() === 'error' && !/status of 400/.test(message.text())) pageErrors.push(message.text());
      });
      startedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
    });

    after(async () => {
      for (const client of clients) await client.disconnect();
      await browser?.close();
      await server?.close();
      assert.deepEqual(pageErrors, [], 'the pages ran without errors');
    });

    test('the hook denies: no cookie, a hook answering anything but true, a hook that throws; pages and data alike', async () => {
      for (const path of ['', 'data/rooms', 'data/health', 'data/events', 'assets/dashboard.js']) {
        const anonymous = await fetch(base + path);
        assert.equal(anonymous.status, 403, `${path || 'the page'} without the cookie`);
        assert.match((await anonymous.json()).error, /not authorized/);
        const sloppy = await fetch(base + path, { headers: { cookie: 'role=teacher', 'x-sloppy-hook': '1' } });
        assert.equal(sloppy.status, 403, `${path || 'the page'} when the hook answers "yes"`);
        const broken = await fetch(base + path, { headers: { cookie: 'role=teacher', 'x-broken-hook': '1' } });
        assert.equal(broken.status, 403, `${path || 'the page'} when the hook throws`);
      }
    });

    test('the hook allows: the page loads and names the server\'s time zone', async () => {
      await page.goto(base);
      await page.waitForSelector('#zone:has-text("Times in")');
      assert.equal(await page.textContent('#zone'), `Times in ${TIME_ZONE} · ${backend === 'mysql+redis' ? 'cluster' : 'embedded'}`);
      const res = await fetch(`${base}data/config`, { headers: { cookie: 'role=teacher' } });
      assert.equal(res.status, 200);
    });

    test('two users join and the live page shows them without a reload; one leaves and the page updates', async () => {
      // Nobody has been in the room yet: the page says so, and shows the room once somebody joins.
      await page.goto(`${base}#live?room=${ROOM}`);
      await page.waitForSelector('#message:has-text("there is no room named")');
      await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });
      const ann = onlineClient(server.url, auth(1, 'ann', ROOM, LESSON));
      const bob = onlineClient(server.url, auth(2, 'bob', ROOM, LESSON));
      clients.push(ann, bob);
      await Promise.all([ann.connected(), bob.connected()]);
      await ann.faye.publish('/faye_online/engagement', { engaged: true, seq: 1 });

      const both = await eventually(async () => {
        const rows = await rowsOf(page, 'members');
        // They connected at the same time: either may have come first.
        rows.sort((x, y) => Number(x.uid) - Number(y.uid));
        return rows.length === 2 && rows.every((r) => r.onlineSince !== '') && rows[0].engaged === 'yes' ? rows : null;
      }, LIVE_MS, 'the live page shows ann and bob');
      assert.deepEqual(both.map((r) => [r.uid, r.uname, r.tabs, r.engaged, r.timeChannel]), [['1', 'ann', '1', 'yes', LESSON], ['2', 'bob', '1', 'no', LESSON]]);
      assert.match(both[0].clientIds, new RegExp(`^${ann.clientId()} \\(engaged\\)$`));
      assert.match(both[0].onlineSince, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.equal(await page.locator('[data-table="rooms"] tr[data-key="/classes/4"] td[data-column="users"]').textContent(), '2');

      await takeScreenshot(page, 'live', backend);

      await bob.disconnect();
      await server.handle.settled();
      bobLeftAt = new Date();
      await eventually(async () => {
        const rows = await rowsOf(page, 'members');
        return rows.length === 1 && rows[0].uname === 'ann';
      }, LIVE_MS, 'the live page drops bob');
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
    });

    test('the time report matches the REST report for the same range, in the page and in its JSON', async () => {
      const to = new Date(Math.ceil(bobLeftAt.getTime() / 1000) * 1000);
      // `to` must lie in the past, so that both reads count ann's open session up to the same instant.
      await eventually(() => Date.now() > to.getTime(), 5000, 'the range has ended');
      const range = `channel=${LESSON}&from=${startedAt.toISOString()}&to=${to.toISOString()}`;
      const rest = await (await fetch(`http://127.0.0.1:${server.port}/faye-online/api/online-time?${range}`, { headers: { cookie: 'role=teacher' } })).json();
      assert.equal(rest.users.length, 2, 'the REST report has both users');
      const data = await (await fetch(`${base}data/time?${range}`, { headers: { cookie: 'role=teacher' } })).json();
      assert.deepEqual(data.rows.map((r: { uid: number; onlineSeconds: number }) => [r.uid, r.onlineSeconds]), rest.users.map((u: { uid: number; totalSeconds: number }) => [u.uid, u.totalSeconds]));
      assert.equal(data.totalSeconds, rest.totalSeconds);
      assert.equal(data.distribution.reduce((n: number, b: { online: number }) => n + b.online, 0), 2, 'each user is in one bin of the distribution');

      await page.goto(`${base}#time?${range}`);
      await page.waitForSelector('[data-table="time"] tbody tr[data-key]');
      const shown = await rowsOf(page, 'time');
      assert.deepEqual(shown.map((r) => [r.uid, r.onlineSeconds]), rest.users.map((u: { uid: number; totalSeconds: number }) => [String(u.uid), hms(u.totalSeconds)]));
      assert.equal(await page.locator('svg[data-chart="distribution"] rect.bar-online').count() > 0, true, 'the distribution is drawn');

      const csv = await fetch(`${base}data/time?${range}&format=csv`, { headers: { cookie: 'role=teacher' } });
      assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.equal(await csv.text(), `uid,Online\r\n${rest.users.map((u: { uid: number; totalSeconds: number }) => `${u.uid},${u.totalSeconds}`).join('\r\n')}\r\n`);
    });

    test('all-time times show online and engaged time with their distribution', async () => {
      await page.goto(`${base}#time?channel=${LESSON}`);
      await page.waitForSelector('[data-table="time"] tbody tr[data-key]');
      const rows = await rowsOf(page, 'time');
      assert.deepEqual(rows.map((r) => r.uid), ['1', '2']);
      assert.ok(rows[0].engagedSeconds !== undefined, 'an engaged column');
      assert.ok(await page.locator('svg[data-chart="distribution"] rect.bar-engaged').count() > 0, 'engaged bars are drawn');
    });

    test('a morning class from the tables: time and its distribution, attendance typed in the server\'s wall clock, one student\'s two tabs', async () => {
      const expected = await seedMorningClass(server);
      await page.goto(`${base}#time?channel=${PAST_LESSON}`);
      await page.waitForSelector('[data-table="time"] tbody tr[data-key]');
      const times = await rowsOf(page, 'time');
      assert.equal(await page.locator('[data-table="time"] [data-role="range"]').textContent(), `1–${STUDENTS} of ${STUDENTS}`);
      assert.deepEqual(times.map((r) => [r.uid, r.onlineSeconds, r.engagedSeconds]), expected.map((e) => [String(e.uid), hms(e.onlineSeconds), hms(e.engagedSeconds)]));
      const bars = await page.$$eval('svg[data-chart="distribution"] rect.bar-online', (rects) => rects.reduce((n, r) => n + Number(r.getAttribute('data-online')), 0));
      assert.equal(bars, STUDENTS, 'every student is in the distribution once');
      await takeScreenshot(page, 'time', backend);

      await page.goto(`${base}#attendance`);
      await page.fill('input[name="channel"]', PAST_LESSON);
      await page.fill('input[name="from"]', '2026-11-23T09:00');
      await page.fill('input[name="to"]', '2026-11-23T12:00');
      await page.click('button[type="submit"]');
      await page.waitForSelector('[data-table="attendance"] tbody tr[data-key]');
      const attendance = await rowsOf(page, 'attendance');
      assert.equal(attendance.length, STUDENTS);
      const first = attendance.find((r) => r.uid === '100')!;
      assert.deepEqual([first.firstSeen, first.tabs, first.onlineSeconds], ['2026-11-23 09:00:00', '2', hms(expected.find((e) => e.uid === 100)!.onlineSeconds)]);
      await takeScreenshot(page, 'attendance', backend);

      await page.click('[data-table="attendance"] tr[data-key="100"]');
      await page.waitForSelector('svg[data-chart="timeline"]');
      assert.equal(await page.locator('svg[data-chart="timeline"] rect.session').count(), 2, 'two tabs, one session each');
      assert.equal(await page.locator('svg[data-chart="timeline"] rect.merged').count(), 1, 'their union');
      await takeScreenshot(page, 'user', backend);
    });

    test('one user: sessions per tab on a timeline, their union, totals, and a CSV of the sessions', async () => {
      const carl = onlineClient(server.url, auth(3, 'carl', ROOM, LESSON));
      const carlAgain = onlineClient(server.url, auth(3, 'carl', ROOM, LESSON));
      clients.push(carl, carlAgain);
      await carl.connected();
      await carlAgain.connected();
      await carl.disconnect();
      await server.handle.settled();
      await page.goto(`${base}#user?uid=3&channel=${LESSON}`);
      await page.waitForSelector('svg[data-chart="timeline"]');
      assert.equal(await page.locator('svg[data-chart="timeline"] rect.session').count(), 2, 'one session per tab');
      assert.equal(await page.locator('svg[data-chart="timeline"] rect.merged').count(), 1, 'overlapping tabs merge into one interval');
      const sessions = await page.$$eval('[data-table="user"] tbody tr', (trs) => trs.length);
      assert.equal(sessions, 2);
      const csv = await (await fetch(`${base}data/user?uid=3&channel=${LESSON}&format=csv`, { headers: { cookie: 'role=teacher' } })).text();
      assert.equal(csv.split('\r\n')[0], 'Time channel,Tab (clientId),Login,Logout,Counted');
      assert.equal(csv.trim().split('\r\n').length, 3);
    });

    test('attendance between two times lists who was there, from the login log, and exports CSV', async () => {
      const to = new Date(Date.now() + 60_000);
      const query = `channel=${LESSON}&from=${startedAt.toISOString()}&to=${to.toISOString()}`;
      await page.goto(`${base}#attendance?${query}`);
      await page.waitForSelector('[data-table="attendance"] tbody tr[data-key]');
      const rows = await rowsOf(page, 'attendance');
      assert.deepEqual(rows.map((r) => r.uid).sort(), ['1', '2', '3']);
      assert.deepEqual(rows.find((r) => r.uid === '3')!.tabs, '2');
      const csv = await (await fetch(`${base}data/attendance?${query}&format=csv`, { headers: { cookie: 'role=teacher' } })).text();
      assert.equal(csv.split('\r\n')[0], 'uid,First seen,Last seen,Tabs,Sessions,Online');
      assert.equal(csv.trim().split('\r\n').length, 4);
      // Wall-clock times without an offset are read in the server's zone (Asia/Shanghai, UTC+8, no DST).
      const local = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19);
      const zoned = await (await fetch(`${base}data/attendance?channel=${LESSON}&from=${local(startedAt)}&to=${local(to)}`, { headers: { cookie: 'role=teacher' } })).json();
      assert.equal(new Date(zoned.from).getTime(), startedAt.getTime());
      assert.equal(zoned.total, 3);
    });

    test('bad input: a clear message in the page, a 400 from the JSON, never a stack trace', async () => {
      const cases: Array<[string, string, RegExp]> = [
        [`#live?room=/nowhere/9`, `members?room=/nowhere/9`, /there is no room named "\/nowhere\/9"/],
        [`#time?channel=/nowhere/9`, `time?channel=/nowhere/9`, /there is no channel named/],
        [`#attendance?channel=${LESSON}&from=yesterday&to=today`, `attendance?channel=${LESSON}&from=yesterday&to=today`, /from must be an ISO 8601 date/],
        [`#attendance?channel=${LESSON}&from=2020-01-01&to=2026-01-01`, `attendance?channel=${LESSON}&from=2020-01-01&to=2026-01-01`, /longer than 366 days/],
        [`#attendance?channel=${LESSON}`, `attendance?channel=${LESSON}`, /from and to are both required/],
        [`#user?uid=abc`, `user?uid=abc`, /uid must be a positive integer/],
        [`#time?channel=not a channel`, `time?channel=not%20a%20channel`, /channel must be a channel name/],
        [`#time?channel=${LESSON}&from=2026-02-30`, `time?channel=${LESSON}&from=2026-02-30`, /from is not a time that exists in Asia\/Shanghai/],
      ];
      const tables = ['faye_channels', 'faye_channel_online_lists', 'faye_user_online_times', 'faye_user_login_logs'];
      const count = async () => Promise.all(tables.map(async (t) => Number((await server.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))[0].n)));
      const before = await count();
      for (const [hash, data, message] of cases) {
        const res = await fetch(`${base}data/${data}`, { headers: { cookie: 'role=teacher' } });
        assert.equal(res.status, 400, data);
        const body = await res.text();
        assert.match(JSON.parse(body).error, message);
        assert.doesNotMatch(body, /at .+\.(ts|js):\d+/, 'no stack trace');
        await page.goto(`${base}${hash}`);
        await page.reload(); // a change of the hash alone keeps the page
        await page.waitForSelector('#message:not([hidden])');
        assert.match((await page.textContent('#message')) ?? '', message, hash);
      }
      assert.deepEqual(await count(), before, `no rows written in ${tables.join(', ')}`);
      const unknown = await fetch(`${base}data/rooms?sort=name`, { headers: { cookie: 'role=teacher' } });
      assert.equal(unknown.status, 400);
      assert.match((await unknown.json()).error, /unknown parameter "sort"/);
    });

    test('health: processes, the database and Redis answer, the last reconciliation, metrics', async () => {
      await server.handle.reconcile();
      await page.goto(`${base}#health`);
      await page.waitForSelector('[data-role="reconciliation"]');
      const health = await (await fetch(`${base}data/health`, { headers: { cookie: 'role=teacher' } })).json();
      assert.equal(health.database.ok, true);
      assert.equal(health.processes.length, 1);
      assert.equal(health.processes[0].self, true);
      if (backend === 'mysql+redis') assert.equal(health.redis.ok, true);
      else assert.equal(health.redis, null);
      assert.ok(health.metrics.some((m: { name: string }) => m.name === 'faye_online_joins_total'));
      assert.equal(health.totals.usersOnline, 2, 'ann and carl (second tab)');
      await takeScreenshot(page, 'health', backend);
    });
  });
}

/**
 * A class of STUDENTS on 2026-11-23 from 09:00 in the server's zone (01:00 UTC),
 * written through Records as the presence server writes it: login log rows per
 * tab, the online timer, engaged sessions. Every third student had a second tab
 * overlapping the first. Returns what each student's all-time times must be, in
 * the report's order (most online time first).
 */
async function seedMorningClass(server: PresenceServer): Promise<Array<{ uid: number; onlineSeconds: number; engagedSeconds: number }>> {
  const records = new Records({ sequelize: server.sequelize, timeZone: TIME_ZONE });
  const nine = Date.UTC(2026, 10, 23, 1, 0, 0);
  const minutes = (n: number) => n * 60_000;
  const expected = [];
  for (let i = 0; i < STUDENTS; i++) {
    const uid = 100 + i;
    const start = nine + minutes(i * 3);
    const end = start + minutes(20 + ((i * 37) % 100));
    const tabs = [{ clientId: `past${uid}a`, login: start, logout: end }];
    if (i % 3 === 0) tabs.push({ clientId: `past${uid}b`, login: start + minutes(10), logout: end + minutes(15) });
    for (const tab of tabs) {
      await records.writeLoginLog({ status: 1, uid, timeChannel: PAST_LESSON, clientId: tab.clientId, at: new Date(tab.login) });
      await records.writeLoginLog({ status: 0, uid, timeChannel: PAST_LESSON, clientId: tab.clientId, at: new Date(tab.logout) });
    }
    const last = Math.max(...tabs.map((t) => t.logout));
    await records.startTimer(uid, PAST_LESSON, new Date(start));
    await records.stopTimer(uid, PAST_LESSON, new Date(last));
    const engagedEnd = start + Math.floor((last - start) * (0.5 + (i % 4) / 10) / 1000) * 1000;
    await records.startEngaged(uid, PAST_LESSON, start);
    await records.stopEngaged(uid, PAST_LESSON, start, new Date(engagedEnd));
    expected.push({ uid, onlineSeconds: (last - start) / 1000, engagedSeconds: (engagedEnd - start) / 1000 });
  }
  return expected.sort((a, b) => b.onlineSeconds - a.onlineSeconds || a.uid - b.uid);
}

/** docs/dashboard-<name>.png from the embedded run when UPDATE_SCREENSHOT is set; otherwise a file in the temp folder (the page must render either way). */
async function takeScreenshot(page: Page, name: string, backend: Backend): Promise<void> {
  const update = process.env.UPDATE_SCREENSHOT && backend === 'sqlite+memory';
  mkdirSync(join(root, 'docs'), { recursive: true });
  const file = update ? join(root, 'docs', `dashboard-${name}.png`) : join(tmpdir(), `faye-online-dashboard-${name}-${process.pid}.png`);
  const png = await page.screenshot({ path: file, fullPage: true });
  assert.ok(png.length > 10_000, 'the screenshot shows a rendered page');
}
