// A process full of real Faye clients (the faye Node client, over WebSocket or
// long-polling) that attach `auth` as the browser client does. The parent
// tells it over IPC whom to connect and when to let them go:
//   -> { type: 'open', clients: ClientSpec[], concurrency }
//        <- { type: 'progress', connected, failed } every second while opening
//        <- { type: 'opened', connected, failed, ms }
//   -> { type: 'close', concurrency }  <- { type: 'closed', ms }
// A client that does not connect within `connectTimeoutMs` counts as failed.
import { inPool } from './support/pool';
import { onlineClient, type TestClient } from '../test/support/presence-server';

export interface ClientSpec {
  url: string;
  uid: number;
  uname: string;
  room: string;
  timeChannel: string;
  transport: 'websocket' | 'long-polling';
  /** Channels to subscribe to once connected. */
  subscribe: string[];
  /** Plain-Faye storms: the client announces its own join and leave on this channel. */
  announce?: string;
}

const CONNECT_TIMEOUT_MS = 120_000;
const open: Array<{ spec: ClientSpec; client: TestClient }> = [];

async function openAll(specs: ClientSpec[], concurrency: number): Promise<void> {
  const started = Date.now();
  let connected = 0;
  let failed = 0;
  const ticker = setInterval(() => process.send!({ type: 'progress', connected, failed }), 1000);
  await inPool(specs, concurrency, async (spec) => {
    const client = onlineClient(spec.url, { room_channel: spec.room, time_channel: spec.timeChannel, current_user: { uid: spec.uid, uname: spec.uname } }, {
      transport: spec.transport,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    });
    try {
      await client.connected();
      await Promise.all(spec.subscribe.map((channel) => client.faye.subscribe(channel, () => undefined)));
      if (spec.announce) await client.faye.publish(spec.announce, { event: 'join', uid: spec.uid });
      open.push({ spec, client });
      connected += 1;
    } catch {
      failed += 1;
      void client.disconnect();
    }
  });
  clearInterval(ticker);
  process.send!({ type: 'opened', connected, failed, ms: Date.now() - started });
}

async function closeAll(concurrency: number): Promise<void> {
  const started = Date.now();
  const clients = open.splice(0);
  await inPool(clients, concurrency, async ({ spec, client }) => {
    const bye = (async () => {
      if (spec.announce) await client.faye.publish(spec.announce, { event: 'leave', uid: spec.uid });
      await client.disconnect();
    })();
    // A disconnect the server never answers must not hold the run: the client is dropped after 10 s.
    await Promise.race([bye.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    client.vanish();
  });
  process.send!({ type: 'closed', ms: Date.now() - started });
}

process.on('message', (message: { type: string; clients?: ClientSpec[]; concurrency?: number }) => {
  if (message.type === 'open') void openAll(message.clients!, message.concurrency ?? 50);
  if (message.type === 'close') void closeAll(message.concurrency ?? 50);
});
// Bounded: when the parent goes away, so does every client here.
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
