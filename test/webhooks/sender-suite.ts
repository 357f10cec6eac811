// The webhook sender against a real HTTP receiver and a real database, in
// simulated time (ManualClock): batches, signatures, the kinds filter, 500s,
// timeouts, a receiver down for minutes, dead letters after the retry window,
// replay, and the lease raced by two processes' connections. Shared by the
// MariaDB and SQLite test files.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Sequelize } from 'sequelize';
import { ManualClock } from '../../lib/core/clock';
import { migrate } from '../../lib/schema';
import { WebhookState } from '../../lib/webhooks';
import type { TestBackend } from '../support/databases';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { byChannel, insertEvents, isAscending, roomEvents, SECRET, testSender, type TestSender } from './helpers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export function senderSuite(name: string, createBackend: () => Promise<TestBackend>): void {
  describe(name, () => {
    let backend: TestBackend;
    let sequelize: Sequelize;
    let clock: ManualClock;
    let receiver: WebhookReceiver;
    const senders: TestSender[] = [];

    beforeEach(async () => {
      backend = await createBackend();
      sequelize = backend.open();
      await migrate(sequelize, 'up');
      clock = new ManualClock();
      receiver = await startWebhookReceiver({ secret: SECRET, now: () => clock.now() });
    });

    afterEach(async () => {
      for (const s of senders.splice(0)) await s.sender.close();
      await receiver.close();
      await backend.cleanup();
    });

    function started(options: Parameters<typeof testSender>[3] = {}, holder?: string): TestSender {
      const s = testSender(sequelize, clock, receiver, options, holder);
      senders.push(s);
      s.sender.start();
      return s;
    }

    it('sends every wanted event once, in id order, in signed batches of at most batchSize', async () => {
      const s = started({ events: ['join', 'leave', 'occupied', 'vacated'], batchSize: 100 });
      await s.run(0); // the stream starts at the newest event: none yet
      const events = [
        ...roomEvents(230, 3, clock.now()),
        ...Array.from({ length: 20 }, (_, i) => ({ kind: 'session_start', channel: '/lessons/1', uid: i, occurredMs: clock.now() })),
        { kind: 'occupied', channel: '/rooms/9', occurredMs: clock.now() },
      ];
      const ids = await insertEvents(backend, events);
      await s.run(MINUTE);

      const wanted = ids.filter((_, i) => events[i].kind !== 'session_start');
      assert.deepEqual(receiver.firstArrivals().map((e) => e.id), wanted, 'every wanted event, in id order');
      assert.equal(receiver.requests.flatMap((r) => r.events).length, wanted.length, 'each once');
      assert.ok(receiver.requests.every((r) => r.events.length <= 100));
      assert.equal(receiver.requests.length, 3);
      for (const request of receiver.requests) {
        assert.deepEqual(request.verified, { ok: true });
        assert.equal(request.batchHeader, request.batch);
      }
      const first = receiver.requests[0].events[0];
      assert.equal(first.idempotency_key.startsWith('join:/rooms/0:'), true, 'the event_key is the idempotency key');
      const state = (await new WebhookState(sequelize).read())!;
      assert.equal(state.cursorId, Math.max(...ids), 'the cursor passed the kinds not sent too');
      assert.equal(state.deliveredCount, wanted.length);
    });

    it('keeps retrying through 500s, timeouts and a receiver down for minutes: every event arrives, per-room order holds', async () => {
      const s = started({ batchSize: 25 });
      await s.run(0);
      const first = await insertEvents(backend, roomEvents(40, 4, clock.now()));
      receiver.mode = 'fail';
      await s.run(MINUTE + 10_000);
      assert.ok(receiver.requests.filter((r) => r.status === 500).length >= 3, 'retried after 500s');
      receiver.mode = 'hang';
      await s.run(30_000);
      assert.ok(s.attempts.some((a) => /no answer within 300 ms/.test(a.error ?? '')), 'timed out');
      await receiver.down();
      const during = await insertEvents(backend, roomEvents(12, 4, clock.now()));
      await s.run(5 * MINUTE);
      assert.ok(s.attempts.some((a) => /ECONNREFUSED/.test(a.error ?? '')), 'refused while down');
      assert.equal(receiver.acknowledged().length, 0);
      receiver.mode = 'ok';
      await receiver.up();
      await s.run(15 * MINUTE);

      const all = [...first, ...during];
      assert.deepEqual(new Set(receiver.acknowledged().map((e) => e.id)), new Set(all), 'every event acknowledged at least once');
      for (const [room, ids] of byChannel(receiver.firstArrivals())) assert.ok(isAscending(ids), `order of ${room}: ${ids}`);
      for (const request of receiver.requests) {
        assert.ok(isAscending(request.events.map((e) => e.id)), 'each batch in id order');
        assert.deepEqual(request.verified, { ok: true });
      }
      const retried = receiver.requests.filter((r) => r.batch === receiver.requests[0].batch);
      assert.ok(retried.length > 1, 'a retried batch keeps its batch id');
      const state = (await new WebhookState(sequelize).read())!;
      assert.equal(state.attempts, 0);
      assert.equal(state.failingSinceMs, null);
      assert.equal(state.cursorId, Math.max(...all));
    });

    it('dead-letters each event once it has failed for retryFor (24 h), and replay sends the dead ones again', async () => {
      const s = started({ batchSize: 50 });
      await s.run(0);
      receiver.mode = 'fail';
      const early = await insertEvents(backend, roomEvents(10, 2, clock.now()));
      await s.run(20 * HOUR);
      const late = await insertEvents(backend, roomEvents(5, 2, clock.now()));
      await s.run(5 * HOUR);
      const state = new WebhookState(sequelize);
      assert.deepEqual(await state.deadSummary(), { count: 10, firstId: early[0], lastId: early[9] }, 'the early events died after 24 h');
      assert.equal((await state.read())!.cursorId, early[9], 'the late ones, 5 h old, are still retried');
      const attemptsIn25h = s.attempts.length;
      assert.ok(attemptsIn25h >= 24 * 6 && attemptsIn25h < 400, `backoff capped at 10 min: ${attemptsIn25h} attempts in 25 h`);
      assert.equal(receiver.acknowledged().length, 0);

      await s.run(20 * HOUR);
      assert.equal((await state.deadSummary()).count, 15, 'the late events died 24 h after they were written');
      assert.equal((await state.counts(null)).pending, 0);

      receiver.mode = 'ok';
      // One of them erased meanwhile (a user's erasure, retention): nothing left to send of it.
      await backend.exec('DELETE FROM faye_online_events WHERE id = ?', [early[0]]);
      assert.equal(await state.queueDeadForReplay(clock.now()), 14);
      await s.run(MINUTE);
      const replayed = receiver.acknowledged().map((e) => e.id);
      assert.deepEqual(replayed, [...early.slice(1), ...late], 'replayed in id order');
      assert.deepEqual(await state.deadSummary(), { count: 0, firstId: null, lastId: null });
      assert.equal((await state.counts(null)).replaying, 0);
      assert.ok(receiver.requests.every((r) => r.verified.ok));
    });

    it('of two processes racing for an expired lease, exactly one takes it, every time', async () => {
      const a = new WebhookState(backend.open());
      const b = new WebhookState(backend.open());
      // Both create the stream's row at once: one INSERT wins, the other reads it.
      const [createdA, createdB] = await Promise.all([a.ensure(clock.now()), b.ensure(clock.now())]);
      assert.deepEqual(createdA, createdB);
      assert.equal((await backend.rows('SELECT id FROM faye_online_webhook_cursors')).length, 1);
      const leaseMs = 30_000;
      let now = clock.now();
      for (let round = 0; round < 25; round++) {
        now += leaseMs + 1; // whoever held it let it expire
        const [readA, readB] = await Promise.all([a.read(), b.read()]);
        const [wonA, wonB] = await Promise.all([a.takeLease('A', readA!, now, leaseMs, ['join']), b.takeLease('B', readB!, now, leaseMs, ['join'])]);
        assert.equal(Number(wonA !== null) + Number(wonB !== null), 1, `round ${round}: one winner`);
        const after = (await a.read())!;
        assert.equal(after.holder, wonA !== null ? 'A' : 'B');
        // The loser cannot renew or move the stream.
        assert.equal(await (wonA !== null ? b : a).renewLease(wonA !== null ? 'B' : 'A', after.leaseVersion, now, leaseMs), false);
      }
      // A live lease is not taken.
      const live = (await a.read())!;
      assert.equal(await b.takeLease('C', live, now + 1, leaseMs, ['join']), null);
    });

    it('two senders on one database: one sends, the other takes over when it stops', async () => {
      const one = started({}, 'one');
      const two = started({}, 'two');
      const run = (ms: number) => clock.advance(ms, async () => { await one.sender.idle(); await two.sender.idle(); });
      await run(0);
      assert.equal(Number(one.sender.holdsLease) + Number(two.sender.holdsLease), 1);
      const [holder, other] = one.sender.holdsLease ? [one, two] : [two, one];
      const ids = await insertEvents(backend, roomEvents(30, 3, clock.now()));
      await run(MINUTE);
      assert.equal(other.attempts.length, 0, 'the other process sent nothing');
      await holder.sender.close();
      const more = await insertEvents(backend, roomEvents(6, 3, clock.now()));
      await run(11 * MINUTE); // the other one looks at the lease every third of leaseMs
      assert.ok(other.sender.holdsLease);
      assert.deepEqual(receiver.firstArrivals().map((e) => e.id), [...ids, ...more]);
    });

    it('passes a gap in the ids after gapWaitMs, not before, and still sends a row that commits late under that id', async () => {
      const s = started({ gapWaitMs: 2000, pollMs: 500 });
      await s.run(0);
      const [a] = await insertEvents(backend, roomEvents(1, 1, clock.now()));
      // An id handed out to an insert that has not committed yet: the next row takes the one after.
      const late = { id: a + 1, key: 'late:/rooms/0' };
      await backend.exec('INSERT INTO faye_online_events (id, event_key, kind, channel, occurred_ms, created_at) VALUES (?, ?, ?, ?, ?, ?)', [late.id, 'hole', 'join', '/rooms/x', clock.now(), '2026-01-05 09:00:00']);
      await backend.exec('DELETE FROM faye_online_events WHERE id = ?', [late.id]);
      const [b] = await insertEvents(backend, roomEvents(1, 1, clock.now()));
      assert.equal(b, a + 2);
      await s.run(1000);
      assert.deepEqual(receiver.acknowledged().map((e) => e.id), [a], 'held back at the gap');
      await s.run(3000);
      assert.deepEqual(receiver.acknowledged().map((e) => e.id), [a, b], 'passed after gapWaitMs');
      // The slow insert commits now, behind the cursor.
      await backend.exec('INSERT INTO faye_online_events (id, event_key, kind, user_id, channel, occurred_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [late.id, late.key, 'leave', 7, '/rooms/0', clock.now(), '2026-01-05 09:00:00']);
      await s.run(1000);
      assert.deepEqual(receiver.acknowledged().map((e) => e.id), [a, b, late.id], 'sent late rather than lost');
      await s.run(5000);
      assert.equal(receiver.acknowledged().length, 3, 'once');
    });
  });
}
