// The `reports` and `metrics` options of attachFayeOnline (validated in lib/options.ts).
import type { Request } from 'express';
import type { Registry } from 'prom-client';

export interface ReportsOptions {
  /** Where the JSON endpoints are mounted. Default '/faye-online/api'. */
  prefix?: string;
  /** Decides who may read the reports (e.g. an admin session). Without it every request gets 403. */
  authorize?: (req: Request) => boolean | Promise<boolean>;
}

export interface MetricsOptions {
  /** Where Prometheus scrapes. Default '/metrics'. */
  path?: string;
  /** The registry to add the metrics to (e.g. prom-client's global `register`). Default: a registry of this server's own. */
  register?: Registry;
}
