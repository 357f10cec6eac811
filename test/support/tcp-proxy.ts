// A TCP proxy on loopback between test clients and a server, whose "network"
// can be cut and restored: a real connection loss, not a mocked one.
import net from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  port: number;
  /** Cuts every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let down = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((incoming) => {
    if (down) {
      incoming.destroy();
      return;
    }
    const outgoing = net.connect(targetPort, '127.0.0.1');
    for (const s of [incoming, outgoing]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    incoming.pipe(outgoing).pipe(incoming);
    incoming.on('close', () => outgoing.destroy());
    outgoing.on('close', () => incoming.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
