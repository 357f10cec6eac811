// <room>/user_list while the database is away: the list that could not be read
// is read again (less and less often) and sent once it can be, so that
// subscribers end with the room's real list, logged once, not per attempt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserListBroadcaster } from '../../lib/edge/user-list';
import { eventually } from '../support/presence-server';

describe('user_list during a database outage', () => {
  it('sends the final list once it can be read again, and logs the failure once', async () => {
    const sent: Array<{ count: number; user_list: number[] }> = [];
    const errors: unknown[] = [];
    let databaseUp = true;
    let reads = 0;
    let list = [1];
    const lists = new UserListBroadcaster({
      windowMs: 10,
      publish: (_channel, data) => sent.push(data),
      read: async () => {
        reads += 1;
        if (!databaseUp) throw new Error('connect ECONNREFUSED');
        return list;
      },
      onError: (error) => errors.push(error),
    });
    try {
      lists.changed('/rooms/1', [1]); // a quiet room: sent at once
      databaseUp = false;
      list = [1, 2];
      lists.changed('/rooms/1', [1, 2]); // within the window: the trailing read, which fails
      await eventually(() => reads >= 3, 2000, 'read again while the database is away');
      assert.deepEqual(sent, [{ count: 1, user_list: [1] }]);
      databaseUp = true;
      await eventually(() => sent.length === 2, 5000, 'the final list sent');
      assert.deepEqual(sent[1], { count: 2, user_list: [1, 2] });
      assert.equal(errors.length, 1, 'one log line for the outage');
      const readsWhenSent = reads;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(reads, readsWhenSent, 'no more reads once sent');
    } finally {
      await lists.flush();
    }
  });
});
