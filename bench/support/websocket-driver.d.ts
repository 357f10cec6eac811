// The part of websocket-driver (a dependency of faye) that the raw Bayeux clients of bench/bayeux-worker.ts use.
declare module 'websocket-driver' {
  import type { Duplex, Readable } from 'node:stream';

  interface ClientDriver {
    /** The bytes on the wire: pipe the TCP socket into it and it into the socket. */
    io: Duplex;
    /** Text messages received. */
    messages: Readable;
    start(): boolean;
    text(message: string): boolean;
    on(event: 'open', listener: () => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
    on(event: 'close', listener: () => void): void;
  }
  function client(url: string): ClientDriver;
  const websocket: { client: typeof client };
  export default websocket;
}
