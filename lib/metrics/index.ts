// Prometheus metrics of one attached server (prom-client). Opt-in through the
// `metrics` option. Labels take a handful of fixed values only: never a room,
// channel, user or clientId, so the number of series stays bounded however many
// rooms and users there are.
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { Transition } from '../core/presence';

export type BayeuxMessageType = 'meta' | 'service' | 'publish';

export function bayeuxMessageType(channel: unknown): BayeuxMessageType {
  const name = String(channel);
  return name.startsWith('/meta/') ? 'meta' : name.startsWith('/service/') ? 'service' : 'publish';
}

export interface MetricsSources {
  /** Whether this process still tracks a clientId (presence.isKnown). */
  isTracked(clientId: string): boolean;
}

export class PresenceMetrics {
  readonly register: Registry;
  private readonly owned: Metric[] = [];
  /** clientId → uid of the clients this process saw arrive; pruned when scraped. */
  private readonly clients = new Map<string, number>();
  private readonly joins: Counter;
  private readonly leaves: Counter<'reason'>;
  private readonly arrivals: Counter;
  private readonly departures: Counter<'reason'>;
  private readonly messages: Counter<'type'>;
  private readonly processing: Histogram;
  private readonly sqlWriteFailures: Counter;
  private readonly sqlLockConflicts: Counter;
  private readonly redisErrors: Counter;
  private readonly redisReconnects: Counter;
  private readonly stateReads: Counter;
  private readonly pagesSerialized: Counter;

  constructor(register: Registry | undefined, private readonly sources: MetricsSources) {
    this.register = register ?? new Registry();
    const registers = [this.register];
    const add = <T extends Metric>(metric: T): T => {
      this.owned.push(metric);
      return metric;
    };
    const self = this;
    add(new Gauge({
      name: 'faye_online_tracked_clients', help: 'Faye clients with a valid auth that this process tracks', registers,
      collect() { this.set(self.prunedClients().size); },
    }));
    add(new Gauge({
      name: 'faye_online_online_users', help: 'Distinct users online through the clients this process tracks', registers,
      collect() { this.set(new Set(self.prunedClients().values()).size); },
    }));
    this.joins = add(new Counter({ name: 'faye_online_joins_total', help: 'Users who joined a room (their first clientId arrived)', registers }));
    this.leaves = add(new Counter({ name: 'faye_online_leaves_total', help: 'Users who left a room (their last clientId departed), by reason', labelNames: ['reason'], registers }));
    this.arrivals = add(new Counter({ name: 'faye_online_arrivals_total', help: 'clientIds that arrived in a room', registers }));
    this.departures = add(new Counter({ name: 'faye_online_departures_total', help: 'clientIds that departed from a room, by reason', labelNames: ['reason'], registers }));
    this.messages = add(new Counter({ name: 'faye_online_bayeux_messages_total', help: 'Incoming Bayeux messages by channel type (meta, service, publish)', labelNames: ['type'], registers }));
    this.processing = add(new Histogram({
      name: 'faye_online_presence_processing_seconds',
      help: 'Time to process an arrival or departure (store and SQL writes)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }));
    this.sqlWriteFailures = add(new Counter({ name: 'faye_online_sql_write_failures_total', help: 'SQL writes that failed for good after their retries', registers }));
    this.sqlLockConflicts = add(new Counter({ name: 'faye_online_sql_lock_conflicts_total', help: 'Optimistic-lock conflicts on the gem\'s tables (each one retried)', registers }));
    this.redisErrors = add(new Counter({ name: 'faye_online_redis_errors_total', help: 'Errors of the presence Redis connection', registers }));
    this.redisReconnects = add(new Counter({ name: 'faye_online_redis_reconnects_total', help: 'Reconnection attempts of the presence Redis connection', registers }));
    this.stateReads = add(new Counter({ name: 'faye_online_presence_state_reads_total', help: 'Reads of a room\'s state for <room>/presence subscribe replies (shared by the newcomers of one window)', registers }));
    this.pagesSerialized = add(new Counter({ name: 'faye_online_presence_pages_serialized_total', help: 'Pages of a crowded room\'s state serialized (once per page of a read, however many newcomers get it)', registers }));
  }

  private prunedClients(): Map<string, number> {
    // Departures handled by another process of a cluster are not seen here.
    for (const clientId of this.clients.keys()) if (!this.sources.isTracked(clientId)) this.clients.delete(clientId);
    return this.clients;
  }

  bayeuxMessage(channel: unknown): void {
    this.messages.inc({ type: bayeuxMessageType(channel) });
  }

  /** Counts what a presence transition changed: arrivals, departures, joins and leaves. */
  transition(t: Transition): void {
    const reason = t.reason ?? 'disconnect';
    if (t.client === 'arrived') {
      this.clients.set(t.clientId, t.uid);
      this.arrivals.inc();
    }
    if (t.client === 'departed') {
      this.clients.delete(t.clientId);
      this.departures.inc({ reason });
    }
    if (t.membership === 'joined') this.joins.inc();
    if (t.membership === 'left') this.leaves.inc({ reason });
  }

  /** Times a piece of presence work from start to end, whether it succeeds or not. */
  time(work: Promise<unknown>): void {
    const stop = this.processing.startTimer();
    void work.finally(() => stop()).catch(() => undefined);
  }

  sqlWriteFailed(): void {
    this.sqlWriteFailures.inc();
  }

  sqlLockConflict(): void {
    this.sqlLockConflicts.inc();
  }

  redisError(): void {
    this.redisErrors.inc();
  }

  redisReconnecting(): void {
    this.redisReconnects.inc();
  }

  stateRead(): void {
    this.stateReads.inc();
  }

  pageSerialized(): void {
    this.pagesSerialized.inc();
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.register.contentType, body: await this.register.metrics() };
  }

  /** Removes this server's metrics from the registry (an app's shared registry outlives it). */
  close(): void {
    for (const metric of this.owned) this.register.removeSingleMetric((metric as unknown as { name: string }).name);
  }
}
