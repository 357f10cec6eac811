// A running server's reports ask the engine which clientIds are alive. Faye's
// callback can only answer yes or no, so the Redis engine is asked through a
// check that rejects when Redis fails: a report then fails instead of showing
// live pages as gone (which a cleanup would log out).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientExistsOn, engineLiveness } from '../../lib/reports';

test("Faye's callback engine: the clientIds it answers yes for", async () => {
  const engine = { clientExists: (clientId: string, callback: (exists: boolean) => void) => setImmediate(() => callback(clientId !== 'gone')) };
  assert.deepEqual([...(await engineLiveness(clientExistsOn(engine))(['a', 'gone', 'b']))], ['a', 'b']);
});

test('a check that cannot tell rejects the whole answer rather than calling a page gone', async () => {
  const check = async (clientId: string) => {
    if (clientId === 'unknown') throw new Error('Redis read timed out');
    return clientId !== 'gone';
  };
  assert.deepEqual([...(await engineLiveness(check)(['a', 'gone']))], ['a']);
  await assert.rejects(engineLiveness(check)(['a', 'unknown', 'gone']), /Redis read timed out/);
});
