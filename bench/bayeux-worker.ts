// A worker thread full of raw Bayeux clients: no Faye client library, only
// what a page's connection costs on the wire (handshake, a /meta/connect held
// for the Faye timeout and sent again at once, subscribes, deliveries), so that
// one process holds 10,000 clients. WebSocket clients speak through
// websocket-driver (Faye's own dependency) on a plain TCP socket; long-polling
// clients POST JSON with a keep-alive agent. Every message carries `auth`, as
// the browser client attaches it.
//   <- { type: 'open', clients: RawClientSpec[], concurrency, pace? }   pace: clients started per second (0: as fast as concurrency allows)
//        -> { type: 'progress', connected, failed } every second while opening
//        -> { type: 'opened', connected, failed, ms, errors }
//   <- { type: 'stats' }  -> { type: 'stats', delivered, connectReplies, errors }
//   <- { type: 'close', concurrency }  -> { type: 'closed', ms }
import http from 'node:http';
import net from 'node:net';
import { parentPort } from 'node:worker_threads';
import websocket from 'websocket-driver';
import { inPool } from './support/pool';

export interface RawClientSpec {
  /** http://host:port/faye */
  url: string;
  transport: 'websocket' | 'long-polling';
  auth: Record<string, unknown>;
  subscribe: string[];
  /** Published once the subscribes are answered: what an app without presence sends to tell a room's pages that someone came. */
  announce?: { channel: string; data: unknown };
}

interface Message {
  channel: string;
  clientId?: string;
  successful?: boolean;
  error?: string;
  advice?: { reconnect?: string };
  data?: unknown;
  [key: string]: unknown;
}

const CONNECT_TIMEOUT_MS = 120_000;
const stats = { delivered: 0, connectReplies: 0, errors: 0, lastError: '' };

abstract class RawClient {
  clientId: string | null = null;
  closed = false;
  private ready: ((error?: Error) => void) | null = null;
  private seq = 0;

  constructor(readonly spec: RawClientSpec) {}

  /** Handshakes, subscribes and sends the first /meta/connect; resolves once the subscribes are answered. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.ready?.(new Error('no handshake within the limit')), CONNECT_TIMEOUT_MS);
      this.ready = (error) => {
        clearTimeout(timer);
        this.ready = null;
        if (error) reject(error);
        else resolve();
      };
      this.start();
    });
  }

  protected abstract start(): void;
  protected abstract send(messages: Message[]): void;
  abstract close(): Promise<void>;

  protected message(channel: string, fields: Record<string, unknown> = {}): Message {
    return { channel, id: (++this.seq).toString(36), auth: this.spec.auth, ...(this.clientId ? { clientId: this.clientId } : {}), ...fields };
  }

  protected handshake(): Message {
    return this.message('/meta/handshake', { version: '1.0', supportedConnectionTypes: ['websocket', 'long-polling'] });
  }

  protected connect(): Message {
    return this.message('/meta/connect', { connectionType: this.spec.transport });
  }

  protected receive(messages: Message[]): void {
    let subscribed = 0;
    for (const m of messages) {
      if (m.channel === '/meta/handshake') {
        if (!m.successful || !m.clientId) return this.fail(`handshake refused: ${m.error ?? 'no clientId'}`);
        this.clientId = m.clientId;
        this.afterHandshake();
      } else if (m.channel === '/meta/connect') {
        stats.connectReplies += 1;
        if (!m.successful) return this.fail(`connect refused: ${m.error}`);
        if (!this.closed) this.reconnect();
      } else if (m.channel === '/meta/subscribe') {
        if (!m.successful) return this.fail(`subscribe refused: ${m.error}`);
        subscribed += 1;
      } else if (!m.channel.startsWith('/meta/') && 'data' in m) {
        stats.delivered += 1;
      }
    }
    if (subscribed === 0 || !this.ready) return; // only the first subscribe reply opens the client
    const { announce } = this.spec;
    if (announce) this.send([this.message(announce.channel, { data: announce.data })]);
    this.ready?.();
  }

  /**
   * The subscribes in one request or frame, and the first /meta/connect in
   * another: Faye answers a batch once every message in it is answered, and a
   * /meta/connect is held for the whole timeout.
   */
  protected afterHandshake(): void {
    this.send([this.connect()]);
    if (this.spec.subscribe.length === 0) setTimeout(() => this.ready?.(), 0);
    else this.send(this.spec.subscribe.map((channel) => this.message('/meta/subscribe', { subscription: channel })));
  }

  protected abstract reconnect(): void;

  protected fail(reason: string): void {
    stats.errors += 1;
    stats.lastError = reason;
    this.ready?.(new Error(reason));
  }
}

class WebSocketClient extends RawClient {
  private socket: net.Socket | null = null;
  private driver: ReturnType<typeof websocket.client> | null = null;

  protected start(): void {
    const url = new URL(this.spec.url);
    const driver = websocket.client(`ws://${url.host}${url.pathname}`);
    const socket = net.connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);
    socket.pipe(driver.io).pipe(socket);
    socket.on('connect', () => driver.start());
    socket.on('error', (error) => this.fail(`socket: ${error.message}`));
    driver.on('open', () => this.send([this.handshake()]));
    driver.messages.on('data', (text: string) => this.receive(JSON.parse(text) as Message[]));
    driver.on('error', (error: Error) => this.fail(`websocket: ${error.message}`));
    this.socket = socket;
    this.driver = driver;
  }

  protected send(messages: Message[]): void {
    this.driver?.text(JSON.stringify(messages));
  }

  protected reconnect(): void {
    this.send([this.connect()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.clientId) this.send([this.message('/meta/disconnect')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.socket?.destroy();
  }
}

class LongPollingClient extends RawClient {
  private static agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  private polling: http.ClientRequest | null = null;

  protected start(): void {
    this.send([this.handshake()]);
  }

  protected send(messages: Message[]): void {
    const body = JSON.stringify(messages);
    const request = http.request(this.spec.url, {
      method: 'POST', agent: LongPollingClient.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        if (this.polling === request) this.polling = null;
        if (response.statusCode !== 200) return this.fail(`HTTP ${response.statusCode}: ${text.slice(0, 100)}`);
        try {
          this.receive(JSON.parse(text) as Message[]);
        } catch (error) {
          this.fail(`bad reply: ${(error as Error).message}`);
        }
      });
    });
    request.on('error', (error) => {
      if (!this.closed) this.fail(`http: ${error.message}`);
    });
    if (messages.some((m) => m.channel === '/meta/connect')) this.polling = request;
    request.end(body);
  }

  protected reconnect(): void {
    this.send([this.connect()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.polling?.destroy();
    if (!this.clientId) return;
    await new Promise<void>((resolve) => {
      const body = JSON.stringify([this.message('/meta/disconnect')]);
      const request = http.request(this.spec.url, {
        method: 'POST', agent: LongPollingClient.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (response) => {
        response.resume();
        response.on('end', resolve);
      });
      request.on('error', () => resolve());
      request.setTimeout(10_000, () => request.destroy());
      request.end(body);
    });
  }
}

let clients: RawClient[] = [];

async function openAll(specs: RawClientSpec[], concurrency: number, pace: number): Promise<void> {
  const started = Date.now();
  // Paced: the k-th client starts no earlier than k / pace seconds after the first.
  let nextStart = started;
  const turn = async () => {
    if (!(pace > 0)) return;
    const at = nextStart;
    nextStart += 1000 / pace;
    const wait = at - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };
  let connected = 0;
  let failed = 0;
  const ticker = setInterval(() => parentPort!.postMessage({ type: 'progress', connected, failed }), 1000);
  await inPool(specs, concurrency, async (spec) => {
    await turn();
    const client = spec.transport === 'websocket' ? new WebSocketClient(spec) : new LongPollingClient(spec);
    try {
      await client.open();
      clients.push(client);
      connected += 1;
    } catch {
      failed += 1;
      void client.close();
    }
  });
  clearInterval(ticker);
  parentPort!.postMessage({ type: 'opened', connected, failed, ms: Date.now() - started, lastError: stats.lastError });
}

async function closeAll(concurrency: number): Promise<void> {
  const started = Date.now();
  const closing = clients;
  clients = [];
  await inPool(closing, concurrency, (client) => client.close());
  parentPort!.postMessage({ type: 'closed', ms: Date.now() - started });
}

parentPort!.on('message', (message: { type: string; clients?: RawClientSpec[]; concurrency?: number; pace?: number }) => {
  if (message.type === 'open') void openAll(message.clients!, message.concurrency ?? 100, message.pace ?? 0);
  if (message.type === 'stats') parentPort!.postMessage({ type: 'stats', ...stats });
  if (message.type === 'close') void closeAll(message.concurrency ?? 200);
});
