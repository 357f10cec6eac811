// Hostile traffic, finding 5: the smaller findings. One text rule for unames
// (well-formed, no C1 controls, no line separators) shared by signing and
// reading, handle methods that check their arguments and never write, a
// reports hook that must say exactly true, and no blank secret.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readAuth } from '../../lib/core/auth';
import { isFayeOnlineError } from '../../lib/errors';
import { resolveOptions } from '../../lib/options';
import { AUTH_SIGNATURE_VERSION, signAuth, verifyAuth } from '../../lib/security';
import { assertOneLineError, cli } from '../support/cli';
import { auth, startPresenceServer, type PresenceServer } from '../support/presence-server';
import { rawConnect, rawHandshake, recordingLogger, writtenState } from './support';

const SECRET = 'hygiene-suite-secret-0123456789abcdef';

const hostileUnames: Array<[string, string]> = [
  ['a lone high surrogate', 'ann\ud800'],
  ['a lone low surrogate', '\udc00ann'],
  ['U+0085 (next line)', 'ann\u0085bob'],
  ['U+009B (terminal escape)', 'ann\u009b31m'],
  ['U+2028 (line separator)', 'ann\u2028bob'],
  ['U+2029 (paragraph separator)', 'ann\u2029bob'],
];

describe('one text rule for unames, shared by signing and reading', () => {
  for (const [name, uname] of hostileUnames) {
    test(`a uname with ${name} is neither signed, verified nor read`, () => {
      const wire = auth(7, uname, '/h/r', '/h/t') as Parameters<typeof signAuth>[0];
      assert.throws(() => signAuth(wire, { secret: SECRET }), (error) => isFayeOnlineError(error, 'INVALID_AUTH'));
      const reading = readAuth(wire);
      assert.equal(reading.kind, 'invalid');
    });
  }

  test('a signature made for U+FFFD does not verify a uname with a lone surrogate', () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    // What Node's UTF-8 encoder makes of the lone surrogate: the bytes of U+FFFD.
    const payload = [AUTH_SIGNATURE_VERSION, '7', 'ann\ufffd', '/h/r', '/h/t', String(expiresAt)].join('\n');
    const signature = createHmac('sha256', SECRET).update(payload, 'utf8').digest('hex');
    const wire = { ...auth(7, 'ann\ud800', '/h/r', '/h/t'), expires_at: expiresAt, signature };
    const verdict = verifyAuth(wire, { secret: SECRET });
    assert.equal(verdict.ok, false);
    assert.match(verdict.ok ? '' : verdict.message, /well-formed/);
    // The honest U+FFFD uname still verifies: the rule refuses only what is not what it seems.
    assert.deepEqual(verifyAuth({ ...wire, current_user: { uid: 7, uname: 'ann\ufffd' } }, { secret: SECRET }), { ok: true });
  });

  test('a blank secret is an error, in the options, signAuth and the command line', async () => {
    assert.throws(() => resolveOptions({ secret: ' '.repeat(32) }), /`secret`: is blank/);
    assert.throws(() => resolveOptions({ secret: ['0123456789abcdef0123', '\t'.repeat(20)] }), /`secret`: is blank/);
    assert.throws(() => signAuth(auth(1, 'a', '/h/r', '/h/t') as Parameters<typeof signAuth>[0], { secret: ' '.repeat(20) }), /blank/);
    const run = await cli(['serve', '--port', '0'], { FAYE_ONLINE_SECRET: '    ' });
    assertOneLineError(run, /\(FAYE_ONLINE_SECRET\) is blank/);
  });
});

describe('hostile unames and handle arguments against a server', () => {
  let server: PresenceServer;
  const log = recordingLogger();
  before(async () => {
    server = await startPresenceServer('sqlite+memory', {
      logger: log.logger,
      reports: { authorize: (req) => (({ yes: 'yes', object: {}, one: 1, true: true }) as Record<string, unknown>)[String(req.query.as)] as boolean },
    });
  });
  after(() => server.close());

  test('a connect with a hostile uname is refused with 401 and writes nothing', async () => {
    const before = await writtenState(server);
    for (const [, uname] of hostileUnames) {
      const clientId = await rawHandshake(server);
      const reply = await rawConnect(server, clientId, auth(8, uname, '/h/rooms/1', '/h/lessons/1'));
      assert.equal(reply.successful, false);
      assert.match(String(reply.error), /^401::Invalid auth - current_user\.uname must/);
    }
    assert.deepEqual(await writtenState(server), before);
  });

  test('every handle read refuses a wrong argument with a FayeOnlineError', async () => {
    const h = server.handle as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const calls: Array<[string, unknown[]]> = [
      ['onlineUsers', [undefined]], ['onlineUsers', ['']], ['onlineUsers', ['lobby']], ['onlineUsers', [{}]],
      ['onlineCount', [null]], ['members', ['lobby']], ['members', ['/a/../b']], ['presenceState', [42]],
      ['onlineTime', [NaN, '/h/t']], ['onlineTime', [1.5, '/h/t']], ['onlineTime', ['1', '/h/t']], ['onlineTime', [1, undefined]],
      ['engagedTime', [-1, '/h/t']], ['engagedTime', [1, 'x']],
    ];
    for (const [method, args] of calls) {
      await assert.rejects(h[method](...args), (error) => isFayeOnlineError(error, 'INVALID_ARGUMENT') && error.message.startsWith(`${method}:`), `${method}(${String(args)})`);
    }
  });

  test('reads never write: asking about rooms nobody joined inserts no faye_channels row', async () => {
    const before = await server.query('SELECT COUNT(*) AS n FROM faye_channels');
    const statements = server.sql.statements.length;
    for (let i = 0; i < 20; i++) {
      const room = `/h/nobody/${i}`;
      assert.deepEqual(await server.handle.onlineUsers(room), []);
      assert.equal(await server.handle.onlineCount(room), 0);
      assert.deepEqual(await server.handle.members(room), []);
      assert.deepEqual((await server.handle.presenceState(room)).members, []);
      assert.equal((await server.handle.onlineTime(5, room)).totalSeconds, 0);
      assert.equal((await server.handle.engagedTime(5, room)).totalSeconds, 0);
    }
    assert.deepEqual(await server.query('SELECT COUNT(*) AS n FROM faye_channels'), before);
    const writes = server.sql.statements.slice(statements).filter((sql) => !/^\s*SELECT/i.test(sql));
    assert.deepEqual(writes, []);
  });

  test('the reports open only for a hook that returns exactly true', async () => {
    const base = server.url.replace(/\/faye$/, '/faye-online/api/status');
    for (const as of ['yes', 'object', 'one']) {
      const response = await fetch(`${base}?as=${as}`);
      assert.equal(response.status, 403, as);
    }
    assert.equal((await fetch(`${base}?as=true`)).status, 400, 'authorized: the unknown parameter is what is refused now');
  });
});
