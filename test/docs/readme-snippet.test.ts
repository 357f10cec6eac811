// needs: mysql
// The README's "Express usage" works exactly as printed. The code blocks marked
// `<!-- readme-test: ... -->` are taken from README.md as they are: the server
// runs in a temporary app directory whose node_modules holds this package (the
// built one, linked) and the packages the install line names; the page's
// script runs against the browser client that server serves, with Node's Faye
// client standing in for the browser's. An unmigrated MySQL database must give
// the snippet's one clear line, not an unhandled rejection.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import faye from 'faye';
import { cli } from '../support/cli';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import { eventually } from '../support/wait';

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced block right after `<!-- readme-test: <name> -->`, exactly as printed. */
function block(name: string): { lang: string; code: string } {
  const marker = `<!-- readme-test: ${name} -->`;
  assert.equal(README.split(marker).length, 2, `README.md has exactly one ${marker}`);
  const match = README.slice(README.indexOf(marker) + marker.length).match(/^\s*\n```(\w+)\n([\s\S]*?)\n```\n/);
  assert.ok(match, `a fenced code block follows ${marker}`);
  return { lang: match[1], code: match[2] };
}

const install = block('install');
const server = block('server');
const page = block('page');

/** Packages a script requires, without Node's own modules. */
function requiredPackages(code: string): string[] {
  const names = [...code.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1]);
  return names.filter((name) => !name.startsWith('node:') && !builtinModules.includes(name));
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the README's server as `node server.js` in the app directory, with only the given environment. */
function runServer(appDir: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['server.js'], { cwd: appDir, env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function exitWithin(running: Running, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    running.exited,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
    }),
  ]);
  clearTimeout(timer);
  if (result === null) {
    running.child.kill('SIGKILL');
    assert.fail(`the server did not exit within ${ms} ms; stdout: ${running.stdout()} stderr: ${running.stderr()}`);
  }
  return result;
}

/**
 * Runs the page's scripts as a browser would: each `<script src>` is fetched
 * from the server (Faye's client.js is replaced by Node's Faye client, whose
 * relative URLs resolve against the page's origin), then the inline script.
 */
async function runPage(origin: string): Promise<{ logs: unknown[][]; global: vm.Context }> {
  const sources = [...page.code.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);
  assert.deepEqual(sources, ['/faye/client.js', '/faye-online.js'], 'the page loads Faye, then faye-online');
  const scripts: string[] = [];
  for (const src of sources) {
    const response = await fetch(new URL(src, origin));
    assert.equal(response.status, 200, `the server serves ${src}`);
    scripts.push(await response.text());
  }
  const inline = page.code.match(/<script>\n([\s\S]*?)<\/script>/);
  assert.ok(inline, 'the page has an inline script');

  const logs: unknown[][] = [];
  function Client(url: string, options: ConstructorParameters<typeof faye.Client>[1]): faye.Client {
    return new faye.Client(new URL(url, origin).href, options);
  }
  const window: Record<string, unknown> = {
    Faye: { ...faye, Client },
    console: { log: (...args: unknown[]) => logs.push(args), error: (...args: unknown[]) => logs.push(args) },
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    setTimeout, clearTimeout, setInterval, clearInterval,
  };
  window.window = window;
  const global = vm.createContext(window);
  vm.runInContext(scripts[1], global, { filename: 'faye-online.js' }); // client.js: Node's Faye client stands in
  vm.runInContext(inline[1], global, { filename: 'page-inline.js' });
  return { logs, global };
}

describe('the README Express snippet, run as printed', () => {
  let appDir: string;
  const databases: TestDatabase[] = [];
  const running: Running[] = [];

  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'lib', 'index.js')), 'the package is built (npm test builds it; alone: npm run build)');
    appDir = mkdtempSync(join(tmpdir(), 'faye-online-readme-'));
    writeFileSync(join(appDir, 'server.js'), `${server.code}\n`);
    // What `npm install faye-online express` gives the app: this package and express.
    const installed = install.code.match(/^npm install (.+)$/)![1].split(/\s+/);
    mkdirSync(join(appDir, 'node_modules'));
    for (const name of installed) {
      symlinkSync(name === 'faye-online' ? ROOT : join(ROOT, 'node_modules', name), join(appDir, 'node_modules', name), 'dir');
    }
  });

  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await Promise.all(databases.map((db) => db.drop()));
    rmSync(appDir, { recursive: true, force: true });
  });

  it('installs every package the server requires with the README install line', () => {
    assert.equal(install.lang, 'sh');
    assert.equal(server.lang, 'js');
    const installed = install.code.match(/^npm install (.+)$/)?.[1].split(/\s+/);
    assert.ok(installed, 'the install block is one `npm install` line');
    assert.deepEqual(requiredPackages(server.code).sort(), [...installed].sort());
  });

  it('after `migrate up`, a page with the README page snippet is online, and SIGTERM stops the server', async () => {
    const db = await createTestDatabase('readme');
    databases.push(db);
    const migrated = await cli(['migrate', 'up', '--url', db.url]);
    assert.equal(migrated.code, 0, migrated.stderr);

    const app = runServer(appDir, { DATABASE_URL: db.url, PORT: '0' });
    running.push(app);
    const port = await eventually(() => {
      if (app.child.exitCode !== null) throw new Error(`the server exited: ${app.stderr()}`);
      return app.stdout().match(/listening on http:\/\/localhost:(\d+)/)?.[1];
    }, 20_000, 'the server listening');
    const origin = `http://localhost:${port}`;

    const { logs, global } = await runPage(origin);
    // The page's user_list listener prints `count, user_list` once the user is in.
    await eventually(() => logs.some((args) => args[0] === 1 && JSON.stringify(args[1]) === '[470700]'), 15_000, 'the page logging 1 [470700]');
    // The server prints the join on its own stdout, a pipe read apart from the page's messages: it may come a moment later.
    await eventually(() => /^mvj3 joined \/classes\/4$/m.test(app.stdout()), 5_000, 'the server printing "mvj3 joined /classes/4"');
    const [rows] = await db.raw.query(
      "SELECT l.user_info_list FROM faye_channel_online_lists l JOIN faye_channels c ON c.id = l.channel_id WHERE c.name = '/classes/4'",
    );
    assert.deepEqual(rows, [{ user_info_list: '[470700]' }]);

    // The page goes; its user leaves once the leave grace (5 s by default) is over.
    await (global.faye as faye.Client).disconnect();
    await eventually(() => /^mvj3 left \/classes\/4 \(disconnect\)$/m.test(app.stdout()), 20_000, 'the leave line');

    app.child.kill('SIGTERM');
    const exit = await exitWithin(app, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, app.stderr());
    assert.equal(app.stderr(), '');
  });

  it('on an unmigrated database it prints one clear line naming `migrate up` and exits 1, no unhandled rejection', async () => {
    const db = await createTestDatabase('readme');
    databases.push(db);
    const app = runServer(appDir, { DATABASE_URL: db.url, PORT: '0' });
    running.push(app);
    const exit = await exitWithin(app, 20_000);
    assert.deepEqual(exit, { code: 1, signal: null });
    const lines = app.stderr().trim().split('\n');
    assert.equal(lines.length, 1, app.stderr());
    assert.match(lines[0], /^faye-online could not start: the faye-online tables are not migrated .*`npx faye-online migrate up`/);
    assert.doesNotMatch(app.stdout(), /listening/);
  });
});
