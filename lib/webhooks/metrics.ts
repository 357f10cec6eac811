// Prometheus metrics of the webhook sender (prom-client), in the registry of the
// `metrics` option. No label takes a room, user or URL.
import { Counter, Gauge, type Registry, type Metric } from 'prom-client';

export class WebhookMetrics {
  private readonly owned: Metric[] = [];
  private readonly delivered: Counter;
  private readonly requests: Counter<'result'>;
  private readonly dead: Counter;
  private readonly lag: Gauge;
  private readonly lease: Gauge;

  constructor(private readonly register: Registry) {
    const registers = [register];
    const add = <T extends Metric>(metric: T): T => {
      this.owned.push(metric);
      return metric;
    };
    this.delivered = add(new Counter({ name: 'faye_online_webhook_events_delivered_total', help: 'Events a webhook receiver acknowledged (2xx), replays included', registers }));
    this.requests = add(new Counter({ name: 'faye_online_webhook_requests_total', help: 'Webhook POSTs by result (delivered, failed)', labelNames: ['result'], registers }));
    this.dead = add(new Counter({ name: 'faye_online_webhook_dead_letters_total', help: 'Events given up after the retry window (dead letters)', registers }));
    this.lag = add(new Gauge({ name: 'faye_online_webhook_lag_seconds', help: 'Age of the oldest event this process is waiting to deliver; 0 when caught up or not the sender', registers }));
    this.lease = add(new Gauge({ name: 'faye_online_webhook_lease_held', help: '1 while this process holds the webhook lease (is the cluster\'s sender)', registers }));
  }

  requestDone(ok: boolean, events: number): void {
    this.requests.inc({ result: ok ? 'delivered' : 'failed' });
    if (ok) this.delivered.inc(events);
  }

  deadLettered(events: number): void {
    this.dead.inc(events);
  }

  lagSeconds(seconds: number): void {
    this.lag.set(Math.max(0, seconds));
  }

  leaseHeld(held: boolean): void {
    this.lease.set(held ? 1 : 0);
  }

  close(): void {
    for (const metric of this.owned) this.register.removeSingleMetric((metric as unknown as { name: string }).name);
  }
}
