// Hostile traffic, finding 4: one identity floods. Many tabs, room hopping
// and short-lived clientIds of one user are damped (lib/edge/churn.ts): the
// latest state always wins, at a bounded rate. Unit tests in simulated time,
// then the two floods of the issue against a real server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import faye from 'faye';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { ArrivalBudget, Bench, CHURN_LIMITS, CoalescedDiffs, MoveDamper } from '../../lib/edge/churn';
import { auth, clientIdsByUser, eventually, onlineClient, startPresenceServer, type PresenceServer, type TestClient } from '../support/presence-server';
import { rawConnect, rawHandshake } from './support';

const authIn = (room: string): Auth => {
  const reading = readAuth(auth(5, 'hopper', room, '/churn/lesson'));
  assert.equal(reading.kind, 'valid');
  return (reading as { auth: Auth }).auth;
};

describe('churn limits in simulated time', () => {
  test('a page hopping 50 times within one interval moves twice: at once, then to where it stopped', async () => {
    const clock = new ManualClock();
    const applied: string[] = [];
    const moves = new MoveDamper({ intervalMs: 2000, clock, apply: (_id, a) => applied.push(a.room) });
    for (let i = 0; i < 50; i++) moves.moved('c1', authIn(i % 2 ? '/r/b' : '/r/a'));
    assert.deepEqual(applied, ['/r/a']);
    await clock.advance(2000);
    assert.deepEqual(applied, ['/r/a', '/r/b']);
    await clock.advance(10_000);
    assert.deepEqual(applied, ['/r/a', '/r/b'], 'nothing more without new moves');
    moves.moved('c1', authIn('/r/c'));
    assert.deepEqual(applied, ['/r/a', '/r/b', '/r/c'], 'a quiet page moves at once');
    moves.moved('c1', authIn('/r/d'));
    moves.forget('c1');
    await clock.advance(5000);
    assert.deepEqual(applied.length, 3, 'a forgotten page\'s waiting move is dropped');
  });

  test('new clientIds of one user: a burst, then a steady rate', () => {
    const clock = new ManualClock();
    const budget = new ArrivalBudget({ burst: 3, perSecond: 1, clock });
    assert.deepEqual([1, 2, 3, 4].map(() => budget.take(9)), [true, true, true, false]);
    assert.equal(budget.take(10), true, 'other users have their own budget');
    void clock.advance(1000);
    assert.deepEqual([budget.take(9), budget.take(9)], [true, false]);
  });

  test('a user\'s budget is forgotten once it is full again, so that the map holds recent arrivals only', () => {
    const clock = new ManualClock();
    const budget = new ArrivalBudget({ burst: 3, perSecond: 1, clock });
    for (let uid = 1; uid <= 1000; uid++) budget.take(uid);
    assert.equal(budget.size, 1000);
    void clock.advance(2999);
    budget.take(2000);
    assert.equal(budget.size, 1001, 'not yet full: 2 of 3 tokens back');
    void clock.advance(1);
    budget.take(2001);
    assert.equal(budget.size, 2, 'the thousand buckets are full again and gone');
    assert.deepEqual([1, 2, 3, 4].map(() => budget.take(1)), [true, true, true, false], 'a forgotten user starts with a full burst');
  });

  test('an evicted clientId stays benched for its time', () => {
    const clock = new ManualClock();
    const bench = new Bench({ ms: 1000, clock });
    bench.add('c1');
    assert.equal(bench.has('c1'), true);
    void clock.advance(1000);
    assert.equal(bench.has('c1'), false);
  });

  test('one user\'s diffs per room: the first at once, then the latest once per window', async () => {
    const clock = new ManualClock();
    const sent: string[] = [];
    const diffs = new CoalescedDiffs<string>({ windowMs: 1000, clock, publish: (room, diff) => sent.push(`${room} ${diff}`) });
    for (let i = 1; i <= 100; i++) diffs.diff('/r/a', 5, `${i % 2 ? 'join' : 'leave'} ${i}`);
    diffs.diff('/r/a', 6, 'join 1');
    assert.deepEqual(sent, ['/r/a join 1', '/r/a join 1']);
    await clock.advance(1000);
    assert.deepEqual(sent.slice(2), ['/r/a leave 100']);
    await clock.advance(1000);
    diffs.diff('/r/a', 5, 'join 101');
    diffs.diff('/r/a', 5, 'leave 102');
    diffs.flush();
    assert.deepEqual(sent.slice(3), ['/r/a join 101', '/r/a leave 102'], 'close() sends what waits');
  });
});

describe('floods of one identity against a server', () => {
  let server: PresenceServer;
  const connects = new Map<string, number>();
  before(async () => {
    server = await startPresenceServer('sqlite+memory', { timeout: 1, maxClientIdsPerUser: 4 });
    server.handle.adapter.addExtension({
      incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
        if (message.channel === '/meta/connect' && typeof message.clientId === 'string') connects.set(message.clientId, (connects.get(message.clientId) ?? 0) + 1);
        callback(message);
      },
    });
  });
  after(() => server.close());

  const loginRowCount = async (uid: number) => Number((await server.query<{ n: number }>(`SELECT COUNT(*) AS n FROM faye_user_login_logs WHERE uid = ${uid}`))[0].n);

  test('more tabs than maxClientIdsPerUser: the evicted ones are not tracked again, so login rows stop', async () => {
    const room = `/churn/tabs/${process.pid}`;
    const tabs: TestClient[] = [];
    try {
      for (let i = 0; i < 7; i++) tabs.push(onlineClient(server.url, auth(77, 'tabs', room, `${room}/lesson`), { transport: 'long-polling' }));
      const ids = await Promise.all(tabs.map((tab) => tab.connected()));
      await eventually(async () => (await clientIdsByUser(server, room))['77']?.length === 4, 10_000, 'four tracked');
      await server.handle.settled();
      const rows = await loginRowCount(77);
      // Every tab polls at least three more times: evicted ones would have come back by then.
      const seen = new Map(ids.map((id) => [id, connects.get(id) ?? 0]));
      await eventually(() => ids.every((id) => (connects.get(id) ?? 0) >= seen.get(id)! + 3), 20_000, `three more polls of every tab (${JSON.stringify([...seen.values()])} then ${JSON.stringify(ids.map((id) => connects.get(id)))})`);
      await server.handle.settled();
      assert.equal(await loginRowCount(77), rows, 'no new login rows while the tabs keep polling');
      assert.equal(rows, 7 + 3, 'seven logins and three evictions');
      assert.equal((await clientIdsByUser(server, room))['77'].length, 4);
      assert.deepEqual(await server.handle.onlineUsers(room), [77], 'the user stays online');
    } finally {
      await Promise.all(tabs.map((tab) => tab.disconnect()));
    }
  });

  test("an eviction is the evicted tab's public depart event, with reason 'evicted'; the user does not leave", async () => {
    const room = `/churn/evict/${process.pid}`;
    const events: Array<{ kind: string; clientId: string; room: string; reason?: string }> = [];
    const onDepart = (event: { uid: number; clientId: string; room: string; reason: string }) => {
      if (event.uid === 79) events.push({ kind: 'depart', clientId: event.clientId, room: event.room, reason: event.reason });
    };
    const onLeave = (event: { uid: number; clientId: string; room: string }) => {
      if (event.uid === 79) events.push({ kind: 'leave', clientId: event.clientId, room: event.room });
    };
    server.handle.on('depart', onDepart);
    server.handle.on('leave', onLeave);
    const tabs: TestClient[] = [];
    try {
      const ids: string[] = [];
      // One tab after the other, so that the first is the oldest: the one the fifth evicts.
      for (let i = 0; i < 5; i++) {
        tabs.push(onlineClient(server.url, auth(79, 'evicted', room, `${room}/lesson${i}`), { transport: 'long-polling' }));
        ids.push(await tabs[i].connected());
        await eventually(async () => (await clientIdsByUser(server, room))['79']?.includes(ids[i]), 10_000, `tab ${i} tracked`);
      }
      await server.handle.settled();
      assert.deepEqual(events, [{ kind: 'depart', clientId: ids[0], room, reason: 'evicted' }]);
      assert.deepEqual(await server.handle.onlineUsers(room), [79], 'the user stays online');
    } finally {
      server.handle.off('depart', onDepart);
      server.handle.off('leave', onLeave);
      await Promise.all(tabs.map((tab) => tab.disconnect()));
    }
  });

  test('a page hopping between two rooms ends where it stopped, with rows bounded by the move interval', async () => {
    const base = `/churn/hop/${process.pid}`;
    const clientId = await rawHandshake(server);
    const startedAt = Date.now();
    for (let i = 0; i < 40; i++) {
      const reply = await rawConnect(server, clientId, auth(88, 'hopper', i % 2 ? `${base}/b` : `${base}/a`, `${base}/lesson`));
      assert.equal(reply.successful, true);
    }
    const elapsed = Date.now() - startedAt;
    // It stopped in room b: that is where it ends up, once the last interval is over.
    await eventually(async () => (await server.handle.onlineUsers(`${base}/b`)).includes(88) && (await server.handle.onlineUsers(`${base}/a`)).length === 0, 10_000, 'in room b');
    await server.handle.settled();
    const moves = Math.ceil(elapsed / CHURN_LIMITS.moveIntervalMs) + 1;
    const rows = await loginRowCount(88);
    // One login, then at most a logout and a login per applied move (the time channel is the same, so often none).
    assert.ok(rows <= 1 + 2 * moves, `${rows} login rows for ${moves} possible moves in ${elapsed} ms (40 hops)`);
    await rawConnect(server, clientId, auth(88, 'hopper', `${base}/b`, `${base}/lesson`));
  });
});
