// Real Faye servers and clients for the engine's end-to-end tests: each server is
// a faye NodeAdapter on an http server listening on an ephemeral port.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import faye from 'faye';
import { sleep } from '../support/wait';

export interface FayeServer {
  adapter: any;
  url: string;
  close(): Promise<void>;
}

export async function startFayeServer(options: { timeout: number; engine: Record<string, unknown> }): Promise<FayeServer> {
  const adapter = new faye.NodeAdapter({ mount: '/faye', timeout: options.timeout, engine: options.engine });
  const server = http.createServer();
  adapter.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const engine = adapter._server._engine._engine;
  await engine.ready?.();
  return {
    adapter,
    url: `http://127.0.0.1:${port}/faye`,
    async close() {
      // The adapter's in-process client (getClient) would otherwise retry against the closed server forever.
      await adapter._client?.disconnect();
      adapter.close();
      await engine.disconnect?.();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Transport = 'long-polling' | 'websocket';

/** A faye.Client that uses only the given transport. */
export function fayeClient(url: string, transport: Transport): any {
  const client = new faye.Client(url, { timeout: 5, retry: 0.2 });
  if (transport === 'long-polling') client.disable('websocket');
  client.disable('eventsource');
  client.disable('callback-polling');
  return client;
}

/**
 * Disconnects a faye.Client and stops it for good: a client whose server is gone
 * (or that is handshaking again) would otherwise retry forever and keep the test
 * process alive.
 */
export async function closeClient(client: any): Promise<void> {
  await Promise.race([Promise.resolve(client.disconnect()).catch(() => {}), sleep(1000)]);
  client._dispatcher.close();
}

/** The transport a connected faye.Client actually uses. */
export function transportOf(client: any): string | undefined {
  return client._dispatcher?._transport?.connectionType;
}

/** Resolves with the next message on `channel` once subscribed; `subscribed` resolves when the server confirmed. */
export function nextMessage(client: any, channel: string): { subscribed: Promise<void>; message: Promise<unknown> } {
  let resolveMessage!: (message: unknown) => void;
  const message = new Promise<unknown>((resolve) => {
    resolveMessage = resolve;
  });
  const subscription = client.subscribe(channel, (data: unknown) => resolveMessage(data));
  return { subscribed: Promise.resolve(subscription), message };
}

/** Collects every message a client receives on a channel. */
export async function collect(client: any, channel: string): Promise<unknown[]> {
  const received: unknown[] = [];
  await client.subscribe(channel, (data: unknown) => received.push(data));
  return received;
}

/** Sends raw Bayeux messages over HTTP, as a browser tab would, and returns the replies. */
export async function bayeux(url: string, messages: object[]): Promise<any[]> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(messages) });
  return (await response.json()) as any[];
}

/** Handshakes a client over raw HTTP; the caller decides whether it ever connects. */
export async function rawHandshake(url: string): Promise<string> {
  const [reply] = await bayeux(url, [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'] }]);
  if (!reply.successful) throw new Error(`handshake failed: ${JSON.stringify(reply)}`);
  return reply.clientId;
}

/** A /meta/connect; `immediate` asks the server not to hold it, as a client's first connect does. */
export function rawConnect(url: string, clientId: string, immediate = false): Promise<any[]> {
  return bayeux(url, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling', ...(immediate ? { advice: { timeout: 0 } } : {}) }]);
}

export function clientIdOf(client: any): string {
  return client._dispatcher.clientId;
}

/** A Redis server of the test's own on a free port, so it can be stopped and restarted. */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await answers(this.port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.write('PING\r\n');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    socket.once('error', () => resolve(false));
  });
}
