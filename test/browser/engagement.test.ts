// needs: chromium
// Engaged time end to end: the real bundle (dist/client/faye-online.js, served
// by the server at /faye-online.js) in Debian's Chromium driven by
// playwright-core, against a real presence server (Express + Faye +
// attachFayeOnline on SQLite). startPresenceServer serves no HTML page, so each
// page first opens a real address of the server (/faye-online.js itself), then
// gets a small HTML page written into it with setContent; its scripts
// (/faye/client.js, /faye-online.js) come from the server. A page answered by
// page.route instead is not of the loopback address space, and Chromium's Local
// Network Access checks then block its WebSocket to 127.0.0.1; Express's 404
// page forbids scripts by its Content-Security-Policy.
//
// Visibility: headless Chromium keeps every page 'visible'. A second page
// brought to front, a second tab in the same window made active with
// Target.createTarget + Target.activateTarget, and a window minimized with
// Browser.setWindowBounds all left document.visibilityState 'visible'
// (Chromium 156, with and without playwright's anti-backgrounding switches).
// So hide() first tries a real switch to another page, and when the page stays
// visible it simulates the Page Visibility API inside the page: it overrides
// document.visibilityState (and document.hidden) and dispatches the API's
// 'visibilitychange' event, which is all the client reads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { EngagementEvent } from '../../lib';
import { eventually, startPresenceServer, type PresenceServer } from '../support/presence-server';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>engagement</title></head>
<body><p>engagement test page</p>
<script src="/faye/client.js"></script>
<script src="/faye-online.js"></script>
</body></html>`;
const IDLE_AFTER_MS = 500;
/** Generous: how long to wait for something the page and server do within a few ms normally. */
const WAIT_MS = 10_000;

/** What the tests keep on the page's window (the client they made). */
interface PageWindow {
  FayeOnline: { connect(options: Record<string, unknown>): PageOnlineClient };
  Faye: { init_online_client(options: Record<string, unknown>): unknown };
  online?: PageOnlineClient;
}
interface PageOnlineClient {
  readonly state: string;
  readonly clientId: string | undefined;
  readonly engaged: boolean;
  leave(): Promise<void>;
}

describe('engaged time in Chromium', () => {
  let server: PresenceServer;
  let browser: Browser;
  const events: EngagementEvent[] = [];
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];
  let visibilityHow: 'real' | 'simulated' | undefined;

  before(async () => {
    server = await startPresenceServer('sqlite+memory');
    server.handle.on('engagement', (event) => events.push(event));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
    if (visibilityHow) console.log(`  visibility changes were ${visibilityHow}`);
  });

  /** A fresh browser context with a page of the server's origin that has loaded Faye and faye-online.js. */
  async function openPage(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const origin = `http://127.0.0.1:${server.port}`;
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // Chromium asks for /favicon.ico, which the server does not have.
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) pageErrors.push(message.text());
    });
    await page.goto(`${origin}/faye-online.js`); // shown as text, not run
    await page.setContent(PAGE_HTML);
    await page.evaluate(() => {
      const w = window as unknown as { lastInputAt: number };
      w.lastInputAt = 0;
      for (const type of ['pointermove', 'keydown']) document.addEventListener(type, () => { w.lastInputAt = Date.now(); }, { capture: true });
    });
    await page.waitForFunction(() => {
      const w = window as unknown as Partial<PageWindow>;
      return typeof w.FayeOnline?.connect === 'function' && typeof w.Faye?.init_online_client === 'function';
    }, undefined, { timeout: WAIT_MS });
    return page;
  }

  /** The typed entry, window.FayeOnline.connect, with the server's Faye URL. */
  async function connectTyped(page: Page, identity: { room: string; timeChannel: string; uid: number }, engagement?: unknown): Promise<void> {
    await page.evaluate(({ url, identity, engagement, withEngagement }) => {
      const w = window as unknown as PageWindow;
      const options: Record<string, unknown> = {
        url, room: identity.room, timeChannel: identity.timeChannel, user: { uid: identity.uid, uname: `user${identity.uid}` },
      };
      if (withEngagement) options.engagement = engagement;
      w.online = w.FayeOnline.connect(options);
    }, { url: server.url, identity, engagement, withEngagement: engagement !== undefined });
    await page.waitForFunction(() => (window as unknown as PageWindow).online?.state === 'online', undefined, { timeout: WAIT_MS });
    await trackedOnServer(identity.room, identity.uid);
  }

  /** The legacy entry, Faye.init_online_client, with the gem's snake_case options. */
  async function connectLegacy(page: Page, identity: { room: string; timeChannel: string; uid: number }, engagementOpts: unknown): Promise<void> {
    await page.evaluate(({ url, identity, engagementOpts }) => {
      const w = window as unknown as PageWindow;
      w.Faye.init_online_client({
        faye_url: url,
        auth_opts: { room_channel: identity.room, time_channel: identity.timeChannel, current_user: { uid: identity.uid, uname: `user${identity.uid}` } },
        engagement_opts: engagementOpts,
      });
    }, { url: server.url, identity, engagementOpts });
    await trackedOnServer(identity.room, identity.uid);
  }

  async function trackedOnServer(room: string, uid: number): Promise<void> {
    await eventually(async () => (await server.handle.members(room)).some((m) => m.uid === uid), WAIT_MS, `uid ${uid} online in ${room}`);
  }

  const eventsOf = (uid: number) => events.filter((e) => e.uid === uid);

  /** Waits for the `count`-th engagement event of `uid` (1-based) and checks its direction. */
  async function nthEvent(uid: number, count: number, engaged: boolean): Promise<EngagementEvent> {
    await eventually(() => eventsOf(uid).length >= count, WAIT_MS, `engagement event #${count} of uid ${uid}`);
    const event = eventsOf(uid)[count - 1];
    assert.equal(event.engaged, engaged, `event #${count} of uid ${uid}: ${JSON.stringify(eventsOf(uid))}`);
    return event;
  }

  async function engagedRow(uid: number, timeChannel: string): Promise<{ engaged_ms: number; engaged_since_ms: number | null } | undefined> {
    const rows = await server.query<{ engaged_ms: unknown; engaged_since_ms: unknown }>(
      `SELECT e.engaged_ms, e.engaged_since_ms FROM faye_online_engaged_times e JOIN faye_channels c ON c.id = e.channel_id
       WHERE e.user_id = ${Number(uid)} AND c.name = '${timeChannel.replace(/'/g, "''")}'`,
    );
    if (rows.length === 0) return undefined;
    assert.equal(rows.length, 1, 'one row per user and time channel');
    const row = rows[0];
    return { engaged_ms: Number(row.engaged_ms), engaged_since_ms: row.engaged_since_ms === null ? null : Number(row.engaged_since_ms) };
  }

  /**
   * Waits until uid has had more than `seen` engagement events and the last one
   * says `engaged`; returns it. Robust to an extra idle/engaged cycle on a slow machine.
   */
  async function nextState(uid: number, seen: number, engaged: boolean): Promise<EngagementEvent> {
    const event = await eventually(() => {
      const mine = eventsOf(uid);
      const last = mine[mine.length - 1];
      return mine.length > seen && last.engaged === engaged ? last : undefined;
    }, WAIT_MS, `uid ${uid} ${engaged ? 'engaged' : 'not engaged'} after event #${seen}`);
    assert.ok(event);
    return event;
  }

  /** When the page last saw input, by the page's clock (the server's too: one machine). */
  const lastInputAt = (page: Page) => page.evaluate(() => (window as unknown as { lastInputAt: number }).lastInputAt);

  const visibilityOf = (page: Page) => page.evaluate(() => document.visibilityState);

  /** Sets the simulated visibility state and fires the API's event (see the file's comment). */
  function simulateVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
    return page.evaluate((next) => {
      // Getters as methods: tsx would wrap arrow functions in a helper the page lacks.
      Object.defineProperty(document, 'visibilityState', { configurable: true, get() { return next; } });
      Object.defineProperty(document, 'hidden', { configurable: true, get() { return next === 'hidden'; } });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
  }

  /**
   * Hides `page`: another page of its context is brought to front; if Chromium
   * keeps `page` visible (headless does), the hidden state is simulated.
   * Returns how, and a function that shows the page again the same way.
   */
  async function hide(page: Page): Promise<{ how: 'real' | 'simulated'; show(): Promise<void> }> {
    const other = await page.context().newPage();
    await other.bringToFront();
    const really = await page
      .waitForFunction(() => document.visibilityState === 'hidden', undefined, { timeout: 1000, polling: 50 })
      .then(() => true, () => false);
    if (really) {
      visibilityHow = 'real';
      return {
        how: 'real',
        async show() {
          await page.bringToFront();
          await other.close();
          await page.waitForFunction(() => document.visibilityState === 'visible', undefined, { timeout: WAIT_MS });
        },
      };
    }
    await other.close();
    await simulateVisibility(page, 'hidden');
    visibilityHow = 'simulated';
    return { how: 'simulated', show: () => simulateVisibility(page, 'visible') };
  }

  let mouseX = 10;
  /** Real input through Chromium: a pointer move to a new spot (a move to the same spot fires nothing). */
  async function moveMouse(page: Page): Promise<void> {
    mouseX = mouseX >= 300 ? 10 : mouseX + 37;
    await page.mouse.move(mouseX, 20 + (mouseX % 50));
  }

  const leave = (page: Page) => page.evaluate(() => (window as unknown as PageWindow).online?.leave());

  test('a visible page is engaged; hidden, its engaged time stops while it stays online', async () => {
    const identity = { room: '/rooms/visibility', timeChannel: '/lessons/visibility', uid: 7101 };
    const page = await openPage();
    assert.equal(await visibilityOf(page), 'visible');
    await connectTyped(page, identity);

    const started = await nthEvent(identity.uid, 1, true);
    assert.equal(started.timeChannel, identity.timeChannel);
    assert.equal(started.clientId, await page.evaluate(() => (window as unknown as PageWindow).online!.clientId));
    assert.equal(await page.evaluate(() => (window as unknown as PageWindow).online!.engaged), true);
    const running = await server.handle.engagedTime(identity.uid, identity.timeChannel);
    assert.ok(running.runningSince instanceof Date, `engaged time runs: ${JSON.stringify(running)}`);
    assert.equal((await engagedRow(identity.uid, identity.timeChannel))?.engaged_since_ms, running.runningSince.getTime());

    // Engaged for over a second, so that whole seconds show it.
    await page.waitForTimeout(1100);
    const hidden = await hide(page);
    assert.equal(await visibilityOf(page), 'hidden', `the page is hidden (${hidden.how})`);

    await nthEvent(identity.uid, 2, false);
    assert.equal(await page.evaluate(() => (window as unknown as PageWindow).online!.engaged), false);
    const stopped = await server.handle.engagedTime(identity.uid, identity.timeChannel);
    assert.equal(stopped.runningSince, null, `engaged time stopped: ${JSON.stringify(stopped)}`);
    assert.ok(stopped.spentSeconds >= 1, `engaged for at least the second waited: ${JSON.stringify(stopped)}`);
    assert.equal(stopped.totalSeconds, stopped.spentSeconds);
    const row = await engagedRow(identity.uid, identity.timeChannel);
    assert.ok(row && row.engaged_ms >= 1000, `engaged_ms recorded: ${JSON.stringify(row)}`);
    assert.equal(row.engaged_since_ms, null);
    // Hidden is not offline: connected time goes on.
    assert.ok((await server.handle.members(identity.room)).some((m) => m.uid === identity.uid), 'still online');
    assert.ok((await server.handle.onlineTime(identity.uid, identity.timeChannel)).runningSince instanceof Date, 'online time still runs');

    // Back to the tab: engaged again, and the earlier time is kept.
    await hidden.show();
    assert.equal(await visibilityOf(page), 'visible');
    await nthEvent(identity.uid, 3, true);
    const again = await server.handle.engagedTime(identity.uid, identity.timeChannel);
    assert.ok(again.runningSince instanceof Date, `engaged time runs again: ${JSON.stringify(again)}`);
    assert.ok(again.spentSeconds >= stopped.spentSeconds);

    await leave(page);
    await nthEvent(identity.uid, 4, false);
    assert.equal((await server.handle.engagedTime(identity.uid, identity.timeChannel)).runningSince, null, 'leaving stops engaged time');
  });

  test('with engagement.idleAfter, no input makes the page idle and a mouse move or key press engages it again', async () => {
    const identity = { room: '/rooms/idle', timeChannel: '/lessons/idle', uid: 7102 };
    const page = await openPage();
    await connectTyped(page, identity, { idleAfter: IDLE_AFTER_MS });
    // The handshake reports engaged unless the page went idle before it; either way input engages it.
    await moveMouse(page);
    await nextState(identity.uid, 0, true);

    // Idle: nothing after the last input for idleAfter.
    const idle = await nextState(identity.uid, eventsOf(identity.uid).length, false);
    const quietMs = idle.at.getTime() - (await lastInputAt(page));
    assert.ok(quietMs >= IDLE_AFTER_MS - 20, `idle only after ${IDLE_AFTER_MS} ms without input (was ${quietMs} ms)`);
    assert.equal(await page.evaluate(() => (window as unknown as PageWindow).online!.engaged), false);
    assert.equal(await visibilityOf(page), 'visible', 'idle, not hidden');
    assert.equal((await server.handle.engagedTime(identity.uid, identity.timeChannel)).runningSince, null);
    const afterIdle = await engagedRow(identity.uid, identity.timeChannel);
    assert.ok(afterIdle && afterIdle.engaged_ms > 0 && afterIdle.engaged_since_ms === null, `row: ${JSON.stringify(afterIdle)}`);

    // A mouse move wakes it. (Count the events before acting: the answer can come before the action's promise settles.)
    let seen = eventsOf(identity.uid).length;
    await moveMouse(page);
    await nextState(identity.uid, seen, true);
    assert.ok((await server.handle.engagedTime(identity.uid, identity.timeChannel)).runningSince instanceof Date);

    // Idle again, then a key press wakes it.
    await nextState(identity.uid, eventsOf(identity.uid).length, false);
    seen = eventsOf(identity.uid).length;
    await page.keyboard.press('Shift');
    await nextState(identity.uid, seen, true);
    assert.equal(await page.evaluate(() => (window as unknown as PageWindow).online!.engaged), true);

    const row = await engagedRow(identity.uid, identity.timeChannel);
    assert.ok(row && row.engaged_ms > afterIdle.engaged_ms && row.engaged_since_ms !== null, `row: ${JSON.stringify(row)}`);
    seen = eventsOf(identity.uid).length;
    await leave(page);
    await nextState(identity.uid, seen, false);
  });

  test('the legacy Faye.init_online_client reports engagement, idle_after included', async () => {
    const identity = { room: '/rooms/legacy', timeChannel: '/lessons/legacy', uid: 7103 };
    const page = await openPage();
    await connectLegacy(page, identity, { idle_after: IDLE_AFTER_MS });
    await moveMouse(page);
    await nextState(identity.uid, 0, true);
    const idle = await nextState(identity.uid, eventsOf(identity.uid).length, false);
    assert.ok(idle.at.getTime() - (await lastInputAt(page)) >= IDLE_AFTER_MS - 20, 'idle_after is honoured');
    const seen = eventsOf(identity.uid).length;
    await page.keyboard.press('Shift');
    await nextState(identity.uid, seen, true);
    const time = await server.handle.engagedTime(identity.uid, identity.timeChannel);
    assert.ok(time.runningSince instanceof Date, JSON.stringify(time));
    const row = await engagedRow(identity.uid, identity.timeChannel);
    assert.ok(row && row.engaged_ms > 0, `row: ${JSON.stringify(row)}`);
  });

  test('engagement: false (typed) and engagement_opts: false (legacy) report nothing', async () => {
    const typed = { room: '/rooms/off', timeChannel: '/lessons/off', uid: 7104 };
    const legacy = { room: '/rooms/off', timeChannel: '/lessons/off', uid: 7105 };
    const typedPage = await openPage();
    const legacyPage = await openPage();
    await connectTyped(typedPage, typed, false);
    await connectLegacy(legacyPage, legacy, false);
    assert.equal(await typedPage.evaluate(() => (window as unknown as PageWindow).online!.engaged), false);

    // What would make a watched page report: input, hiding, showing.
    for (const page of [typedPage, legacyPage]) {
      await moveMouse(page);
      await page.keyboard.press('Shift');
      const hidden = await hide(page);
      await hidden.show();
    }
    await typedPage.waitForTimeout(1500);
    await server.handle.settled();

    assert.deepEqual(eventsOf(typed.uid), []);
    assert.deepEqual(eventsOf(legacy.uid), []);
    assert.equal(await engagedRow(typed.uid, typed.timeChannel), undefined);
    assert.equal(await engagedRow(legacy.uid, legacy.timeChannel), undefined);
    const time = await server.handle.engagedTime(typed.uid, typed.timeChannel);
    assert.deepEqual(time, { spentSeconds: 0, runningSince: null, totalSeconds: 0 });
    // They are online all the same.
    const members = (await server.handle.members(typed.room)).map((m) => m.uid).sort();
    assert.deepEqual(members, [typed.uid, legacy.uid]);
  });

  test('the pages raised no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
