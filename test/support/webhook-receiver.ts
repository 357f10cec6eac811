// A real HTTP webhook receiver on a local port, whose behaviour a test switches:
// it answers 200, answers 500, never answers (the sender times out), or is down
// (its port closed, connections refused). It keeps every request it got.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyWebhook, WEBHOOK_HEADERS, type VerifyWebhookResult } from '../../lib/webhooks';

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface ReceivedEvent {
  id: number;
  idempotency_key: string;
  kind: string;
  uid: number | null;
  channel: string;
  occurred_ms: number;
  seq: number | null;
}

export interface ReceivedRequest {
  batch: string;
  batchHeader: string | undefined;
  events: ReceivedEvent[];
  verified: VerifyWebhookResult;
  /** The status the receiver answered, null when it never answered. */
  status: number | null;
}

export interface WebhookReceiver {
  url: string;
  mode: ReceiverMode;
  requests: ReceivedRequest[];
  /** Requests answered 2xx: what the sender may count as delivered. */
  acknowledged(): ReceivedEvent[];
  /** Every event received at least once, in the order of first arrival. */
  firstArrivals(): ReceivedEvent[];
  /** Called for each request before it is answered (e.g. to kill the sender mid-delivery). */
  onRequest?: (request: ReceivedRequest) => void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { secret: string; now: () => number }): Promise<WebhookReceiver> {
  const sockets = new Set<Socket>();
  let port = 0;
  let server: http.Server | undefined;
  const receiver: WebhookReceiver = {
    url: '',
    mode: 'ok',
    requests: [],
    acknowledged: () => receiver.requests.filter((r) => r.status !== null && r.status < 300).flatMap((r) => r.events),
    firstArrivals() {
      const seen = new Set<string>();
      return receiver.requests.flatMap((r) => r.events).filter((e) => !seen.has(e.idempotency_key) && seen.add(e.idempotency_key));
    },
    async down() {
      if (!server) return;
      const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closing;
      server = undefined;
    },
    async up() {
      if (server) return;
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const parsed = JSON.parse(body) as { batch: string; events: ReceivedEvent[] };
          const header = (name: string) => req.headers[name] as string | undefined;
          const request: ReceivedRequest = {
            batch: parsed.batch,
            batchHeader: header(WEBHOOK_HEADERS.batch),
            events: parsed.events,
            verified: verifyWebhook({ body, timestamp: header(WEBHOOK_HEADERS.timestamp), signature: header(WEBHOOK_HEADERS.signature), secret: options.secret, now: new Date(options.now()) }),
            status: null,
          };
          receiver.requests.push(request);
          receiver.onRequest?.(request);
          if (receiver.mode === 'hang') return;
          request.status = receiver.mode === 'ok' ? 200 : 500;
          res.writeHead(request.status, { 'content-type': 'text/plain' }).end(receiver.mode === 'ok' ? 'ok' : 'receiver failed');
        });
      });
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', () => resolve()));
      port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}/hooks/presence`;
    },
    close: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}
