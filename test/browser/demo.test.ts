// needs: chromium
// The demo, end to end: `node examples/start.js` on a free port with its own
// SQLite file, and Debian's Chromium driven by playwright-core. Each user gets
// a browser context of their own (own localStorage, own Faye client).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestSqlite, type TestSqlite } from '../support/sqlite';

const root = resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
/** The server's default before_leave check delay (the gem's 3 s). */
const BEFORE_LEAVE_DELAY_MS = 3000;
/** Allowed on top of it: the nudge/answer round trip, the user_list/presence publish and rendering. */
const MARGIN_MS = 2000;

// Every run has its own server and SQLite file, so a fixed, readable room name is safe (it shows in docs/demo.png).
const room = 'lobby';

interface Demo {
  url: string;
  process: ChildProcess;
  output(): string;
}

async function startDemo(databaseUrl: string): Promise<Demo> {
  const child = spawn(process.execPath, [join(root, 'examples', 'start.js')], {
    cwd: root,
    env: { ...process.env, PORT: '0', DATABASE_URL: databaseUrl, REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not get ready in 30 s:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = output.match(/faye-online demo ready at (http:\/\/localhost:\d+) \(embedded: SQLite file .+, in-process state\)/);
      if (ready) {
        clearTimeout(timer);
        resolveUrl(ready[1]);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}:\n${output}`));
    });
  });
  return { url, process: child, output: () => output };
}

/** A browser context whose page joins `room` as `name` straight away (the page remembers its last room). */
async function userPage(browser: Browser, demo: Demo, name: string, errors: string[]): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, deviceScaleFactor: 1 });
  await context.addInitScript((prefs) => {
    if (!localStorage.getItem('faye-online-demo')) localStorage.setItem('faye-online-demo', JSON.stringify(prefs));
  }, { name, room, lesson: 'intro', joined: true });
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${name}: ${message.text()}`);
  });
  await page.goto(demo.url);
  return { context, page };
}

async function memberCount(page: Page): Promise<number> {
  return page.locator('#members li').count();
}

async function waitForMembers(page: Page, count: number, timeout: number): Promise<number> {
  const started = Date.now();
  await page.waitForFunction((n) => document.querySelectorAll('#members li').length === n, count, { timeout, polling: 50 });
  return Date.now() - started;
}

/** Records every change of the member count on `page`, with its time, until read. */
async function watchMemberCount(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { countLog: Array<[number, number]> };
    const list = document.getElementById('members')!;
    w.countLog = [[Date.now(), list.children.length]];
    new MutationObserver(() => {
      const last = w.countLog[w.countLog.length - 1];
      if (last[1] !== list.children.length) w.countLog.push([Date.now(), list.children.length]);
    }).observe(list, { childList: true });
  });
}

async function readMemberCountLog(page: Page): Promise<Array<[number, number]>> {
  return page.evaluate(() => (window as unknown as { countLog: Array<[number, number]> }).countLog);
}

function clockSeconds(text: string): number {
  const [h, m, s] = text.trim().split(':').map(Number);
  return h * 3600 + m * 60 + s;
}

describe('the demo in Chromium', () => {
  let sqlite: TestSqlite;
  let demo: Demo;
  let browser: Browser;
  const errors: string[] = [];
  let ann: { context: BrowserContext; page: Page };
  let bob: { context: BrowserContext; page: Page };

  before(async () => {
    sqlite = createTestSqlite();
    demo = await startDemo(sqlite.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.process.exitCode === null) {
      demo.process.kill('SIGTERM');
      await once(demo.process, 'exit');
    }
    sqlite?.remove();
  });

  test('two users in one room both see two people online, with names', async () => {
    const started = Date.now();
    ann = await userPage(browser, demo, 'Ann Example', errors);
    bob = await userPage(browser, demo, 'Bob Sample', errors);
    await waitForMembers(ann.page, 2, 10_000);
    await waitForMembers(bob.page, 2, 10_000);
    console.log(`  both pages showed 2 users ${Date.now() - started} ms after the first page was opened`);

    for (const { page } of [ann, bob]) {
      const names = await page.locator('#members .name').allTextContents();
      assert.deepEqual(names.slice().sort(), ['Ann Example', 'Bob Sample']);
      assert.equal(await page.locator('#member-count').textContent(), '2');
      assert.equal((await page.locator('#state').textContent())?.trim(), 'online');
    }
    assert.equal(await ann.page.locator('#members li .avatar').first().textContent(), 'AE');
    // Bob's page learnt of Ann from the server, not from her join: her "here since" comes from there too.
    await bob.page.waitForFunction(() => Array.from(document.querySelectorAll('#members .detail')).every((d) => / · here since \d/.test(d.textContent ?? '')), null, { timeout: 5000, polling: 50 });
  });

  test('the online time shown grows while connected', async () => {
    const first = clockSeconds((await ann.page.locator('#clock').textContent()) ?? '');
    await ann.page.waitForTimeout(2500);
    const second = clockSeconds((await ann.page.locator('#clock').textContent()) ?? '');
    assert.ok(second >= first + 2, `the clock went from ${first} s to ${second} s in 2.5 s`);

    // The server counts too: its total for Ann, read the way the page reads it.
    const uid = Number(await ann.page.locator('#me-uid').textContent());
    const time = await (await fetch(`${demo.url}/api/time?uid=${uid}&time_channel=/demo/lessons/intro`)).json() as { runningSince: string | null; totalSeconds: number };
    assert.notEqual(time.runningSince, null, 'the server runs a timer for Ann in the lesson');
    assert.ok(time.totalSeconds >= 2, `the server counted ${time.totalSeconds} s`);
    // Ann's page is visible: her engaged time runs too, on the server and on the page.
    const engaged = await (await fetch(`${demo.url}/api/time?uid=${uid}&time_channel=/demo/lessons/intro`)).json() as { engagedRunning: boolean; engagedSeconds: number };
    assert.equal(engaged.engagedRunning, true, 'the server counts Ann as engaged');
    assert.ok(clockSeconds((await ann.page.locator('#engaged-clock').textContent()) ?? '') >= 1, 'the page shows her engaged time');

    // The picture README shows, cut to the content. Every run takes it (a page
    // that renders is part of the test); it replaces docs/demo.png only when
    // asked, so that test runs leave the work tree clean.
    const picture = process.env.UPDATE_SCREENSHOT ? join(root, 'docs', 'demo.png') : join(tmpdir(), `faye-online-demo-${process.pid}.png`);
    mkdirSync(join(root, 'docs'), { recursive: true });
    await ann.page.setViewportSize({ width: 1120, height: 600 });
    const png = await ann.page.screenshot({ path: picture });
    assert.ok(png.length > 10_000, 'the screenshot shows a rendered page');
    await ann.page.setViewportSize({ width: 1280, height: 820 });
  });

  test('reloading a page does not drop its user from the other page', async () => {
    await watchMemberCount(ann.page);
    const reloadedAt = Date.now();
    await bob.page.reload();
    await waitForMembers(bob.page, 2, 10_000);
    const bobBackMs = Date.now() - reloadedAt;
    // Past the server's check of the old page's clientId, which is when a drop would happen.
    await ann.page.waitForTimeout(BEFORE_LEAVE_DELAY_MS + MARGIN_MS);
    const log = await readMemberCountLog(ann.page);
    const lowest = Math.min(...log.map(([, n]) => n));
    let flickerMs = 0;
    for (let i = 0; i < log.length; i++) {
      if (log[i][1] < 2) flickerMs += (log[i + 1]?.[0] ?? Date.now()) - log[i][0];
    }
    console.log(`  reload: Bob's page was back with 2 users after ${bobBackMs} ms; Ann's count changes: ${JSON.stringify(log.map(([t, n]) => [t - reloadedAt, n]))}; flicker ${flickerMs} ms`);
    assert.equal(lowest, 2, `Ann's page dropped Bob for ${flickerMs} ms during his reload`);
    assert.equal(await memberCount(ann.page), 2);
  });

  test('closing a page removes its user from the other page within the before_leave delay plus a margin', async () => {
    const closedAt = Date.now();
    await bob.page.close({ runBeforeUnload: true });
    await waitForMembers(ann.page, 1, BEFORE_LEAVE_DELAY_MS + MARGIN_MS);
    const elapsed = Date.now() - closedAt;
    console.log(`  close: Ann's page showed 1 user ${elapsed} ms after Bob's page was closed (limit ${BEFORE_LEAVE_DELAY_MS} + ${MARGIN_MS} ms)`);
    assert.deepEqual(await ann.page.locator('#members .name').allTextContents(), ['Ann Example']);
    const feed = await ann.page.locator('#feed li').allTextContents();
    assert.ok(feed.some((line) => line.includes('Bob Sample left')), `the feed shows Bob leaving: ${JSON.stringify(feed)}`);
    await bob.context.close();
  });

  test('the page raised no errors and the demo stops cleanly on SIGTERM', async () => {
    assert.deepEqual(errors, []);
    await ann.context.close();
    demo.process.kill('SIGTERM');
    const [code] = await once(demo.process, 'exit');
    assert.equal(code, 0, demo.output());
    assert.match(demo.output(), /faye-online demo: stopped/);
  });
});
