// needs: mysql
// After a crash that took many users of a crowded room with it, the repair
// pass sends the room's repairs and the timer stops all at once, each in its
// user's queue, so that the records write them in batches: one after another,
// each would wait for the room's window (0.05 ms per member) and the pass
// would take minutes. The counts are exact: every repair reaches the records
// within one turn of the event loop.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { reconcile } from '../../lib/core/reconcile';
import { silentLogger } from '../../lib/log';
import { countStatements, Records } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { MemoryStore } from '../../lib/stores/memory-store';
import { createMariadbBackend, type TestBackend } from '../support/databases';

const ROOM = '/rooms/crowded';
const LESSON = '/lessons/crowded';
const GONE = Array.from({ length: 600 }, (_, i) => 700_000 + i);

let backend: TestBackend;
let records: Records;

before(async () => {
  backend = await createMariadbBackend('reconcile_batches');
  const sequelize = backend.open();
  await migrate(sequelize, 'up');
  records = new Records({ sequelize, timeZone: 'UTC' });
});

after(() => backend.cleanup());

test("600 users a dead process left in a room's list and timers: one list write and two timer writes", async () => {
  const started = new Date('2026-12-01T08:00:00Z');
  await Promise.all(GONE.map((uid) => Promise.all([records.addToOnlineList(ROOM, uid), records.startTimer(uid, LESSON, started)])));
  const store = new MemoryStore(32); // the store knows none of them: their process died
  const counter = countStatements(records.sequelize);
  const queued: number[] = [];
  const listsPublished: number[][] = [];
  const report = await reconcile({
    store, records, logger: silentLogger, engagement: false,
    clock: { now: () => started.getTime() + 60_000, after: () => ({ cancel() {} }) },
    clientExists: async () => false,
    localClientIds: () => [],
    departOrphan: async () => false,
    forUser: (uid, task) => {
      queued.push(uid);
      return task();
    },
    onListChanged: (_room, list) => listsPublished.push(list),
  });
  counter.stop();
  assert.deepEqual(report.lists, [{ room: ROOM, added: [], removed: GONE }]);
  assert.deepEqual(report.timersStopped, GONE.map((uid) => ({ uid, timeChannel: LESSON })), 'reported in the order the timers were found');
  assert.equal(queued.length, 1200, 'each repair and each stop in its user\'s queue');
  const writes = counter.statements.filter((sql) => /^(UPDATE|INSERT)/.test(sql)).map((sql) => /faye_\w+/.exec(sql)![0]);
  assert.deepEqual(writes.sort(), ['faye_channel_online_lists', 'faye_user_online_times', 'faye_user_online_times'], '500 timers per UPDATE');
  assert.deepEqual(listsPublished, [[]]);
  assert.equal(JSON.parse((await backend.rows<{ l: string }>('SELECT user_info_list AS l FROM faye_channel_online_lists'))[0].l).length, 0);
  const times = await backend.rows<{ t: string }>('SELECT online_times AS t FROM faye_user_online_times WHERE user_id = ?', [GONE[599]]);
  assert.equal(times[0].t, `{"${LESSON}_spended":60}`);
});
