// `faye-online status`: who is online in every room and time channel of a
// cluster, read from its database and Redis (no server needs to run), and what
// is stale; --cleanup repairs it the way the servers' reconciliation does,
// after a dry run and the safety checks of lib/reports/cleanup.ts.
import type { ReconcileReport } from '../core/reconcile';
import { DEFAULTS } from '../options';
import { isEmptyPlan, planCleanup, refuseCleanup, type CleanupPlan } from '../reports/cleanup';
import { redactUrl } from '../log';
import { openOfflineReports, type OfflineReports } from '../reports/offline';
import type { StatusReport } from '../reports/status';
import { dbTimeoutMs, waitingForDatabase, withProgress, EXIT_FAILURE, EXIT_OK, readFlags, usageError, type CliIo, type Command } from './command';
import { plural, table } from './table';

const DEFAULT_MAX_USERS = 10;

const help = `Usage: faye-online status [--url DATABASE_URL] [--redis REDIS_URL] [--namespace NS]
                          [--cleanup [--yes] [--max-users N]] [--json] [--timeout S]

Lists every room and time channel with its online users and their clientIds,
the totals, and stale entries: clientIds whose Faye client no longer exists,
and uids in a room's online list without any live clientId.

Options:
  --url URL        the shared database (default: DATABASE_URL)
  --redis URL      the cluster's Redis, redis://host:6379/1 (default: REDIS_URL)
  --namespace NS   the servers' \`namespace\` option (default: ${DEFAULTS.namespace})
  --timeout S      the servers' Faye \`timeout\`, seconds (default: ${DEFAULTS.timeout}); a client
                   is live while it pinged within 1.6 x timeout
  --cleanup        repair what is stale as the servers' reconciliation does: dead
                   clientIds depart (logouts logged, timers stopped), online
                   lists and timers follow the live clientIds. Shows the plan
                   first and asks on a terminal; refuses when Redis shows no
                   sign of the cluster, when the database and Redis look like
                   two clusters, or when more than --max-users would change
  --yes            with --cleanup: apply the plan without asking (scripts);
                   without it and without a terminal, --cleanup is a dry run
  --max-users N    with --cleanup: the most users it may change (default: ${DEFAULT_MAX_USERS})
  --json           print the report as JSON
  -h, --help       show this help`;

export const statusCommand: Command = {
  name: 'status',
  summary: 'who is online in each room and time channel; --cleanup removes stale entries',
  help,
  async run(args, io) {
    const values = readFlags<{
      url?: string; redis?: string; namespace?: string; timeout?: string; cleanup?: boolean; yes?: boolean; 'max-users'?: string; json?: boolean;
    }>(
      { name: 'status', help }, args,
      {
          url: { type: 'string' }, redis: { type: 'string' }, namespace: { type: 'string' }, timeout: { type: 'string' },
          cleanup: { type: 'boolean' }, yes: { type: 'boolean' }, 'max-users': { type: 'string' }, json: { type: 'boolean' },
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
    if (!values.cleanup && (values.yes || values['max-users'] !== undefined)) return usage(io, `${values.yes ? '--yes' : '--max-users'} only goes with --cleanup`);
    const maxUsers = values['max-users'] === undefined ? DEFAULT_MAX_USERS : Number(values['max-users']);
    if (!Number.isSafeInteger(maxUsers) || maxUsers < 0) return usage(io, `--max-users must be a whole number, got "${values['max-users']}"`);

    const reports = await withProgress(io.err, waitingForDatabase(redactUrl(url), dbTimeoutMs(io.env)),
      openOfflineReports({ databaseUrl: url, redisUrl, namespace: values.namespace, timeout, connectTimeoutMs: dbTimeoutMs(io.env) }));
    try {
      const report = await reports.status();
      if (!values.cleanup) {
        if (values.json) io.out(JSON.stringify(report, null, 2));
        else for (const line of describe(report)) io.out(line);
        return EXIT_OK;
      }
      return await cleanUp(reports, report, { yes: Boolean(values.yes), maxUsers, json: Boolean(values.json) }, io);
    } finally {
      await reports.close();
    }
  },
};

async function cleanUp(reports: OfflineReports, report: StatusReport, options: { yes: boolean; maxUsers: number; json: boolean }, io: CliIo): Promise<number> {
  const plan = planCleanup(report, await reports.cleanup.runningTimers());
  const refusal = isEmptyPlan(plan) ? null : refuseCleanup(plan, report, await reports.cleanup.signs(), reports.cleanup.where, options.maxUsers);
  if (!options.json) {
    for (const line of describe(report)) io.out(line);
    io.out('');
    for (const line of describePlan(plan)) io.out(line);
  }
  const apply = !isEmptyPlan(plan) && !refusal && (options.yes || (!options.json && (await io.confirm?.(`Apply this cleanup to ${plural(plan.users.length, 'user')}?`)) === true));
  const applied = apply ? await reports.cleanup.repair() : null;
  if (options.json) io.out(JSON.stringify({ ...report, cleanup: { plan, refused: refusal?.message ?? null, applied } }, null, 2));
  if (refusal) {
    io.err(`faye-online status: refusing to clean up: ${refusal.message}; nothing was changed`);
    return EXIT_FAILURE;
  }
  if (options.json) return EXIT_OK;
  if (applied) for (const line of describeApplied(applied)) io.out(line);
  else if (!isEmptyPlan(plan)) io.out('Dry run: nothing was changed. Run again with --yes to apply it.');
  return EXIT_OK;
}

const usage = (io: CliIo, message: string) => usageError(io, 'status', message);

function describe(report: StatusReport): string[] {
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
  } else {
    lines.push(`Stale: ${plural(staleIds, 'clientId')} in Redis, ${plural(staleEntries, 'online-list entry', 'online-list entries')}; run with --cleanup to see the repair.`);
  }
  return lines;
}

function describePlan(plan: CleanupPlan): string[] {
  if (isEmptyPlan(plan)) return ['Cleanup: nothing to repair.'];
  return [
    `Cleanup plan (${plural(plan.users.length, 'user')}):`,
    ...plan.departures.map((d) => `  depart ${plural(d.clientIds.length, 'clientId')} of user ${d.uid} (Faye client gone): ${d.clientIds.join(' ')}`),
    ...plan.listRemovals.map((e) => `  remove user ${e.uid} from the online list of ${e.room}`),
    ...plan.listAdditions.map((e) => `  add user ${e.uid} to the online list of ${e.room}`),
    ...plan.timers.map((t) => `  stop the timer of user ${t.uid} in ${t.timeChannel}`),
  ];
}

function describeApplied(report: ReconcileReport): string[] {
  const listChanges = report.lists.reduce((n, l) => n + l.added.length + l.removed.length, 0);
  return [
    ...report.orphanClientIds.map((id) => `Departed ${id}`),
    ...report.lists.flatMap((l) => [...l.removed.map((uid) => `Removed user ${uid} from the online list of ${l.room}`), ...l.added.map((uid) => `Added user ${uid} to the online list of ${l.room}`)]),
    ...report.timersStopped.map((t) => `Stopped the timer of user ${t.uid} in ${t.timeChannel}`),
    ...report.engagementsStopped.map((t) => `Stopped the engaged time of user ${t.uid} in ${t.timeChannel}`),
    `Cleanup: ${plural(report.orphanClientIds.length, 'clientId')} departed, ${plural(listChanges, 'online-list change')}, ` +
      `${plural(report.timersStopped.length, 'timer')} and ${plural(report.engagementsStopped.length, 'engaged session')} stopped.`,
  ];
}
