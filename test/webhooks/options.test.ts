// The `webhooks` option: defaults, and every mistake refused with an error that
// names the field and says what is expected.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, EVENT_KINDS, resolveWebhooks, WEBHOOK_DEFAULTS } from '../../lib/webhooks';
import { resolveOptions } from '../../lib/options';

const base = { url: 'https://app.example.com/hooks/presence', secret: 'webhook-secret-0123456789' };

describe('the webhooks option', () => {
  it('is off when absent, and fills in the defaults (24 h of retries, every kind)', () => {
    assert.equal(resolveWebhooks(undefined), undefined);
    const resolved = resolveWebhooks(base)!;
    assert.equal(resolved.retryFor, 24 * 3600 * 1000);
    assert.deepEqual(resolved.events, [...EVENT_KINDS]);
    assert.deepEqual(resolved.secrets, [base.secret]);
    assert.equal(resolved.batchSize, WEBHOOK_DEFAULTS.batchSize);
    assert.deepEqual(resolveWebhooks({ ...base, events: ['vacated', 'join'] })!.events, ['join', 'vacated']);
  });

  it('refuses each mistake naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['https://x', /`webhooks`: must be an object/],
      [{ secret: base.secret }, /`webhooks.url`: must be an http:\/\/ or https:\/\/ URL/],
      [{ ...base, url: 'ftp://example.com/' }, /`webhooks.url`/],
      [{ ...base, url: 'not a url' }, /`webhooks.url`/],
      [{ url: base.url }, /`webhooks.secret`: must be a string .* at least 16 bytes/],
      [{ ...base, secret: 'short' }, /`webhooks.secret`/],
      [{ ...base, secret: ' '.repeat(20) }, /`webhooks.secret`/],
      [{ ...base, events: ['join', 'joined'] }, /`webhooks.events`: .*unknown: "joined"/],
      [{ ...base, events: [] }, /`webhooks.events`: must be a non-empty list/],
      [{ ...base, batchSize: 0 }, /`webhooks.batchSize`: must be a whole number from 1/],
      [{ ...base, retryFor: '24h' }, /`webhooks.retryFor`/],
      [{ ...base, timeoutMs: 1.5 }, /`webhooks.timeoutMs`/],
      [{ ...base, minBackoffMs: 5000, maxBackoffMs: 1000 }, /`webhooks.maxBackoffMs`: must be at least minBackoffMs/],
      [{ ...base, timeoutMs: 20_000, leaseMs: 30_000 }, /`webhooks.leaseMs`: must be at least twice timeoutMs/],
      [{ ...base, retries: 3 }, /`webhooks.retries`: is not an option \(known: url, secret, events/],
    ];
    for (const [input, pattern] of cases) {
      assert.throws(() => resolveWebhooks(input), (error: Error & { code?: string }) => error.code === 'INVALID_OPTION' && pattern.test(error.message), JSON.stringify(input));
    }
  });
});

describe('the retry delay', () => {
  it('doubles from minBackoffMs up to maxBackoffMs, each delay between half and all of its step', () => {
    const steps = [1, 2, 3, 4, 10, 11, 60].map((attempt) => [backoffDelay(attempt, 1000, 600_000, () => 0), backoffDelay(attempt, 1000, 600_000, () => 1)]);
    assert.deepEqual(steps, [[500, 1000], [1000, 2000], [2000, 4000], [4000, 8000], [256_000, 512_000], [300_000, 600_000], [300_000, 600_000]]);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, 1000, 600_000);
      assert.ok(delay >= 2000 && delay <= 4000, String(delay));
    }
  });
});

describe('webhooks and events together', () => {
  it('turns the recording of events on, and refuses events: false', () => {
    const webhooks = { url: 'http://127.0.0.1:9/hook', secret: 'a webhook secret of 32 bytes....' };
    assert.ok(resolveOptions({ webhooks }).events, 'webhooks record events');
    assert.equal(resolveOptions({ webhooks, events: { outboxLimit: 7 } }).events?.outboxLimit, 7);
    assert.throws(() => resolveOptions({ webhooks, events: false }), /leave `events` on/);
  });
});
