// Group commit (lib/records/group-commit.ts) on its own: what it batches and
// what it does not hold back. Counts of batches, not durations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from '../../lib/records/group-commit';

const tick = () => new Promise((resolve) => setImmediate(resolve));

function recorder(windowMs: number) {
  const batches: number[][] = [];
  const commit = new GroupCommit<number, number>(async (batch) => {
    batches.push(batch.map((entry) => entry.item));
    for (const entry of batch) entry.resolve(entry.item * 10);
  }, { maxBatch: 100, windowMs });
  return { commit, batches };
}

describe('group commit', () => {
  it('writes asked for in one tick go out together, each caller with its own result', async () => {
    const { commit, batches } = recorder(0);
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => commit.add(n))), [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('under load, what arrives during a window waits for the next batch and goes out with the rest', async () => {
    const { commit, batches } = recorder(2000); // far longer than 20 turns of the event loop
    const first = [commit.add(1), commit.add(2)];
    await Promise.all(first);
    const later: Array<Promise<number>> = [];
    for (let n = 3; n <= 22; n++) {
      later.push(commit.add(n));
      await tick();
    }
    assert.equal(batches.length, 1, 'nothing more within the window');
    await Promise.all(later);
    assert.deepEqual(batches, [[1, 2], Array.from({ length: 20 }, (_, i) => i + 3)]);
  });

  it('a batch may ask for a longer window before the next one (a crowded room), and the next batch may give it back', async () => {
    const batches: number[][] = [];
    const asks = [2000, undefined]; // far longer than 20 turns of the event loop, then nothing
    const commit = new GroupCommit<number, number>(async (batch) => {
      batches.push(batch.map((entry) => entry.item));
      for (const entry of batch) entry.resolve(entry.item);
      return asks.shift();
    }, { maxBatch: 100, windowMs: 0 });
    await commit.add(1);
    await tick(); // the batch's answer is read once its write returns, after it settled its entries
    assert.equal(commit.windowNow, 2000);
    const held = [commit.add(2)];
    for (let i = 0; i < 20; i++) await tick();
    assert.deepEqual(batches, [[1]], 'the asked window holds the next batch back');
    held.push(commit.add(3));
    await Promise.all(held);
    await tick();
    assert.deepEqual(batches, [[1], [2, 3]]);
    assert.equal(commit.windowNow, 0, 'a batch that asks nothing gets the configured window');
    await commit.add(4);
    assert.deepEqual(batches, [[1], [2, 3], [4]]);
  });

  it('a failed batch fails the writes it did not settle, and the next batch goes on', async () => {
    let calls = 0;
    const commit = new GroupCommit<number, number>(async (batch) => {
      calls += 1;
      if (calls === 1) {
        batch[0].resolve(1);
        throw new Error('connection lost');
      }
      for (const entry of batch) entry.resolve(entry.item);
    }, { maxBatch: 100, windowMs: 0 });
    const results = await Promise.allSettled([commit.add(1), commit.add(2)]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    assert.equal(await commit.add(3), 3);
  });
});
