// `faye-online webhooks status|replay`: the webhook sender's state, and sending
// events again (dead letters, or everything from an event id or a time).
// Read from and written to the database directly: no server is needed, and
// the running sender picks the change up at its next step.
import type { Sequelize } from 'sequelize';
import { describeDatabase, openDatabase } from '../records/database';
import { WebhookState } from '../webhooks/state';
import { assertWebhookTables, webhookStatus, type WebhookStatus } from '../webhooks/status';
import { dbTimeoutMs, EXIT_FAILURE, EXIT_OK, readCommandLine, usageError, waitingForDatabase, withProgress, type CliIo, type Command } from './command';
import { plural } from './table';

const help = `Usage: faye-online webhooks status [--url DATABASE_URL] [--json]
       faye-online webhooks replay (--dead | --from-id N | --since TIME) [--url DATABASE_URL] [--yes]

  status  what the webhook sender has left to do: pending events, dead letters,
          delivered so far, lag (age of the oldest waiting event), the retry in
          progress, and which process holds the lease (is the sender)
  replay  send events again: --dead queues every dead letter (they go out before
          the stream's next batch); --from-id N or --since TIME moves the stream
          back so that every event from there on is sent again (receivers drop
          the ones they had by their idempotency_key). Shows what it would do and
          asks; without a terminal, or to skip the question, pass --yes

Options:
  --url URL      mysql://user:pass@host:3306/db or sqlite:/abs/path.sqlite
                 (default: the DATABASE_URL environment variable)
  --json         status as JSON
  --dead         replay every dead letter
  --from-id N    replay from event id N (faye_online_events.id)
  --since TIME   replay from the first event at or after TIME (ISO 8601, e.g. 2026-11-30T10:00:00Z)
  --yes          apply the replay without asking
  -h, --help     show this help`;

interface Flags {
  url?: string;
  json?: boolean;
  dead?: boolean;
  'from-id'?: string;
  since?: string;
  yes?: boolean;
}

const usage = (io: CliIo, message: string) => usageError(io, 'webhooks', message);

export const webhooksCommand: Command = {
  name: 'webhooks',
  summary: 'the webhook sender: pending, delivered and dead events, lag, lease holder (status); send events again (replay)',
  help,
  async run(args, io) {
    const parsed = readCommandLine<Flags>({ name: 'webhooks', help }, args, {
      url: { type: 'string' }, json: { type: 'boolean' }, dead: { type: 'boolean' }, 'from-id': { type: 'string' }, since: { type: 'string' }, yes: { type: 'boolean' },
    }, io, 1);
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    const action = positionals[0];
    if (action !== 'status' && action !== 'replay') return usage(io, `expected status or replay${action ? `, got "${action}"` : ''}`);
    const url = values.url ?? io.env.DATABASE_URL;
    if (!url) return usage(io, 'no database given; pass --url mysql://user:pass@host:3306/db (or sqlite:/path.sqlite) or set DATABASE_URL');
    if (action === 'status' && (values.dead || values['from-id'] !== undefined || values.since !== undefined || values.yes)) {
      return usage(io, '--dead, --from-id, --since and --yes go with replay');
    }
    let from: Replay | undefined;
    if (action === 'replay') {
      if (values.json) return usage(io, '--json goes with status');
      const given = [values.dead, values['from-id'] !== undefined, values.since !== undefined].filter(Boolean).length;
      if (given !== 1) return usage(io, 'replay needs exactly one of --dead, --from-id N, --since TIME');
      if (values['from-id'] !== undefined) {
        const id = /^\d+$/.test(values['from-id']) ? Number(values['from-id']) : NaN;
        if (!Number.isSafeInteger(id) || id < 1) return usage(io, `--from-id must be an event id (a whole number from 1), got "${values['from-id']}"`);
        from = { kind: 'id', id };
      } else if (values.since !== undefined) {
        const at = /^\d{4}-\d{2}-\d{2}/.test(values.since) ? Date.parse(values.since) : NaN;
        if (!Number.isFinite(at)) return usage(io, `--since must be a time like 2026-11-30T10:00:00Z, got "${values.since}"`);
        from = { kind: 'since', at };
      } else {
        from = { kind: 'dead' };
      }
    }

    const sequelize = openDatabase(url, { connectTimeoutMs: dbTimeoutMs(io.env) });
    try {
      await withProgress(io.err, waitingForDatabase(describeDatabase(sequelize), dbTimeoutMs(io.env)), assertWebhookTables(sequelize));
      if (action === 'status') {
        const status = await webhookStatus(sequelize, Date.now());
        if (values.json) io.out(JSON.stringify(status, null, 2));
        else for (const line of describe(status, describeDatabase(sequelize))) io.out(line);
        return EXIT_OK;
      }
      return await replay(sequelize, from!, Boolean(values.yes), io);
    } finally {
      await sequelize.close();
    }
  },
};

type Replay = { kind: 'dead' } | { kind: 'id'; id: number } | { kind: 'since'; at: number };

async function replay(sequelize: Sequelize, from: Replay, yes: boolean, io: CliIo): Promise<number> {
  const state = new WebhookState(sequelize);
  const stream = await state.read();
  if (!stream) {
    io.err('faye-online webhooks: no sender has started on this database yet, so nothing was sent that could be sent again; nothing was changed');
    return EXIT_FAILURE;
  }
  const confirm = async (question: string): Promise<boolean> => {
    if (yes) return true;
    const answer = await io.confirm?.(question);
    if (answer === undefined) io.out('Dry run: nothing was changed. Run again with --yes to apply it.');
    else if (!answer) io.out('Nothing was changed.');
    return answer === true;
  };

  if (from.kind === 'dead') {
    const dead = await state.deadSummary();
    if (dead.count === 0) {
      io.out('No dead letters: nothing to replay.');
      return EXIT_OK;
    }
    io.out(`Would send ${plural(dead.count, 'dead event')} again (event ids ${dead.firstId} to ${dead.lastId}), before the stream's next batch.`);
    if (!(await confirm(`Queue ${plural(dead.count, 'dead event')} to be sent again?`))) return EXIT_OK;
    const queued = await state.queueDeadForReplay(Date.now());
    io.out(`Queued ${plural(queued, 'dead event')}; the sender sends them at its next step (see \`faye-online webhooks status\`).`);
    return EXIT_OK;
  }

  const fromId = from.kind === 'id' ? from.id : await state.firstIdSince(from.at);
  if (fromId === null || fromId > stream.cursorId) {
    io.out(`Nothing to replay: the sender has not sent events from ${from.kind === 'id' ? `id ${from.id}` : new Date((from as { at: number }).at).toISOString()} yet (it is at event id ${stream.cursorId}).`);
    return EXIT_OK;
  }
  const again = await state.countBetween(fromId, stream.cursorId, stream.kinds);
  const kinds = stream.kinds ? ` of the kinds ${stream.kinds.join(', ')}` : '';
  io.out(`Would move the stream back from event id ${stream.cursorId} to ${fromId}: ${plural(again, 'event')}${kinds} are sent again, then the stream goes on as before.`);
  if (!(await confirm(`Send ${plural(again, 'event')} again?`))) return EXIT_OK;
  if (!(await state.rewind(fromId, Date.now()))) {
    io.out('Nothing to replay: the stream is before that event already.');
    return EXIT_OK;
  }
  io.out(`Moved the stream back to event id ${fromId}; the sender sends from there at its next step (see \`faye-online webhooks status\`).`);
  return EXIT_OK;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function describe(status: WebhookStatus, where: string): string[] {
  if (!status.started) {
    return [`Webhooks in ${where}: no sender has started yet (start a server with the webhooks option; it sends the events written from then on).`];
  }
  const now = Date.now();
  const lines = [
    `Webhooks in ${where} (kinds: ${status.kinds?.join(', ') ?? 'not known yet'})`,
    `  pending    ${plural(status.pending, 'event')} after event id ${status.cursorId} (newest ${status.newestEventId})${status.replaying ? `, ${status.replaying} dead being replayed` : ''}`,
    `  delivered  ${plural(status.delivered, 'event')}`,
    `  dead       ${plural(status.dead.count, 'event')}${status.dead.count ? ` (ids ${status.dead.firstId} to ${status.dead.lastId}); \`faye-online webhooks replay --dead\` sends them again` : ''}`,
    `  lag        ${status.lagMs ? ago(status.lagMs) : 'none'}`,
  ];
  if (status.retry) {
    const next = status.retry.nextAttemptAt ? `, next in ${ago(Math.max(0, status.retry.nextAttemptAt.getTime() - now))}` : '';
    lines.push(`  retrying   attempt ${status.retry.attempts}, failing for ${status.retry.failingSince ? ago(now - status.retry.failingSince.getTime()) : '?'}${next}: ${status.retry.lastError ?? ''}`);
  }
  if (!status.lease) lines.push('  sender     none: no process holds the lease (is a server with the webhooks option running?)');
  else if (status.lease.expired) lines.push(`  sender     none: the lease of ${status.lease.holder} expired ${ago(now - status.lease.until.getTime())} ago (that process stopped or hangs)`);
  else lines.push(`  sender     ${status.lease.holder} (lease for ${ago(status.lease.until.getTime() - now)} more)`);
  return lines;
}
