// After a crash of an embedded (single-process) server, the database may still
// show users online with running timers; the next start repairs that.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Records, openDatabase } from '../../lib/records';
import { migrate } from '../../lib/schema';
import { createBacking, startPresenceServer } from '../support/presence-server';
import { onlineTimes, userInfoList } from './sql-helpers';

test('a restart after a crash empties the stale lists and stops the stale timers', async () => {
  const backing = await createBacking('sqlite+memory');
  try {
    // What a crashed run left behind.
    const sequelize = openDatabase(backing.databaseUrl);
    await migrate(sequelize, 'up');
    const records = new Records({ sequelize });
    await records.addToOnlineList('/crash/room', 7);
    await records.startTimer(7, '/crash/lesson', new Date(Date.now() - 60_000));
    await sequelize.close();

    const server = await startPresenceServer('sqlite+memory', {}, backing);
    try {
      await server.handle.settled();
      assert.equal(await userInfoList(server, '/crash/room'), '[]');
      const times = JSON.parse((await onlineTimes(server, 7))!);
      assert.equal(times['/crash/lesson_started_at'], undefined);
      assert.ok(times['/crash/lesson_spended'] >= 60, 'stopped at the restart: the crash time is unknown');
    } finally {
      await server.close();
    }
  } finally {
    await backing.release();
  }
});
