// One webhook sender in a process of its own, for the tests that kill or race
// sender processes (sender-processes.test.ts). It runs on the system clock
// against the database in FO_DATABASE_URL, with the `webhooks` option in
// FO_WEBHOOKS (JSON) and the lease holder name in FO_HOLDER, and reports to the
// parent over IPC: { type: 'log', msg } for every log line, { type: 'attempt' }
// after every POST. Losing the parent ends it.
import { systemClock } from '../../lib/core/clock';
import type { Logger } from '../../lib/log';
import { openDatabase } from '../../lib/records/database';
import { resolveWebhooks, WebhookSender } from '../../lib/webhooks';

const send = (report: Record<string, unknown>) => {
  if (process.connected) process.send!(report);
};
const line = (level: string) => (fields: object, msg?: string) => send({ type: 'log', level, msg, fields: JSON.parse(JSON.stringify(fields, (_k, v) => (v instanceof Error ? v.message : v))) });
const logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') } as unknown as Logger;

const sequelize = openDatabase(process.env.FO_DATABASE_URL!);
const sender = new WebhookSender({
  sequelize,
  webhooks: resolveWebhooks(JSON.parse(process.env.FO_WEBHOOKS!))!,
  clock: systemClock,
  logger,
  holder: process.env.FO_HOLDER,
  onAttempt: (attempt) => send({ type: 'attempt', ...attempt }),
});
sender.start();
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  void sender.close().then(() => sequelize.close()).then(() => process.exit(0));
});
