// The HTTP routes a server adds to the app besides Faye's mount: the browser
// client's bundle, the reports API and the metrics.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import type { Logger } from '../log';
import type { PresenceMetrics } from '../metrics';
import { historyRouter, type HistoryApi } from '../events';
import { reportsRouter, type Authorize, type ReportsApi } from '../reports';

function clientBundlePath(): string | undefined {
  // dist/lib/edge → dist/client; lib/edge (run from source) → dist/client
  const candidates = [join(__dirname, '..', '..', 'client', 'faye-online.js'), join(__dirname, '..', '..', 'dist', 'client', 'faye-online.js')];
  return candidates.find((file) => existsSync(file));
}

export interface RoutesOptions {
  clientPath: string;
  reports: { api: ReportsApi; prefix: string; authorize?: Authorize };
  /** History under <reports.prefix>/history (404 with a hint while events are off). */
  history: HistoryApi | undefined;
  metrics?: { collector: PresenceMetrics; path: string };
  logger: Logger;
}

export function mountRoutes(app: Express, options: RoutesOptions): void {
  const bundle = clientBundlePath();
  app.get(options.clientPath, (_req, res) => {
    if (!bundle) {
      res.status(404).type('text/plain').send('faye-online: the browser client is not built; run `npm run build` in the faye-online package');
      return;
    }
    res.type('application/javascript').sendFile(bundle);
  });
  const { api, prefix, authorize } = options.reports;
  // Before the reports: their router answers 404 for any path it does not know.
  app.use(`${prefix}/history`, historyRouter(options.history, { authorize, logger: options.logger }));
  app.use(prefix, reportsRouter(api, { authorize, logger: options.logger }));
  const metrics = options.metrics;
  if (metrics) {
    app.get(metrics.path, async (_req, res) => {
      const { contentType, body } = await metrics.collector.scrape();
      res.type(contentType).send(body);
    });
  }
}
