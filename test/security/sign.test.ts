import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FayeOnlineError } from '../../lib/errors';
import { canonicalAuthPayload, signAuth, verifyAuth } from '../../lib/security';
import type { SignableAuth, SignedAuth, VerifyAuthResult } from '../../lib/security';

const secret = 'faye-online-example-secret-0123456789';
const signedAt = new Date('2023-11-14T22:13:20Z'); // unix 1700000000
const auth: SignableAuth = {
  room_channel: '/classes/4',
  time_channel: '/courses/5/lessons/1',
  current_user: { uid: 470700, uname: 'mvj3', avatar: '/a.png' },
};

// The vector shown in docs/security.md: computed once with Node's crypto,
// hard-coded so that any change of the canonical string breaks this test.
const vector = {
  expiresAt: 1700000000,
  payload: 'faye-online-auth-v1\n470700\nmvj3\n/classes/4\n/courses/5/lessons/1\n1700000000',
  signature: 'c8f263b3877c119b2075f15736abcce2632983617424fabba82c03b1706f28e6',
};

function signed(overrides: { expiresIn?: number; secret?: string | string[] } = {}): SignedAuth {
  return signAuth(auth, { secret: overrides.secret ?? secret, now: signedAt, expiresIn: overrides.expiresIn });
}

function secondsAfterSigning(seconds: number): Date {
  return new Date(signedAt.getTime() + seconds * 1000);
}

function assertFails(result: VerifyAuthResult, reason: string, messagePart?: RegExp): void {
  assert.equal(result.ok, false, `expected ${reason}, got ok`);
  if (result.ok) return;
  assert.equal(result.reason, reason, result.message);
  if (messagePart) assert.match(result.message, messagePart);
}

test('a signed auth verifies, keeps every field and does not change the original', () => {
  const result = signed();
  assert.equal(result.expires_at, 1700000000 + 12 * 3600);
  assert.match(result.signature, /^[0-9a-f]{64}$/);
  assert.deepEqual(result.current_user, auth.current_user);
  assert.notEqual(result.current_user, auth.current_user);
  assert.equal('signature' in auth, false);
  assert.deepEqual(verifyAuth(result, { secret, now: secondsAfterSigning(60) }), { ok: true });
});

test('the auth survives the trip through JSON, as it does from the page to the server', () => {
  const wire: unknown = JSON.parse(JSON.stringify(signed()));
  assert.deepEqual(verifyAuth(wire, { secret, now: secondsAfterSigning(1) }), { ok: true });
});

test('the canonical string and signature match the vector shown in docs/security.md', () => {
  assert.equal(canonicalAuthPayload(auth, vector.expiresAt), vector.payload);
  const result = signAuth(auth, { secret, now: new Date((vector.expiresAt - 3600) * 1000), expiresIn: 3600 });
  assert.equal(result.expires_at, vector.expiresAt);
  assert.equal(result.signature, vector.signature);
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'security.md'), 'utf8');
  assert.ok(doc.includes(vector.signature), 'docs/security.md shows the same signature');
  assert.ok(doc.includes(`\n${vector.payload}\n`), 'docs/security.md shows the same payload');
});

const ruby = spawnSync('ruby', ['--version'], { encoding: 'utf8' });
const rubySkip = ruby.status === 0 ? false : 'ruby is not installed on this machine, so the Ruby snippet of docs/security.md was not run; the Node vector above still pins the format';

test('the Ruby snippet from docs/security.md produces the same signature', { skip: rubySkip }, () => {
  const script = [
    'require "openssl"',
    'secret = ARGV[0]',
    'expires_at = 1700000000',
    'payload = ["faye-online-auth-v1", 470700, "mvj3", "/classes/4", "/courses/5/lessons/1", expires_at].join("\\n")',
    'print OpenSSL::HMAC.hexdigest("SHA256", secret, payload)',
  ].join('\n');
  const run = spawnSync('ruby', ['-e', script, secret], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, vector.signature);
});

test('a uid rendered as a decimal string signs and verifies as the number: the server reads both the same way', () => {
  const asNumber = signed();
  const asString = { ...asNumber, current_user: { ...asNumber.current_user, uid: '470700' } };
  assert.deepEqual(verifyAuth(asString, { secret, now: signedAt }), { ok: true });
  const signedFromString = signAuth({ ...auth, current_user: { ...auth.current_user, uid: '470700' as unknown as number } }, { secret, now: signedAt });
  assert.equal(signedFromString.signature, asNumber.signature);
});

test('a uname outside ASCII is signed as its UTF-8 bytes', () => {
  const wang = signAuth({ ...auth, current_user: { uid: 1, uname: '王小明' } }, { secret, now: signedAt });
  assert.deepEqual(verifyAuth(JSON.parse(JSON.stringify(wang)), { secret, now: signedAt }), { ok: true });
});

test('changing any signed field is reported as tampered', () => {
  const original = signed();
  const changes: Array<[string, SignedAuth]> = [
    ['uid', { ...original, current_user: { ...original.current_user, uid: 1 } }],
    ['uname', { ...original, current_user: { ...original.current_user, uname: 'someone' } }],
    ['room_channel', { ...original, room_channel: '/classes/5' }],
    ['time_channel', { ...original, time_channel: '/courses/5/lessons/2' }],
    ['expires_at', { ...original, expires_at: original.expires_at + 3600 }],
    ['signature', { ...original, signature: original.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) }],
  ];
  for (const [field, changed] of changes) {
    const result = verifyAuth(changed, { secret, now: signedAt });
    assert.equal(result.ok ? 'ok' : result.reason, 'tampered', `after changing ${field}`);
  }
});

test('extra keys of current_user are not signed, so changing them keeps the signature valid', () => {
  const original = signed();
  const changed = { ...original, current_user: { ...original.current_user, avatar: '/b.png' } };
  assert.deepEqual(verifyAuth(changed, { secret, now: signedAt }), { ok: true });
});

test('a signature replayed for another user, room or time channel is refused', () => {
  const mine = signed();
  const other = signAuth({ ...auth, current_user: { uid: 2, uname: 'eve' } }, { secret, now: signedAt });
  const stolen = { ...other, signature: mine.signature, expires_at: mine.expires_at };
  assertFails(verifyAuth(stolen, { secret, now: signedAt }), 'tampered');
  assertFails(verifyAuth({ ...mine, room_channel: '/classes/99' }, { secret, now: signedAt }), 'tampered');
  assertFails(verifyAuth({ ...mine, time_channel: '/courses/9/lessons/9' }, { secret, now: signedAt }), 'tampered');
});

test('a field that moves to its neighbour does not produce the same signed string', () => {
  const a = signAuth({ ...auth, room_channel: '/a', time_channel: '/b/c' }, { secret, now: signedAt });
  const swapped = { ...a, room_channel: '/a/b', time_channel: '/c' };
  assertFails(verifyAuth(swapped, { secret, now: signedAt }), 'tampered');
  assert.throws(() => signAuth({ ...auth, current_user: { uid: 1, uname: 'x\n/classes/4' } }, { secret }), /line break/);
});

test('a signature made with another secret is tampered', () => {
  const result = signed({ secret: 'another-secret-of-enough-length' });
  assertFails(verifyAuth(result, { secret, now: signedAt }), 'tampered', /another secret/);
});

test('an auth past expires_at plus the clock skew is expired', () => {
  const result = signed({ expiresIn: 600 });
  assert.deepEqual(verifyAuth(result, { secret, now: secondsAfterSigning(600) }), { ok: true });
  assert.deepEqual(verifyAuth(result, { secret, now: secondsAfterSigning(660) }), { ok: true }, 'within the default 60 s of skew');
  assertFails(verifyAuth(result, { secret, now: secondsAfterSigning(661) }), 'expired', /expired at 2023-11-14T22:23:20\.000Z .*60 s of clock skew/);
});

test('the clock skew allowance is configurable, including none', () => {
  const result = signed({ expiresIn: 600 });
  assertFails(verifyAuth(result, { secret, now: secondsAfterSigning(600.5), clockSkew: 0 }), 'expired');
  assert.deepEqual(verifyAuth(result, { secret, now: secondsAfterSigning(900), clockSkew: 300 }), { ok: true });
  assert.throws(() => verifyAuth(result, { secret, clockSkew: -1 }), { code: 'INVALID_OPTION' });
});

test('a tampered and expired auth is reported as tampered, the more serious of the two', () => {
  const result = { ...signed({ expiresIn: 1 }), room_channel: '/classes/5' };
  assertFails(verifyAuth(result, { secret, now: secondsAfterSigning(3600) }), 'tampered');
});

test('an auth without signature and expires_at is unsigned', () => {
  assertFails(verifyAuth(auth, { secret }), 'unsigned', /signAuth/);
});

test('half a signature is malformed, not unsigned', () => {
  const noSignature: Record<string, unknown> = { ...signed() };
  delete noSignature.signature;
  const noExpiry: Record<string, unknown> = { ...signed() };
  delete noExpiry.expires_at;
  assertFails(verifyAuth(noSignature, { secret, now: signedAt }), 'malformed', /auth\.signature/);
  assertFails(verifyAuth(noExpiry, { secret, now: signedAt }), 'malformed', /auth\.expires_at/);
});

test('values of the wrong type or size are malformed, with a message naming the field', () => {
  const good = signed();
  const cases: Array<[unknown, RegExp]> = [
    [null, /auth must be an object, got null/],
    ['token', /auth must be an object/],
    [{ ...good, signature: 12345 }, /auth\.signature .* got the number 12345/],
    [{ ...good, signature: good.signature.toUpperCase() }, /auth\.signature must be 64 lowercase hex/],
    [{ ...good, signature: good.signature.slice(1) }, /auth\.signature/],
    [{ ...good, signature: 'a'.repeat(1_000_000) }, /a string of 1000000 characters/],
    [{ ...good, expires_at: String(good.expires_at) }, /auth\.expires_at must be a whole number of unix seconds, got the string/],
    [{ ...good, expires_at: 1.5 }, /auth\.expires_at/],
    [{ ...good, expires_at: -1 }, /auth\.expires_at/],
    [{ ...good, expires_at: 1e300 }, /auth\.expires_at/],
    [{ ...good, expires_at: Number.MAX_SAFE_INTEGER }, /milliseconds/],
    [{ ...good, expires_at: Date.now() + 3_600_000 }, /milliseconds/],
    [{ ...good, current_user: 'mvj3' }, /auth\.current_user must be an object/],
    [{ ...good, current_user: { ...good.current_user, uid: '0470700' } }, /auth\.current_user\.uid must be a positive integer/],
    [{ ...good, current_user: { ...good.current_user, uid: '470700.0' } }, /auth\.current_user\.uid/],
    [{ ...good, current_user: { ...good.current_user, uid: ' 470700' } }, /auth\.current_user\.uid/],
    [{ ...good, current_user: { ...good.current_user, uid: 2147483648 } }, /up to 2147483647/],
    [{ ...good, current_user: { ...good.current_user, uid: 2 ** 60 } }, /auth\.current_user\.uid/],
    [{ ...good, current_user: { ...good.current_user, uid: 0 } }, /auth\.current_user\.uid/],
    [{ ...good, current_user: { uid: 470700 } }, /auth\.current_user\.uname must be a non-empty string, got nothing/],
    [{ ...good, room_channel: ['/classes/4'] }, /auth\.room_channel .* got an array/],
    [{ ...good, time_channel: undefined }, /auth\.time_channel/],
  ];
  for (const [input, message] of cases) {
    assertFails(verifyAuth(input, { secret, now: signedAt }), 'malformed', message);
  }
});

test('signing refuses an auth it could not sign unambiguously', () => {
  const bad = { ...auth, current_user: { uid: -3, uname: 'x' } } as SignableAuth;
  assert.throws(() => signAuth(bad, { secret }), (error: unknown) => error instanceof FayeOnlineError && error.code === 'INVALID_AUTH' && /uid/.test(error.message));
});

test('an empty or short secret is refused with INVALID_OPTION', () => {
  for (const weak of ['', 'short', '15-bytes-secret', Buffer.alloc(8), []]) {
    assert.throws(() => signAuth(auth, { secret: weak }), (error: unknown) => error instanceof FayeOnlineError && error.code === 'INVALID_OPTION');
    assert.throws(() => verifyAuth(signed(), { secret: weak }), { code: 'INVALID_OPTION' });
  }
  assert.throws(() => signAuth(auth, { secret: [secret, 'short'] }), /secret\[1\] must be at least 16 bytes/);
  assert.throws(() => signAuth(auth, { secret: 42 as unknown as string }), /secret must be a string or a Buffer, got the number 42/);
  assert.doesNotThrow(() => signAuth(auth, { secret: '16-bytes-secret!' }));
});

test('a Buffer secret signs like the string of the same bytes', () => {
  assert.equal(signAuth(auth, { secret: Buffer.from(secret), now: signedAt }).signature, signed().signature);
});

test('expiresIn and now are checked', () => {
  for (const expiresIn of [0, -5, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => signAuth(auth, { secret, expiresIn }), /expiresIn must be a positive whole number of seconds/);
  }
  assert.throws(() => signAuth(auth, { secret, now: new Date('nope') }), { code: 'INVALID_OPTION' });
  assert.throws(() => verifyAuth(signed(), { secret, now: 1700000000 as unknown as Date }), /now must be a valid Date/);
});

test('with rotated secrets the first signs and any of them verifies', () => {
  const oldSecret = 'the-old-secret-being-retired';
  const newSecret = 'the-new-secret-now-signing';
  const byOld = signAuth(auth, { secret: oldSecret, now: signedAt });
  const byRotation = signAuth(auth, { secret: [newSecret, oldSecret], now: signedAt });
  assert.equal(byRotation.signature, signAuth(auth, { secret: newSecret, now: signedAt }).signature);
  assert.deepEqual(verifyAuth(byOld, { secret: [newSecret, oldSecret], now: signedAt }), { ok: true });
  assert.deepEqual(verifyAuth(byRotation, { secret: [newSecret, oldSecret], now: signedAt }), { ok: true });
  assertFails(verifyAuth(byOld, { secret: [newSecret], now: signedAt }), 'tampered');
});
