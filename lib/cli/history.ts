// `faye-online history` and `faye-online erase`: presence history from
// faye_online_events (docs/events.md), and erasure of one user from our own tables.
import type { Sequelize } from 'sequelize';
import { EVENTS_TABLE, attendance, erase, lastSeen, planErasure, presentAt } from '../events';
import { FayeOnlineError } from '../errors';
import { describeDatabase, openDatabase } from '../records/database';
import { parseIsoDate } from '../reports/http';
import { existingTables } from '../schema/layout';
import { dbTimeoutMs, EXIT_FAILURE, EXIT_OK, readCommandLine, readFlags, usageError, waitingForDatabase, withProgress, type CliIo, type Command } from './command';
import { duration, plural, table, utc } from './table';

const historyHelp = `Usage: faye-online history <present|attendance|last-seen> [options] [--url DATABASE_URL] [--json]

Answers from faye_online_events (written while the \`events\` option is on):

  present     --room NAME --at ISO              who was in the room at that moment
  attendance  --room NAME --from ISO --to ISO   who was in the room in between, for how long
  last-seen   --uid N                           when the user was last seen (or online now)

Times are ISO 8601 (2026-05-01T08:00:00Z); output times are UTC.

Options:
  --room NAME   the room, e.g. /classes/4
  --at ISO      the moment (present)
  --from ISO    start of the range (attendance)
  --to ISO      end of the range (attendance; now if later)
  --uid N       the user (last-seen)
  --url URL     the shared database (default: DATABASE_URL)
  --json        print the answer as JSON
  -h, --help    show this help`;

type HistoryFlags = { room?: string; at?: string; from?: string; to?: string; uid?: string; url?: string; json?: boolean };

/** The database of --url or DATABASE_URL, after checking it answers and has the events table. */
async function openEventsDatabase(io: CliIo, url: string): Promise<Sequelize> {
  const sequelize = openDatabase(url, { connectTimeoutMs: dbTimeoutMs(io.env) });
  try {
    const found = await withProgress(io.err, waitingForDatabase(describeDatabase(sequelize), dbTimeoutMs(io.env)), existingTables(sequelize, [EVENTS_TABLE]));
    if (found.length === 0) {
      throw new FayeOnlineError('SCHEMA_NOT_MIGRATED', `${EVENTS_TABLE} does not exist in ${describeDatabase(sequelize)}; run \`npx faye-online migrate up\` and turn the \`events\` option on (docs/events.md)`);
    }
    return sequelize;
  } catch (error) {
    await sequelize.close();
    throw error;
  }
}

export const historyCommand: Command = {
  name: 'history',
  summary: 'who was in a room at a time or in a range (attendance), when a user was last seen',
  help: historyHelp,
  async run(args, io) {
    const parsed = readCommandLine<HistoryFlags>({ name: 'history', help: historyHelp }, args, {
      room: { type: 'string' }, at: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, uid: { type: 'string' },
      url: { type: 'string' }, json: { type: 'boolean' },
    }, io, 1);
    if (typeof parsed === 'number') return parsed;
    const usage = (message: string) => usageError(io, 'history', message);
    const [question] = parsed.positionals;
    const v = parsed.values;
    if (!['present', 'attendance', 'last-seen'].includes(question ?? '')) return usage(`expected one of present, attendance, last-seen${question ? `, got "${question}"` : ''}`);
    let ask: (sequelize: Sequelize) => Promise<{ json: unknown; lines: string[] }>;
    try {
      if (question === 'last-seen') {
        if (v.uid === undefined || !/^[1-9][0-9]{0,9}$/.test(v.uid)) return usage(`last-seen needs --uid N, a positive integer${v.uid === undefined ? '' : `, got "${v.uid}"`}`);
        const uid = Number(v.uid);
        ask = async (sequelize) => {
          const seen = await lastSeen(sequelize, uid);
          const line = seen.online ? `User ${uid} is online now (in ${seen.channel})` : seen.at ? `User ${uid} was last seen ${utc(seen.at)} UTC (${seen.channel})` : `User ${uid} has no events`;
          return { json: seen, lines: [line] };
        };
      } else {
        if (v.room === undefined) return usage(`${question} needs --room NAME`);
        const room = v.room;
        if (question === 'present') {
          const at = parseIsoDate(v.at, '--at');
          if (!at) return usage('present needs --at ISO');
          ask = async (sequelize) => {
            const uids = await presentAt(sequelize, room, at);
            return { json: { room, at, uids }, lines: [`${plural(uids.length, 'user')} in ${room} at ${utc(at)} UTC${uids.length ? `: ${uids.join(', ')}` : ''}`] };
          };
        } else {
          const from = parseIsoDate(v.from, '--from');
          const to = parseIsoDate(v.to, '--to');
          if (!from || !to) return usage('attendance needs --from ISO and --to ISO');
          if (to < from) return usage(`--to (${utc(to)}) is before --from (${utc(from)})`);
          ask = async (sequelize) => {
            const users = await attendance(sequelize, room, from, to);
            const lines = [`Attendance of ${room} from ${utc(from)} to ${utc(to)} UTC: ${plural(users.length, 'user')}`];
            if (users.length) lines.push(...table([['UID', 'TIME', 'SECONDS', 'VISITS', 'FIRST SEEN', 'LAST SEEN'], ...users.map((u) => [String(u.uid), duration(u.seconds), String(u.seconds), String(u.visits), utc(u.firstSeen), utc(u.lastSeen)])]));
            return { json: { room, from, to, users }, lines };
          };
        }
      }
    } catch (error) {
      return usage((error as Error).message);
    }
    const url = v.url ?? io.env.DATABASE_URL;
    if (!url) return usage('no database given; pass --url mysql://user:pass@host:3306/db or set DATABASE_URL');
    const sequelize = await openEventsDatabase(io, url);
    try {
      const answer = await ask(sequelize);
      if (v.json) io.out(JSON.stringify(answer.json, null, 2));
      else for (const line of answer.lines) io.out(line);
      return EXIT_OK;
    } finally {
      await sequelize.close();
    }
  },
};

const eraseHelp = `Usage: faye-online erase --uid N [--include-login-logs] [--yes] [--url DATABASE_URL]

Deletes one user's rows from faye-online's own tables: faye_online_events and
faye_online_engaged_times. It shows what it would delete and asks first (on a
terminal), or deletes at once with --yes.

Kept: the gem's tables, which are the Rails app's records too. faye_user_login_logs
is deleted only with --include-login-logs; faye_user_online_times (one row
holding all of a user's time channels) and faye_channel_online_lists are left
to the Rails app (docs/events.md, "Erasing a user").

Options:
  --uid N                the user
  --include-login-logs   also delete the user's rows of faye_user_login_logs (the gem's)
  --yes                  do not ask
  --url URL              the shared database (default: DATABASE_URL)
  -h, --help             show this help`;

export const eraseCommand: Command = {
  name: 'erase',
  summary: 'delete one user\'s rows from faye-online\'s own tables (events, engaged time)',
  help: eraseHelp,
  async run(args, io) {
    const v = readFlags<{ uid?: string; 'include-login-logs'?: boolean; yes?: boolean; url?: string }>({ name: 'erase', help: eraseHelp }, args, {
      uid: { type: 'string' }, 'include-login-logs': { type: 'boolean' }, yes: { type: 'boolean' }, url: { type: 'string' },
    }, io);
    if (typeof v === 'number') return v;
    const usage = (message: string) => usageError(io, 'erase', message);
    if (v.uid === undefined || !/^[1-9][0-9]{0,9}$/.test(v.uid)) return usage(`--uid N is required, a positive integer${v.uid === undefined ? '' : `, got "${v.uid}"`}`);
    const url = v.url ?? io.env.DATABASE_URL;
    if (!url) return usage('no database given; pass --url mysql://user:pass@host:3306/db or set DATABASE_URL');
    const uid = Number(v.uid);
    const sequelize = openDatabase(url, { connectTimeoutMs: dbTimeoutMs(io.env) });
    try {
      io.out(`Database: ${describeDatabase(sequelize)}`);
      const plan = await withProgress(io.err, waitingForDatabase(describeDatabase(sequelize), dbTimeoutMs(io.env)), planErasure(sequelize, uid, { includeLoginLogs: v['include-login-logs'] }));
      const total = plan.tables.reduce((sum, t) => sum + t.rows, 0);
      io.out(`Erasing user ${uid} deletes ${plan.tables.map((t) => `${t.table} (${plural(t.rows, 'row')}${t.ours ? '' : ', the gem\'s'})`).join(', ') || 'nothing (none of the tables exists)'}`);
      if (!v['include-login-logs']) io.out('Kept: faye_user_login_logs (the gem\'s; --include-login-logs deletes them too), faye_user_online_times and the online lists (the gem\'s)');
      if (plan.tables.some((t) => t.table === EVENTS_TABLE)) {
        const seen = await lastSeen(sequelize, uid);
        if (seen.online) io.err(`faye-online erase: warning: user ${uid} is online now (in ${seen.channel}); what they do next is recorded after the erasure`);
      }
      if (total === 0) {
        io.out(`Nothing to delete for user ${uid}`);
        return EXIT_OK;
      }
      if (!v.yes) {
        const agreed = io.confirm ? await io.confirm(`Delete ${plural(total, 'row')} of user ${uid}?`) : false;
        if (!agreed) {
          io.err(`faye-online erase: nothing was deleted; ${io.confirm ? 'answer y to delete' : 'pass --yes to delete without a terminal to ask on'}`);
          return EXIT_FAILURE;
        }
      }
      const started = Date.now();
      const done = await erase(sequelize, plan, (t, n) => {
        if (n > 0 && n % 10_000 === 0) io.out(`  ${t}: ${n} rows deleted ...`);
      });
      for (const d of done) io.out(`  ${d.table}: ${plural(d.deleted, 'row')} deleted`);
      io.out(`Erased user ${uid}: ${plural(done.reduce((sum, d) => sum + d.deleted, 0), 'row')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return EXIT_OK;
    } finally {
      await sequelize.close();
    }
  },
};
