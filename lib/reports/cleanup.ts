// `status --cleanup` without a running server: the same repair a server's
// reconciliation makes (lib/core/reconcile.ts: dead clientIds depart, which logs
// their logouts and stops their timers; lists and timers follow the live
// clientIds), run by the CLI against the cluster's Redis and database.
//
// Aimed at the wrong Redis database or namespace, that repair would find every
// user of the database "stale" and log them all out. So before it changes
// anything it is planned from a status report, and refused when
//   - the Redis namespace shows no sign of a cluster (no Faye clients, no presence keys),
//   - the database and Redis look like two different clusters (the database
//     lists people online, Redis has live people, and not one of them is both),
//   - it would change more users than a threshold the operator can raise.
import type { StatusReport, StaleListEntry } from './status';
import { EngineKeys, PresenceKeys } from '../stores/keys';

export interface ClusterSigns {
  /** Faye clients in the engine's `<namespace>/clients` set, live or not. */
  engineClients: number;
  /** Rooms and time channels with presence keys (`/<namespace>/uid_to_clientIds...`). */
  presenceChannels: number;
}

export interface RunningTimer {
  uid: number;
  timeChannel: string;
}

export interface CleanupPlan {
  /** Dead clientIds by user: each departs as if it had timed out (logout logged; the timer stops with the user's last). */
  departures: Array<{ uid: number; clientIds: string[] }>;
  /** Online-list entries of users without a live clientId in the room. */
  listRemovals: StaleListEntry[];
  /** Users live in a room but missing from its online list. */
  listAdditions: StaleListEntry[];
  /** Running timers of users without a live clientId in the time channel. */
  timers: RunningTimer[];
  /** Distinct users any of the above changes. */
  users: number[];
}

export type CleanupRefusal =
  | { kind: 'noCluster'; message: string }
  | { kind: 'otherCluster'; message: string }
  | { kind: 'tooMany'; message: string };

/** What the repair will do, predicted from a status report and the running timers. */
export function planCleanup(report: StatusReport, runningTimers: readonly RunningTimer[]): CleanupPlan {
  const liveIn = (channel: string) => new Set(report.channels.find((c) => c.channel === channel)?.users.map((u) => u.uid) ?? []);
  const listAdditions: StaleListEntry[] = [];
  for (const channel of report.channels) {
    if (channel.kind !== 'room') continue;
    for (const user of channel.users) if (!channel.onlineList?.includes(user.uid)) listAdditions.push({ room: channel.channel, uid: user.uid });
  }
  const timers = runningTimers.filter((t) => !liveIn(t.timeChannel).has(t.uid)).map(({ uid, timeChannel }) => ({ uid, timeChannel }));
  const dead = new Map<number, Set<string>>();
  for (const { uid, clientIds } of report.stale.clientIds) for (const id of clientIds) dead.set(uid, (dead.get(uid) ?? new Set()).add(id));
  const departures = [...dead].map(([uid, ids]) => ({ uid, clientIds: [...ids].sort() })).sort((a, b) => a.uid - b.uid);
  const listRemovals = report.stale.onlineListEntries;
  const users = [...new Set([...departures, ...listRemovals, ...listAdditions, ...timers].map((e) => e.uid))].sort((a, b) => a - b);
  return { departures, listRemovals, listAdditions, timers, users };
}

/**
 * Why the plan must not run, or null. `maxUsers`: the most users one cleanup
 * may change without the operator raising the limit.
 */
export function refuseCleanup(
  plan: CleanupPlan, report: StatusReport, signs: ClusterSigns, where: { redis: string; namespace: string }, maxUsers: number,
): CleanupRefusal | null {
  const place = `${where.redis} (namespace ${where.namespace})`;
  if (signs.engineClients === 0 && signs.presenceChannels === 0) {
    return {
      kind: 'noCluster',
      message: `${place} shows no sign of a faye-online cluster: no Faye clients in ${new EngineKeys(where.namespace).clients} and no presence keys under ${new PresenceKeys(where.namespace).prefix}. ` +
        'Check --redis (its database number) and --namespace against the servers\' settings. If the cluster really is gone, starting one server repairs the records by itself',
    };
  }
  const listed = new Set([...report.channels.flatMap((c) => c.onlineList ?? []), ...plan.timers.map((t) => t.uid)]);
  const live = new Set(report.channels.flatMap((c) => c.users.map((u) => u.uid)));
  if (listed.size > 0 && live.size > 0 && ![...listed].some((uid) => live.has(uid))) {
    return {
      kind: 'otherCluster',
      message: `the database and ${place} look like two different clusters: ${listed.size} user(s) online in the database, ${live.size} live in Redis, and not one in both. ` +
        'Check --url, --redis and --namespace',
    };
  }
  if (plan.users.length > maxUsers) {
    return {
      kind: 'tooMany',
      message: `the cleanup would change ${plan.users.length} users, more than --max-users ${maxUsers}. Check that --url, --redis and --namespace name one cluster, then raise --max-users`,
    };
  }
  return null;
}

export function isEmptyPlan(plan: CleanupPlan): boolean {
  return plan.users.length === 0;
}
