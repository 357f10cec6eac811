// The size check of incoming messages (lib/edge/message-size.ts) skips writing
// a message again when the text it was parsed from is too short to pass the
// limit. That rests on one bound: JSON.stringify(JSON.parse(text)) takes at
// most 6 bytes of UTF-8 per UTF-16 unit of the text. Checked here on the worst
// cases and on random texts (seeded).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import faye from 'faye';
import { readAuth } from '../../lib/core/auth';
import { bytesIfOver, mostBytes, noteParsed, noteParsedTexts } from '../../lib/edge/message-size';

const written = (text: string) => Buffer.byteLength(JSON.stringify(JSON.parse(text)));

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A random JSON text, biased to what grows when written again: short exponents, escapes, wide characters. */
function randomText(next: () => number, depth = 0): string {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  const kind = depth > 3 ? pick(['number', 'string']) : pick(['number', 'string', 'array', 'object', 'literal']);
  switch (kind) {
    case 'number': return pick(['1e20', '-1e20', '9e20', '1e-6', '-0', '1E2', '5e-324', '1e308', '1e400', '0.1', '123e18', '7']);
    case 'string': {
      const parts = Array.from({ length: Math.floor(next() * 6) }, () => pick(['a', 'é', '\\u00e9', '\\ud83d\\ude00', '😀', '\\n', '\\/', '\\u0000', '\\ud800', '\u2028', '\\"', '中']));
      return `"${parts.join('')}"`;
    }
    case 'array': return `[${Array.from({ length: Math.floor(next() * 5) }, () => randomText(next, depth + 1)).join(',')}]`;
    case 'object': return `{${Array.from({ length: Math.floor(next() * 4) }, (_, i) => `"k${i}":${randomText(next, depth + 1)}`).join(',')}}`;
    default: return pick(['true', 'false', 'null']);
  }
}

test('a message written again takes at most 6 bytes per character of the text it was parsed from', () => {
  for (const text of ['1e20', '[1e20,1e20,1e20]', '-1e20', '"\\u00e9"', '"😀"', '"中"', '1e-6', '{"a":9e20}']) {
    assert.ok(written(text) <= 6 * text.length, `${text}: ${written(text)} bytes from ${text.length} characters`);
  }
  const seed = Number(process.env.SIZE_SEED ?? 20261130);
  const next = random(seed);
  for (let i = 0; i < 20_000; i++) {
    const text = randomText(next);
    assert.ok(written(text) <= 6 * text.length, `seed ${seed}, text ${i}: ${text} takes ${written(text)} bytes`);
  }
});

test('a message parsed from a short text is not written again; a longer one, or one not parsed here, is measured', () => {
  const small = { channel: '/a', data: { text: 'hi' } };
  noteParsed(JSON.stringify(small), small);
  assert.equal(bytesIfOver(small, 8192), 0);

  const numbers = JSON.parse(`{"n":[${Array(2000).fill('1e20').join(',')}]}`) as object;
  noteParsed(`{"n":[${Array(2000).fill('1e20').join(',')}]}`, numbers);
  assert.equal(bytesIfOver(numbers, 8192), Buffer.byteLength(JSON.stringify(numbers)), 'measured: its text could pass the limit');
  assert.ok(bytesIfOver(numbers, 8192) > 8192);

  const unseen = { channel: '/b', data: 'x' };
  assert.equal(bytesIfOver(unseen, 8192), Buffer.byteLength(JSON.stringify(unseen)));

  const deep: Record<string, unknown> = {};
  let at = deep;
  for (let i = 0; i < 100_000; i++) at = (at.d = {}) as Record<string, unknown>;
  assert.equal(bytesIfOver(deep, 8192), Infinity, 'too deep to write: over any limit');
});

test('the adapter notes each message of every text it parses, one or a batch', () => {
  const adapter = new faye.NodeAdapter({ mount: '/faye' });
  let missing = false;
  noteParsedTexts(adapter, () => { missing = true; });
  assert.equal(missing, false, 'faye parses through the method the hook replaces');
  const parse = (adapter as unknown as { _parseJSON(text: string): unknown })._parseJSON.bind(adapter);
  const batch = parse('[{"channel":"/a"},{"channel":"/b"}]') as object[];
  assert.deepEqual(batch.map((message) => bytesIfOver(message, 8192)), [0, 0]);
  const one = parse('{"channel":"/c"}') as object;
  assert.equal(bytesIfOver(one, 8192), 0);
  assert.throws(() => parse('"text"'), /must contain an object or array/, 'Faye\'s own check still applies');
});

test('an auth is measured unless the text of its message shows it within 4096 bytes', () => {
  const auth = { room_channel: '/rooms/1', time_channel: '/lessons/1', current_user: { uid: 1, uname: 'ann' } };
  const short = JSON.parse(JSON.stringify({ channel: '/meta/connect', ext: {}, auth })) as { auth: unknown };
  noteParsed(JSON.stringify(short), short);
  assert.ok(mostBytes(short) <= 4096);
  assert.equal(readAuth(short.auth, { mostBytes: mostBytes(short) }).kind, 'valid');

  const padded = { ...auth, current_user: { uid: 1, uname: 'ann', note: 'x'.repeat(5000) } };
  const long = JSON.parse(JSON.stringify({ channel: '/meta/connect', auth: padded })) as { auth: unknown };
  noteParsed(JSON.stringify(long), long);
  assert.ok(mostBytes(long) > 4096);
  assert.deepEqual(readAuth(long.auth, { mostBytes: mostBytes(long) }), { kind: 'invalid', reason: 'auth is larger than 4096 bytes' });
  assert.deepEqual(readAuth(padded), { kind: 'invalid', reason: 'auth is larger than 4096 bytes' }, 'no hint: measured');
});
