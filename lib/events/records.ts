// Events written with the record they describe (lib/records): a login log row
// with its session_start/session_end, an engaged-time write with its
// engaged_start/engaged_end, in one transaction, so that neither is there
// without the other.
import type { Sequelize } from 'sequelize';
import type { Sql } from '../records/sql';
import type { PresenceRecordEvent } from './event';
import { atomically } from '../records/sql';
import { insertEvents } from './table';

export type RecordEvent = Omit<PresenceRecordEvent, 'seq' | 'clientId'> & { clientId?: string | null };

/** Runs `write` and, when `event` is given (events are on), inserts the event in the same transaction. */
export function withEvent<T>(sequelize: Sequelize, event: RecordEvent | false, write: (sql: Sql) => Promise<T>, sql: Sql): Promise<T> {
  return withEvents(sequelize, event && [event], write, sql);
}

/** withEvent for a statement that writes several records (a batch of login log rows): all of their events, in its transaction. */
export async function withEvents<T>(sequelize: Sequelize, events: readonly RecordEvent[] | false, write: (sql: Sql) => Promise<T>, sql: Sql): Promise<T> {
  if (!events || events.length === 0) return write(sql);
  return atomically(sequelize, async (transaction) => {
    const result = await write(sql.within(transaction));
    await insertEvents(sequelize, events.map((event) => ({ seq: null, ...event, clientId: event.clientId ?? null })), transaction);
    return result;
  });
}
