// `faye-online webhooks status|replay` on a database a sender works on: what
// status shows, that replay shows its plan and changes nothing without --yes
// (or a yes on the terminal), and that what it queues is sent again.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Sequelize } from 'sequelize';
import { main } from '../../lib/cli/main';
import type { CliIo } from '../../lib/cli/command';
import { ManualClock } from '../../lib/core/clock';
import { migrate } from '../../lib/schema';
import { WebhookState } from '../../lib/webhooks';
import { webhookStatus } from '../../lib/webhooks/status';
import { createSqliteBackend, type TestBackend } from '../support/databases';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { insertEvents, roomEvents, SECRET, testSender, type TestSender } from './helpers';

interface Output { code: number; out: string[]; err: string[] }

async function run(args: string[], options: { env?: NodeJS.ProcessEnv; answer?: boolean } = {}): Promise<Output> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l), env: options.env ?? {}, ...(options.answer === undefined ? {} : { confirm: async () => options.answer! }) };
  const code = await main(['webhooks', ...args], io);
  return { code, out, err };
}

describe('faye-online webhooks', () => {
  let backend: TestBackend;
  let sequelize: Sequelize;
  let clock: ManualClock;
  let receiver: WebhookReceiver;
  let s: TestSender;
  let url: string[];

  beforeEach(async () => {
    backend = await createSqliteBackend();
    sequelize = backend.open();
    await migrate(sequelize, 'up');
    clock = new ManualClock(Date.now());
    receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now() });
    s = testSender(sequelize, clock, receiver, { batchSize: 20, retryFor: 3_600_000 }, 'host-a:123:abc');
    url = ['--url', backend.url];
  });

  afterEach(async () => {
    await s.sender.close();
    await receiver.close();
    await backend.cleanup();
  });

  it('says when no sender has started, and refuses a database without the tables', async () => {
    const before = await run(['status', ...url]);
    assert.equal(before.code, 0);
    assert.match(before.out.join('\n'), /no sender has started yet/);
    const bare = await createSqliteBackend();
    try {
      const refused = await run(['status', '--url', bare.url]);
      assert.equal(refused.code, 1);
      assert.equal(refused.err.length, 1);
      assert.match(refused.err[0], /webhook tables are not migrated .*migrate up.*\[SCHEMA_NOT_MIGRATED\]/);
    } finally {
      await bare.cleanup();
    }
  });

  it('refuses a wrong command line with one line and exit 2', async () => {
    for (const [args, pattern] of [
      [[], /expected status or replay/],
      [['replay', ...url], /exactly one of --dead, --from-id N, --since TIME/],
      [['replay', '--dead', '--from-id', '3', ...url], /exactly one of/],
      [['replay', '--from-id', 'x', ...url], /--from-id must be an event id/],
      [['replay', '--since', 'yesterday', ...url], /--since must be a time/],
      [['status', '--yes', ...url], /go with replay/],
      [['status'], /no database given/],
    ] as Array<[string[], RegExp]>) {
      const result = await run(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.err.length, 1);
      assert.match(result.err[0], pattern);
    }
  });

  it('status shows pending, dead, the retry and the lease holder; replay --dead asks, then sends them again', async () => {
    s.sender.start();
    await s.run(0);
    receiver.mode = 'fail';
    const ids = await insertEvents(backend, roomEvents(8, 2, clock.now()));
    await s.run(2 * 3_600_000); // past retryFor (1 h): dead
    const more = await insertEvents(backend, roomEvents(3, 2, clock.now()));
    await s.run(60_000);

    const status = await run(['status', ...url]);
    const text = status.out.join('\n');
    assert.match(text, /pending +3 events after event id/);
    assert.match(text, new RegExp(`dead +8 events \\(ids ${ids[0]} to ${ids[7]}\\); \`faye-online webhooks replay --dead\``));
    assert.match(text, /retrying +attempt \d+, failing for .*HTTP 500/);
    assert.match(text, /sender +host-a:123:abc \(lease for/);
    const json = JSON.parse((await run(['status', '--json', ...url])).out.join('\n'));
    assert.equal(json.pending, 3);
    assert.equal(json.dead.count, 8);
    assert.equal(json.lease.holder, 'host-a:123:abc');
    // The simulated clock ran 2 h ahead of the wall clock the command reads.
    assert.equal((await webhookStatus(sequelize, clock.now())).lagMs, 60_000, 'the oldest pending event waited 1 min');

    const dry = await run(['replay', '--dead', ...url]);
    assert.equal(dry.code, 0);
    assert.match(dry.out.join('\n'), /Would send 8 dead events again .*\n.*Dry run: nothing was changed/);
    const no = await run(['replay', '--dead', ...url], { answer: false });
    assert.match(no.out.join('\n'), /Nothing was changed/);
    assert.equal((await new WebhookState(sequelize).deadSummary()).count, 8);

    receiver.mode = 'ok';
    const yes = await run(['replay', '--dead', ...url], { answer: true });
    assert.match(yes.out.join('\n'), /Queued 8 dead events/);
    await s.run(11 * 60_000); // the retry in progress backs off at most 10 min
    assert.deepEqual(new Set(receiver.acknowledged().map((e) => e.id)), new Set([...ids, ...more]));
    const after = (await run(['status', ...url])).out.join('\n');
    assert.match(after, /pending +0 events/);
    assert.match(after, /dead +0 events/);
    assert.match(after, /delivered +11 events/);
  });

  it('replay --from-id sends every event from there again, with the same idempotency keys', async () => {
    s.sender.start();
    await s.run(0);
    const ids = await insertEvents(backend, roomEvents(10, 2, clock.now()));
    await s.run(60_000);
    assert.equal(receiver.acknowledged().length, 10);
    const result = await run(['replay', '--from-id', String(ids[6]), '--yes', ...url]);
    assert.match(result.out.join('\n'), new RegExp(`Would move the stream back from event id ${ids[9]} to ${ids[6]}: 4 events`));
    await s.run(60_000);
    const again = receiver.acknowledged().slice(10);
    assert.deepEqual(again.map((e) => e.id), ids.slice(6));
    assert.deepEqual(again.map((e) => e.idempotency_key), receiver.acknowledged().slice(6, 10).map((e) => e.idempotency_key));
    const later = await run(['replay', '--from-id', String(ids[9] + 5), '--yes', ...url]);
    assert.match(later.out.join('\n'), /Nothing to replay/);
  });

  it('a rewind is not undone by a sender that delivered meanwhile: its fenced write changes nothing', async () => {
    s.sender.start();
    await s.run(0);
    const ids = await insertEvents(backend, roomEvents(4, 1, clock.now()));
    await s.run(60_000);
    const state = new WebhookState(sequelize);
    const read = (await state.read())!;
    assert.ok(await state.rewind(ids[1], clock.now()));
    const fence = { holder: read.holder!, leaseVersion: read.leaseVersion, cursorId: read.cursorId };
    assert.equal(await state.delivered(fence, { throughId: read.cursorId + 10, count: 1, replayed: [] }, clock.now()), false);
    assert.equal((await state.read())!.cursorId, ids[0]);
  });
});
