// needs: mysql
// Two sender processes on one MariaDB database race for the lease: one sends.
// Killed (SIGKILL) while its POST is in flight, the other takes the stream
// over once the lease expires and sends the interrupted batch again: every
// event arrives at least once, per-room order holds, signatures verify.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../lib/schema';
import { WebhookState } from '../../lib/webhooks';
import { createMariadbBackend, type TestBackend } from '../support/databases';
import { eventually } from '../support/wait';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { byChannel, insertEvents, isAscending, roomEvents, SECRET } from './helpers';

interface Report { type: 'log' | 'attempt'; msg?: string; ok?: boolean; eventIds?: number[]; at: number }

interface SenderProcess {
  holder: string;
  child: ChildProcess;
  reports: Report[];
  exited: Promise<void>;
}

function startSender(backend: TestBackend, receiver: WebhookReceiver, holder: string): SenderProcess {
  const child = fork(join(__dirname, 'sender-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      FO_DATABASE_URL: backend.url,
      FO_HOLDER: holder,
      FO_WEBHOOKS: JSON.stringify({ url: receiver.url, secret: SECRET, batchSize: 20, timeoutMs: 700, leaseMs: 1500, pollMs: 100, minBackoffMs: 100, maxBackoffMs: 400 }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const reports: Report[] = [];
  child.on('message', (report: Report) => reports.push({ ...report, at: Date.now() }));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { holder, child, reports, exited };
}

const tookLease = (p: SenderProcess) => p.reports.some((r) => r.type === 'log' && /took the lease/.test(r.msg ?? ''));

describe('sender processes', () => {
  let backend: TestBackend;
  let receiver: WebhookReceiver;
  const processes: SenderProcess[] = [];

  before(async () => {
    backend = await createMariadbBackend('whp');
    const sequelize = backend.open();
    await migrate(sequelize, 'up');
    await new WebhookState(sequelize).ensure(Date.now()); // the stream starts before the events below
    receiver = await startWebhookReceiver({ secret: SECRET, now: () => Date.now() });
  });

  after(async () => {
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await receiver.close();
    await backend.cleanup();
  });

  it('one of two racing processes sends; killed mid-delivery, the other takes over and every event arrives', async () => {
    const ids = await insertEvents(backend, roomEvents(60, 4, Date.now()));
    receiver.mode = 'hang'; // the first POST stays in flight until its sender dies
    const a = startSender(backend, receiver, 'process-a');
    const b = startSender(backend, receiver, 'process-b');
    processes.push(a, b);

    await eventually(() => receiver.requests.length > 0 && (tookLease(a) || tookLease(b)), 30_000, 'a first POST, in flight');
    const [holder, other] = tookLease(a) ? [a, b] : [b, a];
    assert.equal(tookLease(other), false, 'the other process did not get the lease');
    const inFlight = receiver.requests[0].events.map((e) => e.id);
    holder.child.kill('SIGKILL');
    await holder.exited;
    const killedAt = Date.now();
    receiver.mode = 'ok';

    await eventually(() => new Set(receiver.acknowledged().map((e) => e.id)).size === ids.length, 30_000, 'every event acknowledged');
    assert.ok(tookLease(other), 'the other process took the stream over');
    assert.ok(other.reports.filter((r) => r.type === 'attempt').every((r) => r.at >= killedAt), 'it sent nothing while the first one lived');
    assert.ok(other.reports.some((r) => r.type === 'attempt' && r.ok && inFlight.every((id) => r.eventIds!.includes(id))), 'the interrupted batch was sent again');
    assert.deepEqual(new Set(receiver.acknowledged().map((e) => e.id)), new Set(ids));
    for (const [room, order] of byChannel(receiver.firstArrivals())) assert.ok(isAscending(order), `order of ${room}`);
    for (const [room, order] of byChannel(receiver.acknowledged())) assert.ok(isAscending(order), `acknowledged order of ${room}`);
    assert.ok(receiver.requests.every((r) => r.verified.ok), 'every request signed');
    const state = (await new WebhookState(backend.open()).read())!;
    assert.equal(state.holder, other.holder);
    assert.equal(state.cursorId, ids[ids.length - 1]);
    assert.equal(state.deliveredCount, ids.length);
  });
});
