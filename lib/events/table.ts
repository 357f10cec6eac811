// Writing faye_online_events: an insert that keeps one row per event_key
// (INSERT IGNORE on MySQL/MariaDB, INSERT OR IGNORE on SQLite), so that writing
// an event again (a retry, a second drainer, a reconciliation repeating a dead
// process's work) changes nothing.
import type { Sequelize, Transaction } from 'sequelize';
import { QueryTypes } from 'sequelize';
import { formatDateTime } from '../records/legacy-format';
import { EVENTS_TABLE, eventKey, type PresenceRecordEvent } from './event';

const COLUMNS = '(event_key, kind, user_id, channel, occurred_ms, reason, seq, client_id, created_at)';

/** Inserts the events that are not there yet; resolves to how many rows were new. */
export async function insertEvents(sequelize: Sequelize, events: readonly PresenceRecordEvent[], transaction?: Transaction): Promise<number> {
  if (events.length === 0) return 0;
  const verb = sequelize.getDialect() === 'sqlite' ? 'INSERT OR IGNORE' : 'INSERT IGNORE';
  const now = formatDateTime(new Date());
  const replacements = events.flatMap((e) => [eventKey(e), e.kind, e.uid, e.channel.slice(0, 255), e.occurredMs, e.reason?.slice(0, 32) ?? null, e.seq, e.clientId?.slice(0, 64) ?? null, now]);
  const rows = events.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  const [, affected] = await sequelize.query(`${verb} INTO ${EVENTS_TABLE} ${COLUMNS} VALUES ${rows}`, { replacements, type: QueryTypes.INSERT, transaction });
  return Number(affected ?? 0);
}
