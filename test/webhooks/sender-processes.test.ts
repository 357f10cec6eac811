// needs: mysql
// Three sender processes on one MariaDB database (a 3-process cluster) race for
// the lease: one sends. Killed (SIGKILL) while its POST is in flight, another
// takes the stream over once the lease expires and sends the interrupted batch
// again; killed the same way, the third one finishes: every event arrives at
// least once, per-room order holds, signatures verify.
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

  it('one of three racing processes sends; each killed mid-delivery, the next takes over and every event arrives', async () => {
    const ids = await insertEvents(backend, roomEvents(60, 4, Date.now()));
    receiver.mode = 'hang'; // POSTs stay in flight until their sender dies
    const all = ['process-a', 'process-b', 'process-c'].map((holder) => startSender(backend, receiver, holder));
    processes.push(...all);
    const kills: number[] = [];
    const killed: SenderProcess[] = [];

    for (let round = 0; round < 2; round++) {
      const seen = receiver.requests.length;
      await eventually(() => receiver.requests.length > seen && all.some((p) => !killed.includes(p) && tookLease(p)), 30_000, `POST ${round + 1}, in flight`);
      const holders = all.filter((p) => !killed.includes(p) && tookLease(p));
      assert.equal(holders.length, 1, 'one live process holds the lease');
      const [holder] = holders;
      assert.ok(holder.reports.filter((r) => r.type === 'log' && /took the lease/.test(r.msg ?? '')).every((r) => r.at >= (kills[kills.length - 1] ?? 0)), 'taken only after the previous holder died');
      holder.child.kill('SIGKILL');
      await holder.exited;
      kills.push(Date.now());
      killed.push(holder);
    }
    const inFlight = receiver.requests[receiver.requests.length - 1].events.map((e) => e.id);
    receiver.mode = 'ok';
    const [last] = all.filter((p) => !killed.includes(p));

    await eventually(() => new Set(receiver.acknowledged().map((e) => e.id)).size === ids.length, 30_000, 'every event acknowledged');
    assert.ok(tookLease(last), 'the last process took the stream over');
    assert.ok(last.reports.filter((r) => r.type === 'attempt').every((r) => r.at >= kills[1]), 'it sent nothing while another one held the lease');
    assert.ok(last.reports.some((r) => r.type === 'attempt' && r.ok && inFlight.every((id) => r.eventIds!.includes(id))), 'the interrupted batch was sent again');
    assert.deepEqual(new Set(receiver.acknowledged().map((e) => e.id)), new Set(ids));
    for (const [room, order] of byChannel(receiver.firstArrivals())) assert.ok(isAscending(order), `order of ${room}`);
    for (const [room, order] of byChannel(receiver.acknowledged())) assert.ok(isAscending(order), `acknowledged order of ${room}`);
    assert.ok(receiver.requests.every((r) => r.verified.ok), 'every request signed');
    const state = (await new WebhookState(backend.open()).read())!;
    assert.equal(state.holder, last.holder);
    assert.equal(state.cursorId, ids[ids.length - 1]);
    assert.equal(state.deliveredCount, ids.length);
  });
});
