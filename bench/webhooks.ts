// bench:webhooks: how fast one sender empties a backlog of events into a local
// receiver that answers 200 at once, on MariaDB and on SQLite, for a few batch
// sizes. The events are inserted first (one multi-row INSERT per thousand),
// then the clock starts when the sender does. What it measures is the
// sender's own cost per batch (read, sign, POST, fenced cursor write), not a
// real receiver's.
//   npm run bench:webhooks -- --events 5000 --batches 50,100,500
import { performance } from 'node:perf_hooks';
import { systemClock } from '../lib/core/clock';
import { silentLogger } from '../lib/log';
import { migrate } from '../lib/schema';
import { resolveWebhooks, WebhookSender, WebhookState } from '../lib/webhooks';
import { createMariadbBackend, createSqliteBackend, type TestBackend } from '../test/support/databases';
import { eventually } from '../test/support/wait';
import { startWebhookReceiver } from '../test/support/webhook-receiver';
import { numberList, parseFlags } from './support/args';
import { runBenchmark } from './support/processes';
import { saveResult, table } from './support/report';

const flags = parseFlags({ events: 5000, batches: '50,100,500' });
const SECRET = 'bench-webhook-secret-0123456789';

async function backlog(backend: TestBackend, count: number): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => start + i);
    await backend.exec(
      `INSERT INTO faye_online_events (event_key, kind, user_id, channel, occurred_ms, seq, created_at) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      rows.flatMap((n) => [`bench:${n}`, n % 2 ? 'leave' : 'join', n % 500, `/bench/rooms/${n % 20}`, now + n, n, '2026-11-30 00:00:00']),
    );
  }
}

runBenchmark(async () => {
  const rows: Array<Array<string | number>> = [];
  for (const [dialect, create] of [['MariaDB', () => createMariadbBackend('bwh')], ['SQLite', () => createSqliteBackend()]] as const) {
    for (const batchSize of numberList(flags.batches)) {
      const backend = await create();
      const receiver = await startWebhookReceiver({ secret: SECRET, now: () => Date.now() });
      try {
        const sequelize = backend.open();
        await migrate(sequelize, 'up');
        await new WebhookState(sequelize).ensure(Date.now());
        await backlog(backend, flags.events);
        const sender = new WebhookSender({
          sequelize, clock: systemClock, logger: silentLogger,
          webhooks: resolveWebhooks({ url: receiver.url, secret: SECRET, batchSize, pollMs: 50 })!,
        });
        const started = performance.now();
        sender.start();
        await eventually(() => receiver.acknowledged().length >= flags.events, 600_000, 'backlog delivered');
        const seconds = (performance.now() - started) / 1000;
        await sender.close();
        rows.push([dialect, batchSize, flags.events, receiver.requests.length, seconds.toFixed(2), Math.round(flags.events / seconds)]);
        console.log(`${dialect} batch ${batchSize}: ${flags.events} events in ${seconds.toFixed(2)} s`);
      } finally {
        await receiver.close();
        await backend.cleanup();
      }
    }
  }
  console.log(`\n${table(['database', 'batchSize', 'events', 'POSTs', 'seconds', 'events/s'], rows)}`);
  console.log(`\nsaved ${saveResult('webhooks', { events: flags.events, rows })}`);
});
