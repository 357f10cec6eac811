// Helpers of the adversarial suites: a raw WebSocket that sends whatever frame
// it is given (as an attacker would, not as a Faye client), and small builders.
import WebSocket from 'faye-websocket';
import type { PresenceServer } from '../support/presence-server';
import type { Reply } from './support';

export interface RawSocket {
  /** Sends one text frame. */
  send(text: string): void;
  /** Replies received so far, flattened. */
  replies: Reply[];
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export async function rawWebSocket(server: PresenceServer): Promise<RawSocket> {
  const ws = new WebSocket.Client(server.url.replace(/^http/, 'ws'));
  const replies: Reply[] = [];
  let isClosed = false;
  const closed = new Promise<void>((resolve) => {
    ws.on('close', () => {
      isClosed = true;
      resolve();
    });
  });
  ws.on('message', (event: { data: string }) => replies.push(...(JSON.parse(event.data) as Reply[])));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  return { send: (text) => ws.send(text), replies, closed, isClosed: () => isClosed, close: () => ws.close() };
}

/** n handshake messages: the cheapest batch an anonymous attacker can send. */
export function handshakes(n: number): object[] {
  return Array.from({ length: n }, (_, i) => ({ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'], id: `h${i}` }));
}
