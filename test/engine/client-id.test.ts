// New clientIds: Faye's form (31 base-36 digits, about 160 bits), drawn evenly
// and without Faye's slow base converter, on both engines.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import faye from 'faye';
import { clientIdsOf, newClientId } from '../../lib/engine/client-id';
import { createAdapter } from '../../lib/edge/faye-server';
import { resolveOptions } from '../../lib/options';

describe('new clientIds', () => {
  test('have Faye\'s form, are distinct, and use every digit evenly', () => {
    const ids = Array.from({ length: 20_000 }, newClientId);
    for (const id of ids) assert.match(id, /^[0-9a-z]{31}$/);
    assert.equal(new Set(ids).size, ids.length);
    const counts = new Array<number>(36).fill(0);
    for (const id of ids) for (const digit of id) counts[parseInt(digit, 36)] += 1;
    const expected = (20_000 * 31) / 36;
    // About 17,222 per digit; 5% is more than 10 standard deviations.
    for (const count of counts) assert.ok(Math.abs(count - expected) < expected * 0.05, `a digit drawn ${count} times, ${expected.toFixed(0)} expected`);
  });

  test('Faye\'s memory engine draws them, skipping an id in use', () => {
    const adapter = new faye.NodeAdapter({ mount: '/faye' });
    const engine = adapter._server._engine._engine as { _namespace: { _used: Set<string>; generate(): string } };
    const fayeGenerate = engine._namespace.generate;
    clientIdsOf(engine);
    assert.notEqual(engine._namespace.generate, fayeGenerate);
    const id = engine._namespace.generate();
    assert.match(id, /^[0-9a-z]{31}$/);
    assert.ok(engine._namespace._used.has(id), 'the id is marked as used');
  });

  test('a server on the memory engine gets them (createAdapter)', () => {
    const adapter = createAdapter(resolveOptions({}), {});
    const engine = adapter._server._engine._engine as { _namespace: { generate(): string } };
    // Faye's method is on the namespace's prototype; the replacement is the namespace's own.
    assert.ok(Object.hasOwn(engine._namespace, 'generate'));
    assert.match(engine._namespace.generate(), /^[0-9a-z]{31}$/);
  });
});
