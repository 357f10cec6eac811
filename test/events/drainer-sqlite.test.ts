// The drainer on the embedded database (an SQLite file): two drainers racing
// over the same outbox entries write each event once (INSERT OR IGNORE on the
// unique event_key), and a drain repeated after its insert adds nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../lib/core/clock';
import { EventDrainer, MemoryOutbox } from '../../lib/events';
import { silentLogger } from '../../lib/log';
import { openDatabase } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { createTestSqlite } from '../support/sqlite';

test('two drainers racing on SQLite write each event once, and a repeated drain nothing more', async () => {
  const file = createTestSqlite();
  const sequelize = openDatabase(file.url);
  try {
    await migrate(sequelize, 'up');
    const outbox = new MemoryOutbox();
    for (let i = 0; i < 30; i++) outbox.append({ kind: i % 2 ? 'leave' : 'join', uid: 1, channel: '/sqlite/race', occurredMs: Date.UTC(2026, 10, 20) + i, reason: 'connect', seq: i + 1, clientId: null });
    const kept = await outbox.peek(30);
    const drainer = () => new EventDrainer({ outbox, sequelize, logger: silentLogger, clock: systemClock, intervalMs: 60_000, batchSize: 7 });
    const written = await Promise.all([drainer().drain(), drainer().drain()]);
    assert.equal(written[0] + written[1], 30, 'new rows between the two');
    const count = async () => Number(((await sequelize.query("SELECT COUNT(*) AS n FROM faye_online_events WHERE channel = '/sqlite/race'"))[0] as Array<{ n: number }>)[0].n);
    assert.equal(await count(), 30);
    assert.deepEqual(await outbox.stats(), { length: 0, dropped: 0 });
    // The same entries again, as after a process died between the insert and the removal.
    for (const entry of kept) (outbox as unknown as { entries: string[] }).entries.push(entry);
    assert.equal(await drainer().drain(), 0);
    assert.equal(await count(), 30);
  } finally {
    await sequelize.close();
    file.remove();
  }
});
