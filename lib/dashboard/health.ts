// The health page: the processes of the cluster, Redis and the database, the
// last reconciliation, and a few metrics.
//
// Processes are known by a heartbeat of our own (never a gem key): every
// process that mounts the dashboard writes one field of the hash
// `processes` (lib/stores/keys.ts) every HEARTBEAT_MS, with what it
// tracks and its last reconciliation (only one process reconciles at a time,
// so the cluster's last one is the newest over all heartbeats). A field not
// refreshed for three beats is a process that is gone; readers leave it out,
// and delete it once it is much older (processes.lua, atomic against a beat
// written meanwhile).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Redis from 'ioredis';
import type { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import type { Clock, ClockTimer } from '../core/clock';
import type { ReconcileReport } from '../core/reconcile';
import type { Logger } from '../log';
import { PresenceKeys } from '../stores/keys';
import { loadScripts, luaScript, runScript } from '../stores/lua';

export const HEARTBEAT_MS = 10_000;
const GONE_AFTER_MS = 3 * HEARTBEAT_MS;
/** Fields of processes gone this long are deleted by whoever reads them. */
const FORGET_AFTER_MS = 10 * 60_000;
const PROBE_TIMEOUT_MS = 2000;
/** At most this many repaired items per kind are shown (the counts are exact). */
const MAX_DETAILS = 20;

export interface Reconciliation {
  at: Date;
  report: ReconcileReport;
}

export interface HealthSources {
  /** The cluster's Redis; undefined when the state is in this process (embedded). */
  redis: Redis | undefined;
  namespace: string;
  sequelize: Sequelize;
  clock: Clock;
  /** clientIds this process tracks. */
  tracked(): number;
  lastReconciliation(): Reconciliation | null;
  metrics: Registry | undefined;
  allOnlineLists(): Promise<Array<{ room: string; uids: number[] }>>;
  logger: Logger;
}

interface ProcessBeat {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
  beatAt: number;
  trackedClientIds: number;
  reconciliation: { at: number; summary: ReconcileSummary } | null;
}

export interface ReconcileSummary {
  orphanClientIds: number;
  listsRepaired: number;
  timersStopped: number;
  engagementsStopped: number;
  details: string[];
}

export function summarize(report: ReconcileReport): ReconcileSummary {
  const details = [
    ...report.orphanClientIds.slice(0, MAX_DETAILS).map((id) => `orphan clientId ${id} departed`),
    ...report.lists.slice(0, MAX_DETAILS).map((l) => `${l.room}: list ${[...l.added.map((u) => `+${u}`), ...l.removed.map((u) => `-${u}`)].join(' ')}`),
    ...report.timersStopped.slice(0, MAX_DETAILS).map((t) => `timer of ${t.uid} in ${t.timeChannel} stopped`),
    ...report.engagementsStopped.slice(0, MAX_DETAILS).map((t) => `engaged time of ${t.uid} in ${t.timeChannel} stopped`),
  ];
  return {
    orphanClientIds: report.orphanClientIds.length,
    listsRepaired: report.lists.length,
    timersStopped: report.timersStopped.length,
    engagementsStopped: report.engagementsStopped.length,
    details,
  };
}

/** The heartbeats newer than `forgetBefore`; older ones are deleted. `rest`: field, json, field, json... */
const PROCESSES = luaScript({ command: 'fayeOnlineProcesses', file: 'dashboard/processes.lua', keys: ['heartbeats'], args: ['forgetBefore'], results: [] });

export class Health {
  private readonly key: string;
  private readonly id: string;
  private readonly startedAt: number;
  private timer: ClockTimer | undefined;
  private closed = false;

  constructor(private readonly s: HealthSources) {
    if (s.redis) loadScripts(s.redis, [PROCESSES]);
    this.key = new PresenceKeys(s.namespace).processes;
    this.startedAt = s.clock.now();
    // Several servers can share a process (tests, or an app serving two mounts).
    this.id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  /** Starts the heartbeat (a no-op without Redis: this process is the whole cluster). */
  start(): void {
    if (!this.s.redis || this.timer || this.closed) return;
    const beat = () => {
      if (this.closed) return;
      void this.beat().catch((error) => this.s.logger.warn({ err: error }, 'dashboard: could not write the process heartbeat'));
      this.timer = this.s.clock.after(HEARTBEAT_MS, beat);
    };
    beat();
  }

  /** Stops the heartbeat and takes this process off the list at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    if (this.s.redis) await this.s.redis.hdel(this.key, this.id).catch(() => undefined);
  }

  private own(): ProcessBeat {
    const last = this.s.lastReconciliation();
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      startedAt: this.startedAt,
      beatAt: this.s.clock.now(),
      trackedClientIds: this.s.tracked(),
      reconciliation: last ? { at: last.at.getTime(), summary: summarize(last.report) } : null,
    };
  }

  private async beat(): Promise<void> {
    await this.s.redis!.hset(this.key, this.id, JSON.stringify(this.own()));
  }

  private async processes(): Promise<ProcessBeat[]> {
    if (!this.s.redis) return [this.own()];
    await this.beat();
    const now = this.s.clock.now();
    const flat = (await runScript(this.s.redis!, PROCESSES, { heartbeats: this.key }, { forgetBefore: now - FORGET_AFTER_MS })).rest as string[];
    const beats: ProcessBeat[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const beat = JSON.parse(flat[i + 1]) as ProcessBeat;
      if (now - beat.beatAt <= GONE_AFTER_MS) beats.push(beat);
    }
    return beats.sort((a, b) => a.startedAt - b.startedAt);
  }

  async report() {
    const [processes, redis, database, lists, metrics] = await Promise.all([
      this.processes().catch(() => [this.own()]),
      this.s.redis ? probe(this.s.clock, () => this.s.redis!.ping()) : Promise.resolve(null),
      probe(this.s.clock, () => this.s.sequelize.query('SELECT 1')),
      this.s.allOnlineLists().catch(() => null),
      this.metricValues(),
    ]);
    const latest = processes.filter((p) => p.reconciliation).sort((a, b) => b.reconciliation!.at - a.reconciliation!.at)[0];
    return {
      now: new Date(this.s.clock.now()),
      backend: this.s.redis ? 'cluster (Redis)' : 'embedded (this process only)',
      processes: processes.map((p) => ({
        id: p.id, host: p.host, pid: p.pid, startedAt: new Date(p.startedAt), lastBeat: new Date(p.beatAt), trackedClientIds: p.trackedClientIds, self: p.id === this.id,
      })),
      redis,
      database: { dialect: this.s.sequelize.getDialect(), ...database },
      reconciliation: latest ? { at: new Date(latest.reconciliation!.at), by: `${latest.host}:${latest.pid}`, ...latest.reconciliation!.summary } : null,
      totals: lists && {
        rooms: lists.length,
        occupiedRooms: lists.filter((l) => l.uids.length > 0).length,
        usersOnline: new Set(lists.flatMap((l) => l.uids)).size,
      },
      metrics,
    };
  }

  /** A few of the Prometheus metrics, when the `metrics` option is on. */
  private async metricValues(): Promise<Array<{ name: string; value: number }> | null> {
    if (!this.s.metrics) return null;
    const wanted = [
      'faye_online_tracked_clients', 'faye_online_online_users', 'faye_online_joins_total', 'faye_online_leaves_total', 'faye_online_sql_write_failures_total',
      'faye_online_sql_lock_conflicts_total', 'faye_online_redis_errors_total', 'faye_online_redis_reconnects_total',
    ];
    const all = await this.s.metrics.getMetricsAsJSON();
    return all
      .filter((m) => wanted.includes(m.name))
      .map((m) => ({ name: m.name, value: (m.values as Array<{ value: number }>).reduce((sum, v) => sum + v.value, 0) }));
  }
}

async function probe(clock: Clock, check: () => Promise<unknown>): Promise<{ ok: boolean; latencyMs: number | null; error: string | null }> {
  const started = performance.now();
  let timer: ClockTimer | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => { timer = clock.after(PROBE_TIMEOUT_MS, () => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`))); }),
    ]);
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10, error: null };
  } catch (error) {
    return { ok: false, latencyMs: null, error: (error as Error).message };
  } finally {
    timer?.cancel();
  }
}
