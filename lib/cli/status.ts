// `faye-online status`: who is online in every room and time channel of a
// cluster, read from its database and Redis (no server needs to run), and what
// is stale; --cleanup removes the stale entries.
import { DEFAULTS } from '../options';
import { openOfflineReports } from '../reports/offline';
import type { StatusReport } from '../reports/status';
import { EXIT_OK, readFlags, usageError, type CliIo, type Command } from './command';
import { plural, table } from './table';

const help = `Usage: faye-online status [--url DATABASE_URL] [--redis REDIS_URL] [--namespace NS] [--cleanup] [--json]

Lists every room and time channel with its online users and their clientIds,
the totals, and stale entries: clientIds whose Faye client no longer exists,
and uids in a room's online list without any live clientId.

Options:
  --url URL        the shared database (default: DATABASE_URL)
  --redis URL      the cluster's Redis, redis://host:6379/1 (default: REDIS_URL)
  --namespace NS   the servers' \`namespace\` option (default: ${DEFAULTS.namespace})
  --timeout S      the servers' Faye \`timeout\`, seconds (default: ${DEFAULTS.timeout}); a client
                   is live while it pinged within 1.6 x timeout
  --cleanup        remove the stale entries and list what was removed
  --json           print the report as JSON
  -h, --help       show this help`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'who is online in each room and time channel; --cleanup removes stale entries',
  help,
  async run(args, io) {
    const values = readFlags<{ url?: string; redis?: string; namespace?: string; timeout?: string; cleanup?: boolean; json?: boolean }>(
      { name: 'status', help }, args,
      {
          url: { type: 'string' }, redis: { type: 'string' }, namespace: { type: 'string' }, timeout: { type: 'string' },
          cleanup: { type: 'boolean' }, json: { type: 'boolean' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    const url = values.url ?? io.env.DATABASE_URL;
    if (!url) return usage(io, 'no database given; pass --url mysql://user:pass@host:3306/db or set DATABASE_URL');
    const redisUrl = values.redis ?? io.env.REDIS_URL;
    if (!redisUrl) return usage(io, 'no Redis given; pass --redis redis://host:6379/1 or set REDIS_URL (an embedded server keeps its state in its own process: ask its /faye-online/api/status endpoint)');
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(timeout > 0)) return usage(io, `--timeout must be a positive number of seconds, got "${values.timeout}"`);

    const reports = await openOfflineReports({ databaseUrl: url, redisUrl, namespace: values.namespace, timeout });
    try {
      const report = await reports.status({ cleanup: values.cleanup });
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else for (const line of describe(report, Boolean(values.cleanup))) io.out(line);
      return EXIT_OK;
    } finally {
      await reports.close();
    }
  },
};

const usage = (io: CliIo, message: string) => usageError(io, 'status', message);

function describe(report: StatusReport, cleanup: boolean): string[] {
  const { totals } = report;
  const lines = [
    `Online: ${plural(totals.users, 'user')}, ${plural(totals.clientIds, 'clientId')} in ${plural(totals.rooms, 'room')} and ${plural(totals.timeChannels, 'time channel')}`,
  ];
  for (const channel of report.channels) {
    lines.push('', `${channel.kind === 'room' ? 'Room' : 'Time channel'} ${channel.channel}: ${plural(channel.userCount, 'user')}, ${plural(channel.clientIdCount, 'clientId')}`);
    if (channel.users.length) {
      lines.push(...table([['UID', 'NAME', 'CLIENTIDS'], ...channel.users.map((u) => [String(u.uid), u.uname ?? '?', u.clientIds.join(' ')])]));
    }
    const listed = channel.onlineList?.filter((uid) => !channel.users.some((u) => u.uid === uid)) ?? [];
    if (listed.length) lines.push(`  in the online list without a live clientId: ${listed.join(', ')}`);
  }
  const staleIds = report.stale.clientIds.reduce((n, s) => n + s.clientIds.length, 0);
  const staleEntries = report.stale.onlineListEntries.length;
  lines.push('');
  if (!staleIds && !staleEntries) {
    lines.push('Nothing stale.');
  } else if (!cleanup) {
    lines.push(`Stale: ${plural(staleIds, 'clientId')} in Redis, ${plural(staleEntries, 'online-list entry', 'online-list entries')}; run with --cleanup to remove them.`);
  }
  if (report.cleanup) {
    const removed = report.cleanup;
    const ids = removed.removedClientIds.reduce((n, s) => n + s.clientIds.length, 0);
    for (const s of removed.removedClientIds) lines.push(`Removed clientIds ${s.clientIds.join(' ')} of user ${s.uid} from ${s.channel}`);
    for (const e of removed.removedFromOnlineLists) lines.push(`Removed user ${e.uid} from the online list of ${e.room}`);
    lines.push(`Cleanup: removed ${plural(ids, 'clientId')} and ${plural(removed.removedFromOnlineLists.length, 'online-list entry', 'online-list entries')}.`);
  }
  return lines;
}
