// Webhook signatures: the test vector of docs/webhooks.md, the verifier's
// answers (stale, tampered, malformed, rotation), and the two verifier snippets
// of the docs run for real: the Ruby one under ruby, the Express one as a
// server a real sender delivers to.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../lib/core/clock';
import { migrate } from '../../lib/schema';
import { verifyWebhook, webhookSignature, WEBHOOK_HEADERS } from '../../lib/webhooks';
import { createSqliteBackend } from '../support/databases';
import { eventually } from '../support/wait';
import { insertEvents, roomEvents, SECRET, testSender } from './helpers';

const DOC = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
const vector = {
  secret: 'faye-online-example-secret-0123456789',
  timestamp: 1700000000,
  body: '{"batch":"b_example","sent_at":"2023-11-14T22:13:20.000Z","events":[]}',
  signature: 'sha256=166e67841b731a6a9e61d797a2a65728bf8f55d51b9d078f503e00d2bbd50347',
};
const at = (seconds: number) => new Date((vector.timestamp + seconds) * 1000);

function snippet(marker: string): string {
  const match = new RegExp(`<!-- webhook-verifier: ${marker} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(DOC);
  assert.ok(match, `docs/webhooks.md has the ${marker} snippet`);
  return match[1];
}

describe('webhook signatures', () => {
  it('match the vector shown in docs/webhooks.md', () => {
    assert.equal(webhookSignature(vector.body, vector.timestamp, vector.secret), vector.signature);
    assert.ok(DOC.includes(`X-Faye-Online-Signature: ${vector.signature}`));
    assert.ok(DOC.includes(`\n${vector.body}\n`));
  });

  it('verify within the tolerance and refuse stale, tampered and malformed requests', () => {
    const ok = { body: vector.body, timestamp: String(vector.timestamp), signature: vector.signature, secret: vector.secret };
    assert.deepEqual(verifyWebhook({ ...ok, now: at(299) }), { ok: true });
    assert.deepEqual(verifyWebhook({ ...ok, body: Buffer.from(vector.body), now: at(-299) }), { ok: true }, 'a Buffer body, a clock a little behind');
    const reason = (input: Partial<typeof ok> & { now?: Date; toleranceSeconds?: number }) => {
      const result = verifyWebhook({ ...ok, now: at(0), ...input });
      return result.ok ? 'ok' : result.reason;
    };
    assert.equal(reason({ now: at(301) }), 'stale', 'replayed 5 min later');
    assert.equal(reason({ now: at(-301) }), 'stale');
    assert.equal(reason({ now: at(30), toleranceSeconds: 10 }), 'stale');
    assert.equal(reason({ body: vector.body.replace('[]', '[1]') }), 'tampered');
    assert.equal(reason({ timestamp: String(vector.timestamp + 1), now: at(1) }), 'tampered', 'the timestamp is signed');
    assert.equal(reason({ secret: 'another-secret-of-enough-length' }), 'tampered');
    assert.equal(reason({ signature: undefined }), 'malformed');
    assert.equal(reason({ timestamp: 'soon' }), 'malformed');
    assert.equal(reason({ signature: 'sha256=zz' }), 'tampered');
  });

  it('carry one signature per secret while rotating, and either secret verifies', () => {
    const both = webhookSignature(vector.body, vector.timestamp, ['new-secret-0123456789abcdef', vector.secret]);
    assert.equal(both.split(',').length, 2);
    assert.ok(both.endsWith(vector.signature));
    for (const secret of ['new-secret-0123456789abcdef', vector.secret]) {
      assert.deepEqual(verifyWebhook({ body: vector.body, timestamp: String(vector.timestamp), signature: both, secret, now: at(0) }), { ok: true });
    }
  });

  const ruby = spawnSync('ruby', ['--version'], { encoding: 'utf8' });
  const rubySkip = ruby.status === 0 ? false : 'ruby is not installed on this machine, so the Rails snippet of docs/webhooks.md was not run; the Node vector above still pins the format';

  it('the Ruby verifier of docs/webhooks.md accepts what we sign and refuses stale or tampered requests', { skip: rubySkip }, () => {
    const cases: Array<{ body: string; timestamp: string; signature: string; now: number; expected: boolean }> = [
      { body: vector.body, timestamp: String(vector.timestamp), signature: vector.signature, now: vector.timestamp + 10, expected: true },
      { body: '{"events":[{"uname":"王小明"}]}', timestamp: String(vector.timestamp), signature: webhookSignature('{"events":[{"uname":"王小明"}]}', vector.timestamp, vector.secret), now: vector.timestamp, expected: true },
      { body: vector.body, timestamp: String(vector.timestamp), signature: webhookSignature(vector.body, vector.timestamp, ['new-secret-0123456789abcdef', vector.secret]), now: vector.timestamp, expected: true },
      { body: vector.body, timestamp: String(vector.timestamp), signature: vector.signature, now: vector.timestamp + 301, expected: false },
      { body: `${vector.body} `, timestamp: String(vector.timestamp), signature: vector.signature, now: vector.timestamp, expected: false },
      { body: vector.body, timestamp: String(vector.timestamp + 1), signature: vector.signature, now: vector.timestamp, expected: false },
      { body: vector.body, timestamp: '', signature: vector.signature, now: vector.timestamp, expected: false },
    ];
    const script = [
      snippet('ruby'),
      'require "json"',
      'JSON.parse(STDIN.read).each do |c|',
      '  puts FayeOnlineWebhook.verified?(c["body"], c["timestamp"], c["signature"], ARGV[0], now: Time.at(c["now"]))',
      'end',
    ].join('\n');
    const run = spawnSync('ruby', ['-e', script, vector.secret], { encoding: 'utf8', input: JSON.stringify(cases) });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), cases.map((c) => String(c.expected)));
  });

  describe('the Express verifier of docs/webhooks.md', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faye-online-express-hook-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('takes a real sender\'s batches (204) and refuses tampered and replayed requests (401)', async () => {
      writeFileSync(join(dir, 'server.js'), snippet('express'));
      const port = await freePort();
      const child = spawn(process.execPath, [join(dir, 'server.js')], {
        env: { PATH: process.env.PATH, PORT: String(port), FAYE_ONLINE_WEBHOOK_SECRET: SECRET, NODE_PATH: join(__dirname, '..', '..', 'node_modules') },
      });
      let stdout = '';
      child.stdout.on('data', (d) => { stdout += d; });
      const backend = await createSqliteBackend();
      try {
        const url = `http://127.0.0.1:${port}/hooks/presence`;
        await eventually(() => fetch(url, { method: 'POST' }).then(() => true, () => false), 10_000, 'the Express snippet listening');
        const sequelize = backend.open();
        await migrate(sequelize, 'up');
        const clock = new ManualClock(Date.now());
        const s = testSender(sequelize, clock, { url });
        s.sender.start();
        await s.run(0);
        await insertEvents(backend, roomEvents(5, 2, clock.now()));
        await s.run(60_000);
        assert.equal(s.attempts.length, 1);
        assert.equal(s.attempts[0].ok, true, s.attempts[0].error);
        await eventually(() => stdout.split('\n').filter(Boolean).length === 5, 5000, 'five events printed');
        assert.match(stdout, /^join 100 \/rooms\/0$/m);
        await s.sender.close();

        const body = '{"batch":"b_x","events":[]}';
        const now = Math.floor(Date.now() / 1000);
        const post = (timestamp: number, signedBody: string) => fetch(url, {
          method: 'POST', body, headers: { 'content-type': 'application/json', [WEBHOOK_HEADERS.timestamp]: String(timestamp), [WEBHOOK_HEADERS.signature]: webhookSignature(signedBody, timestamp, SECRET) },
        }).then((r) => r.status);
        assert.equal(await post(now, body), 204);
        assert.equal(await post(now, '{"batch":"b_y","events":[]}'), 401, 'tampered');
        assert.equal(await post(now - 600, body), 401, 'replayed 10 min later');
      } finally {
        child.kill();
        await backend.cleanup();
      }
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
