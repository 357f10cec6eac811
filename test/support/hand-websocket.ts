// A WebSocket client written by hand over a TCP socket, so that it can do
// what no WebSocket library lets a caller do: stop reading what the server
// sends (the slow-reader tests and bench:attack).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';

/** A masked text frame, as a client sends it. */
export function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  const head = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.alloc(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

export interface HandWebSocket {
  socket: net.Socket;
  /** Replies read so far (reading only while `reading()` is on). */
  replies: Array<Record<string, unknown>>;
  send(messages: object[]): boolean;
  /** Starts or stops reading the socket. */
  reading(on: boolean): void;
  closed: Promise<void>;
}

export async function handWebSocket(url: string): Promise<HandWebSocket> {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const replies: Array<Record<string, unknown>> = [];
  let pending = Buffer.alloc(0);
  let upgraded = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        assert.match(pending.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
        pending = pending.subarray(end + 4);
        upgraded = true;
        resolve();
      }
      // Server frames: unmasked, text or control; lengths of 7, 16 or 64 bits.
      for (;;) {
        if (pending.length < 2) return;
        let length = pending[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (pending.length < 4) return;
          length = pending.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (pending.length < 10) return;
          length = Number(pending.readBigUInt64BE(2));
          offset = 10;
        }
        if (pending.length < offset + length) return;
        const opcode = pending[0] & 0x0f;
        if (opcode === 1) replies.push(...(JSON.parse(pending.subarray(offset, offset + length).toString()) as Array<Record<string, unknown>>));
        pending = pending.subarray(offset + length);
      }
    });
  });
  return {
    socket,
    replies,
    send: (messages) => socket.write(clientFrame(JSON.stringify(messages))),
    reading: (on) => (on ? socket.resume() : socket.pause()),
    closed,
  };
}
