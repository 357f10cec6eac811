// `faye-online serve` with the webhook URL and secret in its environment sends
// the events table's rows, and a webhook flag given wrong is refused at once,
// naming the flag and its variable.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { WebhookState } from '../../lib/webhooks';
import { BIN, cli } from '../support/cli';
import { createSqliteBackend } from '../support/databases';
import { eventually } from '../support/wait';
import { startWebhookReceiver } from '../support/webhook-receiver';
import { insertEvents, roomEvents, SECRET } from './helpers';

describe('faye-online serve with webhooks', () => {
  it('sends the events to FAYE_ONLINE_WEBHOOK_URL, signed with FAYE_ONLINE_WEBHOOK_SECRET', async () => {
    const backend = await createSqliteBackend();
    const receiver = await startWebhookReceiver({ secret: SECRET, now: () => Date.now() });
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--url', backend.url, '--webhook-events', 'join,leave'], {
      env: { PATH: process.env.PATH, FAYE_ONLINE_WEBHOOK_URL: receiver.url, FAYE_ONLINE_WEBHOOK_SECRET: SECRET, FAYE_ONLINE_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => /ready at/.test(stdout), 30_000, 'ready line');
      assert.match(stdout, /webhooks +http:\/\/127\.0\.0\.1:\d+\/hooks\/presence \(kinds: join, leave\)/);
      const state = new WebhookState(backend.open());
      await eventually(async () => (await state.read())?.holder, 10_000, 'the server took the lease');
      const ids = await insertEvents(backend, roomEvents(10, 2, Date.now()));
      await eventually(() => receiver.acknowledged().length === ids.length, 15_000, 'every event delivered');
      assert.deepEqual(receiver.acknowledged().map((e) => e.id), ids);
      assert.ok(receiver.requests.every((r) => r.verified.ok));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      await receiver.close();
      await backend.cleanup();
    }
  });

  it('refuses a webhook URL without a secret, naming the flag and its variable', async () => {
    const run = await cli(['serve', '--port', '0', '--url', 'sqlite::memory:', '--webhook-url', 'https://app.example.com/hooks']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^faye-online serve: --webhook-secret \(FAYE_ONLINE_WEBHOOK_SECRET\) must be a string .*at least 16 bytes/);
    const kinds = await cli(['serve', '--port', '0', '--url', 'sqlite::memory:'], { FAYE_ONLINE_WEBHOOK_URL: 'https://app.example.com/hooks', FAYE_ONLINE_WEBHOOK_SECRET: SECRET, FAYE_ONLINE_WEBHOOK_EVENTS: 'join,arrive' });
    assert.equal(kinds.code, 2);
    assert.match(kinds.stderr, /--webhook-events \(FAYE_ONLINE_WEBHOOK_EVENTS\) .*unknown: "arrive"/);
  });
});
