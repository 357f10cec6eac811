// SQL writes while the database cannot be reached: an arrival's writes wait
// for it (longer than the few quick retries other failures get) and land once
// it is back, in order; a failure that is not about reaching the database
// still gives up after its retries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAuth, type Auth } from '../../lib/core/auth';
import { ManualClock } from '../../lib/core/clock';
import { Presence, type PresenceRecords } from '../../lib/core/presence';
import { silentLogger } from '../../lib/log';
import { MemoryStore } from '../../lib/stores/memory-store';
import { isDatabaseUnavailable } from '../../lib/records';
import { ConnectionRefusedError, DatabaseError } from 'sequelize';
import { sleep } from '../support/wait';

class Unreachable extends Error {}

/** Records whose every statement fails while `down`, counting the attempts. */
function flakyRecords(failure: () => Error) {
  const state = { down: true, attempts: 0, written: [] as string[] };
  const attempt = async (what: string) => {
    state.attempts += 1;
    if (state.down) throw failure();
    state.written.push(what);
  };
  const records: PresenceRecords = {
    addToOnlineList: async (room, uid) => (await attempt(`list ${room} +${uid}`), [uid]),
    removeFromOnlineList: async (room, uid) => (await attempt(`list ${room} -${uid}`), []),
    startTimer: async (uid) => (await attempt(`timer ${uid} start`), true),
    stopTimer: async (uid) => (await attempt(`timer ${uid} stop`), 1),
    writeLoginLog: async (entry) => attempt(`login ${entry.clientId} ${entry.status}`),
    startEngaged: async () => true,
    stopEngaged: async () => true,
    isUnavailable: (error) => error instanceof Unreachable,
  };
  return { records, state };
}

function authOf(uid: number): Auth {
  const reading = readAuth({ room_channel: '/classes/1', time_channel: '/lessons/1', current_user: { uid, uname: `u${uid}` } });
  assert.equal(reading.kind, 'valid');
  return reading.auth;
}


describe('SQL writes during a database outage', () => {
  it('wait while the database is unreachable and land, in order, once it is back', async () => {
    const { records, state } = flakyRecords(() => new Unreachable('connect ECONNREFUSED'));
    const failed: Error[] = [];
    const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, retryDelay: 5, writeAttempts: 5 });
    presence.on('writeFailed', (error) => failed.push(error));
    const arrival = presence.arrive('c1', authOf(7))!;
    const departure = arrival.then(() => presence.depart('c1', 'disconnect', Date.now()));
    // Far more attempts than writeAttempts: each of the three writes retried, none given up.
    while (state.attempts < 3 * 20) await sleep(5);
    assert.deepEqual(state.written, []);
    state.down = false;
    await departure;
    await presence.idle();
    assert.deepEqual(failed, []);
    assert.deepEqual(state.written.slice(0, 3).sort(), ['list /classes/1 +7', 'login c1 1', 'timer 7 start']);
    assert.deepEqual(state.written.slice(3).sort(), ['list /classes/1 -7', 'login c1 0', 'timer 7 stop'], 'the departure after the arrival');
  });

  it('give up after writeAttempts when the failure is not about reaching the database', async () => {
    const { records, state } = flakyRecords(() => new Error('Deadlock found when trying to get lock'));
    const failed: Error[] = [];
    const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, retryDelay: 1, writeAttempts: 3 });
    presence.on('writeFailed', (error) => failed.push(error));
    await presence.arrive('c1', authOf(7));
    assert.equal(state.attempts, 3 * 3, 'three writes, three attempts each');
    assert.equal(failed.length, 3);
  });

  it('give up on an unreachable database after unavailableWaitMs', async () => {
    const { records, state } = flakyRecords(() => new Unreachable('connect ECONNREFUSED'));
    const failed: Error[] = [];
    const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, retryDelay: 1, writeAttempts: 2, unavailableWaitMs: 50 });
    presence.on('writeFailed', (error) => failed.push(error));
    await presence.arrive('c1', authOf(7));
    assert.equal(failed.length, 3);
    assert.ok(state.attempts > 3 * 2, `waited beyond writeAttempts (${state.attempts} attempts)`);
  });
});

describe('the waits between attempts are on the clock', () => {
  it('a ManualClock alone moves the retries of an outage, and gives up after unavailableWaitMs of its time (the default 120 s)', async () => {
    const { records, state } = flakyRecords(() => new Unreachable('connect ECONNREFUSED'));
    const clock = new ManualClock();
    const failed: Error[] = [];
    const waits: number[] = [];
    const presence = new Presence({ store: new MemoryStore(32), records, logger: silentLogger, clock });
    presence.on('writeFailed', (error) => failed.push(error));
    presence.on('retrying', (_what, _attempt, delayMs) => waits.push(delayMs));
    let arrived = false;
    void presence.arrive('c1', authOf(7))!.then(() => (arrived = true));
    // Real time passes, simulated time does not: each of the three writes tried once, waiting.
    await sleep(50);
    assert.equal(state.attempts, 3);
    assert.equal(presence.writesWaitingToRetry, 3);
    await clock.advance(100);
    assert.equal(state.attempts, 6, 'the first retry after the default 100 ms');
    await clock.advance(119_000);
    assert.equal(failed.length, 0, 'still waiting for the database');
    // The last wait ends past 120 s (waits of 2 s by then): that attempt is the last.
    await clock.advance(3000);
    assert.equal(arrived, true);
    assert.equal(failed.length, 3, 'given up after 120 s of the clock');
    assert.equal(presence.writesWaitingToRetry, 0);
    // 100 ms doubling up to 2 s, until 120 s have passed: the same for each write.
    const perWrite = waits.length / 3;
    assert.ok(perWrite > 50 && perWrite < 70, `${perWrite} waits per write`);
    assert.equal(state.attempts, 3 * (perWrite + 1));
  });
});

describe('which SQL errors mean the database cannot be reached', () => {
  it('connection errors and lost connections do; a deadlock or a bad value does not', () => {
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' });
    const deadlock = Object.assign(new Error('Deadlock found'), { code: 'ER_LOCK_DEADLOCK' });
    assert.equal(isDatabaseUnavailable(new ConnectionRefusedError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))), true);
    assert.equal(isDatabaseUnavailable(new DatabaseError(lost as never)), true);
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('shutting down'), { code: 'ER_SERVER_SHUTDOWN' })), true);
    assert.equal(isDatabaseUnavailable(new DatabaseError(deadlock as never)), false);
    assert.equal(isDatabaseUnavailable(new Error('Incorrect integer value')), false);
  });
});
