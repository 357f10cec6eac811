// What `faye-online webhooks status` reports, read from the tables alone (any
// machine with the database URL can ask, no server needed).
import type { Sequelize } from 'sequelize';
import { FayeOnlineError } from '../errors';
import { existingTables } from '../schema/layout';
import { CURSORS_TABLE, DEAD_LETTERS_TABLE, EVENTS_TABLE, WebhookState } from './state';

export interface WebhookStatus {
  /** False until a sender first started (the stream's row is created then). */
  started: boolean;
  cursorId: number;
  newestEventId: number;
  /** The kinds the sender sends (as it last said when taking the lease); null: not known yet. */
  kinds: string[] | null;
  /** Events after the cursor, of those kinds. */
  pending: number;
  /** Dead letters queued by `webhooks replay`. */
  replaying: number;
  delivered: number;
  dead: { count: number; firstId: number | null; lastId: number | null };
  /** Age of the oldest event waiting (pending or replaying), ms; 0 when none. */
  lagMs: number;
  retry: { attempts: number; failingSince: Date | null; nextAttemptAt: Date | null; lastError: string | null } | null;
  lease: { holder: string; until: Date; expired: boolean } | null;
}

/** Throws SCHEMA_NOT_MIGRATED naming the fix when the tables are missing. */
export async function assertWebhookTables(sequelize: Sequelize): Promise<void> {
  const wanted = [EVENTS_TABLE, CURSORS_TABLE, DEAD_LETTERS_TABLE];
  const present = await existingTables(sequelize, wanted);
  const missing = wanted.filter((t) => !present.includes(t));
  if (missing.length > 0) {
    throw new FayeOnlineError('SCHEMA_NOT_MIGRATED', `the webhook tables are not migrated (missing: ${missing.join(', ')}); run \`npx faye-online migrate up\` with the same --url`);
  }
}

export async function webhookStatus(sequelize: Sequelize, now: number): Promise<WebhookStatus> {
  await assertWebhookTables(sequelize);
  const state = new WebhookState(sequelize);
  const stream = await state.read();
  const counts = await state.counts(stream?.kinds ?? null);
  return {
    started: stream !== null,
    cursorId: stream?.cursorId ?? 0,
    newestEventId: counts.newestId,
    kinds: stream?.kinds ?? null,
    pending: stream ? counts.pending : 0,
    replaying: counts.replaying,
    delivered: stream?.deliveredCount ?? 0,
    dead: await state.deadSummary(),
    lagMs: counts.oldestPendingMs === null || !stream ? 0 : Math.max(0, now - counts.oldestPendingMs),
    retry: stream && stream.attempts > 0
      ? {
        attempts: stream.attempts,
        failingSince: stream.failingSinceMs === null ? null : new Date(stream.failingSinceMs),
        nextAttemptAt: stream.nextAttemptMs === null ? null : new Date(stream.nextAttemptMs),
        lastError: stream.lastError,
      }
      : null,
    lease: stream?.holder && stream.leaseUntilMs !== null ? { holder: stream.holder, until: new Date(stream.leaseUntilMs), expired: stream.leaseUntilMs <= now } : null,
  };
}
