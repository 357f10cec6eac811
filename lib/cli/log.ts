// `faye-online log --user UID`: a user's logins per time channel, each tab's
// sessions and the channel total (overlapping tabs counted once), from
// faye_user_login_logs (the gem's FayeOnline.log).
import { parseIsoDate } from '../reports/http';
import type { UserLoginReport } from '../reports/login-report';
import { redactUrl } from '../log';
import { openOfflineReports } from '../reports/offline';
import { dbTimeoutMs, waitingForDatabase, withProgress, EXIT_OK, readFlags, usageError, type CliIo, type Command } from './command';
import { duration, table, utc } from './table';

const help = `Usage: faye-online log --user UID [--channel NAME] [--from ISO] [--to ISO] [--url DATABASE_URL] [--json]

Shows a user's logins per time channel: every clientId (tab) with its sessions,
and the time online in the channel, where tabs open at the same time count once.
Times are UTC, as faye_user_login_logs stores them.

Options:
  --user UID      the user's uid (required)
  --channel NAME  one time channel, e.g. /courses/5/lessons/1 (default: all)
  --from ISO      count from this time, e.g. 2026-05-01 or 2026-05-01T08:00:00Z
  --to ISO        count up to this time (exclusive)
  --url URL       the shared database (default: DATABASE_URL)
  --json          print the report as JSON
  -h, --help      show this help`;

export const logCommand: Command = {
  name: 'log',
  summary: 'a user\'s logins per time channel: sessions of each tab and the total',
  help,
  async run(args, io) {
    const values = readFlags<{ user?: string; channel?: string; from?: string; to?: string; url?: string; json?: boolean }>(
      { name: 'log', help }, args,
      {
          user: { type: 'string' }, channel: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
          url: { type: 'string' }, json: { type: 'boolean' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    if (values.user === undefined) return usage(io, '--user UID is required');
    if (!/^[1-9][0-9]{0,9}$/.test(values.user)) return usage(io, `--user must be a positive integer, got "${values.user}"`);
    let from: Date | undefined;
    let to: Date | undefined;
    try {
      from = parseIsoDate(values.from, '--from');
      to = parseIsoDate(values.to, '--to');
    } catch (error) {
      return usage(io, (error as Error).message);
    }
    if (from && to && from > to) return usage(io, `--from (${utc(from)}) is after --to (${utc(to)})`);
    const url = values.url ?? io.env.DATABASE_URL;
    if (!url) return usage(io, 'no database given; pass --url mysql://user:pass@host:3306/db or set DATABASE_URL');

    const reports = await withProgress(io.err, waitingForDatabase(redactUrl(url), dbTimeoutMs(io.env)), openOfflineReports({ databaseUrl: url, connectTimeoutMs: dbTimeoutMs(io.env) }));
    try {
      const report = await reports.userLoginReport({ uid: Number(values.user), channel: values.channel, from, to });
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else for (const line of describe(report)) io.out(line);
      return EXIT_OK;
    } finally {
      await reports.close();
    }
  },
};

const usage = (io: CliIo, message: string) => usageError(io, 'log', message);

function describe(report: UserLoginReport): string[] {
  const range = report.from || report.to ? ` from ${utc(report.from)} to ${report.to ? utc(report.to) : 'now'}` : '';
  const lines = [`Logins of user ${report.uid}${range} (UTC)`];
  if (!report.channels.length) {
    lines.push('', 'No logins found.');
    return lines;
  }
  for (const channel of report.channels) {
    // Under a minute the duration already is the seconds; above, both are useful (1m 05s for people, 65 for sums).
    const seconds = channel.totalSeconds >= 60 ? ` (${channel.totalSeconds} s)` : '';
    lines.push('', `${channel.channel}: online ${duration(channel.totalSeconds)}${seconds}`);
    const rows = [['CLIENTID', 'LOGIN', 'LOGOUT', 'SECONDS']];
    for (const client of channel.clients) {
      for (const session of client.sessions) rows.push([client.clientId, utc(session.login), session.logout ? utc(session.logout) : 'online', String(session.seconds)]);
      for (const anomaly of client.anomalies) {
        rows.push([client.clientId, anomaly.kind === 'repeatedLogin' ? `${utc(anomaly.at)} (repeated login)` : '-', anomaly.kind === 'orphanLogout' ? `${utc(anomaly.at)} (no login before it)` : '-', '0']);
      }
    }
    lines.push(...table(rows));
  }
  return lines;
}
