// Events written straight into faye_online_events (as the events engineer's
// code writes them), and a sender wired to a test receiver on a ManualClock.
import type { Sequelize } from 'sequelize';
import type { ManualClock } from '../../lib/core/clock';
import { silentLogger } from '../../lib/log';
import { resolveWebhooks, WebhookSender, type Attempt, type WebhooksOptions } from '../../lib/webhooks';
import type { TestBackend } from '../support/databases';
import type { WebhookReceiver } from '../support/webhook-receiver';

export const SECRET = 'webhook-test-secret-0123456789abcdef';

export interface NewEvent {
  kind: string;
  channel: string;
  uid?: number | null;
  occurredMs: number;
  seq?: number | null;
}

let counter = 0;

/** Inserts events in order (one statement each, as presence writes them); returns their ids. */
export async function insertEvents(backend: TestBackend, events: NewEvent[]): Promise<number[]> {
  for (const event of events) {
    counter++;
    await backend.exec(
      'INSERT INTO faye_online_events (event_key, kind, user_id, channel, occurred_ms, reason, seq, client_id, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, ?)',
      [`${event.kind}:${event.channel}:${event.uid ?? '-'}:${process.pid}:${counter}`, event.kind, event.uid ?? null, event.channel, event.occurredMs, event.seq ?? null,
        new Date(event.occurredMs).toISOString().slice(0, 19).replace('T', ' ')],
    );
  }
  const rows = await backend.rows<{ id: number }>('SELECT id FROM faye_online_events ORDER BY id DESC LIMIT ?', [events.length]);
  return rows.map((r) => Number(r.id)).reverse();
}

/** Joins and leaves alternating over `rooms`, `count` in all, at `at`. */
export function roomEvents(count: number, rooms: number, at: number): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: Math.floor(i / rooms) % 2 === 0 ? 'join' : 'leave', channel: `/rooms/${i % rooms}`, uid: 100 + (i % 7), occurredMs: at + i, seq: Math.floor(i / rooms) + 1,
  }));
}

export interface TestSender {
  sender: WebhookSender;
  attempts: Attempt[];
  /** Moves the clock, letting each step of the sender finish before the next. */
  run(ms: number): Promise<void>;
}

export function testSender(sequelize: Sequelize, clock: ManualClock, receiver: Pick<WebhookReceiver, 'url'>, options: Partial<WebhooksOptions> = {}, holder = 'test-sender'): TestSender {
  const webhooks = resolveWebhooks({
    url: receiver.url, secret: SECRET, batchSize: 100, timeoutMs: 300, leaseMs: 30 * 60_000, pollMs: 60_000, ...options,
  })!;
  const attempts: Attempt[] = [];
  const sender = new WebhookSender({ sequelize, webhooks, clock, logger: silentLogger, holder, random: () => 0.5, onAttempt: (a) => attempts.push(a) });
  return { sender, attempts, run: (ms) => clock.advance(ms, () => sender.idle()) };
}

/** For each channel, the ids of its events in the order given. */
export function byChannel(events: Array<{ id: number; channel: string }>): Map<string, number[]> {
  const map = new Map<string, number[]>();
  for (const e of events) map.set(e.channel, [...(map.get(e.channel) ?? []), e.id]);
  return map;
}

export const isAscending = (ids: number[]): boolean => ids.every((id, i) => i === 0 || ids[i - 1] < id);
