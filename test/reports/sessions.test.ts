import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLoginReport } from '../../lib/reports/sessions';
import type { LoginLogRow } from '../../lib/reports/sessions';

// Times are written "HH:MM" or "HH:MM:SS" on 2024-03-01 (UTC), as the table stores them.
const at = (time: string) => new Date(`2024-03-01T${time.length === 5 ? `${time}:00` : time}Z`);
const lesson = 12;
const uid = 470700;
const login = (clientId: string, time: string, channelId = lesson, user = uid): LoginLogRow => ({ status: 1, uid: user, t: at(time), channelId, clientId });
const logout = (clientId: string, time: string, channelId = lesson, user = uid): LoginLogRow => ({ status: 0, uid: user, t: at(time), channelId, clientId });
const now = at('12:00');

test('one tab that logged in and out has one closed session', () => {
  const report = buildLoginReport([login('tab1', '10:00'), logout('tab1', '10:30')], { now });
  assert.deepEqual(report, {
    now,
    from: null,
    to: null,
    channels: [{
      channelId: lesson,
      uid,
      clients: [{ clientId: 'tab1', sessions: [{ login: at('10:00'), logout: at('10:30'), seconds: 1800 }], anomalies: [] }],
      online: [{ start: at('10:00'), end: at('10:30') }],
      totalSeconds: 1800,
    }],
  });
});

test('no rows make an empty report', () => {
  assert.deepEqual(buildLoginReport([], { now }).channels, []);
});

test('two overlapping tabs count their union: 10:00-10:30 and 10:15-10:45 are 45 minutes', () => {
  const report = buildLoginReport([login('tab1', '10:00'), login('tab2', '10:15'), logout('tab1', '10:30'), logout('tab2', '10:45')], { now });
  const [channel] = report.channels;
  assert.deepEqual(channel.clients.map((client) => [client.clientId, client.sessions.map((s) => s.seconds)]), [['tab1', [1800]], ['tab2', [1800]]]);
  assert.deepEqual(channel.online, [{ start: at('10:00'), end: at('10:45') }]);
  assert.equal(channel.totalSeconds, 45 * 60);
});

test('a tab that comes back after the first left: the gap does not count', () => {
  const rows = [login('tab1', '10:00'), logout('tab1', '10:10'), login('tab2', '10:40'), logout('tab2', '10:50')];
  const [channel] = buildLoginReport(rows, { now }).channels;
  assert.deepEqual(channel.online, [{ start: at('10:00'), end: at('10:10') }, { start: at('10:40'), end: at('10:50') }]);
  assert.equal(channel.totalSeconds, 20 * 60);
});

test('a tab opened when the other closes continues the time without a gap', () => {
  const [channel] = buildLoginReport([login('tab1', '10:00'), logout('tab1', '10:10'), login('tab2', '10:10'), logout('tab2', '10:20')], { now }).channels;
  assert.deepEqual(channel.online, [{ start: at('10:00'), end: at('10:20') }]);
});

test('one clientId logging in and out several times has its sessions in time order, whatever the row order', () => {
  const rows = [logout('tab1', '11:00'), login('tab1', '10:00'), login('tab1', '10:50'), logout('tab1', '10:20')];
  const [client] = buildLoginReport(rows, { now }).channels[0].clients;
  assert.deepEqual(client.sessions, [
    { login: at('10:00'), logout: at('10:20'), seconds: 1200 },
    { login: at('10:50'), logout: at('11:00'), seconds: 600 },
  ]);
});

test('a session without logout yet is open and counts up to now', () => {
  const [channel] = buildLoginReport([login('tab1', '11:30')], { now }).channels;
  assert.deepEqual(channel.clients[0].sessions, [{ login: at('11:30'), logout: null, seconds: 1800 }]);
  assert.deepEqual(channel.online, [{ start: at('11:30'), end: now }]);
  assert.equal(channel.totalSeconds, 1800);
});

test('an open session that starts after now has not lasted yet', () => {
  const [channel] = buildLoginReport([login('tab1', '12:30')], { now }).channels;
  assert.deepEqual(channel.clients[0].sessions, [{ login: at('12:30'), logout: null, seconds: 0 }]);
  assert.equal(channel.totalSeconds, 0);
});

test('a logout without its login is an orphanLogout and counts no time', () => {
  const [channel] = buildLoginReport([logout('tab1', '10:05'), login('tab2', '10:00'), logout('tab2', '10:10')], { now }).channels;
  const tab1 = channel.clients.find((client) => client.clientId === 'tab1');
  assert.deepEqual(tab1, { clientId: 'tab1', sessions: [], anomalies: [{ kind: 'orphanLogout', at: at('10:05') }] });
  assert.equal(channel.totalSeconds, 600);
});

test('a second logout after a session is an orphanLogout too', () => {
  const [client] = buildLoginReport([login('tab1', '10:00'), logout('tab1', '10:10'), logout('tab1', '10:20')], { now }).channels[0].clients;
  assert.equal(client.sessions.length, 1);
  assert.deepEqual(client.anomalies, [{ kind: 'orphanLogout', at: at('10:20') }]);
});

test('a second login without logout between is a repeatedLogin; the session runs from the first login', () => {
  const [client] = buildLoginReport([login('tab1', '10:00'), login('tab1', '10:10'), logout('tab1', '10:30')], { now }).channels[0].clients;
  assert.deepEqual(client.sessions, [{ login: at('10:00'), logout: at('10:30'), seconds: 1800 }]);
  assert.deepEqual(client.anomalies, [{ kind: 'repeatedLogin', at: at('10:10'), loggedInSince: at('10:00') }]);
});

test('a login and logout in the same second make a zero-length session, whichever row comes first', () => {
  const [client] = buildLoginReport([logout('tab1', '10:00'), login('tab1', '10:00')], { now }).channels[0].clients;
  assert.deepEqual(client, { clientId: 'tab1', sessions: [{ login: at('10:00'), logout: at('10:00'), seconds: 0 }], anomalies: [] });
});

test('a tab that moves to another room of its lesson (logout and login in one second) stays logged in', () => {
  for (const rows of [
    [login('tab1', '10:00'), logout('tab1', '10:20'), login('tab1', '10:20')],
    [login('tab1', '10:00'), login('tab1', '10:20'), logout('tab1', '10:20')],
  ]) {
    const [channel] = buildLoginReport(rows, { now }).channels;
    assert.deepEqual(channel.clients[0].sessions, [
      { login: at('10:00'), logout: at('10:20'), seconds: 1200 },
      { login: at('10:20'), logout: null, seconds: 6000 },
    ]);
    assert.deepEqual(channel.clients[0].anomalies, []);
    assert.equal(channel.totalSeconds, 2 * 3600, 'the union runs on to now');
  }
});

test('channels and users are reported apart, ordered by channel then uid', () => {
  const rows = [login('a', '10:00', 30), logout('a', '10:10', 30), login('b', '10:00', 12, 2), login('c', '10:00', 12), logout('c', '10:01', 12)];
  const report = buildLoginReport(rows, { now });
  assert.deepEqual(report.channels.map((c) => [c.channelId, c.uid, c.totalSeconds]), [[12, 2, 7200], [12, uid, 60], [30, uid, 600]]);
});

test('a range counts only the part of each session inside it', () => {
  const rows = [
    login('early', '08:00'), logout('early', '09:00'), // wholly before: left out
    login('crossing', '09:30'), logout('crossing', '10:30'), // crosses from: 30 min count
    login('inside', '10:40'), logout('inside', '10:50'),
    login('open', '10:55'), // open, crosses to: counts up to to
    login('late', '11:30'), logout('late', '11:40'), // wholly after: left out
  ];
  const report = buildLoginReport(rows, { now, from: at('10:00'), to: at('11:00') });
  const [channel] = report.channels;
  assert.deepEqual(report.from, at('10:00'));
  assert.deepEqual(report.to, at('11:00'));
  assert.deepEqual(channel.clients.map((c) => c.clientId), ['crossing', 'inside', 'open']);
  assert.deepEqual(channel.clients[0].sessions, [{ login: at('09:30'), logout: at('10:30'), seconds: 1800 }], 'real times, counted part');
  assert.deepEqual(channel.clients[2].sessions, [{ login: at('10:55'), logout: null, seconds: 300 }]);
  assert.deepEqual(channel.online, [{ start: at('10:00'), end: at('10:30') }, { start: at('10:40'), end: at('10:50') }, { start: at('10:55'), end: at('11:00') }]);
  assert.equal(channel.totalSeconds, (30 + 10 + 5) * 60);
});

test('a session covering the whole range counts the whole range', () => {
  const [channel] = buildLoginReport([login('tab1', '08:00')], { now, from: at('10:00'), to: at('10:15') }).channels;
  assert.equal(channel.totalSeconds, 900);
});

test('sessions that only touch the range bounds count nothing and are left out', () => {
  const rows = [login('before', '09:00'), logout('before', '10:00'), login('after', '11:00'), logout('after', '11:10')];
  assert.deepEqual(buildLoginReport(rows, { now, from: at('10:00'), to: at('11:00') }).channels, []);
});

test('a range with only from or only to is open on the other side', () => {
  const rows = [login('tab1', '09:00'), logout('tab1', '10:00'), login('tab2', '11:00')];
  assert.equal(buildLoginReport(rows, { now, from: at('09:30') }).channels[0].totalSeconds, 30 * 60 + 3600);
  assert.equal(buildLoginReport(rows, { now, to: at('11:30') }).channels[0].totalSeconds, 3600 + 30 * 60);
});

test('anomalies are reported only when they happened inside the range', () => {
  const rows = [logout('tab1', '09:00'), logout('tab2', '10:30')];
  const [channel] = buildLoginReport(rows, { now, from: at('10:00'), to: at('11:00') }).channels;
  assert.deepEqual(channel.clients, [{ clientId: 'tab2', sessions: [], anomalies: [{ kind: 'orphanLogout', at: at('10:30') }] }]);
});

test('sessions are paired from all rows, even those before the range', () => {
  // Loading only rows inside the range would make the 10:30 logout an orphan; the report never guesses its login.
  const inside = buildLoginReport([logout('tab1', '10:30')], { now, from: at('10:00'), to: at('11:00') }).channels[0];
  assert.equal(inside.totalSeconds, 0);
  assert.equal(inside.clients[0].anomalies[0].kind, 'orphanLogout');
  const all = buildLoginReport([login('tab1', '09:00'), logout('tab1', '10:30')], { now, from: at('10:00'), to: at('11:00') }).channels[0];
  assert.equal(all.totalSeconds, 1800);
});

test('bad options and rows are refused with a message naming them', () => {
  assert.throws(() => buildLoginReport([], { now: new Date('x') }), /now must be a valid Date/);
  assert.throws(() => buildLoginReport([], { now, from: at('11:00'), to: at('10:00') }), { code: 'INVALID_OPTION', message: /from .* is after to/ });
  const badStatus = { ...login('tab1', '10:00'), status: 2 } as unknown as LoginLogRow;
  assert.throws(() => buildLoginReport([login('tab1', '09:00'), badStatus], { now }), /rows\[1\]: status must be 0 or 1, got 2/);
  const badTime = { ...login('tab1', '10:00'), t: '2024-03-01 10:00:00' } as unknown as LoginLogRow;
  assert.throws(() => buildLoginReport([badTime], { now }), /rows\[0\]: t must be a valid Date/);
});
